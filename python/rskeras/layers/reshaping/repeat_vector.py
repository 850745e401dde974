"""`RepeatVector`: repeat a vector `n` times along a new time axis."""

from __future__ import annotations

from rskeras import ops
from rskeras.layers._layer_args import is_int
from rskeras.layers.input_spec import InputSpec
from rskeras.layers.layer import Layer


class RepeatVector(Layer):
    """Repeat each input vector `n` times (Keras `keras.layers.RepeatVector`).

    Args:
        n: non-negative int, the number of repetitions.

    Shapes: input `(batch, features)` -> output `(batch, n, features)`.

    Raises:
        ValueError: when `n` is not a non-negative int, or the input is not 2-D.
    """

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if not is_int(n) or n < 0:
            raise ValueError(f"RepeatVector: `n` must be a non-negative int, got {n!r}")
        self.n = int(n)
        self.input_spec = InputSpec(ndim=2)
        self.built = True

    def call(self, inputs):
        return ops.repeat(ops.expand_dims(inputs, 1), self.n, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self):
        return {**super().get_config(), "n": self.n}

"""`UpSampling1D`: repeat each timestep."""

from __future__ import annotations

from rskeras import ops
from rskeras.layers._layer_args import is_int
from rskeras.layers.input_spec import InputSpec
from rskeras.layers.layer import Layer


class UpSampling1D(Layer):
    """Repeat each timestep `size` times along the time axis (Keras
    `keras.layers.UpSampling1D`).

    Args:
        size: positive int, the upsampling factor (default 2).

    Shapes: input `(batch, steps, features)` -> output `(batch, steps * size, features)`.

    Raises:
        ValueError: when `size` is not a positive int, or the input is not 3-D.
    """

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        if not is_int(size) or size < 1:
            raise ValueError(f"UpSampling1D: `size` must be a positive int, got {size!r}")
        self.size = int(size)
        self.input_spec = InputSpec(ndim=3)
        self.built = True

    def call(self, inputs):
        return ops.repeat(inputs, self.size, axis=1)

    def compute_output_shape(self, input_shape):
        steps = None if input_shape[1] is None else input_shape[1] * self.size
        return (input_shape[0], steps, input_shape[2])

    def get_config(self):
        return {**super().get_config(), "size": self.size}

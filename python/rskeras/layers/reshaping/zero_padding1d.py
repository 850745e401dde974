"""`ZeroPadding1D`: zeros before and after the time axis."""

from __future__ import annotations

from rskeras import ops
from rskeras.layers._layer_args import standardize_tuple
from rskeras.layers.input_spec import InputSpec
from rskeras.layers.layer import Layer


class ZeroPadding1D(Layer):
    """Add rows of zeros at the start and end of the time axis (Keras
    `keras.layers.ZeroPadding1D`).

    Args:
        padding: non-negative int (the same on both sides) or tuple `(left, right)`
            (default 1).

    Shapes: input `(batch, steps, features)` -> output
    `(batch, left + steps + right, features)`.

    Raises:
        ValueError: for a negative or malformed `padding`, or an input that is not 3-D.
    """

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        self.padding = standardize_tuple("ZeroPadding1D", padding, 2, "padding", allow_zero=True)
        self.input_spec = InputSpec(ndim=3)
        self.built = True

    def call(self, inputs):
        return ops.pad(inputs, ((0, 0), self.padding, (0, 0)))

    def compute_output_shape(self, input_shape):
        steps = None if input_shape[1] is None else input_shape[1] + sum(self.padding)
        return (input_shape[0], steps, input_shape[2])

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}

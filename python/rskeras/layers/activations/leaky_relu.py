"""`LeakyReLU`: `x` for positive inputs, `negative_slope * x` otherwise."""

from __future__ import annotations

import warnings

from rskeras import ops
from rskeras.layers.layer import Layer


class LeakyReLU(Layer):
    """The leaky rectified linear unit, element-wise (Keras `keras.layers.LeakyReLU`):
    `f(x) = x if x >= 0 else negative_slope * x` (Maas et al., 2013).

    Args:
        negative_slope: non-negative float, the slope for negative inputs (default 0.3).
            The Keras 2 name `alpha` is accepted with a deprecation warning, as in Keras 3.

    Shapes: any input shape `(batch, ...)`; the output has the same shape.

    Raises:
        ValueError: when `negative_slope` is None, negative or not a number.
    """

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
            warnings.warn("LeakyReLU: argument `alpha` is deprecated; use `negative_slope`.",
                          stacklevel=2)
        super().__init__(**kwargs)
        if (not isinstance(negative_slope, (int, float)) or isinstance(negative_slope, bool)
                or negative_slope < 0):
            raise ValueError(
                "LeakyReLU: `negative_slope` must be a non-negative float, got "
                f"negative_slope={negative_slope!r}")
        self.negative_slope = float(negative_slope)
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        return ops.leaky_relu(inputs, self.negative_slope)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}

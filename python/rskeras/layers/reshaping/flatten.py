"""`Flatten`: collapse every axis but the batch axis."""

import math

from rskeras import ops
from rskeras.layers.input_spec import InputSpec
from rskeras.layers.layer import Layer


class Flatten(Layer):
    """Flatten `(batch, d1, d2, ...)` to `(batch, d1 * d2 * ...)`. Does not touch the batch axis.

    Args:
        data_format: "channels_last" (default) or "channels_first"; with channels_first the
            input is transposed to channels_last first, so weights stay interchangeable.
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last", "channels_first"):
            raise ValueError(f"Flatten: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
        self.data_format = data_format or "channels_last"
        self.input_spec = InputSpec(min_ndim=1)
        self.built = True

    def call(self, inputs):
        if self.data_format == "channels_first" and inputs.ndim > 2:
            inputs = ops.transpose(inputs, [0, *range(2, inputs.ndim), 1])
        return ops.reshape(inputs, (inputs.shape[0], -1))

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        flat = None if any(d is None for d in rest) else math.prod(rest)
        return (input_shape[0], flat)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}

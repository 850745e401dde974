"""`BaseGlobalPooling`: max or mean over every spatial axis, channels_last (Keras:
`keras/src/layers/pooling/base_global_pooling.py`)."""

from __future__ import annotations

from rskeras import ops
from rskeras.layers.input_spec import InputSpec
from rskeras.layers.layer import Layer


class BaseGlobalPooling(Layer):
    """Max or mean over all spatial axes: `(batch, *spatial, channels)` -> `(batch, channels)`,
    or `(batch, 1, ..., 1, channels)` with `keepdims=True`."""

    rank = 2
    max = True

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format or "channels_last"
        if self.data_format != "channels_last":
            raise ValueError(f"{type(self).__name__}: only data_format='channels_last' is supported, "
                             f"got {data_format!r}")
        self.keepdims = keepdims
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def call(self, inputs):
        axes = tuple(range(1, self.rank + 1))
        return (ops.max if self.max else ops.mean)(inputs, axis=axes, keepdims=self.keepdims)

    def compute_output_shape(self, input_shape):
        if self.keepdims:
            return (input_shape[0],) + (1,) * self.rank + (input_shape[-1],)
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}

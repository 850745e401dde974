"""`BasePooling`: the max and average pooling layers over windows (1-D and 2-D), channels_last
(Keras: `keras/src/layers/pooling/base_pooling.py`)."""

from __future__ import annotations

from rskeras import ops
from rskeras.layers.convolutional.base_conv import conv_output_length, normalize_tuple
from rskeras.layers.input_spec import InputSpec
from rskeras.layers.layer import Layer


class BasePooling(Layer):
    """Pooling over `pool_size` windows moved by `strides` (default: `pool_size`).

    Args:
        pool_size: int or tuple (default 2). strides: int, tuple or None. padding: "valid"
            (default) or "same" (averages then exclude the padding, as Keras).

    Shapes: `(batch, steps, channels)` (1-D) or `(batch, h, w, channels)` (2-D) -> the same
    rank with each spatial axis `floor((size - pool) / stride) + 1` ("valid") or
    `ceil(size / stride)` ("same").
    """

    rank = 2
    max = True

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        cls = type(self).__name__
        self.pool_size = normalize_tuple(pool_size, self.rank, "pool_size", cls)
        self.strides = normalize_tuple(self.pool_size if strides is None else strides, self.rank, "strides", cls)
        self.padding = str(padding).lower()
        if self.padding not in ("valid", "same"):
            raise ValueError(f"{cls}: `padding` must be 'valid' or 'same', got {padding!r}")
        self.data_format = data_format or "channels_last"
        if self.data_format != "channels_last":
            raise ValueError(f"{cls}: only data_format='channels_last' is supported, got {data_format!r}")
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def call(self, inputs):
        fn = ops.max_pool if self.max else ops.average_pool
        return fn(inputs, self.pool_size, self.strides, self.padding)

    def compute_output_shape(self, input_shape):
        spatial = tuple(conv_output_length(s, p, self.padding, st) for s, p, st in
                        zip(input_shape[1:-1], self.pool_size, self.strides))
        return (input_shape[0], *spatial, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format}

"""Max and average pooling layers (1-D and 2-D) and their global forms, channels_last."""

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


class MaxPooling2D(BasePooling):
    """Max pooling over `(batch, height, width, channels)`, as `keras.layers.MaxPooling2D`."""


class AveragePooling2D(BasePooling):
    """Average pooling over `(batch, height, width, channels)`, as `keras.layers.AveragePooling2D`."""

    max = False


class MaxPooling1D(BasePooling):
    """Max pooling over `(batch, steps, channels)`, as `keras.layers.MaxPooling1D`."""

    rank = 1


class AveragePooling1D(BasePooling):
    """Average pooling over `(batch, steps, channels)`, as `keras.layers.AveragePooling1D`."""

    rank = 1
    max = False


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


class GlobalMaxPooling2D(BaseGlobalPooling):
    """Max over height and width, as `keras.layers.GlobalMaxPooling2D`."""


class GlobalAveragePooling2D(BaseGlobalPooling):
    """Mean over height and width, as `keras.layers.GlobalAveragePooling2D`."""

    max = False


class GlobalMaxPooling1D(BaseGlobalPooling):
    """Max over steps, as `keras.layers.GlobalMaxPooling1D`."""

    rank = 1


class GlobalAveragePooling1D(BaseGlobalPooling):
    """Mean over steps, as `keras.layers.GlobalAveragePooling1D`.

    With a mask `(batch, steps)` (passed as `mask=`, or attached to the input by an
    `Embedding(mask_zero=True)` or a `Masking` layer), the mean is over the unmasked steps
    only: `sum(x * mask) / sum(mask)` (NaN for a sample whose steps are all masked, as in
    Keras). The output carries no mask."""

    rank = 1
    max = False
    _mask_only_from_masks = True

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(data_format=data_format, keepdims=keepdims, **kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return super().call(inputs)
        keep = ops.expand_dims(ops.cast(mask, "bool"), 2)
        inputs = ops.where(keep, inputs, ops.zeros((), inputs.dtype))
        count = ops.sum(ops.cast(keep, inputs.dtype), axis=1, keepdims=self.keepdims)
        return ops.sum(inputs, axis=1, keepdims=self.keepdims) / count

    def compute_mask(self, inputs, mask=None):
        return None

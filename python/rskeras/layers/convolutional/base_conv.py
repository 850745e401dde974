"""`BaseConv`: what Conv1D, Conv2D, Conv2DTranspose, DepthwiseConv2D and SeparableConv2D share
(argument normalisation, output-shape arithmetic, bias, activation and config)."""

from __future__ import annotations

import math

from rskeras.layers._layer_args import kernel_options_config, set_kernel_options, weight_options_config
from rskeras.layers.input_spec import InputSpec
from rskeras.layers.layer import Layer


def normalize_tuple(value, n: int, name: str, layer: str) -> tuple:
    """An int or an n-tuple of positive ints as an n-tuple, or a ValueError naming `layer`."""
    values = (value,) * n if isinstance(value, int) else tuple(value)
    if len(values) != n or not all(isinstance(v, int) and v > 0 for v in values):
        raise ValueError(f"{layer}: `{name}` must be a positive int or a tuple of {n} positive ints, "
                         f"got {value!r}")
    return values


def conv_output_length(size, window, padding, stride, dilation=1):
    """Output length of a convolution or pooling axis (Keras `compute_conv_output_shape`)."""
    if size is None:
        return None
    span = (window - 1) * dilation + 1
    if padding in ("same", "causal"):
        return math.ceil(size / stride)
    return max((size - span) // stride + 1, 0)


def option_alias(name: str) -> property:
    """An attribute that reads and writes `name` (Keras's `depthwise_*` names of the
    `kernel_*` options that BaseConv keeps)."""
    return property(lambda self: getattr(self, name),
                    lambda self, value: setattr(self, name, value),
                    doc=f"The layer's `{name}` under its Keras name.")


class BaseConv(Layer):
    """Shared machinery of the convolution layers (channels_last). Subclasses set `rank`
    (1 or 2), implement `_kernel_shape(in_c)` and `_convolve(inputs)`."""

    rank = 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        cls = type(self).__name__
        if filters is not None and (not isinstance(filters, int) or filters <= 0):
            raise ValueError(f"{cls}: `filters` must be a positive int, got {filters!r}")
        self.filters = filters
        self.kernel_size = normalize_tuple(kernel_size, self.rank, "kernel_size", cls)
        self.strides = normalize_tuple(strides, self.rank, "strides", cls)
        self.dilation_rate = normalize_tuple(dilation_rate, self.rank, "dilation_rate", cls)
        self.padding = str(padding).lower()
        allowed = ("valid", "same", "causal") if self.rank == 1 and cls == "Conv1D" else ("valid", "same")
        if self.padding not in allowed:
            raise ValueError(f"{cls}: `padding` must be one of {allowed}, got {padding!r}")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{cls}: strides > 1 together with dilation_rate > 1 is not supported "
                             f"(got strides={self.strides}, dilation_rate={self.dilation_rate})")
        self.data_format = data_format or "channels_last"
        if self.data_format != "channels_last":
            raise ValueError(f"{cls}: only data_format='channels_last' is supported, got {data_format!r}")
        if not isinstance(groups, int) or groups <= 0 or (filters and filters % groups):
            raise ValueError(f"{cls}: `groups` must be a positive int dividing filters={filters}, got {groups!r}")
        self.groups = groups
        set_kernel_options(self, activation, use_bias, kernel_initializer, bias_initializer,
                           kernel_regularizer, bias_regularizer, kernel_constraint, bias_constraint)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def _out_channels(self, in_c):
        return self.filters

    def build(self, input_shape):
        in_c = input_shape[-1]
        if in_c is None:
            raise ValueError(f'Layer "{self.name}": the channel axis of the input must be known, '
                             f"got {tuple(input_shape)}")
        self._build_kernels(in_c)
        self.bias = (self.add_weight(shape=(self._out_channels(in_c),), initializer=self.bias_initializer,
                                     regularizer=self.bias_regularizer, constraint=self.bias_constraint,
                                     name="bias") if self.use_bias else None)
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={-1: in_c})
        self.built = True

    def _build_kernels(self, in_c):
        if in_c % self.groups:
            raise ValueError(f'Layer "{self.name}": input channels ({in_c}) must be divisible by '
                             f"groups ({self.groups})")
        self.kernel = self.add_weight(shape=self.kernel_size + (in_c // self.groups, self.filters),
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint, name="kernel")

    def call(self, inputs):
        x = self._convolve(inputs)
        if self.bias is not None:
            x = x + self.bias
        return self.activation(x)

    def compute_output_shape(self, input_shape):
        spatial = tuple(conv_output_length(s, k, self.padding, st, d) for s, k, st, d in
                        zip(input_shape[1:-1], self.kernel_size, self.strides, self.dilation_rate))
        return (input_shape[0], *spatial, self._out_channels(input_shape[-1]))

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "groups": self.groups,
            **kernel_options_config(self),
            # Keras 3's conv configs always list "activity_regularizer" (None when unset).
            **weight_options_config(self, "kernel_regularizer", "bias_regularizer",
                                    "activity_regularizer", "kernel_constraint",
                                    "bias_constraint"),
        }

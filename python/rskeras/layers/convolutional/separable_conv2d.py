"""`SeparableConv2D`: a depthwise convolution, then a 1x1 one (Keras:
`keras/src/layers/convolutional/separable_conv2d.py`)."""

from __future__ import annotations

from rskeras import initializers, ops
from rskeras.layers._layer_args import set_weight_options, weight_options_config
from rskeras.layers.convolutional.base_conv import BaseConv, option_alias


class SeparableConv2D(BaseConv):
    """Depthwise separable 2-D convolution, as `keras.layers.SeparableConv2D`: a depthwise
    convolution, then a 1x1 convolution mixing channels into `filters`.

    Args:
        filters, kernel_size, strides, padding, dilation_rate, activation, use_bias: as
            Conv2D. depth_multiplier: depthwise filters per input channel (default 1).
        depthwise_initializer, pointwise_initializer: default "glorot_uniform".
            bias_initializer: default "zeros".
        depthwise_regularizer, pointwise_regularizer, bias_regularizer, activity_regularizer:
            `keras.regularizers` identifiers or callables (default None), as in Dense.
        depthwise_constraint, pointwise_constraint, bias_constraint: `keras.constraints`
            identifiers or callables (default None).

    Shapes: input `(batch, h, w, channels)` -> `(batch, new_h, new_w, filters)`. Weights:
    depthwise_kernel `(kh, kw, channels, depth_multiplier)`, pointwise_kernel `(1, 1,
    channels * depth_multiplier, filters)`, bias `(filters,)`.
    """

    rank = 2
    depthwise_initializer = option_alias("kernel_initializer")
    depthwise_regularizer = option_alias("kernel_regularizer")
    depthwise_constraint = option_alias("kernel_constraint")

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, pointwise_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         activation=activation, use_bias=use_bias,
                         kernel_initializer=depthwise_initializer, bias_initializer=bias_initializer,
                         bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                         bias_constraint=bias_constraint, **kwargs)
        self.depth_multiplier = depth_multiplier
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        set_weight_options(self, depthwise_regularizer=depthwise_regularizer,
                           pointwise_regularizer=pointwise_regularizer,
                           depthwise_constraint=depthwise_constraint,
                           pointwise_constraint=pointwise_constraint)

    def _build_kernels(self, in_c):
        self.depthwise_kernel = self.add_weight(
            shape=self.kernel_size + (in_c, self.depth_multiplier),
            initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint, name="depthwise_kernel")
        self.pointwise_kernel = self.add_weight(
            shape=(1, 1, in_c * self.depth_multiplier, self.filters),
            initializer=self.pointwise_initializer, regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint, name="pointwise_kernel")

    def _convolve(self, inputs):
        return ops.separable_conv(inputs, self.depthwise_kernel, self.pointwise_kernel, self.strides,
                                  self.padding, dilation_rate=self.dilation_rate)

    def get_config(self):
        config = super().get_config()
        for key in ("groups", "kernel_initializer", "kernel_regularizer", "kernel_constraint"):
            config.pop(key)
        return {**config, "depth_multiplier": self.depth_multiplier,
                "depthwise_initializer": initializers.serialize(self.kernel_initializer),
                "pointwise_initializer": initializers.serialize(self.pointwise_initializer),
                **weight_options_config(self, "depthwise_regularizer", "pointwise_regularizer",
                                        "depthwise_constraint", "pointwise_constraint")}

"""`DepthwiseConv2D`: each input channel convolved with its own filters (Keras:
`keras/src/layers/convolutional/depthwise_conv2d.py`)."""

from __future__ import annotations

from rskeras import initializers, ops
from rskeras.layers._layer_args import set_weight_options, weight_options_config
from rskeras.layers.convolutional.base_conv import BaseConv, option_alias


class DepthwiseConv2D(BaseConv):
    """Depthwise 2-D convolution, as `keras.layers.DepthwiseConv2D`: every input channel is
    convolved with its own `depth_multiplier` filters.

    Args:
        kernel_size, strides, padding, dilation_rate, activation, use_bias: as Conv2D.
        depth_multiplier: filters per input channel (default 1).
        depthwise_initializer: default "glorot_uniform". bias_initializer: default "zeros".
        depthwise_regularizer, bias_regularizer, activity_regularizer: `keras.regularizers`
            identifiers or callables (default None), as in Dense.
        depthwise_constraint, bias_constraint: `keras.constraints` identifiers or callables
            (default None).

    Shapes: input `(batch, h, w, channels)` -> `(batch, new_h, new_w, channels *
    depth_multiplier)`. Weights: kernel `(kh, kw, channels, depth_multiplier)`, bias
    `(channels * depth_multiplier,)`.
    """

    rank = 2
    depthwise_initializer = option_alias("kernel_initializer")
    depthwise_regularizer = option_alias("kernel_regularizer")
    depthwise_constraint = option_alias("kernel_constraint")

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(None, kernel_size, strides, padding, data_format, dilation_rate,
                         activation=activation, use_bias=use_bias,
                         kernel_initializer=depthwise_initializer, bias_initializer=bias_initializer,
                         bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                         bias_constraint=bias_constraint, **kwargs)
        self.depth_multiplier = depth_multiplier
        set_weight_options(self, depthwise_regularizer=depthwise_regularizer,
                           depthwise_constraint=depthwise_constraint)

    def _out_channels(self, in_c):
        return None if in_c is None else in_c * self.depth_multiplier

    def _build_kernels(self, in_c):
        self.kernel = self.add_weight(shape=self.kernel_size + (in_c, self.depth_multiplier),
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint, name="kernel")

    def _convolve(self, inputs):
        return ops.depthwise_conv(inputs, self.kernel, self.strides, self.padding,
                                  dilation_rate=self.dilation_rate)

    def get_config(self):
        config = super().get_config()
        for key in ("filters", "groups", "kernel_initializer", "kernel_regularizer", "kernel_constraint"):
            config.pop(key)
        return {**config, "depth_multiplier": self.depth_multiplier,
                "depthwise_initializer": initializers.serialize(self.kernel_initializer),
                **weight_options_config(self, "depthwise_regularizer", "depthwise_constraint")}

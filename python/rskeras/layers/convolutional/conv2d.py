"""`Conv2D`: 2-D convolution, `activation(conv(inputs, kernel) + bias)` (Keras 3 names and
layouts; Keras: `keras/src/layers/convolutional/conv2d.py`)."""

from __future__ import annotations

from rskeras import ops
from rskeras.layers.convolutional.base_conv import BaseConv


class Conv2D(BaseConv):
    """2-D convolution layer, as `keras.layers.Conv2D`.

    Args:
        filters: number of output channels. kernel_size: int or (kh, kw).
        strides: int or (sh, sw), default 1. padding: "valid" (default) or "same".
        dilation_rate: int or (dh, dw), default 1 (not together with strides > 1).
        groups: split the input channels into this many groups, each with filters / groups
            output channels (default 1).
        activation, use_bias, kernel/bias initializer, regularizer and constraint: as Dense.

    Shapes: input `(batch, height, width, channels)` -> `(batch, new_height, new_width,
    filters)`. Weights: kernel `(kh, kw, channels / groups, filters)`, bias `(filters,)`.

    Raises:
        ValueError: for invalid arguments, or an input whose rank or channel count differs from
            what the layer expects (naming the layer and the shapes).
    """

    rank = 2

    def _convolve(self, inputs):
        return ops.conv(inputs, self.kernel, self.strides, self.padding, dilation_rate=self.dilation_rate)

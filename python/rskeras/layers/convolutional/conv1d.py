"""`Conv1D`: 1-D (temporal) convolution, `activation(conv(inputs, kernel) + bias)` (Keras 3
names and layouts; Keras: `keras/src/layers/convolutional/conv1d.py`)."""

from __future__ import annotations

from rskeras import ops
from rskeras.layers.convolutional.base_conv import BaseConv


class Conv1D(BaseConv):
    """1-D convolution layer (temporal), as `keras.layers.Conv1D`. Arguments as Conv2D with
    single ints; padding may also be "causal" (output[t] sees inputs up to t only).

    Shapes: input `(batch, steps, channels)` -> `(batch, new_steps, filters)`. Weights: kernel
    `(kernel_size, channels / groups, filters)`, bias `(filters,)`.
    """

    rank = 1

    def _convolve(self, inputs):
        return ops.conv(inputs, self.kernel, self.strides, self.padding, dilation_rate=self.dilation_rate)

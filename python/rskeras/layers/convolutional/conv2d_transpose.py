"""`Conv2DTranspose`: the transposed (fractionally strided) convolution layer (Keras:
`keras/src/layers/convolutional/conv2d_transpose.py`)."""

from __future__ import annotations

from rskeras import ops
from rskeras.layers.convolutional.base_conv import BaseConv


class Conv2DTranspose(BaseConv):
    """Transposed 2-D convolution, as `keras.layers.Conv2DTranspose`: the gradient of a
    Conv2D with respect to its input, used to upsample.

    Args: as Conv2D (without groups); output_padding is not supported (must be None).

    Shapes: input `(batch, h, w, channels)` -> `(batch, new_h, new_w, filters)` with
    `new = h * stride` for "same" and `h * stride + max(span - stride, 0)` for "valid"
    (`span = (kernel - 1) * dilation + 1`). Weights: kernel `(kh, kw, filters, channels)`
    (Keras layout), bias `(filters,)`.
    """

    rank = 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None,
                 data_format=None, dilation_rate=1, **kwargs):
        if output_padding is not None:
            raise ValueError("Conv2DTranspose: output_padding is not supported; leave it None")
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, **kwargs)

    def _build_kernels(self, in_c):
        self.kernel = self.add_weight(shape=self.kernel_size + (self.filters, in_c),
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint, name="kernel")

    def _convolve(self, inputs):
        return ops.conv_transpose(inputs, self.kernel, self.strides, self.padding,
                                  dilation_rate=self.dilation_rate)

    def compute_output_shape(self, input_shape):
        def length(size, k, s, d):
            if size is None:
                return None
            span = (k - 1) * d + 1
            return size * s if self.padding == "same" else size * s + max(span - s, 0)

        spatial = tuple(length(*a) for a in zip(input_shape[1:-1], self.kernel_size, self.strides,
                                                self.dilation_rate))
        return (input_shape[0], *spatial, self.filters)

    def get_config(self):
        config = super().get_config()
        config.pop("groups")
        return {**config, "output_padding": None}

"""`ZeroPadding2D`: rows and columns of zeros around images."""

from __future__ import annotations

from rskeras import ops
from rskeras.layers._layer_args import standardize_data_format, standardize_pairs
from rskeras.layers.input_spec import InputSpec
from rskeras.layers.layer import Layer


class ZeroPadding2D(Layer):
    """Add zeros at the top, bottom, left and right of images (Keras
    `keras.layers.ZeroPadding2D`).

    Args:
        padding: an int (the same everywhere), a tuple of 2 ints `(rows, cols)` (symmetric
            per axis), or `((top, bottom), (left, right))` (default `(1, 1)`).
        data_format: "channels_last" (default, from `keras.config.image_data_format()`) or
            "channels_first".

    Shapes: channels_last `(batch, rows, cols, channels)` ->
    `(batch, top + rows + bottom, left + cols + right, channels)`; channels_first likewise on
    axes 2 and 3.

    Raises:
        ValueError: for a negative or malformed `padding`, a bad `data_format`, or an input
            that is not 4-D.
    """

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = standardize_pairs("ZeroPadding2D", padding, "padding")
        self.data_format = standardize_data_format("ZeroPadding2D", data_format)
        self.input_spec = InputSpec(ndim=4)
        self.built = True

    def _spatial_axes(self):
        return (2, 3) if self.data_format == "channels_first" else (1, 2)

    def call(self, inputs):
        widths = [(0, 0)] * 4
        for axis, pair in zip(self._spatial_axes(), self.padding):
            widths[axis] = pair
        return ops.pad(inputs, widths)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis, pair in zip(self._spatial_axes(), self.padding):
            if shape[axis] is not None:
                shape[axis] += sum(pair)
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "data_format": self.data_format}

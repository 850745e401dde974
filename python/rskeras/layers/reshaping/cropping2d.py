"""`Cropping2D`: drop rows and columns at the borders of images."""

from __future__ import annotations

from rskeras.layers._layer_args import standardize_data_format, standardize_pairs
from rskeras.layers.input_spec import InputSpec
from rskeras.layers.layer import Layer


class Cropping2D(Layer):
    """Remove rows at the top and bottom and columns at the left and right of images (Keras
    `keras.layers.Cropping2D`).

    Args:
        cropping: an int (the same everywhere), a tuple of 2 ints `(rows, cols)` (symmetric
            per axis), or `((top, bottom), (left, right))` (default `((0, 0), (0, 0))`).
        data_format: "channels_last" (default, from `keras.config.image_data_format()`) or
            "channels_first".

    Shapes: channels_last `(batch, rows, cols, channels)` ->
    `(batch, rows - top - bottom, cols - left - right, channels)`; channels_first likewise on
    axes 2 and 3.

    Raises:
        ValueError: for a negative or malformed `cropping`, a bad `data_format`, an input that
            is not 4-D, or a cropping that removes a whole spatial axis.
    """

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.cropping = standardize_pairs("Cropping2D", cropping, "cropping")
        self.data_format = standardize_data_format("Cropping2D", data_format)
        self.input_spec = InputSpec(ndim=4)
        self.built = True

    def _spatial_axes(self):
        return (2, 3) if self.data_format == "channels_first" else (1, 2)

    def _check(self, shape):
        for axis, pair in zip(self._spatial_axes(), self.cropping):
            if shape[axis] is not None and sum(pair) >= shape[axis]:
                raise ValueError(
                    f'Layer "{self.name}" (Cropping2D): cropping={self.cropping} must be smaller '
                    f"than the spatial sizes of the input, got input shape {tuple(shape)}")

    def call(self, inputs):
        shape = tuple(inputs.shape)
        self._check(shape)
        index = [slice(None)] * 4
        for axis, (start, end) in zip(self._spatial_axes(), self.cropping):
            index[axis] = slice(start, shape[axis] - end)
        return inputs[tuple(index)]

    def compute_output_shape(self, input_shape):
        self._check(input_shape)
        shape = list(input_shape)
        for axis, pair in zip(self._spatial_axes(), self.cropping):
            if shape[axis] is not None:
                shape[axis] -= sum(pair)
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "cropping": self.cropping, "data_format": self.data_format}

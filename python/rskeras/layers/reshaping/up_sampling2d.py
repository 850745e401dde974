"""`UpSampling2D`: nearest-neighbour upsampling of images."""

from __future__ import annotations

from rskeras import ops
from rskeras.layers._layer_args import standardize_data_format, standardize_tuple
from rskeras.layers.input_spec import InputSpec
from rskeras.layers.layer import Layer


class UpSampling2D(Layer):
    """Repeat the rows `size[0]` times and the columns `size[1]` times (Keras
    `keras.layers.UpSampling2D` with `interpolation="nearest"`).

    Args:
        size: positive int or tuple of 2 positive ints `(rows, cols)` (default `(2, 2)`).
        data_format: "channels_last" (default, from `keras.config.image_data_format()`) or
            "channels_first".
        interpolation: only "nearest" is supported (Keras also offers "bilinear", "bicubic",
            "lanczos3", "lanczos5"; they need an image-resize op rskeras lacks).

    Shapes: channels_last `(batch, rows, cols, channels)` ->
    `(batch, rows * size[0], cols * size[1], channels)`; channels_first
    `(batch, channels, rows, cols)` -> `(batch, channels, rows * size[0], cols * size[1])`.

    Raises:
        ValueError: for a bad `size` or `data_format`, an `interpolation` other than
            "nearest", or an input that is not 4-D.
    """

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.size = standardize_tuple("UpSampling2D", size, 2, "size")
        self.data_format = standardize_data_format("UpSampling2D", data_format)
        self.interpolation = str(interpolation).lower()
        if self.interpolation != "nearest":
            raise ValueError(
                "UpSampling2D: only interpolation='nearest' is supported, got "
                f"interpolation={interpolation!r}")
        self.input_spec = InputSpec(ndim=4)
        self.built = True

    def _spatial_axes(self):
        return (2, 3) if self.data_format == "channels_first" else (1, 2)

    def call(self, inputs):
        rows, cols = self._spatial_axes()
        x = ops.repeat(inputs, self.size[0], axis=rows)
        return ops.repeat(x, self.size[1], axis=cols)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis, factor in zip(self._spatial_axes(), self.size):
            if shape[axis] is not None:
                shape[axis] *= factor
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "data_format": self.data_format,
                "interpolation": self.interpolation}

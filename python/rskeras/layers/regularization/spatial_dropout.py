"""`SpatialDropout1D` and `SpatialDropout2D`: drop whole feature maps."""

from __future__ import annotations

from rskeras.layers._layer_args import standardize_data_format
from rskeras.layers.input_spec import InputSpec
from rskeras.layers.regularization.dropout import Dropout


class _SpatialDropout(Dropout):
    def __init__(self, rate, seed=None, noise_shape=None, **kwargs):
        super().__init__(rate, noise_shape=noise_shape, seed=seed, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.pop("noise_shape", None)
        return config


class SpatialDropout1D(_SpatialDropout):
    """Dropout of whole 1-D feature maps (Keras `keras.layers.SpatialDropout1D`, Tompson et
    al., 2015): during training each channel of each sample is zeroed with probability
    `rate` over all timesteps at once, and the kept ones are scaled by `1 / (1 - rate)`; at
    inference (training falsy) the identity. The mask has shape `(batch, 1, channels)`.

    Args:
        rate: float in [0, 1), the fraction of channels to drop.
        seed: int for reproducible masks, or None.

    Shapes: input `(batch, steps, channels)` -> output of the same shape.

    Raises:
        ValueError: when `rate` is outside [0, 1), or the input is not 3-D.
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(rate, seed=seed, noise_shape=(None, 1, None), **kwargs)
        self.input_spec = InputSpec(ndim=3)


class SpatialDropout2D(_SpatialDropout):
    """Dropout of whole 2-D feature maps (Keras `keras.layers.SpatialDropout2D`, Tompson et
    al., 2015): during training each channel of each sample is zeroed with probability
    `rate` over the whole image, and the kept ones are scaled by `1 / (1 - rate)`; at
    inference the identity. The mask has shape `(batch, 1, 1, channels)` (channels_last) or
    `(batch, channels, 1, 1)` (channels_first).

    Args:
        rate: float in [0, 1), the fraction of channels to drop.
        data_format: "channels_last" (default, from `keras.config.image_data_format()`) or
            "channels_first".
        seed: int for reproducible masks, or None.

    Shapes: input `(batch, rows, cols, channels)` (channels_last) -> output of the same shape.

    Raises:
        ValueError: when `rate` is outside [0, 1), `data_format` is unknown, or the input is
            not 4-D.
    """

    def __init__(self, rate, data_format=None, seed=None, **kwargs):
        data_format = standardize_data_format("SpatialDropout2D", data_format)
        noise = (None, None, 1, 1) if data_format == "channels_first" else (None, 1, 1, None)
        super().__init__(rate, seed=seed, noise_shape=noise, **kwargs)
        self.data_format = data_format
        self.input_spec = InputSpec(ndim=4)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}

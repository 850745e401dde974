"""`GlobalAveragePooling2D` (Keras: `keras/src/layers/pooling/global_average_pooling2d.py`)."""

from __future__ import annotations

from rskeras.layers.pooling.base_global_pooling import BaseGlobalPooling


class GlobalAveragePooling2D(BaseGlobalPooling):
    """Mean over height and width, as `keras.layers.GlobalAveragePooling2D`."""

    max = False

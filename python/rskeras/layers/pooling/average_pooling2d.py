"""`AveragePooling2D` (Keras: `keras/src/layers/pooling/average_pooling2d.py`)."""

from __future__ import annotations

from rskeras.layers.pooling.base_pooling import BasePooling


class AveragePooling2D(BasePooling):
    """Average pooling over `(batch, height, width, channels)`, as `keras.layers.AveragePooling2D`."""

    max = False

"""`MaxPooling2D` (Keras: `keras/src/layers/pooling/max_pooling2d.py`)."""

from __future__ import annotations

from rskeras.layers.pooling.base_pooling import BasePooling


class MaxPooling2D(BasePooling):
    """Max pooling over `(batch, height, width, channels)`, as `keras.layers.MaxPooling2D`."""

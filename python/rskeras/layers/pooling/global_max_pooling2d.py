"""`GlobalMaxPooling2D` (Keras: `keras/src/layers/pooling/global_max_pooling2d.py`)."""

from __future__ import annotations

from rskeras.layers.pooling.base_global_pooling import BaseGlobalPooling


class GlobalMaxPooling2D(BaseGlobalPooling):
    """Max over height and width, as `keras.layers.GlobalMaxPooling2D`."""

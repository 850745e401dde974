"""`AveragePooling1D` (Keras: `keras/src/layers/pooling/average_pooling1d.py`)."""

from __future__ import annotations

from rskeras.layers.pooling.base_pooling import BasePooling


class AveragePooling1D(BasePooling):
    """Average pooling over `(batch, steps, channels)`, as `keras.layers.AveragePooling1D`."""

    rank = 1
    max = False

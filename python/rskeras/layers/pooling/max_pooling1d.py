"""`MaxPooling1D` (Keras: `keras/src/layers/pooling/max_pooling1d.py`)."""

from __future__ import annotations

from rskeras.layers.pooling.base_pooling import BasePooling


class MaxPooling1D(BasePooling):
    """Max pooling over `(batch, steps, channels)`, as `keras.layers.MaxPooling1D`."""

    rank = 1

"""`GlobalMaxPooling1D` (Keras: `keras/src/layers/pooling/global_max_pooling1d.py`)."""

from __future__ import annotations

from rskeras.layers.pooling.base_global_pooling import BaseGlobalPooling


class GlobalMaxPooling1D(BaseGlobalPooling):
    """Max over steps, as `keras.layers.GlobalMaxPooling1D`."""

    rank = 1

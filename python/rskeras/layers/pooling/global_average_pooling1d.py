"""`GlobalAveragePooling1D` (Keras: `keras/src/layers/pooling/global_average_pooling1d.py`)."""

from __future__ import annotations

from rskeras import ops
from rskeras.layers.pooling.base_global_pooling import BaseGlobalPooling


class GlobalAveragePooling1D(BaseGlobalPooling):
    """Mean over steps, as `keras.layers.GlobalAveragePooling1D`.

    With a mask `(batch, steps)` (passed as `mask=`, or attached to the input by an
    `Embedding(mask_zero=True)` or a `Masking` layer), the mean is over the unmasked steps
    only: `sum(x * mask) / sum(mask)` (NaN for a sample whose steps are all masked, as in
    Keras). The output carries no mask."""

    rank = 1
    max = False
    _mask_only_from_masks = True

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(data_format=data_format, keepdims=keepdims, **kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return super().call(inputs)
        keep = ops.expand_dims(ops.cast(mask, "bool"), 2)
        inputs = ops.where(keep, inputs, ops.zeros((), inputs.dtype))
        count = ops.sum(ops.cast(keep, inputs.dtype), axis=1, keepdims=self.keepdims)
        return ops.sum(inputs, axis=1, keepdims=self.keepdims) / count

    def compute_mask(self, inputs, mask=None):
        return None

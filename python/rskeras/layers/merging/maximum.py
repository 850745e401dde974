"""`Maximum` and `maximum`: element-wise maximum of a list of tensors."""

from __future__ import annotations

from rskeras import ops
from rskeras.layers.merging.base_merge import Merge


class Maximum(Merge):
    """The element-wise maximum of a list of tensors (Keras `keras.layers.Maximum`), with
    Keras's merge broadcasting (see `Merge`). NaN propagates. Masked entries of the inputs
    (masks attached by e.g. `Masking`) are left out of the maximum, as in Keras.

    Shapes: inputs `[(batch, *d), ...]` -> output `(batch, *d)`.

    Raises:
        ValueError: as `Merge`.
    """

    def _merge_function(self, inputs):
        return self._apply_merge_op_and_or_mask(ops.maximum, inputs)


def maximum(inputs, **kwargs):
    """Functional form of `Maximum`."""
    return Maximum(**kwargs)(inputs)

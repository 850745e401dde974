"""`Maximum` and `maximum`: element-wise maximum of a list of tensors."""

from __future__ import annotations

from rskeras import ops
from rskeras.layers.merging.base_merge import Merge


class Maximum(Merge):
    """The element-wise maximum of a list of tensors (Keras `keras.layers.Maximum`), with
    Keras's merge broadcasting (see `Merge`). NaN propagates.

    Shapes: inputs `[(batch, *d), ...]` -> output `(batch, *d)`.

    Raises:
        ValueError: as `Merge`.
    """

    _fold = ops.maximum


def maximum(inputs, **kwargs):
    """Functional form of `Maximum`."""
    return Maximum(**kwargs)(inputs)

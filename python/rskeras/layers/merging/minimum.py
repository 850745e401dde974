"""`Minimum` and `minimum`: element-wise minimum of a list of tensors."""

from __future__ import annotations

from rskeras import ops
from rskeras.layers.merging.base_merge import Merge


class Minimum(Merge):
    """The element-wise minimum of a list of tensors (Keras `keras.layers.Minimum`), with
    Keras's merge broadcasting (see `Merge`). NaN propagates.

    Shapes: inputs `[(batch, *d), ...]` -> output `(batch, *d)`.

    Raises:
        ValueError: as `Merge`.
    """

    _fold = ops.minimum


def minimum(inputs, **kwargs):
    """Functional form of `Minimum`."""
    return Minimum(**kwargs)(inputs)

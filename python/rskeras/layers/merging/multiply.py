"""`Multiply` and `multiply`: element-wise product of a list of tensors."""

from __future__ import annotations

from rskeras import ops
from rskeras.layers.merging.base_merge import Merge


class Multiply(Merge):
    """The element-wise product of a list of tensors (Keras `keras.layers.Multiply`), with
    Keras's merge broadcasting (see `Merge`).

    Shapes: inputs `[(batch, *d), ...]` -> output `(batch, *d)`.

    Raises:
        ValueError: as `Merge`.
    """

    _fold = ops.multiply


def multiply(inputs, **kwargs):
    """Functional form of `Multiply`."""
    return Multiply(**kwargs)(inputs)

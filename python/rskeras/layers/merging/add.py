"""`Add` and `add`: element-wise sum of a list of tensors."""

from __future__ import annotations

from rskeras import ops
from rskeras.layers.merging.base_merge import Merge


class Add(Merge):
    """The element-wise sum of a list of tensors (Keras `keras.layers.Add`), with Keras's
    merge broadcasting (see `Merge`).

    Shapes: inputs `[(batch, *d), ...]` -> output `(batch, *d)`.

    Raises:
        ValueError: as `Merge`: no list, no input, different batch sizes, shapes that do
            not broadcast.
    """

    _fold = ops.add


def add(inputs, **kwargs):
    """Functional form of `Add`: `add([a, b, ...])` is `Add(**kwargs)([a, b, ...])`."""
    return Add(**kwargs)(inputs)

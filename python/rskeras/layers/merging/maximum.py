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

    def _merge_function(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = ops.maximum(out, x)
        return out


def maximum(inputs, **kwargs):
    """Functional form of `Maximum`."""
    return Maximum(**kwargs)(inputs)

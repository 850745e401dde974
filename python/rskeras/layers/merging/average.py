"""`Average` and `average`: element-wise mean of a list of tensors."""

from __future__ import annotations

from rskeras import ops
from rskeras.layers.merging.base_merge import Merge


class Average(Merge):
    """The element-wise mean `(x_1 + ... + x_n) / n` of a list of tensors (Keras
    `keras.layers.Average`), with Keras's merge broadcasting (see `Merge`).

    Shapes: inputs `[(batch, *d), ...]` -> output `(batch, *d)`.

    Raises:
        ValueError: as `Merge`.
    """

    def _merge_function(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = ops.add(out, x)
        return ops.divide(out, float(len(inputs)))


def average(inputs, **kwargs):
    """Functional form of `Average`."""
    return Average(**kwargs)(inputs)

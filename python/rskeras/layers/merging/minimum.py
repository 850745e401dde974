"""`Minimum` and `minimum`: element-wise minimum of a list of tensors."""

from __future__ import annotations

from rskeras import ops
from rskeras.layers.merging.base_merge import Merge


class Minimum(Merge):
    """The element-wise minimum of a list of tensors (Keras `keras.layers.Minimum`), with
    Keras's merge broadcasting (see `Merge`). NaN propagates. Masked entries of the inputs
    (masks attached by e.g. `Masking`) are left out of the minimum, as in Keras.

    Shapes: inputs `[(batch, *d), ...]` -> output `(batch, *d)`.

    Raises:
        ValueError: as `Merge`.
    """

    def _merge_function(self, inputs):
        return self._apply_merge_op_and_or_mask(ops.minimum, inputs)


def minimum(inputs, **kwargs):
    """Functional form of `Minimum`."""
    return Minimum(**kwargs)(inputs)

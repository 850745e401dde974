"""`Subtract` and `subtract`: `inputs[0] - inputs[1]`."""

from __future__ import annotations

from rskeras import ops
from rskeras.layers.merging.base_merge import Merge


class Subtract(Merge):
    """The element-wise difference `inputs[0] - inputs[1]` of exactly two tensors (Keras
    `keras.layers.Subtract`), with Keras's merge broadcasting (see `Merge`).

    Shapes: inputs `[(batch, *d), (batch, *d)]` -> output `(batch, *d)`.

    Raises:
        ValueError: when not called on exactly 2 tensors, and as `Merge`.
    """

    _min_inputs = 2
    _max_inputs = 2

    def _merge_function(self, inputs):
        return ops.subtract(inputs[0], inputs[1])


def subtract(inputs, **kwargs):
    """Functional form of `Subtract`: `subtract([a, b])` is `a - b`."""
    return Subtract(**kwargs)(inputs)

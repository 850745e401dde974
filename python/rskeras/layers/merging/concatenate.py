"""`Concatenate` and `concatenate`: join a list of tensors along an axis."""

from __future__ import annotations

from rskeras import ops
from rskeras.layers._layer_args import is_int
from rskeras.layers.merging.base_merge import Merge


class Concatenate(Merge):
    """Join a list of tensors along `axis` (Keras `keras.layers.Concatenate`). The inputs
    must have the same rank and equal sizes on every other axis (no broadcasting).

    Args:
        axis: int, the axis to join along (default -1; negative counts from the end).

    Shapes: inputs `[(batch, ..., n_1, ...), (batch, ..., n_2, ...)]` -> output
    `(batch, ..., n_1 + n_2 + ..., ...)`.

    Raises:
        ValueError: when `axis` is not an int, or the inputs are not a non-empty list of
            tensors of one rank that match on every axis but `axis` (the message names the
            layer and the shapes).
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if not is_int(axis):
            raise ValueError(f"Concatenate: `axis` must be an int, got {axis!r}")
        self.axis = int(axis)

    def _output_shape(self, shapes):
        # Joining along the batch axis is allowed (Keras does not compare batch sizes here).
        self._check_list(shapes, check_batch=False)
        ranks = {len(s) for s in shapes}
        if len(ranks) != 1:
            raise self._error("inputs must have the same rank", shapes)
        rank = ranks.pop()
        if not -rank <= self.axis < rank:
            raise self._error(f"axis={self.axis} is out of range for inputs of rank {rank}", shapes)
        axis = self.axis % rank
        out = list(shapes[0])
        for s in shapes[1:]:
            for i, (a, b) in enumerate(zip(out, s)):
                if i == axis:
                    out[i] = None if a is None or b is None else a + b
                elif a is None:
                    out[i] = b
                elif b is not None and a != b:
                    raise self._error(
                        f"inputs must match on every axis but the concatenation axis {self.axis}",
                        shapes)
        return tuple(out)

    def call(self, inputs):
        self._output_shape([tuple(x.shape) for x in inputs])
        return ops.concatenate(inputs, axis=self.axis)

    def compute_mask(self, inputs, mask=None):
        """The masks concatenated along `axis` (an unmasked input counts as all True), then
        reduced with `any` over the last axis (Keras)."""
        if mask is None:
            return None
        if not isinstance(mask, (list, tuple)) or len(mask) != len(inputs):
            raise ValueError(
                f'Layer "{self.name}" (Concatenate): `mask` must be a list with one entry per '
                f"input ({len(inputs)}), got {mask!r}")
        if all(m is None for m in mask):
            return None
        masks = []
        for x, m in zip(inputs, mask):
            if m is None:
                m = ops.ones(tuple(x.shape), dtype="bool")
            elif m.ndim < x.ndim:
                m = ops.broadcast_to(ops.expand_dims(m, -1), tuple(x.shape))
            masks.append(m)
        return ops.any(ops.concatenate(masks, axis=self.axis), axis=-1)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


def concatenate(inputs, axis=-1, **kwargs):
    """Functional form of `Concatenate`: `concatenate([a, b], axis=-1)`."""
    return Concatenate(axis=axis, **kwargs)(inputs)

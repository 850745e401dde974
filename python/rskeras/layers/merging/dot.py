"""`Dot` and `dot`: per-sample dot products of two tensors."""

from __future__ import annotations

import math

from rskeras import ops
from rskeras.layers._layer_args import is_int
from rskeras.layers.merging.base_merge import Merge


class Dot(Merge):
    """The dot product of two tensors along one axis of each, sample by sample (Keras
    `keras.layers.Dot`, computed as Keras's `batch_dot`).

    Args:
        axes: an int (the same axis in both inputs) or a pair `(axis_1, axis_2)`; negative
            values count from the end. The batch axis 0 cannot be contracted.
        normalize: whether to L2-normalize both inputs along their dot axes first, so the
            output is the cosine similarity (default False; `x / max(||x||, epsilon)` as
            `keras.ops.normalize`).

    Shapes: inputs `(batch, *a)` and `(batch, *b)` -> output `(batch, *a_free, *b_free)`,
    where `a_free`/`b_free` are the shapes without the contracted axes; a result of rank 1 is
    returned as `(batch, 1)`. E.g. `(batch, 3, 5)` and `(batch, 10, 3)` with `axes=(1, 2)` give
    `(batch, 5, 10)`.

    Raises:
        ValueError: for malformed `axes`, inputs that are not exactly 2 tensors of rank >= 2
            with the same batch size, an axis that is out of range or 0, or contracted axes of
            different sizes (the message names the layer and the shapes).
    """

    _min_inputs = 2
    _max_inputs = 2

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if is_int(axes):
            axes = int(axes)
        elif (isinstance(axes, (list, tuple)) and len(axes) == 2
              and all(is_int(a) for a in axes)):
            axes = tuple(int(a) for a in axes)
        else:
            raise ValueError(f"Dot: `axes` must be an int or a pair of ints, got {axes!r}")
        self.axes = axes
        self.normalize = bool(normalize)
        self.supports_masking = True

    def _resolved_axes(self, shapes):
        axes = (self.axes, self.axes) if isinstance(self.axes, int) else self.axes
        out = []
        for a, s in zip(axes, shapes):
            if not -len(s) <= a < len(s):
                raise self._error(f"axes={self.axes} is out of range for the inputs", shapes)
            out.append(a % len(s))
        if 0 in out:
            raise self._error(f"axes={self.axes} cannot include the batch axis 0", shapes)
        return out

    def _output_shape(self, shapes):
        self._check_list(shapes)
        if any(len(s) < 2 for s in shapes):
            raise self._error("both inputs must have rank >= 2", shapes)
        a0, a1 = self._resolved_axes(shapes)
        d0, d1 = shapes[0][a0], shapes[1][a1]
        if d0 is not None and d1 is not None and d0 != d1:
            raise self._error(
                f"the dot axes have different sizes {d0} (axis {a0} of input 0) and {d1} "
                f"(axis {a1} of input 1)", shapes)
        batch = shapes[0][0] if shapes[0][0] is not None else shapes[1][0]
        free0 = [d for i, d in enumerate(shapes[0]) if i not in (0, a0)]
        free1 = [d for i, d in enumerate(shapes[1]) if i not in (0, a1)]
        out = (batch, *free0, *free1)
        return out if len(out) > 1 else (batch, 1)

    def call(self, inputs):
        x, y = inputs
        shapes = [tuple(x.shape), tuple(y.shape)]
        out_shape = self._output_shape(shapes)
        a0, a1 = self._resolved_axes(shapes)
        if self.normalize:
            x = ops.normalize(x, axis=a0)
            y = ops.normalize(y, axis=a1)
        batch = shapes[0][0]
        # (batch, m, k) @ (batch, k, n): the contracted axis last in x, second in y.
        x = ops.moveaxis(x, a0, -1)
        y = ops.moveaxis(y, a1, 1)
        k = shapes[0][a0]
        m = math.prod(x.shape[1:-1])
        n = math.prod(y.shape[2:])
        out = ops.matmul(ops.reshape(x, (batch, m, k)), ops.reshape(y, (batch, k, n)))
        return ops.reshape(out, out_shape)

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def dot(inputs, axes=-1, **kwargs):
    """Functional form of `Dot`: `dot([a, b], axes=-1, normalize=False)`."""
    return Dot(axes=axes, **kwargs)(inputs)

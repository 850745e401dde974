"""`InputSpec`: the rank and axis sizes a layer accepts, checked on every call."""

from __future__ import annotations


# What an off-by-one rank usually means: the batch axis was written into, or left out of, a
# per-sample shape.
_BATCH_AXIS_HINT = {
    1: (". The input has one axis more than expected: if `input_shape` or `Input(shape=...)` "
        "included the batch size, leave it out (the shape describes one sample)."),
    -1: (". The input has one axis fewer than expected: it may be a single sample without its "
         "batch axis (use `x[None]` or `ops.expand_dims(x, 0)`)."),
}


class InputSpec:
    """What a layer's input must look like.

    Args:
        ndim: exact rank, or None. min_ndim: minimum rank.
        axes: `{axis: size}` sizes that must match (negative axes count from the end).
    """

    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None,
                 axes=None, allow_last_axis_squeeze=False, name=None, optional=False):
        self.ndim, self.min_ndim, self.max_ndim = ndim, min_ndim, max_ndim
        self.axes = dict(axes or {})
        self.shape = shape

    def check(self, layer_name: str, shape: tuple) -> None:
        """Raise ValueError naming the layer, the expectation and the received shape."""
        rank = len(shape)
        if self.ndim is not None and rank != self.ndim:
            raise ValueError(
                f'Input 0 of layer "{layer_name}" is incompatible with the layer: '
                f"expected ndim={self.ndim}, found ndim={rank}. Full shape received: {tuple(shape)}"
                + _BATCH_AXIS_HINT.get(rank - self.ndim, "")
            )
        if self.min_ndim is not None and rank < self.min_ndim:
            raise ValueError(
                f'Input 0 of layer "{layer_name}" is incompatible with the layer: '
                f"expected min_ndim={self.min_ndim}, found ndim={rank}. "
                f"Full shape received: {tuple(shape)}"
            )
        for axis, size in self.axes.items():
            if size is None:
                continue
            if -rank <= axis < rank and shape[axis] is not None and shape[axis] != size:
                raise ValueError(
                    f'Input 0 of layer "{layer_name}" is incompatible with the layer: '
                    f"expected axis {axis} of input shape to have value {size}, "
                    f"but received input with shape {tuple(shape)}"
                )

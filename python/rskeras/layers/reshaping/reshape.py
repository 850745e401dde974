"""`Reshape`: give each sample a new shape."""

from __future__ import annotations

import math

from rskeras import ops
from rskeras.layers._layer_args import is_int
from rskeras.layers.layer import Layer


class Reshape(Layer):
    """Reshape each sample to `target_shape`; the batch axis is kept (Keras
    `keras.layers.Reshape`).

    Args:
        target_shape: tuple of ints, the shape of one sample (no batch axis). One entry may
            be -1: it is inferred from the number of elements.

    Shapes: input `(batch, *dims)` with `prod(dims)` elements -> output `(batch, *target_shape)`.

    Raises:
        ValueError: when `target_shape` is not a tuple of positive ints with at most one -1,
            or when the input's per-sample element count does not fit `target_shape` (the
            message names the layer, the input shape and the target shape).
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        try:
            target = tuple(target_shape)
        except TypeError:
            raise ValueError(
                f"Reshape: `target_shape` must be a tuple of ints, got {target_shape!r}") from None
        if not all(is_int(d) and (d > 0 or d == -1) for d in target) or target.count(-1) > 1:
            raise ValueError(
                "Reshape: `target_shape` must hold positive ints and at most one -1, "
                f"got {target_shape!r}")
        self.target_shape = tuple(int(d) for d in target)
        self.built = True

    def _resolve(self, sample_shape) -> tuple:
        """`target_shape` with the -1 filled in for a sample of `sample_shape` (None when the
        sample size is unknown)."""
        target = list(self.target_shape)
        if any(d is None for d in sample_shape):
            return tuple(None if d == -1 else d for d in target)
        total = math.prod(sample_shape)
        known = math.prod(d for d in target if d != -1)
        if -1 in target and total % known == 0:
            target[target.index(-1)] = total // known
        elif -1 in target or known != total:
            raise ValueError(
                f'Layer "{self.name}" (Reshape): an input sample of shape {tuple(sample_shape)} '
                f"({total} elements) cannot be reshaped to target_shape={self.target_shape}")
        return tuple(target)

    def call(self, inputs):
        return ops.reshape(inputs, (inputs.shape[0],) + self._resolve(tuple(inputs.shape[1:])))

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self._resolve(tuple(input_shape[1:]))

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}

"""Math ops (`keras.ops.math`), composed from the core primitives so that they are
differentiable through `rskeras.GradientTape`."""

from __future__ import annotations

from rskeras import _core
from rskeras.ops import numpy as knp

Tensor = _core.Tensor


def logsumexp(x, axis=None, keepdims=False) -> Tensor:
    """`log(sum(exp(x), axis))`, computed stably as `m + log(sum(exp(x - m)))` with `m` the
    (gradient-stopped) maximum over `axis`, replaced by 0 where it is not finite — the
    formulation of `jax.scipy.special.logsumexp`, which Keras 3's JAX backend calls.

    Args:
        x: a tensor (integer inputs compute in float32).
        axis: None (all axes, default), an int or a tuple of ints.
        keepdims: keep the reduced axes with length 1.
    Returns:
        float32; an empty reduction gives -inf; all -inf inputs give -inf. The gradient is
        `softmax(x)` over `axis`.
    Raises:
        ValueError: when an axis is out of range or repeated (the message names logsumexp).
    """
    x = knp._floatx(x)
    axes = knp._reduced("logsumexp", x, axis)
    if knp.size(x) == 0:  # `max` has no identity; sum(exp) is then 0 and the result -inf
        m = knp.zeros([1 if axes is None or i in axes else d for i, d in enumerate(x.shape)])
    else:
        m = _core.stop_gradient(_core.reduce("max", x, axes, True))
        m = _core.where_(_core.binary("less", _core.unary("abs", m), float("inf")), m, 0.0)
    out = _core.unary("log", _core.reduce("sum", _core.unary("exp", x - m), axes, True)) + m
    if keepdims:
        return out
    return knp.reshape(out, [d for i, d in enumerate(x.shape) if not (axes is None or i in axes)])

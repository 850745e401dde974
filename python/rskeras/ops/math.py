"""Math ops (`keras.ops.math`), composed from the core primitives so that they are
differentiable through `rskeras.GradientTape`."""

from __future__ import annotations

from rskeras import _core
from rskeras.ops import shape_rules as R
from rskeras.ops.operation import operation
from rskeras.ops import numpy as knp

Tensor = _core.Tensor


@operation(R.reduction("nn", "logsumexp"))
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


@operation(R.unary("float"), core_call=True)
def erf(x) -> Tensor:
    """The error function, element-wise (float32; A&S 7.1.26 / Maclaurin series, |error| about
    1e-7). Its gradient is `2 / sqrt(pi) * exp(-x^2)`."""
    return _core.unary("erf", x)


@operation(R.top_k)
def top_k(x, k, sorted=True) -> tuple:  # noqa: A002 - Keras argument name
    """The `k` largest entries along the last axis and their int32 indices, largest first
    (ties: the lower index first). Returns `(values, indices)`, each `(..., k)`.

    Raises:
        ValueError: when `k` is not in `[0, x.shape[-1]]`.
    """
    x = knp.convert_to_tensor(x)
    n = x.shape[-1] if x.ndim else 0
    if not 0 <= k <= n:
        raise ValueError(f"top_k: k={k} must be in [0, {n}] for input shape {tuple(x.shape)}")
    order = _core.argsort(x, -1, True)[..., :k]
    return _core.take_along_axis(x, order, -1), order


@operation(R.in_top_k)
def in_top_k(targets, predictions, k) -> Tensor:
    """Whether each target class is among the `k` highest `predictions` of its row:
    `targets` `(batch,)` int, `predictions` `(batch, classes)`; returns bool `(batch,)`.
    A target counts as in the top k when fewer than k classes score strictly higher."""
    predictions = knp.convert_to_tensor(predictions)
    if predictions.dtype not in ("float16", "bfloat16", "float32", "float64"):
        predictions = _core.cast(predictions, "float32")
    targets = _core.cast(targets, "int64")
    if predictions.ndim != 2 or tuple(targets.shape) != tuple(predictions.shape[:1]):
        raise ValueError(f"in_top_k: expected targets (batch,) and predictions (batch, classes), "
                         f"got shapes {tuple(targets.shape)} and {tuple(predictions.shape)}")
    picked = _core.take_along_axis(predictions, knp.expand_dims(targets, -1), -1)
    higher = knp.sum(_core.cast(_core.binary("greater", predictions, picked), "int32"), axis=-1)
    return _core.binary("less", higher, int(k))

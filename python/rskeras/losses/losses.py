"""Every Keras 3 loss: the per-sample functions and the `Loss` classes around them.

Formulas, defaults and names follow Keras 3.15 (`keras/src/losses/losses.py`, computed there
by the `ops` of its JAX backend); each function's docstring gives its source and any
deviation. Shared conventions:

* `y_pred` is computed in its own float dtype (float32 for integer input) and `y_true` is
  cast to it. When their ranks differ by a trailing axis of size 1 it is squeezed (or a
  rank-1 partner expanded), as Keras's `LossFunctionWrapper` does, so `(batch,)` labels pair
  with `(batch, 1)` predictions.
* Probabilities are clipped to `[epsilon, 1 - epsilon]` before a logarithm
  (`keras.config.epsilon()`, 1e-7); `from_logits=True` takes the log-softmax / log-sigmoid
  path instead, which is stable for any logit.
* Labels are checked before use (`rskeras.losses.labels`): NaN or infinite labels, and
  sparse class ids outside `[0, classes)`, raise a ValueError naming the loss, the value and
  its index. Shapes a loss cannot pair raise a ValueError naming the loss and both shapes.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import warnings

from rskeras import ops
from rskeras.backend import config as _config
from rskeras.backend.masking import set_keras_mask
from rskeras.losses.labels import check_labels, is_sparse, num_classes_of, sparse_labels
from rskeras.losses.loss import (  # noqa: F401  (re-exported: metrics and trainers use them)
    REDUCTIONS, Loss, apply_mask, as_tensor, combined_mask, modern_config, reduce_loss, reduce_values,
    reduce_weighted_values, squeeze_or_expand_to_same_rank, standardize_reduction,
)

_FLOATS = ("float16", "bfloat16", "float32", "float64")

# True while a `Loss` (or a metric) that has checked `y_true` itself runs its function.
_LABELS_CHECKED: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "rskeras_loss_labels_checked", default=False)


@contextlib.contextmanager
def labels_checked():
    """Within the block the loss functions skip their own label check (the caller, a `Loss`
    or a metric, has made it on the original `y_true`)."""
    token = _LABELS_CHECKED.set(True)
    try:
        yield
    finally:
        _LABELS_CHECKED.reset(token)


def _check(y_true, name, num_classes=None):
    if not _LABELS_CHECKED.get():
        check_labels(y_true, name, num_classes)


def _float(x):
    x = as_tensor(x)
    return x if str(x.dtype) in _FLOATS else ops.cast(x, "float32")


def _broadcastable(a, b) -> bool:
    return all(x == y or x == 1 or y == 1 for x, y in zip(reversed(a), reversed(b)))


def _pair(name, y_true, y_pred, same_shape=False, squeeze=True):
    """`(y_true, y_pred)` as tensors of `y_pred`'s float dtype, ranks matched, shapes checked.

    Raises:
        ValueError: naming `name`, the expected and the actual shape, when the shapes do not
            broadcast (or differ, with `same_shape`).
    """
    _check(y_true, name)
    y_pred = _float(y_pred)
    y_true = as_tensor(y_true, str(y_pred.dtype))
    if squeeze:
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    a, b = tuple(y_true.shape), tuple(y_pred.shape)
    if same_shape and a != b:
        hint = ""
        if a == b[:-1] or a == b[:-1] + (1,):
            hint = (" (integer class ids take sparse_categorical_crossentropy, or one-hot "
                    "encode them)")
        raise ValueError(f"{name}: expected y_true of shape {b} (the shape of y_pred), "
                         f"got y_true of shape {a}{hint}")
    if not _broadcastable(a, b):
        raise ValueError(f"{name}: expected y_true of a shape broadcastable to y_pred's {b}, "
                         f"got y_true of shape {a}")
    return y_true, y_pred


def _eps() -> float:
    return float(_config.epsilon())


def _check_axis(name, axis):
    if isinstance(axis, bool):
        raise ValueError(f"{name}: `axis` must be of type `int`. Received: axis={axis} of type "
                         f"{type(axis)}")


# ---------------------------------------------------------------------------------------------
# Regression


def mean_squared_error(y_true, y_pred):
    """`mean(square(y_true - y_pred), axis=-1)`: shape `(batch, d0, .., dN)` ->
    `(batch, d0, .., dN-1)`. Keras 3 `keras.losses.mean_squared_error`."""
    y_true, y_pred = _pair("mean_squared_error", y_true, y_pred)
    return ops.mean(ops.square(y_true - y_pred), axis=-1)


def mean_absolute_error(y_true, y_pred):
    """`mean(abs(y_true - y_pred), axis=-1)`; shapes as `mean_squared_error`.
    Keras 3 `keras.losses.mean_absolute_error`."""
    y_true, y_pred = _pair("mean_absolute_error", y_true, y_pred)
    return ops.mean(ops.abs(y_true - y_pred), axis=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    """`100 * mean(abs((y_true - y_pred) / max(abs(y_true), epsilon)), axis=-1)`; shapes as
    `mean_squared_error`. Keras 3 `keras.losses.mean_absolute_percentage_error`."""
    y_true, y_pred = _pair("mean_absolute_percentage_error", y_true, y_pred)
    diff = ops.abs((y_true - y_pred) / ops.maximum(ops.abs(y_true), _eps()))
    return 100.0 * ops.mean(diff, axis=-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    """`mean(square(log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1)), axis=-1)`;
    shapes as `mean_squared_error`. Keras 3 `keras.losses.mean_squared_logarithmic_error`."""
    y_true, y_pred = _pair("mean_squared_logarithmic_error", y_true, y_pred)
    first = ops.log(ops.maximum(y_pred, _eps()) + 1.0)
    second = ops.log(ops.maximum(y_true, _eps()) + 1.0)
    return ops.mean(ops.square(first - second), axis=-1)


def cosine_similarity(y_true, y_pred, axis=-1):
    """`-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis=axis)`: in `[-1, 1]`, -1 for
    parallel vectors, 0 when either is zero (the norm is floored at epsilon, as Keras's
    `ops.normalize`). Shape: `axis` removed. Keras 3 `keras.losses.cosine_similarity`."""
    y_true, y_pred = _pair("cosine_similarity", y_true, y_pred)
    y_pred = ops.normalize(y_pred, axis=axis)
    y_true = ops.normalize(y_true, axis=axis)
    return -ops.sum(y_true * y_pred, axis=axis)


def huber(y_true, y_pred, delta=1.0):
    """Mean over the last axis of `0.5 * e^2` where `|e| <= delta`, else
    `delta * |e| - 0.5 * delta^2` (`e = y_pred - y_true`). Keras 3 `keras.losses.huber`."""
    y_true, y_pred = _pair("huber", y_true, y_pred)
    delta = float(delta)
    error = y_pred - y_true
    abs_error = ops.abs(error)
    quadratic = 0.5 * ops.square(error)
    linear = delta * abs_error - 0.5 * delta * delta
    return ops.mean(ops.where(ops.less_equal(abs_error, delta), quadratic, linear), axis=-1)


def log_cosh(y_true, y_pred):
    """Mean over the last axis of `log(cosh(x))`, `x = y_pred - y_true`, computed as
    `x + softplus(-2x) - log(2)` (no overflow for large `|x|`). Keras 3
    `keras.losses.log_cosh`."""
    y_true, y_pred = _pair("log_cosh", y_true, y_pred)
    x = y_pred - y_true
    return ops.mean(x + ops.softplus(x * -2.0) - math.log(2.0), axis=-1)


# ---------------------------------------------------------------------------------------------
# Probabilistic


def kl_divergence(y_true, y_pred):
    """`sum(t * log(t / p), axis=-1)` with `t`, `p` clipped to `[epsilon, 1]`; shape: the
    last axis removed. Keras 3 `keras.losses.kl_divergence`."""
    y_true, y_pred = _pair("kl_divergence", y_true, y_pred)
    y_true = ops.clip(y_true, _eps(), 1.0)
    y_pred = ops.clip(y_pred, _eps(), 1.0)
    return ops.sum(y_true * ops.log(y_true / y_pred), axis=-1)


def poisson(y_true, y_pred):
    """`mean(y_pred - y_true * log(y_pred + epsilon), axis=-1)`. Keras 3
    `keras.losses.poisson`."""
    y_true, y_pred = _pair("poisson", y_true, y_pred)
    return ops.mean(y_pred - y_true * ops.log(y_pred + _eps()), axis=-1)


def _smooth_categorical(y_true, label_smoothing):
    if label_smoothing:
        # Keras divides by the size of the last axis, whatever `axis` is.
        return y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[-1]
    return y_true


def _warn_one_class(name, y_pred):
    if y_pred.ndim and y_pred.shape[-1] == 1:
        warnings.warn(
            f"In loss {name}, expected y_pred.shape to be (batch_size, num_classes) with "
            f"num_classes > 1. Received: y_pred.shape={tuple(y_pred.shape)}. Consider using "
            "'binary_crossentropy' if you only have 2 classes.", SyntaxWarning, stacklevel=3)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """`-sum(y_true * log(p), axis)` for one-hot (or soft) `y_true`, `y_pred` and `y_true`
    of the same shape `(batch, ..., classes)` -> the class axis removed.

    `p` is `y_pred / sum(y_pred, axis)` clipped to `[epsilon, 1 - epsilon]`, or
    `softmax(y_pred)` through `log_softmax` when `from_logits`. `label_smoothing` in [0, 1]
    replaces `y_true` by `y_true * (1 - s) + s / classes`. Keras 3
    `keras.losses.categorical_crossentropy`.

    Raises:
        ValueError: for a boolean `axis`, or shapes that differ.
    """
    name = "categorical_crossentropy"
    _check_axis(name, axis)
    y_true, y_pred = _pair(name, y_true, y_pred, same_shape=True, squeeze=False)
    _warn_one_class(name, y_pred)
    y_true = _smooth_categorical(y_true, label_smoothing)
    return ops.categorical_crossentropy(y_true, y_pred, from_logits=from_logits, axis=axis)


def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False,
                                   label_smoothing=0.0, axis=-1):
    """Focal loss (Lin et al., 2017) for one-hot labels:
    `sum(-alpha * (1 - p)^gamma * y_true * log(p), axis)`, `p` as in
    `categorical_crossentropy` (softmax first when `from_logits`). Shapes as
    `categorical_crossentropy`. Keras 3 `keras.losses.categorical_focal_crossentropy`."""
    name = "categorical_focal_crossentropy"
    _check_axis(name, axis)
    y_true, y_pred = _pair(name, y_true, y_pred, same_shape=True, squeeze=False)
    _warn_one_class(name, y_pred)
    y_true = _smooth_categorical(y_true, label_smoothing)
    if from_logits:
        y_pred = ops.softmax(y_pred, axis=axis)
    output = y_pred / ops.sum(y_pred, axis=axis, keepdims=True)
    output = ops.clip(output, _eps(), 1.0 - _eps())
    cce = -y_true * ops.log(output)
    focal = ops.power(1.0 - output, float(gamma)) * float(alpha) * cce
    return ops.sum(focal, axis=axis)


def _sparse_ce(labels, y_pred, from_logits):
    """The per-sample sparse cross-entropy over the last axis. The core's fused op computes in
    float32; float64 predictions take the same formula composed of ops, in float64."""
    if str(y_pred.dtype) != "float64":
        return ops.sparse_categorical_crossentropy(labels, y_pred, from_logits=from_logits)
    if from_logits:
        log_prob = ops.log_softmax(y_pred, axis=-1)
    else:
        output = y_pred / ops.sum(y_pred, axis=-1, keepdims=True)
        log_prob = ops.log(ops.clip(output, _eps(), 1.0 - _eps()))
    index = ops.expand_dims(ops.cast(labels, "int32"), -1)
    return -ops.squeeze(ops.take_along_axis(log_prob, index, axis=-1), axis=-1)


@sparse_labels
def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """`-log p[y_true]` for integer class ids `y_true` of shape `(batch, ...)` (or with a
    trailing axis of size 1) against `y_pred` of shape `(batch, ..., classes)`; returns
    `(batch, ...)`. `p` as in `categorical_crossentropy`.

    `ignore_class`: labels equal to it contribute 0 and are masked out of the reduction (the
    result carries a Keras mask, so "sum_over_batch_size" averages over the other labels).
    Keras 3 `keras.losses.sparse_categorical_crossentropy`.

    Raises:
        ValueError: when `y_true`'s shape is not `y_pred`'s without the class axis, or a
            label (other than `ignore_class`) is NaN or outside `[0, classes)`.
    """
    name = "sparse_categorical_crossentropy"
    _check_axis(name, axis)
    y_pred = _float(y_pred)
    y_true = as_tensor(y_true)
    class_axis = axis % y_pred.ndim if y_pred.ndim else 0
    classes = int(y_pred.shape[class_axis]) if y_pred.ndim else None
    if ignore_class is None:
        _check(y_true, name, classes)
    if y_true.ndim == y_pred.ndim and y_true.ndim and y_true.shape[class_axis] == 1:
        y_true = ops.squeeze(y_true, axis=class_axis)
    expected = tuple(d for i, d in enumerate(y_pred.shape) if i != class_axis)
    if tuple(y_true.shape) != expected:
        raise ValueError(f"{name}: expected y_true of shape {expected} (y_pred's shape "
                         f"{tuple(y_pred.shape)} without the class axis), got y_true of shape "
                         f"{tuple(y_true.shape)}")
    if class_axis != y_pred.ndim - 1:
        y_pred = ops.moveaxis(y_pred, class_axis, -1)
    if ignore_class is None:
        return _sparse_ce(y_true, y_pred, from_logits)
    valid = ops.not_equal(y_true, ignore_class)
    safe_true = ops.where(valid, y_true, ops.zeros_like(y_true))
    # The ignored label may lie outside [0, classes): the others are checked here.
    check_labels(safe_true, name, classes)
    # Ignored rows become uniform (Keras zeroes them, which makes 0/0 for probabilities);
    # their value is replaced by 0 below either way.
    y_pred = ops.where(ops.expand_dims(valid, -1), y_pred, 0.0 if from_logits else 1.0)
    res = _sparse_ce(safe_true, y_pred, from_logits)
    res = ops.where(valid, res, 0.0)
    set_keras_mask(res, valid)
    return res


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Mean over `axis` of the element-wise `-(t log p + (1 - t) log(1 - p))`, `p` clipped to
    `[epsilon, 1 - epsilon]`, or from logits `max(x, 0) - x t + log(1 + exp(-|x|))`;
    `(batch, d0, .., dN)` -> `(batch, d0, .., dN-1)`. `label_smoothing` moves targets toward
    0.5: `t * (1 - s) + 0.5 s`. Keras 3 `keras.losses.binary_crossentropy`."""
    y_true, y_pred = _pair("binary_crossentropy", y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    return ops.mean(ops.binary_crossentropy(y_true, y_pred, from_logits=from_logits), axis=axis)


def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25, gamma=2.0,
                              from_logits=False, label_smoothing=0.0, axis=-1):
    """Focal binary cross-entropy (Lin et al., 2017): mean over `axis` of
    `(1 - p_t)^gamma * bce`, `p_t = t p + (1 - t)(1 - p)`, times
    `t alpha + (1 - t)(1 - alpha)` when `apply_class_balancing`; `p = sigmoid(y_pred)` when
    `from_logits`. Shapes as `binary_crossentropy`. Keras 3
    `keras.losses.binary_focal_crossentropy`."""
    y_true, y_pred = _pair("binary_focal_crossentropy", y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        y_pred = ops.sigmoid(y_pred)
    bce = ops.binary_crossentropy(y_true, y_pred, from_logits=False)
    p_t = y_true * y_pred + (1.0 - y_true) * (1.0 - y_pred)
    focal = ops.power(1.0 - p_t, float(gamma)) * bce
    if apply_class_balancing:
        focal = (y_true * alpha + (1.0 - y_true) * (1.0 - alpha)) * focal
    return ops.mean(focal, axis=axis)


def categorical_generalized_cross_entropy(y_true, y_pred, q):
    """Generalized cross-entropy (Zhang and Sabuncu, 2018) for noisy labels:
    `(1 - p[y_true]^q) / q`, between cross-entropy (q -> 0) and MAE (q = 1). `y_true`:
    integer class ids `(batch,)`; `y_pred`: probabilities `(batch, classes)`; returns
    `(batch,)`. Keras 3 `keras.losses.categorical_generalized_cross_entropy`.

    Raises:
        ValueError: for shapes that do not pair, or labels outside `[0, classes)`.
    """
    name = "categorical_generalized_cross_entropy"
    y_pred = _float(y_pred)
    y_true = as_tensor(y_true)
    if y_true.ndim == y_pred.ndim and y_true.ndim and y_true.shape[-1] == 1:
        y_true = ops.squeeze(y_true, axis=-1)
    if tuple(y_true.shape) != tuple(y_pred.shape[:-1]):
        raise ValueError(f"{name}: expected y_true of shape {tuple(y_pred.shape[:-1])} (y_pred's "
                         f"shape {tuple(y_pred.shape)} without the class axis), got y_true of "
                         f"shape {tuple(y_true.shape)}")
    _check(y_true, name, num_classes_of(y_pred))
    one_hot = ops.one_hot(ops.cast(y_true, "int32"), y_pred.shape[-1], dtype=str(y_pred.dtype))
    p = ops.sum(y_pred * one_hot, axis=-1)
    return (1.0 - ops.power(p, float(q))) / float(q)


sparse_labels(categorical_generalized_cross_entropy)


# ---------------------------------------------------------------------------------------------
# Hinge


def _hinge_labels(y_true):
    """Labels in {0, 1} become {-1, 1} (decided on the whole tensor, without a read-back);
    other labels are used as given."""
    binary = ops.all(ops.logical_or(ops.equal(y_true, 0.0), ops.equal(y_true, 1.0)))
    return ops.where(binary, 2.0 * y_true - 1.0, y_true)


def hinge(y_true, y_pred):
    """`mean(maximum(1 - y_true * y_pred, 0), axis=-1)` for labels in {-1, 1} (labels in
    {0, 1} are converted). Keras 3 `keras.losses.hinge`."""
    y_true, y_pred = _pair("hinge", y_true, y_pred)
    return ops.mean(ops.maximum(1.0 - _hinge_labels(y_true) * y_pred, 0.0), axis=-1)


def squared_hinge(y_true, y_pred):
    """`mean(square(maximum(1 - y_true * y_pred, 0)), axis=-1)`; labels as `hinge`.
    Keras 3 `keras.losses.squared_hinge`."""
    y_true, y_pred = _pair("squared_hinge", y_true, y_pred)
    return ops.mean(ops.square(ops.maximum(1.0 - _hinge_labels(y_true) * y_pred, 0.0)), axis=-1)


def categorical_hinge(y_true, y_pred):
    """`maximum(neg - pos + 1, 0)`, `pos = sum(y_true * y_pred, -1)`,
    `neg = max((1 - y_true) * y_pred, -1)`, for one-hot `y_true`; the last axis removed.
    Keras 3 `keras.losses.categorical_hinge`."""
    y_true, y_pred = _pair("categorical_hinge", y_true, y_pred)
    pos = ops.sum(y_true * y_pred, axis=-1)
    neg = ops.max((1.0 - y_true) * y_pred, axis=-1)
    return ops.maximum(neg - pos + 1.0, 0.0)


# ---------------------------------------------------------------------------------------------
# Image segmentation


def dice(y_true, y_pred, axis=None):
    """`1 - 2 sum(t p) / (sum(t) + sum(p) + epsilon)`, the sums over `axis` (None: every
    axis, giving a scalar). Keras 3 `keras.losses.dice`."""
    y_true, y_pred = _pair("dice", y_true, y_pred, squeeze=False)
    intersection = ops.sum(y_true * y_pred, axis=axis)
    total = ops.sum(y_true, axis=axis) + ops.sum(y_pred, axis=axis) + _eps()
    return 1.0 - 2.0 * intersection / total


def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None):
    """`1 - TP / (TP + alpha FP + beta FN + epsilon)` with `TP = sum(t p)`,
    `FP = sum((1 - p) t)`, `FN = sum(p (1 - t))` over `axis` (None: all; the terms as Keras
    3 writes them). alpha = beta = 0.5 is the Dice loss. Keras 3 `keras.losses.tversky`."""
    y_true, y_pred = _pair("tversky", y_true, y_pred, squeeze=False)
    intersection = ops.sum(y_true * y_pred, axis=axis)
    fp = ops.sum((1.0 - y_pred) * y_true, axis=axis)
    fn = ops.sum(y_pred * (1.0 - y_true), axis=axis)
    return 1.0 - intersection / (intersection + fp * alpha + fn * beta + _eps())


# ---------------------------------------------------------------------------------------------
# Similarity


def circle(y_true, y_pred, ref_labels=None, ref_embeddings=None, remove_diagonal=True, gamma=80,
           margin=0.4):
    """Circle loss (Sun et al., 2020) on L2-normalized embeddings: per query,
    `softplus(logsumexp(-gamma a_p (m - d_p)) + logsumexp(gamma a_n (1 - m - d_n)))` over its
    positive and negative pairs, with cosine distances `d = max(1 - q . r, 0)` and weights
    `a_p = max(m + d_p, 0)`, `a_n = max(1 + m - d_n, 0)`.

    Args:
        y_true: integer labels `(batch,)`. y_pred: embeddings `(batch, dim)`.
        ref_labels, ref_embeddings: the references (default: the batch itself).
        remove_diagonal: drop each query's pair with itself from its positives.
    Returns:
        `(batch,)`, carrying a Keras mask of the positive values (so zero-loss queries are
        left out of the mean). Keras 3 `keras.losses.circle`.
    """
    name = "circle"
    _check(y_true, name)
    y_pred = _float(y_pred)
    y_true = ops.cast(as_tensor(y_true), "int32")
    ref_embeddings = y_pred if ref_embeddings is None else _float(ref_embeddings)
    ref_labels = y_true if ref_labels is None else ops.cast(as_tensor(ref_labels), "int32")
    if y_pred.ndim != 2 or ref_embeddings.ndim != 2:
        raise ValueError(f"{name}: expected y_pred of shape (batch, dim), got "
                         f"{tuple(y_pred.shape)}")
    q = ops.reshape(y_true, (-1, 1))
    k = ops.reshape(ref_labels, (-1, 1))
    if q.shape[0] != y_pred.shape[0]:
        raise ValueError(f"{name}: expected y_true of shape ({y_pred.shape[0]},), got "
                         f"{tuple(y_true.shape)}")
    distances = ops.maximum(1.0 - ops.matmul(y_pred, ops.transpose(ref_embeddings)), 0.0)
    positive = ops.equal(q, ops.transpose(k))
    negative = ops.logical_not(positive)
    if remove_diagonal:
        positive = ops.logical_and(positive, ops.logical_not(
            ops.eye(q.shape[0], k.shape[0], k=0, dtype="bool")))
    pos_f, neg_f = ops.cast(positive, distances.dtype), ops.cast(negative, distances.dtype)
    pos_weights = ops.maximum((margin + distances) * pos_f, 0.0)
    neg_weights = ops.maximum((1.0 + margin - distances) * neg_f, 0.0)
    pos_wdists = -1.0 * gamma * pos_weights * (margin - distances)
    neg_wdists = gamma * neg_weights * ((1.0 - margin) - distances)
    p_loss = ops.logsumexp(ops.where(positive, pos_wdists, float("-inf")), axis=1)
    n_loss = ops.logsumexp(ops.where(negative, neg_wdists, float("-inf")), axis=1)
    loss = ops.softplus(p_loss + n_loss)
    set_keras_mask(loss, ops.greater(loss, 0.0))
    return loss


# ---------------------------------------------------------------------------------------------
# Sequence

_LOG_ZERO = -1e5  # log of an unreachable state, finite so that gradients stay finite (as optax)


def _logaddexp(a, b):
    m = ops.maximum(a, b)
    return m + ops.log(ops.exp(a - m) + ops.exp(b - m))


def ctc(y_true, y_pred):
    """Connectionist temporal classification loss (Graves et al., 2006): the negative log
    likelihood of each label sequence under the per-step class distributions, summed over
    every alignment by the forward algorithm in log space.

    Args:
        y_true: integer labels `(batch, max_label_length)`, padded with 0 at the end; class
            0 is the blank, so a label's length is its count of non-zero entries.
        y_pred: logits `(batch, steps, classes)` (a log-softmax is taken over classes); every
            sample uses all `steps`.
    Returns:
        `(batch,)`. Keras 3 `keras.losses.ctc` (its JAX backend follows optax's
        `ctc_loss`, as this does; unreachable states get log-probability -1e5).

    Raises:
        ValueError: when `y_true` is not 2-D, `y_pred` not 3-D, or their batches differ; for
            a label outside `[0, classes)`, naming its value and index.
    """
    name = "ctc"
    _check(y_true, name)
    y_pred = _float(y_pred)
    labels = ops.cast(as_tensor(y_true), "int32")
    if labels.ndim != 2:
        raise ValueError("Targets `y_true` are expected to be a tensor of shape "
                         f"`(batch_size, max_length)` in integer format. Received: "
                         f"y_true.shape={tuple(labels.shape)}")
    if y_pred.ndim != 3:
        raise ValueError("Logits `y_pred` are expected to be a tensor of shape "
                         f"`(batch_size, max_length, num_classes)`. Received: "
                         f"y_pred.shape={tuple(y_pred.shape)}")
    batch, steps, _ = y_pred.shape
    if labels.shape[0] != batch:
        raise ValueError(f"{name}: expected y_true of shape ({batch}, max_length) for y_pred of "
                         f"shape {tuple(y_pred.shape)}, got y_true of shape {tuple(labels.shape)}")
    # Labels outside [0, classes) would index past the class axis: refused by name.
    check_labels(labels, name, int(y_pred.shape[-1]))
    length = labels.shape[1]
    size = 2 * length + 1  # the labels with a blank before, between and after them
    label_length = ops.sum(ops.cast(ops.not_equal(labels, 0), "int32"), axis=1)
    logp = ops.log_softmax(y_pred, axis=-1)
    # ext[b, s]: blank (0) at even s, labels[b, (s - 1) / 2] at odd s.
    blanks = ops.zeros((batch, length), "int32")
    ext = ops.reshape(ops.stack([blanks, labels], axis=2), (batch, 2 * length))
    ext = ops.concatenate([ext, ops.zeros((batch, 1), "int32")], axis=1)
    index = ops.broadcast_to(ops.expand_dims(ext, 1), (batch, steps, size))
    emit = ops.take_along_axis(logp, index, axis=2)  # (batch, steps, size)
    # A step may skip from s - 2 to s at a label that differs from the label before it.
    positions = ops.arange(size)
    odd = ops.equal(positions % 2, 1)
    if size > 2:
        shifted = ops.concatenate([ops.full((batch, 2), -1, "int32"), ext[:, :-2]], axis=1)
        skip = ops.logical_and(odd, ops.not_equal(ext, shifted))
    else:
        skip = ops.zeros((batch, size), "bool")
    dtype = str(emit.dtype)
    start = ops.less(positions, 2)
    alpha = ops.where(start, emit[:, 0, :], _LOG_ZERO)
    pad1 = ops.full((batch, 1), _LOG_ZERO, dtype)
    pad2 = ops.full((batch, 2), _LOG_ZERO, dtype)
    for t in range(1, steps):
        prev1 = ops.concatenate([pad1, alpha[:, :-1]], axis=1)
        prev2 = ops.concatenate([pad2, alpha[:, :-2]], axis=1) if size > 2 else pad2[:, :size]
        total = _logaddexp(alpha, prev1)
        total = ops.where(skip, _logaddexp(total, prev2), total)
        alpha = total + emit[:, t, :]
    last = 2 * label_length
    ends = ops.logical_or(ops.equal(positions, ops.expand_dims(last, 1)),
                          ops.equal(positions, ops.expand_dims(last - 1, 1)))
    final = ops.where(ends, alpha, _LOG_ZERO)
    return -ops.logsumexp(final, axis=1)


# ---------------------------------------------------------------------------------------------
# The Loss classes


class LossFunctionWrapper(Loss):
    """A `Loss` around a per-sample function `fn(y_true, y_pred, **kwargs)`: ranks that
    differ by a trailing axis of size 1 are matched first, then `fn`'s values are weighted
    and reduced. Keras 3 `keras.losses.LossFunctionWrapper`.

    Args:
        fn: the function. reduction, name, dtype: as `Loss` (name defaults to `fn`'s).
        **kwargs: passed to `fn` on every call, and kept in the config.
    """

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", None), reduction=reduction,
                         dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        y_true, y_pred = squeeze_or_expand_to_same_rank(as_tensor(y_true), as_tensor(y_pred))
        with labels_checked():
            return self.fn(y_true, y_pred, **self._fn_kwargs)

    def _sparse_labels(self) -> bool:
        return is_sparse(self.fn) and self._fn_kwargs.get("ignore_class") is None

    def _num_classes(self, y_pred):
        axis = self._fn_kwargs.get("axis", -1)
        shape = getattr(y_pred, "shape", None)
        if axis == -1 or shape is None or not isinstance(axis, int) or not -len(shape) <= axis < len(shape):
            return num_classes_of(y_pred)
        return int(shape[axis])

    def get_config(self) -> dict:
        from rskeras.saving.serialization_lib import serialize_keras_object

        config = super().get_config()
        config["fn"] = serialize_keras_object(self.fn)
        config.update(serialize_keras_object(dict(self._fn_kwargs)))
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(modern_config(config))
        if "fn" in config:
            from rskeras.saving.serialization_lib import deserialize_keras_object

            fn = config["fn"]
            config["fn"] = deserialize_keras_object(fn) if isinstance(fn, dict) else get(fn)
        return cls(**config)

    def __repr__(self) -> str:
        return f"<LossFunctionWrapper({self.fn}, kwargs={self._fn_kwargs})>"


class _Wrapped(LossFunctionWrapper):
    """A Keras loss class: `get_config` is `Loss`'s plus the arguments in `_CONFIG`."""

    _CONFIG: tuple = ()

    def get_config(self) -> dict:
        config = Loss.get_config(self)
        config.update({key: self._fn_kwargs[key] for key in self._CONFIG})
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**modern_config(config))


class MeanSquaredError(_Wrapped):
    """Mean of squares of errors over the last axis (`mean_squared_error`).

    Args: reduction ("sum_over_batch_size"), name ("mean_squared_error"), dtype (None).
    Config: name, reduction. Keras 3 `keras.losses.MeanSquaredError`."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, reduction=reduction, dtype=dtype)


class MeanAbsoluteError(_Wrapped):
    """Mean of absolute errors over the last axis (`mean_absolute_error`).

    Args: reduction, name ("mean_absolute_error"), dtype. Keras 3
    `keras.losses.MeanAbsoluteError`."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, reduction=reduction, dtype=dtype)


class MeanAbsolutePercentageError(_Wrapped):
    """`mean_absolute_percentage_error`. Args: reduction, name
    ("mean_absolute_percentage_error"), dtype. Keras 3
    `keras.losses.MeanAbsolutePercentageError`."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_percentage_error",
                 dtype=None):
        super().__init__(mean_absolute_percentage_error, name=name, reduction=reduction,
                         dtype=dtype)


class MeanSquaredLogarithmicError(_Wrapped):
    """`mean_squared_logarithmic_error`. Args: reduction, name
    ("mean_squared_logarithmic_error"), dtype. Keras 3
    `keras.losses.MeanSquaredLogarithmicError`."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_logarithmic_error",
                 dtype=None):
        super().__init__(mean_squared_logarithmic_error, name=name, reduction=reduction,
                         dtype=dtype)


class CosineSimilarity(_Wrapped):
    """`cosine_similarity` along `axis`.

    Args: axis (-1), reduction, name ("cosine_similarity"), dtype. Config: name, reduction,
    axis (Keras 3.15 leaves `axis` out of its config; it is kept here so that a non-default
    axis survives saving, and Keras accepts it). Keras 3 `keras.losses.CosineSimilarity`."""

    _CONFIG = ("axis",)

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity",
                 dtype=None):
        super().__init__(cosine_similarity, name=name, reduction=reduction, dtype=dtype, axis=axis)


class Huber(_Wrapped):
    """`huber` with threshold `delta`.

    Args: delta (1.0), reduction, name ("huber_loss"), dtype. Config: name, reduction, delta
    (Keras 3.15 leaves `delta` out; kept here so that it survives saving, and Keras accepts
    it). Keras 3 `keras.losses.Huber`."""

    _CONFIG = ("delta",)

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        super().__init__(huber, name=name, reduction=reduction, dtype=dtype, delta=delta)


class LogCosh(_Wrapped):
    """`log_cosh`. Args: reduction, name ("log_cosh"), dtype. Keras 3 `keras.losses.LogCosh`."""

    def __init__(self, reduction="sum_over_batch_size", name="log_cosh", dtype=None):
        super().__init__(log_cosh, name=name, reduction=reduction, dtype=dtype)


class Hinge(_Wrapped):
    """`hinge`. Args: reduction, name ("hinge"), dtype. Keras 3 `keras.losses.Hinge`."""

    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(hinge, name=name, reduction=reduction, dtype=dtype)


class SquaredHinge(_Wrapped):
    """`squared_hinge`. Args: reduction, name ("squared_hinge"), dtype. Keras 3
    `keras.losses.SquaredHinge`."""

    def __init__(self, reduction="sum_over_batch_size", name="squared_hinge", dtype=None):
        super().__init__(squared_hinge, name=name, reduction=reduction, dtype=dtype)


class CategoricalHinge(_Wrapped):
    """`categorical_hinge`. Args: reduction, name ("categorical_hinge"), dtype. Keras 3
    `keras.losses.CategoricalHinge`."""

    def __init__(self, reduction="sum_over_batch_size", name="categorical_hinge", dtype=None):
        super().__init__(categorical_hinge, name=name, reduction=reduction, dtype=dtype)


class KLDivergence(_Wrapped):
    """`kl_divergence`. Args: reduction, name ("kl_divergence"), dtype. Keras 3
    `keras.losses.KLDivergence`."""

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(kl_divergence, name=name, reduction=reduction, dtype=dtype)


class Poisson(_Wrapped):
    """`poisson`. Args: reduction, name ("poisson"), dtype. Keras 3 `keras.losses.Poisson`."""

    def __init__(self, reduction="sum_over_batch_size", name="poisson", dtype=None):
        super().__init__(poisson, name=name, reduction=reduction, dtype=dtype)


class BinaryCrossentropy(_Wrapped):
    """`binary_crossentropy`, for labels in {0, 1} (or soft labels in [0, 1]).

    Args: from_logits (False), label_smoothing (0.0), axis (-1), reduction, name
    ("binary_crossentropy"), dtype. Keras 3 `keras.losses.BinaryCrossentropy`."""

    _CONFIG = ("from_logits", "label_smoothing", "axis")

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_crossentropy", dtype=None):
        super().__init__(binary_crossentropy, name=name, reduction=reduction, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis


class BinaryFocalCrossentropy(_Wrapped):
    """`binary_focal_crossentropy`.

    Args: apply_class_balancing (False), alpha (0.25), gamma (2.0), from_logits (False),
    label_smoothing (0.0), axis (-1), reduction, name ("binary_focal_crossentropy"), dtype.
    Keras 3 `keras.losses.BinaryFocalCrossentropy`."""

    _CONFIG = ("from_logits", "label_smoothing", "axis", "apply_class_balancing", "alpha", "gamma")

    def __init__(self, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False,
                 label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="binary_focal_crossentropy", dtype=None):
        super().__init__(binary_focal_crossentropy, name=name, reduction=reduction, dtype=dtype,
                         apply_class_balancing=apply_class_balancing, alpha=alpha, gamma=gamma,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis
        self.apply_class_balancing, self.alpha, self.gamma = apply_class_balancing, alpha, gamma


class CategoricalCrossentropy(_Wrapped):
    """`categorical_crossentropy`, for one-hot labels `(batch, classes)`.

    Args: from_logits (False), label_smoothing (0.0), axis (-1), reduction, name
    ("categorical_crossentropy"), dtype. Keras 3 `keras.losses.CategoricalCrossentropy`."""

    _CONFIG = ("from_logits", "label_smoothing", "axis")

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy", dtype=None):
        super().__init__(categorical_crossentropy, name=name, reduction=reduction, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis


class CategoricalFocalCrossentropy(_Wrapped):
    """`categorical_focal_crossentropy`.

    Args: alpha (0.25), gamma (2.0), from_logits (False), label_smoothing (0.0), axis (-1),
    reduction, name ("categorical_focal_crossentropy"), dtype. Keras 3
    `keras.losses.CategoricalFocalCrossentropy`."""

    _CONFIG = ("from_logits", "label_smoothing", "axis", "alpha", "gamma")

    def __init__(self, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_focal_crossentropy",
                 dtype=None):
        super().__init__(categorical_focal_crossentropy, name=name, reduction=reduction,
                         dtype=dtype, alpha=alpha, gamma=gamma, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis
        self.alpha, self.gamma = alpha, gamma


class SparseCategoricalCrossentropy(_Wrapped):
    """`sparse_categorical_crossentropy`, for integer labels `(batch,)` or `(batch, 1)`.

    Args: from_logits (False), ignore_class (None: an int label to leave out of the loss and
    of the mean), reduction, axis (-1), name ("sparse_categorical_crossentropy"), dtype.
    Config: name, reduction, from_logits, ignore_class, axis (Keras 3.15 leaves `axis` out;
    kept here, and Keras accepts it). Keras 3 `keras.losses.SparseCategoricalCrossentropy`."""

    _CONFIG = ("from_logits", "ignore_class", "axis")

    _INTEGER_LABELS = True

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 axis=-1, name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(sparse_categorical_crossentropy, name=name, reduction=reduction,
                         dtype=dtype, from_logits=from_logits, ignore_class=ignore_class,
                         axis=axis)
        self.from_logits, self.ignore_class, self.axis = from_logits, ignore_class, axis


class CTC(_Wrapped):
    """`ctc`: labels `(batch, max_label_length)` padded with the blank 0, logits
    `(batch, steps, classes)`. Args: reduction, name ("ctc"), dtype. Keras 3
    `keras.losses.CTC`."""

    _INTEGER_LABELS = True

    def __init__(self, reduction="sum_over_batch_size", name="ctc", dtype=None):
        super().__init__(ctc, name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        with labels_checked():
            return ctc(y_true, y_pred)


class Dice(_Wrapped):
    """`dice` over `axis`. Args: reduction, name ("dice"), axis (None), dtype. Keras 3
    `keras.losses.Dice`."""

    _CONFIG = ("axis",)

    def __init__(self, reduction="sum_over_batch_size", name="dice", axis=None, dtype=None):
        axis = tuple(axis) if isinstance(axis, list) else axis  # a config read from JSON
        super().__init__(dice, name=name, reduction=reduction, dtype=dtype, axis=axis)
        self.axis = axis


class Tversky(_Wrapped):
    """`tversky`. Args: alpha (0.5), beta (0.5), reduction, name ("tversky"), axis (None),
    dtype. Keras 3 `keras.losses.Tversky`."""

    _CONFIG = ("alpha", "beta", "axis")

    def __init__(self, alpha=0.5, beta=0.5, reduction="sum_over_batch_size", name="tversky",
                 axis=None, dtype=None):
        axis = tuple(axis) if isinstance(axis, list) else axis  # a config read from JSON
        super().__init__(tversky, name=name, reduction=reduction, dtype=dtype, alpha=alpha,
                         beta=beta, axis=axis)
        self.alpha, self.beta, self.axis = alpha, beta, axis


class Circle(_Wrapped):
    """`circle`: integer labels `(batch,)` against embeddings `(batch, dim)` (L2-normalize
    them first). Args: gamma (80.0), margin (0.4), remove_diagonal (True), reduction, name
    ("circle"), dtype. Keras 3 `keras.losses.Circle`."""

    _CONFIG = ("gamma", "margin", "remove_diagonal")

    _INTEGER_LABELS = True

    def __init__(self, gamma=80.0, margin=0.4, remove_diagonal=True,
                 reduction="sum_over_batch_size", name="circle", dtype=None):
        super().__init__(circle, name=name, reduction=reduction, dtype=dtype, gamma=gamma,
                         margin=margin, remove_diagonal=remove_diagonal)
        self.gamma, self.margin, self.remove_diagonal = gamma, margin, remove_diagonal

    def call(self, y_true, y_pred):
        with labels_checked():
            return circle(y_true, y_pred, **self._fn_kwargs)


class CategoricalGeneralizedCrossEntropy(_Wrapped):
    """`categorical_generalized_cross_entropy`: integer labels `(batch,)` against
    probabilities `(batch, classes)`.

    Args: q (0.5, in the open interval (0, 1)), reduction, name
    ("categorical_generalized_cross_entropy"), dtype. Keras 3
    `keras.losses.CategoricalGeneralizedCrossEntropy`.

    Raises:
        ValueError: for `q` outside (0, 1)."""

    _CONFIG = ("q",)

    _INTEGER_LABELS = True

    def __init__(self, q=0.5, reduction="sum_over_batch_size",
                 name="categorical_generalized_cross_entropy", dtype=None):
        if not 0 < q < 1:
            raise ValueError("q must be in the interval (0, 1)")
        super().__init__(categorical_generalized_cross_entropy, name=name, reduction=reduction,
                         dtype=dtype, q=q)
        self.q = q


def get(identifier):
    """Resolve a loss (defined in `rskeras.losses.__init__`, re-bound there)."""
    from rskeras import losses

    return losses.get(identifier)

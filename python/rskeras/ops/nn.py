"""Neural-network ops (`keras.ops.nn`): activations, softmax and the cross-entropies.

The cross-entropy formulas are Keras 3's backend ones: probabilities are renormalised along
the class axis and clipped to `[epsilon, 1 - epsilon]` before the log; `from_logits=True`
uses the numerically stable log-softmax / log-sigmoid forms."""

from __future__ import annotations

from rskeras import _core
from rskeras.backend.config import epsilon
from rskeras.ops import numpy as knp

Tensor = _core.Tensor


def relu(x) -> Tensor:
    """`max(x, 0)` element-wise; the gradient at 0 is 0."""
    return _core.unary("relu", x)


def sigmoid(x) -> Tensor:
    """`1 / (1 + exp(-x))`, computed without overflow."""
    return _core.unary("sigmoid", x)


def tanh(x) -> Tensor:
    """Hyperbolic tangent."""
    return _core.unary("tanh", x)


def softmax(x, axis=-1) -> Tensor:
    """`exp(x - max) / sum(exp(x - max))` along `axis` (numerically stable).

    Raises:
        ValueError: when `axis` is out of range or `x` is a scalar.
    """
    return _core.softmax(x, axis, False)


def log_softmax(x, axis=-1) -> Tensor:
    """`x - logsumexp(x)` along `axis` (numerically stable)."""
    return _core.softmax(x, axis, True)


def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False) -> Tensor:
    """float32 one-hot encoding of integer `x` on a new last axis of length `num_classes`.
    Labels outside `[0, num_classes)` give all-zero rows.

    Raises:
        ValueError: for `axis` other than -1 (not supported yet). TypeError: float labels.
    """
    if axis != -1:
        raise ValueError(f"one_hot: only axis=-1 is supported for now, got {axis}")
    out = _core.one_hot(x, int(num_classes))
    return out if dtype is None else _core.cast(out, dtype)


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1) -> Tensor:
    """Per-sample `-log p[target]`.

    Args:
        target: integer class ids, shape `(...)` or `(..., 1)`.
        output: probabilities (or logits when `from_logits`), shape `(..., classes)`.
    Returns:
        float32 losses of shape `(...)`.
    Raises:
        ValueError: when the shapes disagree or a label is outside `[0, classes)`.
    """
    if axis != -1:
        raise ValueError(f"sparse_categorical_crossentropy: only axis=-1 is supported, got {axis}")
    target, output = knp.convert_to_tensor(target), knp.convert_to_tensor(output)
    if target.ndim == output.ndim and target.ndim > 0 and target.shape[-1] == 1:
        target = knp.squeeze(target, -1)  # labels (..., 1) as keras.ops accepts them
    return _core.sparse_categorical_crossentropy(target, output, from_logits)


def categorical_crossentropy(target, output, from_logits=False, axis=-1) -> Tensor:
    """Per-sample `-sum(target * log p)` along `axis` for one-hot (or soft) `target`.

    Raises:
        ValueError: when `target` and `output` shapes differ.
    """
    target, output = knp.convert_to_tensor(target, "float32"), knp.convert_to_tensor(output)
    if tuple(target.shape) != tuple(output.shape):
        raise ValueError(
            f"categorical_crossentropy: target shape {tuple(target.shape)} must equal output "
            f"shape {tuple(output.shape)}"
        )
    if from_logits:
        log_prob = log_softmax(output, axis=axis)
    else:
        output = output / knp.sum(output, axis=axis, keepdims=True)
        log_prob = knp.log(knp.clip(output, epsilon(), 1.0 - epsilon()))
    return -knp.sum(target * log_prob, axis=axis)


def binary_crossentropy(target, output, from_logits=False) -> Tensor:
    """Element-wise binary cross-entropy (no reduction).

    From probabilities: `-(t log p + (1 - t) log(1 - p))` with p clipped to
    `[epsilon, 1 - epsilon]`; from logits: `max(x, 0) - x t + log(1 + exp(-|x|))`.

    Raises:
        ValueError: when the shapes cannot be broadcast together.
    """
    target, output = knp.convert_to_tensor(target, "float32"), knp.convert_to_tensor(output)
    if from_logits:
        # max(x, 0) and |x| both take the x >= 0 branch at 0, so the gradient there is the
        # true one, sigmoid(0) - t.
        nonneg = knp.greater_equal(output, 0.0)
        positive_part = knp.where(nonneg, output, 0.0)
        magnitude = knp.where(nonneg, output, -output)
        return positive_part - output * target + knp.log(1.0 + knp.exp(-magnitude))
    output = knp.clip(output, epsilon(), 1.0 - epsilon())
    return -(target * knp.log(output) + (1.0 - target) * knp.log(1.0 - output))

"""Neural-network ops (`keras.ops.nn`): activations, softmax and the cross-entropies.

The cross-entropy formulas are Keras 3's backend ones: probabilities are renormalised along
the class axis and clipped to `[epsilon, 1 - epsilon]` before the log; `from_logits=True`
uses the numerically stable log-softmax / log-sigmoid forms."""

from __future__ import annotations

from rskeras import _core
from rskeras.backend import config as _config
from rskeras.backend.config import epsilon
from rskeras.ops import shape_rules as R
from rskeras.ops.operation import operation
from rskeras.ops import numpy as knp

Tensor = _core.Tensor


@operation(R.unary("float"), core_call=True)
def relu(x) -> Tensor:
    """`max(x, 0)` element-wise; the gradient at 0 is 0."""
    return _core.unary("relu", x)


@operation(R.unary("float"), core_call=True)
def sigmoid(x) -> Tensor:
    """`1 / (1 + exp(-x))`, computed without overflow."""
    return _core.unary("sigmoid", x)


@operation(R.unary("float"), core_call=True)
def softplus(x) -> Tensor:
    """`log(1 + exp(x))`, computed as `max(x, 0) + log1p(exp(-|x|))` (never overflows)."""
    return _core.unary("softplus", x)


@operation(R.axis_softmax, core_call=True)
def softmax(x, axis=-1) -> Tensor:
    """`exp(x - max) / sum(exp(x - max))` along `axis` (numerically stable).

    Raises:
        ValueError: when `axis` is out of range or `x` is a scalar.
    """
    return _core.softmax(x, axis, False)


@operation(R.axis_softmax, core_call=True)
def log_softmax(x, axis=-1) -> Tensor:
    """`x - logsumexp(x)` along `axis` (numerically stable)."""
    return _core.softmax(x, axis, True)


@operation(R.one_hot)
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


@operation(R.sparse_crossentropy)
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


def _float_pair(target, output):
    """`output` as a float tensor (float32 unless it is a float already) and `target` in the
    same dtype, as Keras casts the target to the output's dtype."""
    output = knp._floatx(output)
    return _core.cast(knp.convert_to_tensor(target), output.dtype), output


@operation(R.crossentropy)
def categorical_crossentropy(target, output, from_logits=False, axis=-1) -> Tensor:
    """Per-sample `-sum(target * log p)` along `axis` for one-hot (or soft) `target`.

    Raises:
        ValueError: when `target` and `output` shapes differ.
    """
    target, output = _float_pair(target, output)
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


@operation(R.binary_crossentropy)
def binary_crossentropy(target, output, from_logits=False) -> Tensor:
    """Element-wise binary cross-entropy (no reduction).

    From probabilities: `-(t log p + (1 - t) log(1 - p))` with p clipped to
    `[epsilon, 1 - epsilon]`; from logits: `max(x, 0) - x t + log(1 + exp(-|x|))`.

    Raises:
        ValueError: when the shapes cannot be broadcast together.
    """
    target, output = _float_pair(target, output)
    if from_logits:
        # max(x, 0) and |x| both take the x >= 0 branch at 0, so the gradient there is the
        # true one, sigmoid(0) - t.
        nonneg = knp.greater_equal(output, 0.0)
        positive_part = knp.where(nonneg, output, 0.0)
        magnitude = knp.where(nonneg, output, -output)
        return positive_part - output * target + knp.log(1.0 + knp.exp(-magnitude))
    output = knp.clip(output, epsilon(), 1.0 - epsilon())
    return -(target * knp.log(output) + (1.0 - target) * knp.log(1.0 - output))


# ---------------------------------------------------------------------------------------------
# Activations and normalisation helpers, composed from core primitives (so differentiable).
# Formulas follow `jax.nn` (what Keras 3's JAX backend calls) unless noted. Integer inputs
# compute in float32.

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


@operation(R.unary("nn"))
def relu6(x) -> Tensor:
    """`min(max(x, 0), 6)` element-wise (float32). The gradient is 1 on `(0, 6)` and 0
    elsewhere, including both kinks (as `jax.nn.relu6`)."""
    x = knp._floatx(x)
    return knp.where(knp.greater_equal(x, 6.0), 6.0, relu(x))


@operation(R.unary("nn"))
def silu(x) -> Tensor:
    """SiLU / swish, `x * sigmoid(x)` (Ramachandran et al. 2017; `jax.nn.silu`)."""
    x = knp._floatx(x)
    return x * sigmoid(x)


swish = silu


@operation(R.unary("nn"))
def log_sigmoid(x) -> Tensor:
    """`log(sigmoid(x)) = -softplus(-x)`, computed as `min(x, 0) - log1p(exp(-|x|))`
    so it neither overflows nor loses the gradient at 0, nor rounds tiny values to 0
    (`jax.nn.log_sigmoid`)."""
    x = knp._floatx(x)
    nonneg = knp.greater_equal(x, 0.0)
    negative_part = knp.where(nonneg, 0.0, x)
    magnitude = knp.where(nonneg, x, -x)
    return negative_part - knp.log1p(knp.exp(-magnitude))


@operation(R.unary("nn"))
def leaky_relu(x, negative_slope=0.2) -> Tensor:
    """`x` for `x >= 0`, else `negative_slope * x` (`jax.nn.leaky_relu`; default slope 0.2
    as keras.ops)."""
    x = knp._floatx(x)
    return knp.where(knp.greater_equal(x, 0.0), x, x * float(negative_slope))


@operation(R.unary("nn"))
def hard_sigmoid(x) -> Tensor:
    """Piecewise-linear sigmoid `relu6(x + 3) / 6` (Keras 3 / `jax.nn.hard_sigmoid`): 0 below
    -3, 1 above 3."""
    return relu6(knp._floatx(x) + 3.0) / 6.0


@operation(R.unary("nn"))
def hard_silu(x) -> Tensor:
    """Hard SiLU / hard swish, `x * relu6(x + 3) / 6` (Howard et al. 2019, MobileNetV3;
    `jax.nn.hard_silu`)."""
    x = knp._floatx(x)
    return x * hard_sigmoid(x)


hard_swish = hard_silu


@operation(R.unary("nn"))
def elu(x, alpha=1.0) -> Tensor:
    """Exponential linear unit (Clevert et al. 2016): `x` for `x > 0`, else
    `alpha * expm1(x)` (`jax.nn.elu`; the exponential only sees non-positive values, and
    `expm1` keeps the digits of tiny ones)."""
    x = knp._floatx(x)
    positive = knp.greater(x, 0.0)
    safe = knp.where(positive, 0.0, x)
    return knp.where(positive, x, float(alpha) * knp.expm1(safe))


@operation(R.unary("nn"))
def selu(x) -> Tensor:
    """Scaled ELU (Klambauer et al. 2017): `scale * elu(x, alpha)` with Keras's constants
    `alpha = 1.67326324235437728...`, `scale = 1.05070098735548049...`."""
    return _SELU_SCALE * elu(x, _SELU_ALPHA)


@operation(R.unary("nn"))
def gelu(x, approximate=True) -> Tensor:
    """Gaussian error linear unit (Hendrycks & Gimpel 2016), as `jax.nn.gelu`.

    `approximate=True` (default): `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`.
    `approximate=False`: `0.5 x (1 + erf(x / sqrt(2)))`.

    Returns `x`'s shape and float dtype (integer inputs are cast to float32).
    """
    x = knp._floatx(x)
    if approximate:
        inner = 0.7978845608028654 * (x + 0.044715 * (x * x * x))
        return 0.5 * x * (1.0 + knp.tanh(inner))
    return 0.5 * x * (1.0 + _core.unary("erf", x * 0.7071067811865476))


@operation(R.unary("nn"))
def softsign(x) -> Tensor:
    """`x / (1 + |x|)` element-wise (`jax.nn.soft_sign`)."""
    x = knp._floatx(x)
    return x / (1.0 + knp.abs(x))


@operation(R.moments)
def moments(x, axes, keepdims=False, synchronized=False):
    """Mean and population variance of `x` over `axes` (as `keras.ops.moments`).

    Args:
        axes: an int or a sequence of ints (None: all axes).
        keepdims: keep the reduced axes with length 1.
        synchronized: only False (single device) is supported.
    Returns:
        `(mean, variance)`, float32 tensors of the reduced shape.
    Raises:
        ValueError: when an axis is out of range or repeated.
        NotImplementedError: for `synchronized=True`.
    """
    if synchronized:
        raise NotImplementedError("moments: synchronized=True is not supported")
    x = knp._floatx(x)
    red = knp._reduced("moments", x, axes)
    mean = _core.reduce("mean", x, red, True)
    variance = _core.reduce("mean", _core.unary("square", x - mean), red, bool(keepdims))
    if not keepdims:
        mean = knp.reshape(mean, variance.shape)  # drop the length-1 axes
    return mean, variance


@operation(R.normalize)
def normalize(x, axis=-1, order=2, epsilon=None) -> Tensor:
    """`x / max(norm(x, order, axis), epsilon)` (Keras 3 `ops.normalize`).

    Args:
        x: a tensor (a scalar is treated as shape `(1,)`, as Keras); computed in float32.
        axis: an int or a tuple of ints (tuples only for `order=2`, where the norm is the
            square root of the sum of squares over all of them).
        order: an int >= 1, the exponent p of the vector norm `(sum |x|^p)^(1/p)`.
        epsilon: the lower bound of the norm (default `keras.config.epsilon()`).
    Returns:
        float32 tensor of `x`'s shape. Zero vectors map to zero with finite gradients.
    Raises:
        ValueError: for `order` not an int >= 1, an out-of-range axis, or a tuple axis
            with `order != 2`.
    """
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise ValueError(f"normalize: order must be an int >= 1, got {order!r}")
    x = knp._floatx(x)
    if x.ndim == 0:
        x = knp.reshape(x, [1])
    axes = knp._axis_tuple("normalize", axis, x.ndim)
    if axes is not None and len(axes) != 1 and order != 2:
        raise ValueError(f"normalize: a tuple axis is only supported for order=2, got order={order}")
    red = None if axes is None else list(axes)
    eps = float(epsilon if epsilon is not None else _config.epsilon())
    if order == 2:
        # sqrt(max(s, eps^2)) == max(sqrt(s), eps), with a finite gradient at s == 0.
        square_sum = knp.sum(knp.square(x), axis=red, keepdims=True)
        return x / knp.sqrt(knp.maximum(square_sum, eps * eps))
    magnitude = knp.abs(x)
    power = magnitude
    for _ in range(order - 1):
        power = power * magnitude
    total = knp.sum(power, axis=red, keepdims=True)
    positive = knp.logical_or(knp.greater(total, 0.0), knp.isnan(total))  # NaN propagates
    safe = knp.where(positive, total, 1.0)
    norm = knp.where(positive, knp.exp(knp.log(safe) / float(order)), 0.0)
    return x / knp.maximum(norm, eps)


@operation(R.multi_hot)
def multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False, **kwargs) -> Tensor:
    """Multi-hot encoding of integer labels: 1 at every class id present, as
    `keras.ops.multi_hot`: `max(one_hot(inputs, num_classes, axis), axis=r)` with `r = 1`
    for inputs of rank > 1 (so `(batch, k) -> (batch, num_classes)`) and `r = 0` for 1-D
    inputs (`(k,) -> (num_classes,)`). Ids outside `[0, num_classes)` are ignored.

    Args:
        num_classes: the number of classes (`num_tokens=` is accepted as an alias).
        axis: where `one_hot` puts the class axis (default -1).
        dtype: result dtype (default float32).
    Raises:
        ValueError: without `num_classes`, for a scalar input, an out-of-range axis, or
            `sparse=True` (not supported).
        TypeError: for float labels.
    """
    if num_classes is None and "num_tokens" in kwargs:
        num_classes = kwargs.pop("num_tokens")
    if num_classes is None:
        raise ValueError("multi_hot: argument num_classes must be specified")
    if sparse:
        raise ValueError("multi_hot: sparse=True is not supported")
    x = knp.convert_to_tensor(inputs)
    if x.ndim == 0:
        raise ValueError("multi_hot: inputs must have rank >= 1")
    encoded = _core.one_hot(x, int(num_classes))  # class axis last
    out_axis = knp._axis("multi_hot", axis, x.ndim + 1)
    encoded = knp.moveaxis(encoded, -1, out_axis)
    # "any label hits this class": the max of 0/1 values, as a count > 0 so that an empty
    # reduction gives zeros rather than an error
    hits = _core.reduce("sum", encoded, 1 if x.ndim > 1 else 0, False)
    return _core.cast(knp.greater(hits, 0), dtype or "float32")


@operation(R.normalization)
def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3) -> Tensor:
    """`(x - mean) / sqrt(variance + epsilon) * scale + offset`, with `mean`, `variance`,
    `offset` and `scale` of shape `(x.shape[axis],)` broadcast along `axis` (as
    `keras.ops.batch_normalization`; Ioffe & Szegedy, 2015).

    Raises:
        ValueError: when `axis` is out of range or a statistic's length differs from
            `x.shape[axis]`.
    """
    x = knp._floatx(x)
    axis = knp._axis("batch_normalization", axis, x.ndim)
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]

    def along(v):
        v = _core.convert_to_tensor(v)
        if tuple(v.shape) not in ((x.shape[axis],), tuple(shape)):
            raise ValueError(f"batch_normalization: expected statistics of shape ({x.shape[axis]},) for "
                             f"axis {axis} of input shape {tuple(x.shape)}, got {tuple(v.shape)}")
        return knp.reshape(_core.cast(v, x.dtype), tuple(shape))

    inv = _core.unary("rsqrt", along(variance) + epsilon)
    if scale is not None:
        inv = inv * along(scale)
    y = (x - along(mean)) * inv
    return y if offset is None else y + along(offset)


@operation(R.layer_normalization)
def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs) -> Tensor:
    """Normalize `x` over `axis` per sample: `(x - mean) / sqrt(var + epsilon) * gamma + beta`
    (as `keras.ops.layer_normalization`; Ba et al., 2016). `gamma`/`beta` broadcast against the
    normalized axes; `epsilon` defaults to `keras.config.epsilon()`."""
    x = knp._floatx(x)
    eps = _epsilon_or_default(epsilon)
    last = axis in (-1, x.ndim - 1, [-1], (-1,), [x.ndim - 1], (x.ndim - 1,))
    if last and x.ndim and all(p is None or tuple(getattr(p, "shape", ())) == (x.shape[-1],)
                               for p in (gamma, beta)) and x.dtype in ("float32", "float64"):
        # One fused kernel (forward and backward) instead of a dozen element-wise ops.
        return _core.layer_norm(x, gamma, beta, eps)
    mean, var = moments(x, axes=axis, keepdims=True)
    y = (x - mean) * _core.unary("rsqrt", var + eps)
    if gamma is not None:
        y = y * gamma
    return y if beta is None else y + beta


def _epsilon_or_default(value):
    return epsilon() if value is None else float(value)


@operation(R.dot_product_attention)
def dot_product_attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False,
                          flash_attention=None, attn_logits_soft_cap=None) -> Tensor:
    """Scaled dot-product attention (Vaswani et al., 2017), as `keras.ops.dot_product_attention`:
    `softmax(q k^T * scale + bias, masked) v` per head.

    Args:
        query: `(batch, target, heads, head_dim)`; key and value: `(batch, source, heads,
            head_dim)` (the same number of heads, or a divisor of it: grouped-query attention
            repeats the key/value heads).
        bias: added to the logits, broadcastable to `(batch, heads, target, source)`.
        mask: boolean, broadcastable to `(batch, heads, target, source)`; False positions get
            no attention.
        scale: default `1 / sqrt(head_dim)`. is_causal: also mask future source positions.

    Returns: `(batch, target, heads, head_dim)`.

    Raises:
        ValueError: for ranks other than 4 or head counts that do not divide, or when
            `flash_attention=True` or `attn_logits_soft_cap` is requested (not supported).
    """
    if flash_attention or attn_logits_soft_cap is not None:
        raise ValueError("dot_product_attention: flash_attention and attn_logits_soft_cap are not supported")
    q, k, v = (knp._floatx(t) for t in (query, key, value))
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4:
        raise ValueError("dot_product_attention: expected query, key and value of rank 4 (batch, seq, "
                         f"heads, head_dim), got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
    heads, kv_heads = q.shape[2], k.shape[2]
    if kv_heads == 0 or heads % kv_heads:
        raise ValueError(f"dot_product_attention: query heads ({heads}) must be a multiple of key heads ({kv_heads})")
    if kv_heads != heads:
        k, v = knp.repeat(k, heads // kv_heads, axis=2), knp.repeat(v, heads // kv_heads, axis=2)
    if scale is None:  # 1 / sqrt(0) is inf, as in NumPy and JAX (the logits are then NaN)
        scale = float(q.shape[-1]) ** -0.5 if q.shape[-1] else float("inf")
    scale = float(scale)
    logits = knp.einsum("btnh,bsnh->bnts", q, k) * scale
    if bias is not None:
        logits = logits + bias
    keep = None if mask is None else _core.cast(_core.convert_to_tensor(mask), "bool")
    if is_causal:
        causal = knp.tril(knp.ones((q.shape[1], k.shape[1]), dtype="bool"))
        keep = causal if keep is None else knp.logical_and(keep, causal)
    if keep is not None:
        logits = knp.where(keep, logits, -1e9 if logits.dtype != "float16" else -6e4)
    weights = softmax(logits, axis=-1)
    return knp.einsum("bnts,bsnh->btnh", weights, v)


def fused_batch_normalization(x, scale=None, offset=None, epsilon=1e-3):
    """Training-mode batch normalization of a channels-last `x` in one fused kernel: the
    statistics of this batch over every axis but the last, then
    `(x - mean) / sqrt(variance + epsilon) * scale + offset`. Not a `keras.ops` function (Keras
    composes `moments` and `batch_normalization`, which give the same numbers); rskeras's
    `BatchNormalization` uses it for channels-last float32/float64 inputs. Statistics are
    accumulated in float64; the backward pass is the closed form, also one kernel.

    Args:
        x: float32 or float64 tensor `(..., channels)`, of rank >= 1 and with at least one row.
        scale, offset: `(channels,)` tensors, or None (1 and 0).
        epsilon: added to the variance.

    Returns:
        `(output, mean, variance)`: `output` of `x`'s shape; `mean` and the biased `variance`
        of shape `(channels,)`.

    Raises:
        ValueError: for a rank-0 or empty input, or `scale`/`offset` of the wrong length.
    """
    return _core.batch_norm_train(x, scale, offset, epsilon)

"""`rskeras.activations`: the Keras 3 activation functions by name (what `activation=`
arguments accept), written with `rskeras.ops` so that they are differentiable and work on
symbolic tensors. Formulas: Keras 3, `keras/src/activations/activations.py`; each input `x` is
a tensor of any shape, and the output has its shape (glu: `axis` halved) and a float dtype."""

from __future__ import annotations

from rskeras import ops


def linear(x):
    """The identity."""
    return x


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """`max(x, 0)`, generalized as Keras's: values below `threshold` become
    `negative_slope * (x - threshold)`, values are clipped at `max_value` (None: no limit)."""
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return ops.relu(x)
    x = ops.convert_to_tensor(x)
    if negative_slope != 0.0 and max_value is None and threshold == 0.0:
        return ops.leaky_relu(x, negative_slope=negative_slope)
    negative_part = ops.relu(-x + threshold) if negative_slope != 0.0 else None
    if threshold != 0.0:
        x = x * ops.cast(ops.greater(x, threshold), x.dtype)
    else:
        x = ops.relu(x)
    if max_value is not None:
        x = ops.minimum(x, ops.cast(max_value, x.dtype))
    if negative_part is not None:
        x = x - negative_slope * negative_part
    return x


def leaky_relu(x, negative_slope=0.2):
    """`x` where positive, `negative_slope * x` elsewhere."""
    return ops.leaky_relu(x, negative_slope=negative_slope)


def relu6(x):
    """`min(max(x, 0), 6)`."""
    return ops.relu6(x)


def elu(x, alpha=1.0):
    """`x` where positive, `alpha * (exp(x) - 1)` elsewhere (Clevert et al., 2016)."""
    return ops.elu(x, alpha=alpha)


def celu(x, alpha=1.0):
    """`max(x, 0) + min(0, alpha * (exp(x / alpha) - 1))` (Barron, 2017)."""
    x = ops.convert_to_tensor(x)
    return ops.relu(x) + ops.minimum(0.0, alpha * (ops.exp(x / alpha) - 1.0))


def selu(x):
    """Scaled ELU with Klambauer et al.'s (2017) constants."""
    return ops.selu(x)


def gelu(x, approximate=False):
    """`x * Phi(x)` (Hendrycks and Gimpel, 2016); `approximate=True`: the tanh form."""
    return ops.gelu(x, approximate=approximate)


def glu(x, axis=-1):
    """Gated linear unit (Dauphin et al., 2017): `a * sigmoid(b)` for the two halves `a, b` of
    `x` along `axis`.

    Raises:
        ValueError: when the size of `axis` is odd.
    """
    x = ops.convert_to_tensor(x)
    if x.shape[axis] is not None and x.shape[axis] % 2:
        raise ValueError(f"glu: axis {axis} of shape {tuple(x.shape)} must have an even size")
    a, b = ops.split(x, 2, axis=axis)
    return a * ops.sigmoid(b)


def sigmoid(x):
    """`1 / (1 + exp(-x))`."""
    return ops.sigmoid(x)


def hard_sigmoid(x):
    """`relu6(x + 3) / 6`, a piecewise-linear sigmoid."""
    return ops.hard_sigmoid(x)


def sparse_sigmoid(x):
    """0 below -1, 1 above 1, `(x + 1) / 2` between."""
    x = ops.convert_to_tensor(x)
    return ops.clip((x + 1.0) * 0.5, 0.0, 1.0)


def log_sigmoid(x):
    """`log(sigmoid(x))`, computed stably."""
    return ops.log_sigmoid(x)


def silu(x):
    """`x * sigmoid(x)` (Ramachandran et al., 2017: swish)."""
    return ops.silu(x)


def hard_silu(x):
    """`x * hard_sigmoid(x)` (Howard et al., 2019: hard swish)."""
    return ops.hard_silu(x)


swish = silu
hard_swish = hard_silu


def mish(x):
    """`x * tanh(softplus(x))` (Misra, 2019)."""
    return x * ops.tanh(ops.softplus(x))


def softplus(x):
    """`log(exp(x) + 1)`."""
    return ops.softplus(x)


def sparse_plus(x):
    """0 below -1, `x` above 1, `(x + 1)**2 / 4` between (a smooth ReLU)."""
    x = ops.convert_to_tensor(x)
    return ops.where(x <= -1.0, 0.0, ops.where(x >= 1.0, x, 0.25 * ops.square(x + 1.0)))


def squareplus(x, b=4):
    """`(x + sqrt(x**2 + b)) / 2` (Barron, 2021)."""
    x = ops.convert_to_tensor(x)
    return (x + ops.sqrt(ops.square(x) + b)) * 0.5


def softsign(x):
    """`x / (abs(x) + 1)`."""
    return ops.softsign(x)


def tanh(x):
    """Hyperbolic tangent."""
    return ops.tanh(x)


def hard_tanh(x):
    """`x` clipped to [-1, 1]."""
    return ops.clip(x, -1.0, 1.0)


def tanh_shrink(x):
    """`x - tanh(x)`."""
    return x - ops.tanh(x)


def soft_shrink(x, threshold=0.5):
    """`x - threshold` above `threshold`, `x + threshold` below `-threshold`, 0 between."""
    x = ops.convert_to_tensor(x)
    return ops.where(x > threshold, x - threshold, ops.where(x < -threshold, x + threshold, 0.0))


def hard_shrink(x, threshold=0.5):
    """`x` where `abs(x) > threshold`, 0 elsewhere."""
    x = ops.convert_to_tensor(x)
    return ops.where(ops.abs(x) > threshold, x, 0.0)


def threshold(x, threshold, default_value):  # noqa: A002 - Keras argument name
    """`x` where `x > threshold`, `default_value` elsewhere."""
    x = ops.convert_to_tensor(x)
    return ops.where(x > threshold, x, default_value)


def exponential(x):
    """`exp(x)`."""
    return ops.exp(x)


def softmax(x, axis=-1):
    """Softmax along `axis` (the last by default)."""
    return ops.softmax(x, axis=axis)


def log_softmax(x, axis=-1):
    """Log-softmax along `axis`."""
    return ops.log_softmax(x, axis=axis)


def sparsemax(x, axis=-1):
    """The Euclidean projection of `x` onto the probability simplex along `axis` (Martins and
    Astudillo, 2016): `max(x - tau, 0)`, `tau` chosen so that each slice sums to 1. (Keras
    3.15's JAX backend computes `tau` from the sum of the running sums, so its slices do not
    sum to 1; this follows the paper.)"""
    x = ops.convert_to_tensor(x)
    z = ops.flip(ops.sort(x, axis=axis), axis=axis)  # descending
    n = x.shape[axis]
    shape = [1] * x.ndim
    shape[axis] = n
    k = ops.reshape(ops.arange(1, n + 1, dtype=x.dtype), shape)
    z_cumsum = ops.cumsum(z, axis=axis)
    support = ops.cast(z * k + 1.0 > z_cumsum, x.dtype)  # the sorted entries kept
    k_z = ops.sum(support, axis=axis, keepdims=True)
    last = ops.take_along_axis(z_cumsum, ops.cast(k_z, "int32") - 1, axis=axis)
    return ops.relu(x - (last - 1.0) / k_z)


_ALL = (celu, elu, exponential, gelu, glu, hard_shrink, hard_sigmoid, hard_silu, hard_tanh,
        leaky_relu, linear, log_sigmoid, log_softmax, mish, relu, relu6, selu, sigmoid, silu,
        soft_shrink, softmax, softplus, softsign, sparse_plus, sparse_sigmoid, sparsemax,
        squareplus, tanh, tanh_shrink, threshold)
_BY_NAME = {f.__name__: f for f in _ALL}
_BY_NAME.update(swish=silu, hard_swish=hard_silu)


def serialize(activation) -> str:
    """The Keras name of an activation function ("relu"; aliases give the function's own
    name: `swish` -> "silu").

    Raises:
        ValueError: for a callable that is not a Keras activation.
    """
    name = getattr(activation, "__name__", None)
    if _BY_NAME.get(name) is not activation:
        raise ValueError(f"Cannot serialize activation {activation!r}")
    return name


def deserialize(name, custom_objects=None):
    """The activation function named `name` (or found in `custom_objects`)."""
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    return get(name)


def get(identifier):
    """An activation function from its name, a callable, or None (linear).

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    if isinstance(identifier, str):
        fn = _BY_NAME.get(identifier)
        if fn is None:
            raise ValueError(
                f"Unknown activation function: {identifier!r}. Known: {sorted(_BY_NAME)}"
            )
        return fn
    raise ValueError(f"Could not interpret activation identifier: {identifier!r}")

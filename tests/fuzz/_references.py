"""NumPy references for the ops whose answer is more than one NumPy call: the formulas are
the documented ones (Keras 3 / jax.nn, or the op's docstring where rskeras narrows Keras).

A reference raises `Unsupported` for arguments that the op documents as unsupported (a
clean error is then the right answer and no value is compared), returns `Alternatives` when
more than one answer is right (NumPy's and the saturating float->int cast, for example),
and otherwise computes in float64 on small inputs.
"""

from __future__ import annotations

import math
import operator

import numpy as np


class Unsupported(Exception):
    """The op documents these arguments as unsupported: no reference."""


class Alternatives(list):
    """Several acceptable answers; the result must match one of them."""


class MayRefuse:
    """A clean error is an acceptable answer too; a returned value must match `value`."""

    def __init__(self, value):
        self.value = value


EPSILON = 1e-7  # keras.config.epsilon()
# The result dtype of the call being judged (set by the worker): references that clip or
# round in the computation dtype, as Keras does, use it.
OUT_DTYPE = None
SUPPORTED_CAST = ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64")


def index(v):
    """`operator.index`, but Unsupported for what is not an int (floats, strings, bools...)."""
    if isinstance(v, (bool, np.bool_)):
        raise Unsupported(f"a bool is not a size: {v!r}")
    try:
        return operator.index(v)
    except TypeError:
        raise Unsupported(f"not an int: {v!r}") from None


def axis_arg(axis, x=None):
    """Axis lists are not NumPy axes; a bool is not an axis. NumPy lets reductions of a 0-d
    array take axis 0 or -1 (a quirk that JAX and rskeras refuse): no reference then."""
    if isinstance(axis, (bool, list)):
        raise Unsupported("axis")
    if x is not None and np.ndim(x) == 0 and axis is not None and axis != ():
        raise Unsupported("an axis of a 0-d array")
    return axis


def f64(x):
    return np.asarray(x, dtype=np.float64)


def no_nan(*xs):
    for x in xs:
        if np.isnan(f64(x)).any():
            raise Unsupported("NaN order is not specified")


# ---------------------------------------------------------------------------------------------
# Casting


def saturating_cast(x, dtype):
    """float -> int as JAX/XLA and Rust `as`: NaN -> 0, out of range -> the nearest bound."""
    info = np.iinfo(dtype)
    with np.errstate(all="ignore"):
        t = np.trunc(f64(x))
        t = np.where(np.isnan(t), 0, t)
        t = np.clip(t, float(info.min), float(info.max))
        out = np.empty(t.shape, dtype)
        big = t >= 2.0**63  # float64 cannot hold int64/uint64 max exactly
        out[...] = np.where(big, 0, t).astype(dtype)
        out[big] = info.max
    return out


def cast(x, dtype):
    if not isinstance(dtype, str) or dtype not in SUPPORTED_CAST:
        raise Unsupported(f"dtype {dtype!r}")
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise Unsupported("input dtype")
    with np.errstate(all="ignore"):
        plain = x.astype(dtype)
    if x.dtype.kind == "f" and np.dtype(dtype).kind in "iu":
        return Alternatives([saturating_cast(x, dtype), plain])
    return plain


# ---------------------------------------------------------------------------------------------
# Element-wise


def erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(f64(x))


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def relu6(x):
    return np.minimum(np.maximum(x, 0.0), 6.0)


def hard_sigmoid(x):
    return relu6(x + 3.0) / 6.0


def elu(x, alpha=1.0):
    return np.where(x > 0, x, float(alpha) * np.expm1(np.minimum(x, 0)))


def selu(x):
    return 1.0507009873554804934193349852946 * elu(x, 1.6732632423543772848170429916717)


def gelu(x, approximate=True):
    if approximate:
        return 0.5 * x * (1.0 + np.tanh(0.7978845608028654 * (x + 0.044715 * x**3)))
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def log_sigmoid(x):
    return -np.logaddexp(0.0, -x)


def leaky_relu(x, negative_slope=0.2):
    return np.where(x >= 0, x, x * float(negative_slope))


def relu_layer(x, max_value, slope, threshold):
    """Keras's `relu(x, negative_slope, max_value, threshold)` (the ReLU layer); comparisons in
    float32 as the layer makes them, arithmetic in float64."""
    above, below = x > np.float32(threshold), x < np.float32(threshold)
    x = x.astype(np.float64)
    pos = np.where(above, x, 0.0)
    if max_value is not None:
        pos = np.minimum(pos, max_value)
    return pos + np.where(below, slope * (x - threshold), 0.0)


def compare_op(fn):
    """A comparison whose operands rskeras may promote to a float dtype first (int32 vs
    float32 compares in float32): exact, or after casting to each float dtype in play."""

    def ref(x1, x2):
        answers = Alternatives([fn(x1, x2)])
        for dt in {np.asarray(v).dtype for v in (x1, x2) if np.asarray(v).dtype.kind == "f"} | {np.dtype("float32")}:
            with np.errstate(all="ignore"):
                answers.append(fn(np.asarray(x1).astype(dt), np.asarray(x2).astype(dt)))
        return answers

    return ref


def floor_divide(x1, x2):
    """NumPy's floor_divide, or floor(x1 / x2) in the operands' dtype (both are used)."""
    exact = np.floor_divide(x1, x2)
    if np.asarray(exact).dtype.kind != "f":
        return exact
    return Alternatives([exact, np.floor(np.true_divide(x1, x2))])


def mod(x1, x2):
    exact = np.mod(x1, x2)
    if np.asarray(exact).dtype.kind != "f":
        return exact
    return Alternatives([exact, x1 - np.floor(np.true_divide(x1, x2)) * x2])


def power(x1, x2):
    """NumPy's power; integer bases to negative integer exponents raise, as documented (even
    where broadcasting leaves nothing to compute)."""
    a, b = np.asarray(x1), np.asarray(x2)
    if a.dtype.kind in "iu" and b.dtype.kind in "iu" and b.size and (b < 0).any():
        raise ValueError("integers to negative integer powers")
    return np.power(x1, x2)


def divide_no_nan(x1, x2):
    return np.where(np.asarray(x2) == 0, 0.0, np.true_divide(x1, x2))


def clip(x, x_min, x_max):
    for b in (x_min, x_max):
        if np.ndim(b) or isinstance(b, (str, bytes)) or b is None:
            raise Unsupported("bounds must be scalars")
    return np.minimum(np.maximum(f64(x), float(x_min)), float(x_max))


def where(condition, x1=None, x2=None):
    if x1 is None or x2 is None:
        raise Unsupported("one-argument where")
    return np.where(condition, x1, x2)


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    x = np.asarray(x)
    if x.dtype.kind != "f":
        return x
    return np.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)


def round_(x, decimals=0):
    decimals = index(decimals)
    x = np.asarray(x)
    if x.dtype.kind != "f":
        if decimals >= 0:
            return x
        exact = np.round(x.astype(np.float64) / 10.0**-decimals) * 10.0**-decimals
        with np.errstate(all="ignore"):
            return Alternatives([np.round(x, decimals), exact])  # NumPy's own result wraps
    with np.errstate(all="ignore"):
        if decimals == 0:
            return np.round(x)
        scale = x.dtype.type(10.0**decimals)
        return Alternatives([np.round(x, decimals), np.round(x * scale) / scale])


# ---------------------------------------------------------------------------------------------
# Reductions


def _axes(axis):
    return tuple(axis) if isinstance(axis, (tuple, list)) else axis


def _same_int_dtype(x):
    """NumPy sums and multiplies small integers in int64; rskeras (like JAX) in the result's
    own dtype, which the "out" cast has already given `x`."""
    x = np.asarray(x)
    return {"dtype": x.dtype} if x.dtype.kind in "iu" else {}


def reduce(fn):
    def ref(x, axis=None, keepdims=False):
        extra = _same_int_dtype(x) if fn in (np.sum, np.prod) else {}
        return fn(x, axis=axis_arg(axis, x), keepdims=keepdims, **extra)

    return ref


def max_min(fn):
    def ref(x, axis=None, keepdims=False, initial=None):
        axis = axis_arg(axis, x)
        if initial is None:
            return fn(x, axis=axis, keepdims=keepdims)
        # NumPy casts `initial` to x's dtype; rskeras promotes instead (both are fine)
        answers = Alternatives(
            [fn(np.asarray(x, dtype=np.float64), axis=axis, keepdims=keepdims, initial=float(initial))]
        )
        try:
            answers.append(fn(x, axis=axis, keepdims=keepdims, initial=initial))
        except (ValueError, TypeError, OverflowError):
            pass
        return answers

    return ref


def arg_reduce(fn):
    def ref(x, axis=None, keepdims=False):
        x = np.asarray(x)
        if axis is not None and not isinstance(axis, int):
            raise Unsupported("argmax axis must be an int or None")
        return fn(x, axis=axis_arg(axis, x), keepdims=keepdims)

    return ref


def std(x, axis=None, keepdims=False):
    return np.std(f64(x), axis=axis_arg(axis, x), keepdims=keepdims)


def var(x, axis=None, keepdims=False):
    return np.var(f64(x), axis=axis_arg(axis, x), keepdims=keepdims)


def moments(x, axes, keepdims=False, synchronized=False):
    if synchronized:
        raise Unsupported("synchronized")
    x = f64(x)
    axes = axis_arg(axes, x)
    return (np.mean(x, axis=axes, keepdims=keepdims), np.var(x, axis=axes, keepdims=keepdims))


def count_nonzero(x, axis=None):
    return np.asarray(np.count_nonzero(x, axis=axis_arg(axis, x)))


def average(x, axis=None, weights=None):
    return np.average(f64(x), axis=axis_arg(axis, x), weights=None if weights is None else f64(weights))


def logsumexp(x, axis=None, keepdims=False):
    x = f64(x)
    axis = axis_arg(axis, x)
    if x.size == 0:
        return np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis if axis is not None else tuple(range(x.ndim)))


def softmax(x, axis=-1, log=False):
    if not isinstance(axis, int) or isinstance(axis, bool):
        raise Unsupported("softmax axis must be an int")
    x = f64(x)
    if x.ndim == 0:
        raise ValueError("scalar")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError("axis out of range")
    if x.size == 0:
        return x.copy()  # NumPy's max refuses an empty axis; the softmax of nothing is nothing
    m = np.max(x, axis=axis, keepdims=True)
    shifted = x - m
    total = np.sum(np.exp(shifted), axis=axis, keepdims=True)
    return shifted - np.log(total) if log else np.exp(shifted) / total


def log_softmax(x, axis=-1):
    return softmax(x, axis, log=True)


def cumulative(fn):
    def ref(x, axis=None, dtype=None):
        if dtype is not None:
            raise Unsupported("dtype")
        return fn(x, axis=axis_arg(axis, x), **_same_int_dtype(x))

    return ref


def argsort(x, axis=-1):
    if np.ndim(x) == 0:
        raise Unsupported("NumPy sorts a 0-d array as shape (1,)")
    return np.argsort(x, axis=axis_arg(axis), kind="stable")


def sort(x, axis=-1):
    if np.ndim(x) == 0:
        raise Unsupported("NumPy refuses a 0-d array; rskeras returns it")
    return np.sort(x, axis=axis_arg(axis), kind="stable")


def _top_order(row):
    return sorted(range(len(row)), key=lambda i: (-row[i], i))


def top_k(x, k, sorted=True):
    x = np.asarray(x)
    no_nan(x)
    k = index(k)
    if x.ndim == 0 or not 0 <= k <= x.shape[-1]:
        raise ValueError("k out of range")
    rows = x.reshape(math.prod(x.shape[:-1]), x.shape[-1])
    keyed = rows.astype(object) if x.dtype.kind in "iub" else rows.astype(np.float64)
    idx = np.array([_top_order(list(r))[:k] for r in keyed], dtype=np.int64).reshape(x.shape[:-1] + (k,))
    return (np.take_along_axis(x, idx, -1), idx)


def in_top_k(targets, predictions, k):
    p = f64(predictions)
    no_nan(p)
    t = np.asarray(targets)
    if t.dtype.kind not in "iu" or p.ndim != 2 or t.shape != p.shape[:1]:
        raise ValueError("shapes")
    if ((t < 0) | (t >= p.shape[1])).any():
        raise Unsupported("target out of range")
    picked = p[np.arange(len(t)), t]
    return (p > picked[:, None]).sum(axis=1) < index(k)


def normalize(x, axis=-1, order=2, epsilon=None):
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise ValueError("order")
    x = f64(x)
    if x.ndim == 0:
        x = x.reshape(1)
    axis = axis_arg(axis)
    if isinstance(axis, tuple) and len(axis) != 1 and order != 2:
        raise ValueError("tuple axis")
    eps = EPSILON if epsilon is None else float(epsilon)
    norm = np.sum(np.abs(x) ** order, axis=axis, keepdims=True) ** (1.0 / order)
    return x / np.maximum(norm, eps)


# ---------------------------------------------------------------------------------------------
# Shape ops


def expand_dims(x, axis):
    return np.expand_dims(x, index(axis))


def squeeze(x, axis=None):
    return np.squeeze(x, axis=axis_arg(axis, x))


def tile(x, repeats):
    if isinstance(repeats, (list, tuple)):
        reps = [index(r) for r in repeats]
    else:
        reps = index(repeats)
    if np.any(np.asarray(reps) < 0):
        raise ValueError("negative repeats")  # documented; NumPy lets it pass for empty arrays
    return np.tile(x, reps)


def repeat(x, repeats, axis=None):
    r = np.asarray(repeats)
    if r.dtype.kind not in "iub" and r.size:
        raise Unsupported("float repeats")
    if r.size and (r < 0).any():
        raise ValueError("negative repeats")  # documented; NumPy lets it pass for empty arrays
    return np.repeat(x, repeats, axis=axis if axis is None else index(axis))


def concatenate(xs, axis=0):
    return np.concatenate(list(xs), axis=axis)


def stack(xs, axis=0):
    return np.stack(list(xs), axis=index(axis))


def split(x, indices_or_sections, axis=0):
    if np.ndim(x) == 0:
        raise ValueError("scalar")
    if isinstance(indices_or_sections, (list, tuple)):
        ios = [index(i) for i in indices_or_sections]
        if ios != sorted(ios) or any(i < 0 for i in ios):
            raise Unsupported("unsorted or negative split indices")
    else:
        ios = index(indices_or_sections)
    return np.split(x, ios, axis=index(axis))


def take(x, indices, axis=None):
    idx = np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise Unsupported("non-integer indices")
    x = np.asarray(x)
    n = x.size if axis is None else x.shape[index(axis)] if -x.ndim <= index(axis) < x.ndim else None
    if n is not None and idx.size and ((idx < -n) | (idx >= n)).any():
        raise IndexError("index out of range")  # documented; NumPy does not look when nothing is taken
    return np.take(x, idx, axis=axis if axis is None else index(axis))


def take_along_axis(x, indices, axis=None):
    idx = np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise Unsupported("non-integer indices")
    x = np.asarray(x)
    if axis is None:
        return np.take_along_axis(x.reshape(-1), idx.reshape(-1), 0)
    return np.take_along_axis(x, idx, index(axis))  # other axes broadcast, as documented


def get_item(x, key):
    keys = key if isinstance(key, tuple) else (key,)
    if any(isinstance(k, (bool, np.bool_)) for k in keys):
        raise Unsupported("a bool index is a mask")
    if any(isinstance(k, list) and not k for k in keys):
        raise Unsupported("an empty list index has no integer dtype")
    for k in keys:
        a = np.asarray(k) if isinstance(k, (list, np.ndarray)) else None
        if a is not None and a.dtype.kind == "b":
            raise Unsupported("boolean masks")
    arrays = [k for k in keys if isinstance(k, (list, np.ndarray))]
    if len(arrays) > 1:
        raise Unsupported("several index arrays")
    return np.asarray(x)[key]


def pad(x, pad_width, mode="constant", constant_values=None):
    if mode != "constant":
        raise Unsupported("mode")
    x = np.asarray(x)
    widths = np.asarray(pad_width)
    if widths.dtype.kind not in "iu":
        raise Unsupported("widths")
    if (widths < 0).any():
        raise ValueError("negative widths")
    if not widths.any():
        return x.copy()  # nothing to fill: NumPy still checks constant_values against the dtype
    return np.pad(x, pad_width, constant_values=0 if constant_values is None else constant_values)


def tri(fn):
    def ref(x, k=0):
        if np.ndim(x) < 2:
            raise ValueError("rank")
        return fn(x, index(k))

    return ref


def meshgrid(*xs, indexing="xy"):
    return np.meshgrid(*[np.asarray(v).reshape(-1) for v in xs], indexing=indexing)


def unstack(x, num=None, axis=0):
    x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError("scalar")
    axis = index(axis)
    parts = list(np.moveaxis(x, axis, 0))
    if num is not None and index(num) != len(parts):
        raise ValueError("num")
    return parts


def dynamic_slice(inputs, start_indices, shape):
    x = np.asarray(inputs)
    starts = [index(s) for s in start_indices]
    sizes = [index(s) for s in shape]
    if len(starts) != x.ndim or len(sizes) != x.ndim:
        raise ValueError("rank")
    key = []
    for dim, start, size in zip(x.shape, starts, sizes):
        start = start + dim if start < 0 else start
        start = min(max(start, 0), dim)
        if size == -1:
            size = dim - start
        if not 0 <= size <= dim:
            raise ValueError("size")
        start = min(start, dim - size)
        key.append(slice(start, start + size))
    return x[tuple(key)]


def slice_update(inputs, start_indices, updates):
    x = np.array(inputs)
    u = np.asarray(updates)
    starts = [index(s) for s in start_indices]
    if (
        len(starts) != x.ndim
        or u.ndim != x.ndim
        or any(s < 0 or s + d > n for s, d, n in zip(starts, u.shape, x.shape))
    ):
        raise ValueError("does not fit")
    x[tuple(slice(s, s + d) for s, d in zip(starts, u.shape))] = u
    return x


def scatter(indices, values, shape):
    shape = tuple(index(d) for d in shape)
    idx = np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise Unsupported("indices")
    if idx.ndim == 1:
        idx = idx[:, None]
    k = idx.shape[-1]
    idx = idx.reshape(-1, k)
    if k > len(shape) or (idx.size and ((idx < 0).any() or (idx >= np.array(shape[:k])).any())):
        raise IndexError("out of range")
    v = f64(values)
    out = np.zeros(shape, np.float64)
    v = v.reshape((len(idx),) + shape[k:])
    np.add.at(out, tuple(idx.T), v)
    return out


def scatter_update(inputs, indices, updates):
    x = np.array(inputs)  # the updates are written in (cast to) the input's dtype
    idx = np.asarray(indices)
    if idx.dtype.kind not in "iu" or idx.ndim != 2:
        raise Unsupported("indices")
    if len({tuple(r) for r in idx.tolist()}) != len(idx):
        raise Unsupported("repeated indices")
    k = idx.shape[-1]
    if k > x.ndim or (idx.size and ((idx < 0).any() or (idx >= np.array(x.shape[:k])).any())):
        raise IndexError("out of range")
    u = np.asarray(updates).reshape((len(idx),) + x.shape[k:])
    with np.errstate(all="ignore"):
        x[tuple(idx.T)] = u
    return x


def cond(pred, true_value, false_value):
    return true_value if bool(pred) else false_value


# ---------------------------------------------------------------------------------------------
# Creation


def _dtype(dtype, default="float32"):
    dtype = default if dtype is None else dtype
    if not isinstance(dtype, str) or dtype not in SUPPORTED_CAST:
        raise Unsupported(f"dtype {dtype!r}")
    return dtype


def _shape(shape):
    if isinstance(shape, (list, tuple)):
        return tuple(index(d) for d in shape)
    return index(shape)


def zeros(shape, dtype=None):
    return np.zeros(_shape(shape), _dtype(dtype))


def ones(shape, dtype=None):
    return np.ones(_shape(shape), _dtype(dtype))


def like(fn):
    def ref(x, dtype=None):
        x = np.asarray(x)
        return fn(x.shape, _dtype(dtype, x.dtype.name))

    return ref


def full(shape, fill_value, dtype=None):
    dt = _dtype(dtype)
    v = np.asarray(fill_value)
    if v.dtype.kind not in "biuf":
        raise Unsupported("fill")
    with np.errstate(all="ignore"):
        return np.broadcast_to(cast_value(v, dt), _shape(shape)).copy()


def full_like(x, fill_value, dtype=None):
    x = np.asarray(x)
    return full(x.shape, fill_value, _dtype(dtype, x.dtype.name))


def cast_value(v, dt):
    v = np.asarray(v)
    if v.dtype.kind == "f" and np.dtype(dt).kind in "iu" and not np.isfinite(v).all():
        raise Unsupported("non-finite fill for an int dtype")
    return v.astype(dt)


def arange(start, stop=None, step=1, dtype=None):
    vals = [v for v in (start, stop, step) if v is not None]
    if any(not isinstance(v, (int, float)) or isinstance(v, bool) for v in vals):
        raise Unsupported("non-number")
    if dtype is None:
        dtype = "float32" if any(isinstance(v, float) for v in vals) else "int32"
    dtype = _dtype(dtype)
    if np.dtype(dtype).kind == "f":
        return np.arange(start, stop, step, dtype=np.float64)
    return np.arange(start, stop, step, dtype=dtype)


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    dt = _dtype(dtype)
    num = index(num)
    if start is None or stop is None:
        raise Unsupported("None endpoint")
    y, step = np.linspace(f64(start), f64(stop), num, endpoint=endpoint, retstep=True, axis=index(axis))
    if np.dtype(dt).kind in "iu":
        y = np.floor(y)
        if not np.isfinite(y).all():
            raise Unsupported("non-finite")
        with np.errstate(all="ignore"):
            y = y.astype(dt)  # out-of-range values wrap, as NumPy's astype
    return (y, np.asarray(step)) if retstep else y


def eye(N, M=None, k=0, dtype=None):
    return np.eye(index(N), None if M is None else index(M), index(k), dtype=_dtype(dtype))


def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    x = np.asarray(x)
    if x.dtype.kind not in "iu" or axis != -1 or sparse:
        raise Unsupported("float labels or axis")
    n = index(num_classes)
    if n < 0:
        raise ValueError("negative")
    return (x[..., None] == np.arange(n)).astype(_dtype(dtype))


def multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False):
    x = np.asarray(inputs)
    if x.dtype.kind not in "iu" or sparse:
        raise Unsupported("float labels")
    if x.ndim == 0:
        raise ValueError("scalar")
    n = index(num_classes)
    if n < 0:
        raise ValueError("negative num_classes")
    encoded = x[..., None] == np.arange(n)
    encoded = np.moveaxis(encoded, -1, index(axis))
    return encoded.any(axis=1 if x.ndim > 1 else 0).astype(_dtype(dtype))


# ---------------------------------------------------------------------------------------------
# Linear algebra


def dot(x1, x2):
    return np.dot(x1, x2)


def tensordot(x1, x2, axes=2):
    if isinstance(axes, int) and axes < 0:
        raise Unsupported("NumPy reads a negative int as an empty contraction")
    return np.tensordot(x1, x2, axes=axes)


def einsum(subscripts, *operands):
    if not isinstance(subscripts, str):
        raise Unsupported("subscripts")
    for term, x in zip(subscripts.split("->")[0].split(","), operands):
        if "." not in term and len(term) == np.ndim(x):
            sizes = {}
            for label, d in zip(term, np.shape(x)):
                if sizes.setdefault(label, d) != d:
                    raise ValueError("a repeated label with different sizes")  # NumPy skips this for empty arrays
    return np.einsum(subscripts, *operands)


def outer(x1, x2):
    return np.outer(x1, x2)


# ---------------------------------------------------------------------------------------------
# Convolution and pooling (NHWC in float64; the Keras padding rules of tests/ops/test_convolution.py)


def pads(size, k, s, d, padding):
    """Output size and leading padding of one axis of a window walk (Keras's "valid"/"same")."""
    span = (k - 1) * d + 1
    if padding == "valid":
        return (size - span) // s + 1, 0
    out = -(-size // s)
    return out, max((out - 1) * s + span - size, 0) // 2


def _ints(v, n):
    if isinstance(v, (list, tuple)):
        v = tuple(index(i) for i in v)
        if len(v) != n:
            raise ValueError("length")
        return v
    return (index(v),) * n


class _Geometry:
    """The NHWC view of a conv/pool call: 1-D as height 1, channels_first moved last."""

    def __init__(self, x, data_format, strides, dilation, window_rank=None):
        x = f64(x)
        if x.ndim not in (3, 4):
            raise ValueError("rank")
        self.rank = x.ndim - 2
        fmt = "channels_last" if data_format is None else data_format
        if not isinstance(fmt, str) or fmt.lower() not in ("channels_last", "channels_first"):
            raise Unsupported("data_format")
        self.first = fmt.lower() == "channels_first"
        if self.first:
            x = np.moveaxis(x, 1, -1)
        if self.rank == 1:
            x = x[:, None]
        self.x = x
        self.strides = self.two(strides)
        self.dilation = self.two(dilation)
        if min(self.strides) < 1 or min(self.dilation) < 1:
            raise Unsupported("strides and dilation must be >= 1")

    def two(self, v):
        v = _ints(v, self.rank)
        return (1,) + v if self.rank == 1 else v

    def finish(self, y):
        if self.rank == 1:
            y = y[:, 0]
        return np.moveaxis(y, -1, 1) if self.first else y


def _padding(padding, allow_causal=False):
    if not isinstance(padding, str):
        raise Unsupported("padding")
    p = padding.lower()
    if p not in ("valid", "same") and not (allow_causal and p == "causal"):
        raise Unsupported("padding")
    return p


LOOP_LIMIT = 200_000  # Python-level steps a conv reference may take (a window of 10**6 would hang it)


def _affordable(steps):
    if steps > LOOP_LIMIT:
        raise Unsupported(f"the reference would take {steps} steps")


def conv2d(x, k, s, padding, d, groups=1):
    """Direct NHWC convolution in float64 (grouped): out[n,i,j,o] = sum x[n, i*s+a*d-pt,
    j*s+b*d-pl, c] k[a,b,c,o]; ValueError where the geometry is invalid."""
    n, h, w, c = x.shape
    kh, kw, cg, o = k.shape
    if cg == 0 or c != cg * groups or o % groups:
        raise ValueError("channels")
    oh, pt = pads(h, kh, s[0], d[0], padding)
    ow, pl = pads(w, kw, s[1], d[1], padding)
    if oh < 0 or ow < 0 or (padding == "valid" and ((kh - 1) * d[0] + 1 > h or (kw - 1) * d[1] + 1 > w)):
        raise ValueError("window larger than the input")
    if n * oh * ow * o == 0:
        return np.zeros((n, oh, ow, o))
    _affordable(oh * ow * kh * kw * groups)
    og = o // groups
    out = np.zeros((n, oh, ow, o))
    for i in range(oh):
        for j in range(ow):
            for a in range(kh):
                for b in range(kw):
                    y, xx = i * s[0] + a * d[0] - pt, j * s[1] + b * d[1] - pl
                    if 0 <= y < h and 0 <= xx < w:
                        for g in range(groups):
                            out[:, i, j, g * og : (g + 1) * og] += (
                                x[:, y, xx, g * cg : (g + 1) * cg] @ k[a, b, :, g * og : (g + 1) * og]
                            )
    return out


def _kernel4(k, rank):
    k = f64(k)
    if k.ndim != rank + 2:
        raise ValueError("kernel rank")
    if 0 in k.shape[:-2]:
        raise Unsupported("a window of size 0")
    return k[None] if rank == 1 else k


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    g = _Geometry(inputs, data_format, strides, dilation_rate)
    padding = _padding(padding, allow_causal=True)
    k = _kernel4(kernel, g.rank)
    x = g.x
    if padding == "causal":
        if g.rank != 1:
            raise ValueError("causal is 1-D only")
        left = (k.shape[1] - 1) * g.dilation[1]
        x = np.pad(x, ((0, 0), (0, 0), (left, 0), (0, 0)))
        padding = "valid"
    if k.shape[2] == 0 or x.shape[-1] % k.shape[2]:
        raise ValueError("channels")
    return g.finish(conv2d(x, k, g.strides, padding, g.dilation, x.shape[-1] // k.shape[2]))


def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    g = _Geometry(inputs, data_format, strides, dilation_rate)
    padding = _padding(padding)
    k = _kernel4(kernel, g.rank)
    kh, kw, c, m = k.shape
    if c != g.x.shape[-1]:
        raise ValueError("channels")
    return g.finish(conv2d(g.x, k.reshape(kh, kw, 1, c * m), g.strides, padding, g.dilation, c))


def separable_conv(
    inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid", data_format=None, dilation_rate=1
):
    y = depthwise_conv(inputs, depthwise_kernel, strides, padding, data_format, dilation_rate)
    return conv(y, pointwise_kernel, 1, "valid", data_format, 1)


def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None, data_format=None, dilation_rate=1):
    """The adjoint of `conv` (kernel `(kh, kw, out_c, in_c)`), output size as documented."""
    if output_padding is not None:
        raise Unsupported("output_padding")
    g = _Geometry(inputs, data_format, strides, dilation_rate)
    padding = _padding(padding)
    k = _kernel4(kernel, g.rank)
    y = g.x
    n, h, w, c = y.shape
    kh, kw, oc, ic = k.shape
    if ic != c:
        raise ValueError("channels")
    s, d = g.strides, g.dilation

    def size(n_in, kk, ss, dd):
        span = (kk - 1) * dd + 1
        return n_in * ss if padding == "same" else n_in * ss + max(span - ss, 0)

    oh, ow = size(h, kh, s[0], d[0]), size(w, kw, s[1], d[1])
    _, pt = pads(oh, kh, s[0], d[0], padding)
    _, pl = pads(ow, kw, s[1], d[1], padding)
    out = np.zeros((n, oh, ow, oc))
    if out.size == 0 or y.size == 0:
        return g.finish(out)
    _affordable(h * w * kh * kw)
    for i in range(h):
        for j in range(w):
            for a in range(kh):
                for b in range(kw):
                    p, q = i * s[0] + a * d[0] - pt, j * s[1] + b * d[1] - pl
                    if 0 <= p < oh and 0 <= q < ow:
                        out[:, p, q, :] += y[:, i, j, :] @ k[a, b].T
    return g.finish(out)


def _pool(kind, inputs, pool_size, strides=None, padding="valid", data_format=None):
    g = _Geometry(inputs, data_format, pool_size if strides is None else strides, 1)
    padding = _padding(padding)
    p = g.two(pool_size)
    if min(p) < 1:
        raise Unsupported("pool_size")
    x = g.x
    n, h, w, c = x.shape
    oh, pt = pads(h, p[0], g.strides[0], 1, padding)
    ow, pl = pads(w, p[1], g.strides[1], 1, padding)
    if padding == "valid" and (p[0] > h or p[1] > w):
        raise ValueError("window larger than the input")
    out = np.zeros((n, max(oh, 0), max(ow, 0), c))
    _affordable(out.size)
    for i in range(max(oh, 0)):
        for j in range(max(ow, 0)):
            y0, x0 = i * g.strides[0] - pt, j * g.strides[1] - pl
            win = x[:, max(y0, 0) : y0 + p[0], max(x0, 0) : x0 + p[1], :]
            out[:, i, j] = win.max(axis=(1, 2)) if kind == "max" else win.mean(axis=(1, 2))
    return g.finish(out)


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    return _pool("max", inputs, pool_size, strides, padding, data_format)


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    return _pool("avg", inputs, pool_size, strides, padding, data_format)


# ---------------------------------------------------------------------------------------------
# Normalisation, attention, losses


def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    x = f64(x)
    axis = index(axis)
    if not -x.ndim <= axis < x.ndim:
        raise ValueError("axis")
    axis %= x.ndim
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]

    def along(v):
        v = f64(v)
        if v.shape not in ((x.shape[axis],), tuple(shape)):
            raise ValueError("statistics shape")
        return v.reshape(shape)

    y = (x - along(mean)) / np.sqrt(along(variance) + float(epsilon))
    if scale is not None:
        y = y * along(scale)
    return y if offset is None else y + along(offset)


def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None):
    x = f64(x)
    axis = axis_arg(axis)
    eps = EPSILON if epsilon is None else float(epsilon)
    mean = np.mean(x, axis=axis, keepdims=True)
    var = np.var(x, axis=axis, keepdims=True)
    y = (x - mean) / np.sqrt(var + eps)
    if gamma is not None:
        y = y * f64(gamma)
    return y if beta is None else y + f64(beta)


def dot_product_attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False):
    q, k, v = f64(query), f64(key), f64(value)
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4:
        raise ValueError("rank")
    heads, kv = q.shape[2], k.shape[2]
    if kv == 0 or heads % kv:
        raise ValueError("heads")
    k, v = np.repeat(k, heads // kv, axis=2), np.repeat(v, heads // kv, axis=2)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    logits = np.einsum("btnh,bsnh->bnts", q, k) * scale
    if bias is not None:
        logits = logits + f64(bias)
    keep = None if mask is None else np.asarray(mask).astype(bool)
    if is_causal:
        causal = np.tril(np.ones((q.shape[1], k.shape[1]), bool))
        keep = causal if keep is None else keep & causal
    if keep is not None:
        logits = np.where(keep, logits, -1e9)
    return np.einsum("bnts,bsnh->btnh", softmax(logits, -1), v)


def _clip_bounds(output):
    """[epsilon, 1 - epsilon] as the output's float dtype holds them (Keras clips in that
    dtype: 1 - 1e-7 is 0.99999988 in float32 and 1.0 in float16)."""
    dt = np.asarray(output).dtype
    dt = dt if dt.kind == "f" else np.dtype(np.float32)
    return float(np.asarray(EPSILON, dt)), float(np.asarray(1 - EPSILON, dt))


def binary_crossentropy(target, output, from_logits=False):
    t, o = f64(target), f64(output)
    if from_logits:
        return np.maximum(o, 0) - o * t + np.log1p(np.exp(-np.abs(o)))
    o = np.clip(o, *_clip_bounds(output))
    return -(t * np.log(o) + (1 - t) * np.log(1 - o))


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    t, o = f64(target), f64(output)
    if t.shape != o.shape:
        raise ValueError("shapes")
    axis = index(axis)
    axis_arg(axis, t)
    if from_logits:
        log_prob = softmax(o, axis, log=True)
    else:
        o = o / np.sum(o, axis=axis, keepdims=True)
        log_prob = np.log(np.clip(o, *_clip_bounds(output)))
    return -np.sum(t * log_prob, axis=axis)


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    if axis != -1:
        raise Unsupported("axis")
    bounds = _clip_bounds(output)
    t, o = np.asarray(target), f64(output)
    if t.dtype.kind not in "iu":
        raise Unsupported("float labels")
    if t.ndim == o.ndim and t.ndim > 0 and t.shape[-1] == 1:
        t = t[..., 0]
    if o.ndim == 0 or t.shape != o.shape[:-1]:
        raise ValueError("shapes")
    if ((t < 0) | (t >= o.shape[-1])).any():
        raise ValueError("label out of range")
    if from_logits:
        log_prob = softmax(o, -1, log=True)
    else:
        o = o / np.sum(o, axis=-1, keepdims=True)
        log_prob = np.log(np.clip(o, *bounds))
    return -np.take_along_axis(log_prob, t[..., None].astype(np.int64), -1)[..., 0]

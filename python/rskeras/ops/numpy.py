"""NumPy-style ops (`keras.ops.numpy`). Broadcasting, axes and dtypes follow NumPy; integer
inputs to float functions (exp, log, sqrt, divide, ...) compute in float32 as keras.ops does.
Every op here is differentiable where the math is, through `rskeras.GradientTape`."""

from __future__ import annotations

import builtins as _builtins  # this module shadows sum/max/min/abs/any/all/round
import operator as _operator

from rskeras import _core
from rskeras.backend.keras_tensor import KerasTensor
from rskeras.ops import shape_rules as R
from rskeras.ops.operation import operation, register, symbolic_op

Tensor = _core.Tensor


def _b(name, kind):
    """The element-wise binary op `name`; `kind` names its dtype rule (`shape_rules.binary`)."""
    def op(x1, x2):
        try:
            return _core.binary(name, x1, x2)
        except TypeError:  # a KerasTensor operand: the op's symbolic form
            if type(x1) is not KerasTensor and type(x2) is not KerasTensor:
                raise
        return symbolic_op(name, x1, x2)

    op.__name__ = op.op_name = name
    op.__doc__ = (f"Element-wise `{name}` of `x1` and `x2` with NumPy broadcasting.\n\n"
                  "Raises:\n    ValueError: when the shapes cannot be broadcast together.")
    register(name, op, R.binary(kind, name))
    return op


def _u(name, kind, op_name=None):
    """The element-wise unary op `name`; `kind` names its dtype rule (`shape_rules.unary`)."""
    op_name = op_name or name

    def op(x):
        try:
            return _core.unary(name, x)
        except TypeError:  # a KerasTensor: the op's symbolic form
            if type(x) is not KerasTensor:
                raise
        return symbolic_op(op_name, x)

    op.__name__ = op.op_name = op_name
    op.__doc__ = f"Element-wise `{name}` of `x` (same shape)."
    register(op_name, op, R.unary(kind))
    return op


add = _b("add", "arith")
subtract = _b("subtract", "arith")
multiply = _b("multiply", "arith")
divide = _b("divide", "float")
true_divide = divide
register("true_divide", divide, R.binary("float", "true_divide"))
maximum = _b("maximum", "promote")
minimum = _b("minimum", "promote")
equal = _b("equal", "bool")
not_equal = _b("not_equal", "bool")
less = _b("less", "bool")
less_equal = _b("less_equal", "bool")
greater = _b("greater", "bool")
greater_equal = _b("greater_equal", "bool")
logical_and = _b("logical_and", "bool")
logical_or = _b("logical_or", "bool")

negative = _u("negative", "numeric")
absolute = _u("abs", "numeric", "absolute")
abs = absolute  # noqa: A001 - Keras exports ops.abs
register("abs", absolute, R.unary("numeric"))
sign = _u("sign", "numeric")
square = _u("square", "numeric")
sqrt = _u("sqrt", "float")
exp = _u("exp", "float")
log = _u("log", "float")
tanh = _u("tanh", "float")
logical_not = _u("logical_not", "bool")
rsqrt = _u("rsqrt", "float")
reciprocal = _u("reciprocal", "float")
expm1 = _u("expm1", "float")
log1p = _u("log1p", "float")
log2 = _u("log2", "float")
log10 = _u("log10", "float")
sin = _u("sin", "float")
cos = _u("cos", "float")
tan = _u("tan", "float")
arcsin = _u("arcsin", "float")
arccos = _u("arccos", "float")
arctan = _u("arctan", "float")
sinh = _u("sinh", "float")
cosh = _u("cosh", "float")
arcsinh = _u("arcsinh", "float")
arccosh = _u("arccosh", "float")
arctanh = _u("arctanh", "float")
floor = _u("floor", "numeric")
ceil = _u("ceil", "numeric")
isnan = _u("isnan", "bool")
isinf = _u("isinf", "bool")
isfinite = _u("isfinite", "bool")
floor_divide = _b("floor_divide", "arith")
mod = _b("mod", "arith")
power = _b("power", "arith")
arctan2 = _b("arctan2", "float")
divide_no_nan = _b("divide_no_nan", "float")
floor_divide.__doc__ = "Element-wise `floor(x1 / x2)`; integer division by zero gives 0 (NumPy)."
mod.__doc__ = "Element-wise remainder with the sign of the divisor, `x1 - floor(x1 / x2) * x2` (NumPy)."
power.__doc__ = ("Element-wise `x1 ** x2`. Integer tensors to negative integer powers raise ValueError.\n"
                 "The gradient with respect to x2, `x1 ** x2 * log(x1)`, is taken as 0 where x1 <= 0.")
divide_no_nan.__doc__ = "Element-wise `x1 / x2`, and 0 where `x2 == 0`."


@operation(R.round_)
def round(x, decimals=0) -> Tensor:  # noqa: A001 - Keras exports ops.round
    """Round to `decimals` decimal places, halves to even (NumPy). Integer inputs are returned
    unchanged when `decimals >= 0`."""
    if decimals == 0:
        return _core.unary("round", x)
    x = _t(x)
    if x.dtype not in ("float16", "bfloat16", "float32", "float64"):
        if decimals > 0:
            return x
        scale = 10.0 ** -decimals  # e.g. decimals=-1 rounds integers to tens
        return _core.cast(_core.unary("round", _core.cast(x, "float64") / scale) * scale, x.dtype)
    scale = 10.0 ** decimals
    return _core.unary("round", x * scale) / scale


@operation(R.same)
def nan_to_num(x, nan=0.0, posinf=None, neginf=None) -> Tensor:
    """NaN replaced by `nan`, +inf by `posinf` and -inf by `neginf` (default: the largest and
    smallest finite values of `x`'s dtype). Other values pass, gradients included."""
    import numpy as np

    x = _t(x)
    if x.dtype not in ("float16", "bfloat16", "float32", "float64"):
        return x
    big = float(np.finfo(x.dtype if x.dtype != "bfloat16" else "float32").max)
    posinf = big if posinf is None else posinf
    neginf = -big if neginf is None else neginf
    x = _core.where_(_core.unary("isnan", x), float(nan), x)
    x = _core.where_(_core.binary("equal", x, float("inf")), float(posinf), x)
    return _core.where_(_core.binary("equal", x, float("-inf")), float(neginf), x)


@operation(R.reduction("sum", "prod"))
def prod(x, axis=None, keepdims=False, dtype=None) -> Tensor:
    """Product over `axis`; the gradient is exact even when elements are zero (products of the
    other elements, from exclusive running products)."""
    out = _core.reduce("prod", x, axis, keepdims)
    return out if dtype is None else _core.cast(out, dtype)


@operation(R.reduction("bool", "any"))
def any(x, axis=None, keepdims=False) -> Tensor:  # noqa: A001
    """Whether any element along `axis` is non-zero (bool). An empty reduction is False."""
    return _truth_reduce(x, axis, keepdims, "max", False)


@operation(R.reduction("bool", "all"))
def all(x, axis=None, keepdims=False) -> Tensor:  # noqa: A001
    """Whether every element along `axis` is non-zero (bool). An empty reduction is True."""
    return _truth_reduce(x, axis, keepdims, "min", True)


def _truth_reduce(x, axis, keepdims, reduction, empty_value) -> Tensor:
    """`x` as bool reduced with "max" (any) or "min" (all); `empty_value` for no elements."""
    b = _core.cast(x, "bool")
    if _empty_reduction(b, axis):
        return _full_reduced(b, axis, keepdims, empty_value)
    return _core.reduce(reduction, b, axis, keepdims)


def _cumulative(op, x, axis, prod):
    x = _t(x)
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    return _core.cumulative(x, _axis(op, axis, x.ndim), prod)


@operation(R.cumulative)
def cumsum(x, axis=None, dtype=None) -> Tensor:
    """Running sum along `axis` (None: of the flattened tensor). Same shape as `x`."""
    out = _cumulative("cumsum", x, axis, False)
    return out if dtype is None else _core.cast(out, dtype)


@operation(R.cumulative)
def cumprod(x, axis=None, dtype=None) -> Tensor:
    """Running product along `axis` (None: flattened). Its gradient divides by `x`, so it is
    not defined where `x` is 0."""
    out = _cumulative("cumprod", x, axis, True)
    return out if dtype is None else _core.cast(out, dtype)


@operation(R.argsort)
def argsort(x, axis=-1) -> Tensor:
    """int32 indices that sort `x` along `axis` (stable; NaN last, as NumPy). `axis=None`
    sorts the flattened tensor."""
    x = _t(x)
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    return _core.argsort(x, axis, False)


@operation(R.sort)
def sort(x, axis=-1) -> Tensor:
    """`x` sorted along `axis` (NaN last). Differentiable: the gradient goes back to each
    element's original position."""
    x = _t(x)
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    if x.ndim == 0:
        return x
    return _core.take_along_axis(x, _core.argsort(x, axis, False), axis)


@operation(R.concatenate)
def concatenate(xs, axis=0) -> Tensor:
    """Join tensors along an existing `axis` (None: flatten them first). dtypes are promoted.

    Raises:
        ValueError: when sizes other than `axis` differ, naming both shapes.
    """
    xs = [_t(t) for t in xs]
    if axis is None:
        return _core.concatenate([reshape(t, (-1,)) for t in xs], 0)
    return _core.concatenate(xs, axis)


@operation(R.take_along_axis)
def take_along_axis(x, indices, axis=None) -> Tensor:
    """NumPy's `take_along_axis`: `indices` has `x`'s rank; axes other than `axis` broadcast.
    `axis=None` works on the flattened `x`."""
    x = _t(x)
    if axis is None:
        return _core.take_along_axis(reshape(x, (-1,)), reshape(_t(indices), (-1,)), 0)
    return _core.take_along_axis(x, indices, axis)


@operation(R.pad)
def pad(x, pad_width, mode="constant", constant_values=None) -> Tensor:
    """Pad with `constant_values` (default 0). `pad_width`: an int, `(before, after)`, or one
    pair per axis. Only `mode="constant"` is supported.

    Raises:
        ValueError: for other modes, negative widths, a wrong number of pairs, or a NaN or
            infinite `constant_values` for an integer tensor (as NumPy).
    """
    import numpy as np

    if mode != "constant":
        raise ValueError(f"pad: only mode='constant' is supported for now, got {mode!r}")
    x = _t(x)
    given = np.asarray(pad_width, dtype=np.int64)
    widths = np.broadcast_to(given, (x.ndim, 2)) if x.ndim else np.zeros((0, 2), np.int64)
    if (given < 0).any():
        raise ValueError(f"pad: widths must be non-negative, got {pad_width!r}")
    value = 0 if constant_values is None else constant_values
    if np.dtype(x.dtype).kind in "biu" and not np.all(np.isfinite(np.asarray(value, np.float64))):
        raise ValueError(f"pad: cannot pad a {x.dtype} tensor with {value!r}")
    for axis, (before, after) in enumerate(widths):
        if before == 0 and after == 0:
            continue
        parts = []
        for width in (before, after):
            shape = list(x.shape)
            shape[axis] = int(width)
            parts.append(_core.convert_to_tensor(np.full(shape, value, dtype=x.dtype)))
        x = _core.concatenate([parts[0], x, parts[1]], axis)
    return x


@operation(R.where)
def where(condition, x1=None, x2=None) -> Tensor:
    """`x1` where `condition` is true, else `x2`, broadcasting all three.

    Raises:
        ValueError: when only one of `x1`, `x2` is given (the one-argument form, which returns
            indices, is not supported yet).
    """
    if x1 is None or x2 is None:
        raise ValueError("where: both x1 and x2 must be given")
    return _core.where_(condition, x1, x2)


@operation(R.unary("float"), core_call=True)
def clip(x, x_min, x_max) -> Tensor:
    """Values of `x` limited to `[x_min, x_max]` (float32). The gradient is 1 inside the range
    (bounds included) and 0 outside."""
    return _core.clip(x, float(x_min), float(x_max))


@operation(R.reduction("sum", "sum"), core_call=True)
def sum(x, axis=None, keepdims=False) -> Tensor:  # noqa: A001
    """Sum over `axis` (int, tuple, or None for all axes). bool sums to int32.

    Raises:
        ValueError: when an axis is out of range or repeated.
    """
    return _core.reduce("sum", x, axis, keepdims)


@operation(R.reduction("float", "mean"), core_call=True)
def mean(x, axis=None, keepdims=False) -> Tensor:
    """Arithmetic mean over `axis`; integer inputs give float32. An empty reduction gives NaN."""
    return _core.reduce("mean", x, axis, keepdims)


def _axes(ndim, axis):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = tuple(a + ndim if a < 0 else a for a in axes)
    if len(set(out)) != len(out):
        raise ValueError(f"duplicate value in 'axis': {axis!r}")
    return out


def _empty_reduction(x, axis) -> bool:
    shape = convert_to_tensor(x).shape
    return _builtins.any(shape[a] == 0 for a in _axes(len(shape), axis) if 0 <= a < len(shape))


def _full_reduced(x, axis, keepdims, value) -> Tensor:
    """The result of reducing an empty axis with an `initial` value: `value` everywhere."""
    import numpy as np

    x = convert_to_tensor(x)
    axes = _axes(x.ndim, axis)
    shape = [1 if i in axes else d for i, d in enumerate(x.shape) if keepdims or i not in axes]
    # The initial value promotes as NumPy's does (an int tensor with initial=inf is float).
    dtype = np.result_type(np.dtype(x.dtype), value) if x.dtype != "bfloat16" else x.dtype
    return _core.convert_to_tensor(np.full(shape, value, dtype=dtype))


@operation(R.reduction("same", "max"))
def max(x, axis=None, keepdims=False, initial=None) -> Tensor:  # noqa: A001
    """Maximum over `axis`; NaN propagates. The gradient is shared evenly between ties.

    Raises:
        ValueError: for a reduction over an empty axis (it has no identity).
    """
    if initial is not None and _empty_reduction(x, axis):
        return _full_reduced(x, axis, keepdims, initial)
    out = _core.reduce("max", x, axis, keepdims)
    return out if initial is None else maximum(out, initial)


@operation(R.reduction("same", "min"))
def min(x, axis=None, keepdims=False, initial=None) -> Tensor:  # noqa: A001
    """Minimum over `axis`; NaN propagates. The gradient is shared evenly between ties."""
    if initial is not None and _empty_reduction(x, axis):
        return _full_reduced(x, axis, keepdims, initial)
    out = _core.reduce("min", x, axis, keepdims)
    return out if initial is None else minimum(out, initial)


@operation(R.reduction("index", "argmax"), core_call=True)
def argmax(x, axis=None, keepdims=False) -> Tensor:
    """int32 index of the first maximum along `axis` (None: of the flattened tensor)."""
    return _core.arg_reduce(x, axis, keepdims, True)


@operation(R.reduction("index", "argmin"), core_call=True)
def argmin(x, axis=None, keepdims=False) -> Tensor:
    """int32 index of the first minimum along `axis` (None: of the flattened tensor)."""
    return _core.arg_reduce(x, axis, keepdims, False)


@operation(R.matmul, core_call=True)
def matmul(x1, x2) -> Tensor:
    """Matrix product with NumPy `matmul` rules: 1-D operands are vectors, leading axes are
    broadcast batch axes. `(..., m, k) @ (..., k, n) -> (..., m, n)`.

    Raises:
        ValueError: when the contracted dimensions differ or batch axes do not broadcast.
    """
    return _core.matmul(x1, x2)


@operation(R.reshape, core_call=True)
def reshape(x, newshape) -> Tensor:
    """Same elements in a new shape; one size may be -1 (or None) and is inferred.

    Raises:
        ValueError: when the element counts differ.
    """
    return _core.reshape(x, newshape)


@operation(R.transpose, core_call=True)
def transpose(x, axes=None) -> Tensor:
    """Permute the axes (`axes=None` reverses them)."""
    return _core.transpose(x, None if axes is None else list(axes))


@operation(R.broadcast_to, core_call=True)
def broadcast_to(x, shape) -> Tensor:
    """`x` broadcast to `shape` (NumPy rules)."""
    return _core.broadcast_to(x, shape)


@operation(R.expand_dims)
def expand_dims(x, axis) -> Tensor:
    """Insert an axis of length 1 at `axis`."""
    x = convert_to_tensor(x)
    nd = x.ndim + 1
    a = axis + nd if axis < 0 else axis
    if not 0 <= a < nd:
        raise ValueError(f"expand_dims: axis {axis} is out of bounds for result rank {nd}")
    shape = list(x.shape)
    shape.insert(a, 1)
    return reshape(x, shape)


@operation(R.squeeze)
def squeeze(x, axis=None) -> Tensor:
    """Remove axes of length 1 (all of them, or only `axis`).

    Raises:
        ValueError: when a given axis does not have length 1.
    """
    x = convert_to_tensor(x)
    shape = list(x.shape)
    if axis is None:
        return reshape(x, [d for d in shape if d != 1])
    axes = [axis] if isinstance(axis, int) else list(axis)
    axes = [a + len(shape) if a < 0 else a for a in axes]
    if len(set(axes)) != len(axes):
        raise ValueError(f"squeeze: duplicate value in 'axis': {axis!r}")
    for a in axes:
        if not 0 <= a < len(shape) or shape[a] != 1:
            raise ValueError(f"squeeze: cannot squeeze axis {a} of shape {tuple(shape)}")
    return reshape(x, [d for i, d in enumerate(shape) if i not in axes])


@operation(R.take, core_call=True)
def take(x, indices, axis=None) -> Tensor:
    """Gather entries of `x` at integer `indices` along `axis` (None: from the flattened `x`).
    Negative indices count from the end. Output shape:
    `x.shape[:axis] + indices.shape + x.shape[axis+1:]`.

    Raises:
        IndexError: for an out-of-range index. TypeError: for non-integer indices.
    """
    return _core.take(x, indices, axis)


def zeros(shape, dtype=None) -> Tensor:
    """A tensor of zeros (`dtype` defaults to float32)."""
    import numpy as np
    return _core.convert_to_tensor(np.zeros(shape, dtype=dtype or "float32"))


def ones(shape, dtype=None) -> Tensor:
    """A tensor of ones (`dtype` defaults to float32)."""
    import numpy as np
    return _core.convert_to_tensor(np.ones(shape, dtype=dtype or "float32"))


@operation(R.like)
def zeros_like(x, dtype=None) -> Tensor:
    x = convert_to_tensor(x)
    return zeros(x.shape, dtype or x.dtype)


@operation(R.like)
def ones_like(x, dtype=None) -> Tensor:
    x = convert_to_tensor(x)
    return ones(x.shape, dtype or x.dtype)


def convert_to_tensor(x, dtype=None) -> Tensor:
    return _core.convert_to_tensor(x, dtype)


# ---------------------------------------------------------------------------------------------
# Composite ops: written with the core primitives above (transpose, reshape, broadcast_to,
# `__getitem__`, take, where, matmul, reductions), so `GradientTape` differentiates them with no
# extra gradient code.


def _t(x) -> Tensor:
    return _core.convert_to_tensor(x)


def _result_dtype(*dtypes) -> str:
    """The promoted dtype of `dtypes`, by the core's keras.ops lattice (`backend.result_type`)."""
    names = [str(d) for d in dtypes]
    out = names[0]
    for name in names[1:]:
        out = _core.result_type(out, name)
    return out


def _floatx(x) -> Tensor:
    """`x` as a float tensor: float dtypes are kept, others become float32."""
    x = _t(x)
    return x if x.dtype in ("float32", "float64") else _core.cast(x, "float32")


def _axis(op, axis, ndim) -> int:
    """`axis` (an int in `[-ndim, ndim)`) as a non-negative int; ValueError naming `op`."""
    try:
        a = _operator.index(axis)  # ints and NumPy integers; not floats or bools-as-floats
    except TypeError:
        raise ValueError(f"{op}: axis must be an integer, got {axis!r}") from None
    if not -ndim <= a < ndim:
        raise ValueError(f"{op}: axis {axis} is out of bounds for a tensor of rank {ndim}")
    return a + ndim if a < 0 else a


def _axis_tuple(op, axis, ndim):
    """`axis` (None, an int or a sequence of ints) as a tuple of distinct non-negative ints
    (None stays None)."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, int) or hasattr(axis, "__index__") else tuple(axis)
    out = tuple(_axis(op, a, ndim) for a in axes)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis!r}")
    return out


def _reduced(op, x, axis):
    """Validate `axis` for a reduction over `x` and return it in the form `_core.reduce` takes."""
    axes = _axis_tuple(op, axis, x.ndim)
    return None if axes is None else list(axes)


def size(x) -> int:
    """The number of elements of `x` (a Python int; 1 for a scalar)."""
    import numpy as np
    return int(np.prod(tuple(x.shape) if isinstance(x, Tensor) else np.shape(x), dtype=np.int64))


def ndim(x) -> int:
    """The rank (number of axes) of `x` (a Python int)."""
    import numpy as np
    return int(x.ndim) if isinstance(x, Tensor) else int(np.ndim(x))


@operation(R.get_item)
def get_item(x, key) -> Tensor:
    """`x[key]`: ints, slices (any step), None, Ellipsis and integer arrays, as NumPy indexing.

    Raises:
        IndexError: for an out-of-range index.
    """
    return _t(x)[key]


@operation(R.swapaxes)
def swapaxes(x, axis1, axis2) -> Tensor:
    """`x` with axes `axis1` and `axis2` interchanged (same dtype).

    Raises:
        ValueError: when an axis is out of range for `x.ndim`.
    """
    x = _t(x)
    a, b = _axis("swapaxes", axis1, x.ndim), _axis("swapaxes", axis2, x.ndim)
    perm = list(range(x.ndim))
    perm[a], perm[b] = perm[b], perm[a]
    return _core.transpose(x, perm)


@operation(R.moveaxis)
def moveaxis(x, source, destination) -> Tensor:
    """`x` with the axes `source` (int or sequence) moved to positions `destination`; the
    other axes keep their relative order (NumPy `moveaxis`).

    Raises:
        ValueError: when `source` and `destination` differ in length, or an axis is out of
            range or repeated.
    """
    x = _t(x)
    src = _axis_tuple("moveaxis", source, x.ndim)
    dst = _axis_tuple("moveaxis", destination, x.ndim)
    if len(src) != len(dst):
        raise ValueError(
            f"moveaxis: source {source!r} and destination {destination!r} must have the same "
            "number of elements"
        )
    order = [n for n in range(x.ndim) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return _core.transpose(x, order)


@operation(R.stack)
def stack(x, axis=0) -> Tensor:
    """Join a sequence of tensors of the same shape along a new axis `axis`.

    Args:
        x: a non-empty sequence of tensors of one shape `S`.
        axis: position of the new axis in the result, in `[-len(S) - 1, len(S)]`.
    Returns:
        shape `S[:axis] + (len(x),) + S[axis:]`, dtype the promotion of the inputs' dtypes.
    Raises:
        ValueError: for an empty sequence, differing shapes or an out-of-range axis.
    """
    xs = [_t(t) for t in x]
    if not xs:
        raise ValueError("stack: need at least one tensor to stack")
    shape = tuple(xs[0].shape)
    for t in xs[1:]:
        if tuple(t.shape) != shape:
            raise ValueError(
                f"stack: all tensors must have the same shape, got {shape} and {tuple(t.shape)}"
            )
    a = _axis("stack", axis, len(shape) + 1)
    new_shape = shape[:a] + (1,) + shape[a:]
    return _core.concatenate([reshape(t, new_shape) for t in xs], a)


@operation(R.split)
def split(x, indices_or_sections, axis=0) -> list:
    """Split `x` along `axis` into a list of tensors (NumPy `split`).

    Args:
        indices_or_sections: an int N (N equal parts) or a sorted sequence of split
            indices (parts `x[:i0]`, `x[i0:i1]`, ..., `x[ik:]` along `axis`; indices past
            the end give empty parts, as NumPy).
    Raises:
        ValueError: when N does not divide `x.shape[axis]` evenly, N < 1, or `axis` is out
            of range.
    """
    x = _t(x)
    if x.ndim == 0:
        raise ValueError("split: cannot split a scalar (rank-0) tensor")
    a = _axis("split", axis, x.ndim)
    d = x.shape[a]
    if isinstance(indices_or_sections, int) or hasattr(indices_or_sections, "__index__"):
        n = int(indices_or_sections)
        if n < 1:
            raise ValueError(f"split: the number of sections must be >= 1, got {n}")
        if d % n:
            raise ValueError(
                f"split: array split does not result in an equal division: {d} elements along "
                f"axis {axis} into {n} sections"
            )
        bounds = [i * (d // n) for i in range(n + 1)]
        pairs = list(zip(bounds[:-1], bounds[1:]))
    else:
        idx = [int(i) for i in indices_or_sections]
        pairs = list(zip([0] + idx, idx + [None]))
    head = (_builtins.slice(None),) * a
    return [x[head + (_builtins.slice(lo, hi),)] for lo, hi in pairs]


@operation(R.tile)
def tile(x, repeats) -> Tensor:
    """`x` repeated `repeats[i]` times along each axis (NumPy `tile`): `repeats` (int or
    sequence) and `x.shape` are padded with leading 1s to the same length.

    Raises:
        ValueError: for a negative repeat count.
        MemoryError: when the result would not fit in the machine's memory.
    """
    x = _t(x)
    reps = [int(repeats)] if isinstance(repeats, int) or hasattr(repeats, "__index__") else [
        int(r) for r in repeats]
    if _builtins.any(r < 0 for r in reps):
        raise ValueError(f"tile: repeats must be non-negative, got {repeats!r}")
    nd = _builtins.max(len(reps), x.ndim)
    reps = [1] * (nd - len(reps)) + reps
    shape = [1] * (nd - x.ndim) + list(x.shape)
    interleaved = [v for d in shape for v in (1, d)]
    big = [v for r, d in zip(reps, shape) for v in (r, d)]
    try:
        out = _core.broadcast_to(reshape(x, interleaved), big)
    except MemoryError as e:
        raise MemoryError(f"tile: repeats {tuple(reps)} of shape {tuple(x.shape)}: {e}") from None
    return reshape(out, [r * d for r, d in zip(reps, shape)])


@operation(R.repeat)
def repeat(x, repeats, axis=None) -> Tensor:
    """Repeat each element of `x` `repeats` times along `axis` (NumPy `repeat`).

    Args:
        repeats: an int, or a sequence with one count per element along `axis` (or of
            length 1).
        axis: the axis to repeat along; None (default) flattens `x` first.
    Raises:
        ValueError: for negative counts, a count sequence of the wrong length, or an
            out-of-range axis.
    """
    import numpy as np

    x = _t(x)
    if axis is None:
        x, a = reshape(x, [-1]), 0
    else:
        a = _axis("repeat", axis, x.ndim)
    d = x.shape[a]
    reps = np.asarray(repeats.numpy() if isinstance(repeats, Tensor) else repeats)
    if reps.ndim > 1 or (reps.size and reps.dtype.kind not in "iub"):
        raise ValueError(f"repeat: repeats must be an int or a 1-D sequence of ints, got {repeats!r}")
    if reps.ndim == 1 and reps.size not in (1, d):
        raise ValueError(f"repeat: {reps.size} repeat counts for an axis of length {d}")
    if np.any(reps < 0):
        raise ValueError(f"repeat: repeats must be non-negative, got {repeats!r}")
    indices = np.repeat(np.arange(d, dtype=np.int64), reps.reshape(-1).astype(np.int64) if reps.ndim else int(reps))
    return _core.take(x, indices, a)


@operation(R.flip)
def flip(x, axis=None) -> Tensor:
    """`x` with the order of elements reversed along `axis` (int, tuple, or None: all axes).

    Raises:
        ValueError: when an axis is out of range or repeated.
    """
    x = _t(x)
    axes = _axis_tuple("flip", axis, x.ndim)
    axes = range(x.ndim) if axes is None else axes
    if not axes:
        return x
    key = [_builtins.slice(None)] * x.ndim
    for a in axes:
        key[a] = _builtins.slice(None, None, -1)
    return x[tuple(key)]


def _is_float_like(v) -> bool:
    import numpy as np
    if isinstance(v, Tensor):
        return v.dtype == "float32"
    return np.asarray(v).dtype.kind == "f"


def _scalar_value(v):
    import numpy as np
    if isinstance(v, Tensor):
        v = v.numpy()
    return np.asarray(v).item()


def arange(start, stop=None, step=1, dtype=None) -> Tensor:
    """Evenly spaced values in `[start, stop)` (NumPy `arange`; `arange(n)` is `[0, n)`).

    Args:
        start, stop, step: numbers (step defaults to 1 and may be negative).
        dtype: the result dtype; None infers int32 when every argument is an integer and
            float32 otherwise.
    Returns:
        a 1-D tensor of `ceil((stop - start) / step)` elements (0 when that is negative).
    Raises:
        ValueError: for `step == 0`.
    """
    import numpy as np

    if step is None:
        step = 1
    given = [v for v in (start, stop, step) if v is not None]
    if _scalar_value(step) == 0:
        raise ValueError("arange: step must not be zero")
    if dtype is None:
        dtype = "float32" if _builtins.any(_is_float_like(v) for v in given) else "int32"
    lo, hi = (0, start) if stop is None else (start, stop)
    lo, hi, step = _scalar_value(lo), _scalar_value(hi), _scalar_value(step)
    if np.dtype(dtype).kind == "f":
        # `start + i * step` in float64, rounded once (NumPy's own float32 arange accumulates
        # the float32-rounded step and drifts by ~1e-5 over a hundred values)
        values = np.arange(lo, hi, step, dtype=np.float64).astype(dtype)
    else:
        values = np.arange(lo, hi, step, dtype=dtype)
    return _core.convert_to_tensor(values, dtype)


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """`num` evenly spaced samples from `start` to `stop` (NumPy `linspace`).

    Args:
        start, stop: numbers or tensors (broadcast together; array endpoints add the sample
            axis at `axis`). Tensor endpoints are differentiable.
        num: number of samples (default 50). endpoint: include `stop` (default True).
        retstep: also return the spacing. dtype: default float32; integer dtypes round
            toward -inf as NumPy.
        axis: where the sample axis goes when the endpoints are arrays.
    Returns:
        the samples, or `(samples, step)` when `retstep` (step is NaN when `num` leaves
        no interval, as NumPy).
    Raises:
        ValueError: for a negative `num` or an out-of-range axis.
    """
    import numpy as np

    num = int(num)
    if num < 0:
        raise ValueError(f"linspace: num must be non-negative, got {num}")
    dtype = dtype or "float32"
    div = (num - 1) if endpoint else num
    if not (isinstance(start, Tensor) or isinstance(stop, Tensor)):
        lo, hi = np.asarray(start, np.float64), np.asarray(stop, np.float64)
        _axis("linspace", axis, len(np.broadcast_shapes(lo.shape, hi.shape)) + 1)
        y, step = np.linspace(lo, hi, num, endpoint=endpoint, retstep=True, axis=axis)
        if np.dtype(dtype).kind in "iu":
            y = np.floor(y)
        y = _core.convert_to_tensor(y.astype(dtype), dtype)
        return (y, _core.convert_to_tensor(np.asarray(step, np.float32))) if retstep else y
    lo, hi = _floatx(start), _floatx(stop)
    # Computed in float64 when an endpoint or the result is float64, else in float32.
    work = "float64" if "float64" in (lo.dtype, hi.dtype, str(dtype)) else "float32"
    lo, hi = _core.cast(lo, work), _core.cast(hi, work)
    delta = hi - lo
    bshape = tuple(np.broadcast_shapes(tuple(lo.shape), tuple(hi.shape)))
    a = _axis("linspace", axis, len(bshape) + 1)
    frac_shape = (num,) + (1,) * (len(bshape) - a)
    frac = (np.arange(num, dtype=np.float64) / div if div > 0 else np.zeros(num)).astype(work)

    def along(v):  # an endpoint-shaped tensor with the sample axis inserted at `a`
        v = _core.broadcast_to(v, bshape)
        return reshape(v, bshape[:a] + (1,) + bshape[a:])

    y = along(lo) + frac.reshape(frac_shape) * along(delta)
    if endpoint and num > 1:
        last = (np.arange(num) == num - 1).reshape(frac_shape)
        y = _core.where_(last, along(hi), y)
    if np.dtype(dtype).kind in "iu":
        trunc = _core.cast(_core.cast(y, "int64"), work)
        y = trunc - _core.cast(trunc > y, work)
    y = _core.cast(y, dtype) if dtype != work else y
    if not retstep:
        return y
    return y, (delta / float(div) if div > 0 else delta * float("nan"))


def eye(N, M=None, k=0, dtype=None) -> Tensor:
    """A 2-D `(N, M)` tensor (M defaults to N) with ones on the k-th diagonal (k > 0 above the
    main diagonal) and zeros elsewhere; `dtype` defaults to float32.

    Raises:
        ValueError: for negative N or M.
    """
    import numpy as np

    N, M = int(N), int(N if M is None else M)
    if N < 0 or M < 0:
        raise ValueError(f"eye: N and M must be non-negative, got N={N}, M={M}")
    dtype = dtype or "float32"
    return _core.convert_to_tensor(np.eye(N, M, int(k), dtype=dtype), dtype)


def _shape_arg(op, shape):
    dims = (shape,) if isinstance(shape, int) or hasattr(shape, "__index__") else tuple(shape)
    dims = tuple(int(d) for d in dims)
    if _builtins.any(d < 0 for d in dims):
        raise ValueError(f"{op}: shape {shape!r} must have non-negative sizes")
    return dims


def full(shape, fill_value, dtype=None) -> Tensor:
    """A tensor of `shape` filled with `fill_value` (a scalar, or a tensor broadcast to
    `shape`; differentiable in a tensor `fill_value`). `dtype` defaults to float32.

    Raises:
        ValueError: for negative sizes or a `fill_value` that does not broadcast to `shape`.
    """
    dims = _shape_arg("full", shape)
    value = _core.convert_to_tensor(fill_value, dtype or "float32")
    try:
        return _core.broadcast_to(value, dims)
    except ValueError as e:
        raise ValueError(f"full: {e}") from None


@operation(R.like)
def full_like(x, fill_value, dtype=None) -> Tensor:
    """A tensor shaped like `x` filled with `fill_value`; `dtype` defaults to `x`'s dtype."""
    x = _t(x)
    return full(tuple(x.shape), fill_value, dtype or x.dtype)


def _triangle(op, x, keep):
    x = _t(x)
    if x.ndim < 2:
        raise ValueError(f"{op}: x must be at least 2-D, got shape {tuple(x.shape)}")
    mask = keep(*x.shape[-2:])
    return _core.where_(mask, x, _core.cast(0, x.dtype))


@operation(R.triangle)
def tril(x, k=0) -> Tensor:
    """`x` with the elements above the k-th diagonal of the last two axes zeroed (same shape
    and dtype; k > 0 keeps diagonals above the main one).

    Raises:
        ValueError: when `x` has fewer than 2 axes.
    """
    import numpy as np
    return _triangle("tril", x, lambda m, n: np.tri(m, n, int(k), dtype=bool))


@operation(R.triangle)
def triu(x, k=0) -> Tensor:
    """`x` with the elements below the k-th diagonal of the last two axes zeroed (same shape
    and dtype).

    Raises:
        ValueError: when `x` has fewer than 2 axes.
    """
    import numpy as np
    return _triangle("triu", x, lambda m, n: ~np.tri(m, n, int(k) - 1, dtype=bool))


@operation(R.meshgrid)
def meshgrid(*x, indexing="xy") -> list:
    """Coordinate grids from 1-D coordinate vectors (NumPy `meshgrid`, inputs are flattened).

    With N inputs of lengths n1..nN, each output has shape `(n2, n1, n3, ..., nN)` for
    `indexing="xy"` (Cartesian, default) or `(n1, ..., nN)` for `"ij"` (matrix).

    Raises:
        ValueError: for any other `indexing`.
    """
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    xs = [reshape(_t(v), [-1]) for v in x]
    lengths = [v.shape[0] for v in xs]
    pos = list(range(len(xs)))
    if indexing == "xy" and len(xs) >= 2:
        pos[0], pos[1] = 1, 0
        lengths[0], lengths[1] = lengths[1], lengths[0]
    out = []
    for v, p in zip(xs, pos):
        shape = [1] * len(xs)
        shape[p] = v.shape[0]
        out.append(_core.broadcast_to(reshape(v, shape), lengths))
    return out


@operation(R.outer)
def outer(x1, x2) -> Tensor:
    """Outer product `out[i, j] = x1.flat[i] * x2.flat[j]` (inputs are flattened), shape
    `(x1.size, x2.size)`."""
    return _core.binary("multiply", reshape(_t(x1), [-1, 1]), reshape(_t(x2), [1, -1]))


def _tensordot_axes(op, a, b, axes):
    if isinstance(axes, int) or hasattr(axes, "__index__"):
        n = int(axes)
        if n < 0 or n > a.ndim or n > b.ndim:
            raise ValueError(
                f"{op}: axes={n} must be in [0, min(rank)] for shapes {tuple(a.shape)} and "
                f"{tuple(b.shape)}"
            )
        return list(range(a.ndim - n, a.ndim)), list(range(n))
    try:
        ax_a, ax_b = axes
    except (TypeError, ValueError):
        raise ValueError(f"{op}: axes must be an int or a pair of axis sequences, got {axes!r}") from None
    ax_a = list(_axis_tuple(op, ax_a, a.ndim))
    ax_b = list(_axis_tuple(op, ax_b, b.ndim))
    if len(ax_a) != len(ax_b):
        raise ValueError(f"{op}: axes {axes!r} name different numbers of axes")
    return ax_a, ax_b


def _contract(op, a, b, ax_a, ax_b) -> Tensor:
    """Sum of products over `a`'s axes `ax_a` against `b`'s axes `ax_b` (one 2-D matmul);
    result axes: `a`'s free axes, then `b`'s."""
    import numpy as np

    for i, j in zip(ax_a, ax_b):
        if a.shape[i] != b.shape[j]:
            raise ValueError(
                f"{op}: shape mismatch, axis {i} of {tuple(a.shape)} has size {a.shape[i]} but "
                f"axis {j} of {tuple(b.shape)} has size {b.shape[j]}"
            )
    dt = _result_dtype(a.dtype, b.dtype, "int32")
    a = a if a.dtype == dt else _core.cast(a, dt)
    b = b if b.dtype == dt else _core.cast(b, dt)
    free_a = [i for i in range(a.ndim) if i not in ax_a]
    free_b = [j for j in range(b.ndim) if j not in ax_b]
    k = int(np.prod([a.shape[i] for i in ax_a], dtype=np.int64))
    fa = [a.shape[i] for i in free_a]
    fb = [b.shape[j] for j in free_b]
    a2 = reshape(_core.transpose(a, free_a + list(ax_a)), [int(np.prod(fa, dtype=np.int64)), k])
    b2 = reshape(_core.transpose(b, list(ax_b) + free_b), [k, int(np.prod(fb, dtype=np.int64))])
    return reshape(_core.matmul(a2, b2), fa + fb)


@operation(R.tensordot)
def tensordot(x1, x2, axes=2) -> Tensor:
    """Tensor contraction (NumPy `tensordot`).

    Args:
        axes: an int N (the last N axes of `x1` against the first N of `x2`), or a pair
            `(axes_1, axes_2)` of ints or equal-length sequences.
    Returns:
        shape `x1`'s free axes + `x2`'s free axes; dtype the promotion of the inputs
        (bool computes in int32).
    Raises:
        ValueError: for out-of-range or mismatched axes, or contracted sizes that differ.
    """
    a, b = _t(x1), _t(x2)
    ax_a, ax_b = _tensordot_axes("tensordot", a, b, axes)
    return _contract("tensordot", a, b, ax_a, ax_b)


@operation(R.dot)
def dot(x1, x2) -> Tensor:
    """NumPy `dot`: a product with a scalar is element-wise; 1-D·1-D is the inner product;
    otherwise the last axis of `x1` is contracted with the second-to-last axis of `x2`
    (the only axis when `x2` is 1-D), giving shape `x1.shape[:-1] + x2.shape[:-2] +
    x2.shape[-1:]`.

    Raises:
        ValueError: when the contracted sizes differ.
    """
    a, b = _t(x1), _t(x2)
    if a.ndim == 0 or b.ndim == 0:
        return _core.binary("multiply", a, b)
    return _contract("dot", a, b, [a.ndim - 1], [_builtins.max(b.ndim - 2, 0)])


def _einsum_parse(subscripts, operands):
    """Labels per operand and for the output; '...' becomes private labels (broadcast right)."""
    if not isinstance(subscripts, str):
        raise TypeError(f"einsum: subscripts must be a string, got {subscripts!r}")
    spec = subscripts.replace(" ", "")
    if spec.count("->") > 1:
        raise ValueError(f"einsum: subscripts {subscripts!r} contain more than one '->'")
    lhs, out = spec.split("->") if "->" in spec else (spec, None)
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise ValueError(
            f"einsum: subscripts {subscripts!r} name {len(terms)} operands but {len(operands)} "
            "were given"
        )

    def letters(term, where):
        body = term.replace("...", "")
        bad = [c for c in body if not (c.isascii() and c.isalpha())]
        if bad or term.count("...") > 1:
            raise ValueError(f"einsum: invalid subscripts {term!r} in {where} of {subscripts!r}")
        return body

    ranks = []
    for term, x in zip(terms, operands):
        named = len(letters(term, "an input"))
        if "..." in term:
            if named > x.ndim:
                raise ValueError(
                    f"einsum: subscripts {term!r} name more axes than operand of shape "
                    f"{tuple(x.shape)} has")
            ranks.append(x.ndim - named)
        else:
            if named != x.ndim:
                raise ValueError(
                    f"einsum: subscripts {term!r} name {named} axes but the operand has shape "
                    f"{tuple(x.shape)}")
            ranks.append(0)
    r = _builtins.max(ranks, default=0)
    ell = [chr(0x100 + i) for i in range(r)]  # private labels, never ASCII letters

    def expand(term, rank):
        head, _, tail = term.partition("...")
        return list(head) + (ell[r - rank:] if "..." in term else []) + list(tail)

    in_labels = [expand(t, k) for t, k in zip(terms, ranks)]
    if out is None:
        counts = {}
        for labels in in_labels:
            for c in labels:
                counts[c] = counts.get(c, 0) + 1
        out_labels = ell + sorted(c for c, n in counts.items() if n == 1 and c not in ell)
    else:
        letters(out, "the output")
        if r and "..." not in out:
            raise ValueError(
                f"einsum: the inputs of {subscripts!r} have '...' axes but the output has no '...'")
        out_labels = expand(out, r)
        seen = {c for labels in in_labels for c in labels}
        for c in out_labels:
            if c not in seen:
                raise ValueError(f"einsum: output label {c!r} of {subscripts!r} is not in any input")
        if len(set(out_labels)) != len(out_labels):
            raise ValueError(f"einsum: output subscripts of {subscripts!r} repeat a label")
    return in_labels, out_labels


def _einsum_diagonal(x, labels):
    """Take the diagonal over every label repeated within one operand."""
    import numpy as np

    labels = list(labels)
    while len(set(labels)) != len(labels):
        c = next(c for c in labels if labels.count(c) > 1)
        pos = [i for i, label in enumerate(labels) if label == c]
        sizes = {x.shape[i] for i in pos}
        if len(sizes) > 1:
            raise ValueError(f"einsum: repeated label {c!r} has different sizes {sorted(sizes)}")
        n, k = x.shape[pos[0]], len(pos)
        rest = [i for i in range(len(labels)) if i not in pos]
        x = _core.transpose(x, rest + pos)
        x = reshape(x, [x.shape[i] for i in range(len(rest))] + [n ** k])
        step = int(np.sum([n ** j for j in range(k)])) if n > 0 else 1
        x = x[..., ::step]
        labels = [labels[i] for i in rest] + [c]
    return x, labels


def _sum_labels(x, labels, drop):
    if not drop:
        return x, labels
    axes = [labels.index(c) for c in drop]
    return _core.reduce("sum", x, axes, False), [c for c in labels if c not in drop]


@operation(R.einsum)
def einsum(subscripts, *operands, **kwargs) -> Tensor:
    """Einstein summation (NumPy `einsum`): e.g. `"ij,jk->ik"` (matmul), `"bij,bjk->bik"`,
    `"i,i"` (inner product), `"ii->i"` (diagonal), `"...ij->...ji"`.

    Any number of operands; without `->` the output is `...` followed by the labels used
    exactly once, sorted. Size-1 axes broadcast against the same label elsewhere. Operands
    are contracted left to right, each pair as one batched matmul (transposes and reshapes)
    after summing labels that appear in only one operand; so it is differentiable.

    Returns:
        the result, dtype the promotion of the operands' dtypes (bool computes in int32).
    Raises:
        ValueError: for malformed subscripts, a wrong operand count or rank, sizes that do
            not match (a repeated label within one operand must have one size), or an output
            label not present in the inputs. TypeError: when `subscripts` is not a string.
    """
    import numpy as np

    xs = [_t(x) for x in operands]
    if not xs:
        raise ValueError("einsum: at least one operand is required")
    in_labels, out_labels = _einsum_parse(subscripts, xs)
    dt = _result_dtype(*(x.dtype for x in xs))
    dt = "int32" if dt == "bool" else dt
    xs = [x if x.dtype == dt else _core.cast(x, dt) for x in xs]
    pairs = [_einsum_diagonal(x, labels) for x, labels in zip(xs, in_labels)]
    sizes = {}  # label -> size; a size-1 axis broadcasts against a longer one
    for x, labels in pairs:
        for c, d in zip(labels, x.shape):
            prev = sizes.get(c)
            if prev is None or prev == 1:
                sizes[c] = d
            elif d not in (1, prev):
                raise ValueError(f"einsum: label {c!r} of {subscripts!r} has sizes {prev} and {d}")
    pairs = [(_core.broadcast_to(x, [sizes[c] for c in labels])
              if _builtins.any(d != sizes[c] for c, d in zip(labels, x.shape)) else x, labels)
             for x, labels in pairs]

    def kept_by(others):
        return set(out_labels).union(*[set(labels) for _, labels in others])

    while len(pairs) > 1:
        (a, la), (b, lb), rest = pairs[0], pairs[1], pairs[2:]
        keep = kept_by(rest)
        a, la = _sum_labels(a, la, [c for c in la if c not in lb and c not in keep])
        b, lb = _sum_labels(b, lb, [c for c in lb if c not in la and c not in keep])
        batch = [c for c in la if c in lb and c in keep]
        summed = [c for c in la if c in lb and c not in keep]
        fa = [c for c in la if c not in lb]
        fb = [c for c in lb if c not in la]
        a = _core.transpose(a, [la.index(c) for c in batch + fa + summed])
        b = _core.transpose(b, [lb.index(c) for c in batch + summed + fb])

        def n(cs):
            return int(np.prod([sizes[c] for c in cs], dtype=np.int64))

        if summed:
            a = reshape(a, [n(batch), n(fa), n(summed)])
            b = reshape(b, [n(batch), n(summed), n(fb)])
            product = _core.matmul(a, b)
        else:  # no contraction: a broadcast product is cheaper than a batched matmul
            a = reshape(a, [n(batch), n(fa), 1])
            b = reshape(b, [n(batch), 1, n(fb)])
            product = _core.binary("multiply", a, b)
        labels = batch + fa + fb
        pairs = [(reshape(product, [sizes[c] for c in labels]), labels)] + rest
    x, labels = pairs[0]
    x, labels = _sum_labels(x, labels, [c for c in labels if c not in out_labels])
    return _core.transpose(x, [labels.index(c) for c in out_labels])


@operation(R.reduction("nn", "var"))
def var(x, axis=None, keepdims=False) -> Tensor:
    """Population variance `mean(|x - mean(x)|^2)` over `axis` (ddof=0, as keras.ops);
    float32 (integer inputs are cast). An empty reduction gives NaN.

    Raises:
        ValueError: when an axis is out of range or repeated.
    """
    x = _floatx(x)
    axes = _reduced("var", x, axis)
    centered = x - _core.reduce("mean", x, axes, True)
    return _core.reduce("mean", _core.unary("square", centered), axes, bool(keepdims))


@operation(R.reduction("nn", "std"))
def std(x, axis=None, keepdims=False) -> Tensor:
    """Population standard deviation `sqrt(var(x))` over `axis` (ddof=0), float32. Its
    gradient is infinite where the variance is 0, as for keras.ops.

    Raises:
        ValueError: when an axis is out of range or repeated.
    """
    x = _floatx(x)
    _reduced("std", x, axis)
    return _core.unary("sqrt", var(x, axis, keepdims))


@operation(R.count_nonzero)
def count_nonzero(x, axis=None) -> Tensor:
    """int32 count of the non-zero (NaN counts as non-zero) elements over `axis` (int, tuple or
    None for all).

    Raises:
        ValueError: when an axis is out of range or repeated.
    """
    x = _t(x)
    axes = _reduced("count_nonzero", x, axis)
    nonzero = _core.binary("not_equal", x, _core.cast(0, x.dtype))
    return _core.reduce("sum", _core.cast(nonzero, "int32"), axes, False)


@operation(R.average)
def average(x, axis=None, weights=None) -> Tensor:
    """Weighted mean `sum(x * w, axis) / sum(w, axis)` (NumPy `average`), float32.

    Args:
        axis: None (all), an int or a tuple.
        weights: None (plain mean), an array of `x`'s shape, or a 1-D array of length
            `x.shape[axis]` for an int `axis` (broadcast along that axis).
    Returns:
        the averages; weights summing to 0 give NaN or inf (as keras.ops, not NumPy's
        ZeroDivisionError).
    Raises:
        ValueError: when an axis is out of range, or `weights` has an unusable shape.
    """
    x = _floatx(x)
    axes = _reduced("average", x, axis)
    if weights is None:
        return _core.reduce("mean", x, axes, False)
    w = _floatx(weights)
    if tuple(w.shape) != tuple(x.shape):
        if axes is None or len(axes) != 1 or w.ndim != 1 or w.shape[0] != x.shape[axes[0]]:
            raise ValueError(
                f"average: weights of shape {tuple(w.shape)} do not fit x of shape "
                f"{tuple(x.shape)} with axis={axis!r}; give weights of x's shape, or 1-D "
                "weights of the length of the (single) axis")
        shape = [1] * x.ndim
        shape[axes[0]] = w.shape[0]
        w = reshape(w, shape)
    total = _core.reduce("sum", x * w, axes, False)
    return total / _core.reduce("sum", w, axes, False)  # broadcasts against `total`

"""Shape and dtype rules of the `keras.ops` functions: each takes an op's arguments (with
KerasTensors where tensors go) and returns KerasTensors of the output's shape and dtype, as
the kernel would produce them, without computing anything. Unknown sizes are None and stay
None where the output depends on them. Shapes follow NumPy's rules (broadcasting, axes,
indexing); dtypes follow the core's promotion (`_core.result_type`, Python scalars weak as in
JAX and Keras 3). tests/ops/test_shape_rules.py checks every rule against the kernels.

Errors are those of the kernels: a `ValueError` naming the op and the shapes when the known
sizes cannot work."""

from __future__ import annotations

import builtins
import math
import operator

from rskeras import _core
from rskeras.backend.keras_tensor import KerasTensor, _standardize_dtype

FLOATS = ("float16", "bfloat16", "float32", "float64")
_WEAK = {bool: "pybool", int: "pyint", float: "pyfloat"}
# NumPy array dtypes the core converts on the way in (the others it keeps)
_CONVERTED = {"uint16": "int32", "uint32": "int64", "uint64": "int64"}


def dtype_name(dtype) -> str:
    """A dtype argument ("float32", np.uint8, a NumPy dtype) as its name."""
    if isinstance(dtype, str) or dtype is None:
        return _standardize_dtype(dtype)
    import numpy as np
    name = np.dtype(dtype).name
    return _CONVERTED.get(name, name)


def spec(shape, dtype) -> KerasTensor:
    return KerasTensor(tuple(shape), dtype)


def shape_of(x) -> tuple:
    """The shape of a tensor, KerasTensor, array, list or scalar argument."""
    shape = getattr(x, "shape", None)
    if shape is not None:
        return tuple(shape)
    if isinstance(x, (list, tuple)):
        import numpy as np
        return np.shape(x)
    return ()


def dtype_of(x) -> str:
    """The dtype a tensor argument has or gets on conversion; Python scalars are weak
    ("pybool", "pyint", "pyfloat") and take the other operand's dtype where they can."""
    if isinstance(x, (KerasTensor, _core.Tensor)):
        return x.dtype
    weak = _WEAK.get(type(x))
    if weak == "pyint" and not -2**31 <= x < 2**31:
        return "int64"  # a Python int beyond int32 converts to int64, a strong type
    if weak is not None:
        return weak
    import numpy as np
    if isinstance(x, np.generic):  # NumPy scalars are weak, as Python's
        return {"b": "pybool", "f": "pyfloat"}.get(x.dtype.kind, "pyint")
    name = np.dtype(x.dtype).name if hasattr(x, "dtype") else np.asarray(x).dtype.name
    if not hasattr(x, "dtype"):  # nested lists: Python floats and ints, as scalars convert
        return {"float64": "float32", "int64": "int32"}.get(name, name)
    return _CONVERTED.get(name, name)


def _converted(x) -> str:
    """The dtype `x` has once converted to a tensor on its own (NumPy scalars keep theirs)."""
    import numpy as np
    if isinstance(x, np.generic):
        return _CONVERTED.get(x.dtype.name, x.dtype.name)
    return _strong(dtype_of(x))


def _strong(dtype: str) -> str:
    return {"pybool": "bool", "pyint": "int32", "pyfloat": "float32"}.get(dtype, dtype)


def promote(*dtypes) -> str:
    """The result dtype of mixing `dtypes` (weak Python scalars included)."""
    strong = [d for d in dtypes if not d.startswith("py")]
    if not strong:
        out = _strong(dtypes[0])
        for d in dtypes[1:]:
            out = _core.result_type(out, _strong(d))
        return out
    out = strong[0]
    for d in strong[1:]:
        out = _core.result_type(out, d)
    for d in dtypes:
        if d == "pyfloat" and out not in FLOATS:
            out = "float32"
        elif d == "pyint" and out == "bool":
            out = "int32"
    return out


def float_dtype(dtype: str) -> str:
    """The dtype a float function computes in: float dtypes kept, others float32."""
    dtype = _strong(dtype)
    return dtype if dtype in FLOATS else "float32"


def nn_float(dtype: str) -> str:
    """The dtype the composed nn functions compute in: float64 kept, all else float32."""
    return "float64" if _strong(dtype) == "float64" else "float32"


_NARROW = ("bool", "int8", "uint8", "int16")


def _contracted(dtype: str) -> str:
    """tensordot/dot on narrow integers and bools accumulate in int32."""
    return "int32" if dtype in _NARROW else dtype


def broadcast_shapes(op: str, *shapes) -> tuple:
    """NumPy broadcasting with unknown (None) sizes.

    Raises:
        ValueError: when two known sizes other than 1 differ."""
    ndim = builtins.max((len(s) for s in shapes), default=0)
    out = []
    for dims in zip(*[(1,) * (ndim - len(s)) + tuple(s) for s in shapes]):
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            raise ValueError(f"{op}: shapes {' and '.join(str(tuple(s)) for s in shapes)} "
                             "cannot be broadcast together")
        if known:
            out.append(known.pop())
        else:
            out.append(None if any(d is None for d in dims) else 1)
    return tuple(out)


def prod(dims):
    """The product of sizes, or None when one is unknown."""
    return None if any(d is None for d in dims) else math.prod(dims)


def norm_axis(op: str, axis, ndim: int) -> int:
    """`axis` in [0, ndim). Raises ValueError when out of range."""
    axis = operator.index(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"{op}: axis {axis} is out of bounds for a tensor of rank {ndim}")
    return axis % ndim if ndim else 0


def norm_axes(op: str, axis, ndim: int) -> tuple:
    """A tuple of distinct axes in [0, ndim) (all of them for None)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if not isinstance(axis, (tuple, list)) else tuple(axis)
    axes = tuple(norm_axis(op, a, ndim) for a in axes)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{op}: duplicate value in 'axis': {axis!r}")
    return axes


# ---------------------------------------------------------------------------------------------
# Element-wise families


def unary(kind: str):
    """Rule of an element-wise function of `x` (extra arguments ignored). `kind`: "same"
    (dtype kept), "float" (computes in a float dtype), "nn" (float64 kept, else float32),
    "numeric" (bool becomes float32), "bool" (a predicate)."""

    def rule(x, *args, **kwargs):
        dtype = _strong(dtype_of(x))
        if kind == "float":
            dtype = float_dtype(dtype)
        elif kind == "nn":
            dtype = nn_float(dtype)
        elif kind == "numeric" and dtype == "bool":
            dtype = "float32"
        elif kind == "bool":
            dtype = "bool"
        return spec(shape_of(x), dtype)

    return rule


def binary(kind: str, op: str = "binary"):
    """Rule of an element-wise function of two broadcast operands. `kind`: "arith" (bool
    results become int32), "promote", "float" (non-float results become float32), "bool"."""

    def rule(x1, x2):
        shape = broadcast_shapes(op, shape_of(x1), shape_of(x2))
        dtype = promote(dtype_of(x1), dtype_of(x2))
        if kind == "arith" and dtype == "bool":
            dtype = "int32"
        elif kind == "float":
            dtype = float_dtype(dtype)
        elif kind == "bool":
            dtype = "bool"
        return spec(shape, dtype)

    return rule


def same(x, *args, **kwargs) -> KerasTensor:
    """The rule of an op whose output has its input's shape and dtype."""
    return spec(shape_of(x), _strong(dtype_of(x)))


def like(x, *args, dtype=None, **kwargs) -> KerasTensor:
    """zeros_like / ones_like / full_like: `x`'s shape, `dtype` or `x`'s dtype."""
    return spec(shape_of(x), dtype_name(dtype) if dtype is not None else _strong(dtype_of(x)))


def cast(x, dtype) -> KerasTensor:
    return spec(shape_of(x), dtype_name(dtype))


def convert_to_tensor(x, dtype=None, sparse=None, ragged=None) -> KerasTensor:
    return spec(shape_of(x), dtype_name(dtype) if dtype is not None else _strong(dtype_of(x)))


def where(condition, x1=None, x2=None) -> KerasTensor:
    if x1 is None or x2 is None:
        raise ValueError("where: both x1 and x2 must be given")
    shape = broadcast_shapes("where", shape_of(condition), shape_of(x1), shape_of(x2))
    return spec(shape, promote(dtype_of(x1), dtype_of(x2)))


def round_(x, decimals=0) -> KerasTensor:
    dtype = _strong(dtype_of(x))
    if decimals == 0 and dtype == "bool":
        dtype = "float32"
    return spec(shape_of(x), dtype)


# ---------------------------------------------------------------------------------------------
# Reductions


def reduced_shape(op, shape, axis, keepdims) -> tuple:
    axes = norm_axes(op, axis, len(shape))
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def reduction(kind: str, op: str):
    """Rule of a reduction `f(x, axis=None, keepdims=False, ...)`. `kind`: "sum" (bool and
    8/16-bit integers sum to int32), "same" (with `initial` promoted in), "float", "nn"
    (float64 kept, else float32), "bool", "index" (int32)."""

    def rule(x, axis=None, keepdims=False, *args, **kwargs):
        shape = shape_of(x)
        if kind == "index" and axis is None and not keepdims:
            out_shape = ()
        elif kind == "index" and axis is None:
            out_shape = (1,) * len(shape)
        else:
            out_shape = reduced_shape(op, shape, axis, keepdims)
        dtype = _strong(dtype_of(x))
        if kind == "same" and kwargs.get("initial") is not None:
            dtype = promote(dtype, dtype_of(kwargs["initial"]))
        dtype = {"sum": "int32" if dtype in _NARROW else dtype, "same": dtype,
                 "float": float_dtype(dtype), "nn": nn_float(dtype), "bool": "bool",
                 "index": "int32"}[kind]
        if kwargs.get("dtype") is not None:
            dtype = dtype_name(kwargs["dtype"])
        return spec(out_shape, dtype)

    return rule


def count_nonzero(x, axis=None) -> KerasTensor:
    return spec(reduced_shape("count_nonzero", shape_of(x), axis, False), "int32")


def average(x, axis=None, weights=None) -> KerasTensor:
    dtype = nn_float(dtype_of(x))
    if weights is not None:
        dtype = nn_float(promote(dtype, dtype_of(weights)))
    return spec(reduced_shape("average", shape_of(x), axis, False), dtype)


def cumulative(x, axis=None, dtype=None) -> KerasTensor:
    shape = shape_of(x)
    out_dtype = _strong(dtype_of(x))
    out_dtype = "int32" if out_dtype == "bool" else out_dtype
    if dtype is not None:
        out_dtype = dtype_name(dtype)
    if axis is None:
        return spec((prod(shape),), out_dtype)
    norm_axis("cumsum", axis, len(shape))
    return spec(shape, out_dtype)


def moments(x, axes, keepdims=False, synchronized=False) -> tuple:
    out = spec(reduced_shape("moments", shape_of(x), axes, keepdims), nn_float(dtype_of(x)))
    return out, spec(out.shape, out.dtype)


def top_k(x, k, sorted=True) -> tuple:  # noqa: A002 - Keras argument name
    shape = shape_of(x)
    if not shape:
        raise ValueError("top_k: x must have at least one axis")
    if shape[-1] is not None and not 0 <= k <= shape[-1]:
        raise ValueError(f"top_k: k={k} is out of range for a last axis of size {shape[-1]}")
    out = shape[:-1] + (k,)
    return spec(out, _strong(dtype_of(x))), spec(out, "int32")


def in_top_k(targets, predictions, k) -> KerasTensor:
    return spec(shape_of(targets), "bool")


def argsort(x, axis=-1) -> KerasTensor:
    shape = shape_of(x)
    if axis is None:
        return spec((prod(shape),), "int32")
    if shape:
        norm_axis("argsort", axis, len(shape))
    return spec(shape, "int32")


def sort(x, axis=-1) -> KerasTensor:
    shape = shape_of(x)
    if axis is None:
        return spec((prod(shape),), _strong(dtype_of(x)))
    if shape:
        norm_axis("sort", axis, len(shape))
    return spec(shape, _strong(dtype_of(x)))


# ---------------------------------------------------------------------------------------------
# Products


def matmul(x1, x2) -> KerasTensor:
    a, b = shape_of(x1), shape_of(x2)
    if not a or not b:
        raise ValueError(f"matmul: operands must have at least one axis, got shapes {a} and {b}")
    a2 = (1,) + a if len(a) == 1 else a
    b2 = b + (1,) if len(b) == 1 else b
    k1, k2 = a2[-1], b2[-2]
    if k1 is not None and k2 is not None and k1 != k2:
        raise ValueError(f"matmul: inner dimensions differ: shapes {a} and {b}")
    batch = broadcast_shapes("matmul", a2[:-2], b2[:-2])
    out = batch + (a2[-2], b2[-1])
    if len(a) == 1:
        out = out[:-2] + out[-1:]
    if len(b) == 1:
        out = out[:-1]
    dtype = promote(dtype_of(x1), dtype_of(x2))
    return spec(out, "int32" if dtype == "bool" else dtype)


def dot(x1, x2) -> KerasTensor:
    a, b = shape_of(x1), shape_of(x2)
    if not a or not b:
        return binary("arith", "dot")(x1, x2)
    if len(b) == 1 or len(a) == 1 or len(b) == 2:
        out = matmul(x1, x2)
        return spec(out.shape, _contracted(out.dtype))
    k1, k2 = a[-1], b[-2]
    if k1 is not None and k2 is not None and k1 != k2:
        raise ValueError(f"dot: shapes {a} and {b} are not aligned")
    return spec(a[:-1] + b[:-2] + b[-1:], _contracted(promote(dtype_of(x1), dtype_of(x2))))


def tensordot(x1, x2, axes=2) -> KerasTensor:
    a, b = shape_of(x1), shape_of(x2)
    if isinstance(axes, int):
        if axes < 0 or axes > len(a) or axes > len(b):
            raise ValueError(f"tensordot: axes={axes} is out of range for shapes {a} and {b}")
        ax_a, ax_b = list(range(len(a) - axes, len(a))), list(range(axes))
    else:
        ax_a, ax_b = axes
        ax_a = [ax_a] if isinstance(ax_a, int) else list(ax_a)
        ax_b = [ax_b] if isinstance(ax_b, int) else list(ax_b)
        if len(ax_a) != len(ax_b):
            raise ValueError(f"tensordot: axes {axes!r} pair different numbers of axes")
        ax_a = [norm_axis("tensordot", i, len(a)) for i in ax_a]
        ax_b = [norm_axis("tensordot", i, len(b)) for i in ax_b]
    for i, j in zip(ax_a, ax_b):
        if a[i] is not None and b[j] is not None and a[i] != b[j]:
            raise ValueError(f"tensordot: shape mismatch for sum: {a} and {b} along axes {axes!r}")
    out = tuple(d for i, d in enumerate(a) if i not in ax_a) + \
        tuple(d for i, d in enumerate(b) if i not in ax_b)
    return spec(out, _contracted(promote(dtype_of(x1), dtype_of(x2))))


def outer(x1, x2) -> KerasTensor:
    dtype = promote(_converted(x1), _converted(x2))
    return spec((prod(shape_of(x1)), prod(shape_of(x2))), "int32" if dtype == "bool" else dtype)


def einsum(subscripts, *operands, **kwargs) -> KerasTensor:
    """Output labels in order (explicit after '->', else the labels used once, sorted), each
    of the size the operands give it; '...' broadcasts."""
    spec_in, arrow, spec_out = subscripts.replace(" ", "").partition("->")
    terms = spec_in.split(",")
    if len(terms) != len(operands):
        raise ValueError(f"einsum: {subscripts!r} names {len(terms)} operands, got {len(operands)}")
    sizes: dict = {}
    ellipses = []
    for term, x in zip(terms, operands):
        shape = shape_of(x)
        if "..." in term:
            head, tail = term.split("...")
            n = len(shape) - len(head) - len(tail)
            if n < 0:
                raise ValueError(f"einsum: operand of shape {shape} has too few axes for {term!r}")
            ellipses.append(shape[len(head):len(head) + n])
            labels = list(zip(head, shape)) + list(zip(tail, shape[len(head) + n:]))
        else:
            if len(term) != len(shape):
                raise ValueError(f"einsum: {term!r} has {len(term)} labels for an operand of rank {len(shape)}")
            labels = list(zip(term, shape))
        for label, d in labels:
            if not label.isalpha():
                raise ValueError(f"einsum: invalid subscript {label!r} in {subscripts!r}")
            sizes[label] = broadcast_shapes("einsum", (sizes.get(label, 1),), (d,))[0] \
                if label in sizes else d
    ell = broadcast_shapes("einsum", *ellipses) if ellipses else ()
    if arrow:
        out_labels = spec_out
    else:
        counts = {}
        for term in terms:
            for c in term.replace("...", ""):
                counts[c] = counts.get(c, 0) + 1
        out_labels = ("..." if ellipses else "") + "".join(sorted(c for c, n in counts.items() if n == 1))
    head, _, tail = out_labels.partition("...")
    for c in head + tail:
        if c not in sizes:
            raise ValueError(f"einsum: output label {c!r} does not appear in the inputs of {subscripts!r}")
    out = tuple(sizes[c] for c in head) + (ell if "..." in out_labels else ()) + tuple(sizes[c] for c in tail)
    dtype = promote(*[dtype_of(x) for x in operands])
    return spec(out, "int32" if dtype == "bool" else dtype)


# ---------------------------------------------------------------------------------------------
# Shapes and layout


def reshape(x, newshape) -> KerasTensor:
    shape = shape_of(x)
    newshape = (newshape,) if isinstance(newshape, int) else tuple(newshape)
    free = [i for i, d in enumerate(newshape) if d is None or d == -1]
    if len(free) > 1:
        raise ValueError(f"reshape: only one size may be -1 or None, got {newshape}")
    if builtins.any(d is not None and d < -1 for d in newshape):
        raise ValueError(f"reshape: invalid size in {newshape}")
    total = prod(shape)
    known = math.prod(d for d in newshape if d is not None and d != -1)
    out = [None if d == -1 else d for d in newshape]
    if free:
        if total is not None:
            if known == 0 or total % known:
                raise ValueError(f"reshape: cannot reshape a tensor of shape {shape} into {newshape}")
            out[free[0]] = total // known
    elif total is not None and total != known:
        raise ValueError(f"reshape: cannot reshape a tensor of shape {shape} into {newshape}")
    return spec(out, _strong(dtype_of(x)))


def transpose(x, axes=None) -> KerasTensor:
    shape = shape_of(x)
    if axes is None:
        return spec(shape[::-1], _strong(dtype_of(x)))
    axes = [norm_axis("transpose", a, len(shape)) for a in axes]
    if sorted(axes) != list(range(len(shape))):
        raise ValueError(f"transpose: axes {axes} are not a permutation of the {len(shape)} axes of {shape}")
    return spec([shape[a] for a in axes], _strong(dtype_of(x)))


def swapaxes(x, axis1, axis2) -> KerasTensor:
    shape = list(shape_of(x))
    a, b = norm_axis("swapaxes", axis1, len(shape)), norm_axis("swapaxes", axis2, len(shape))
    shape[a], shape[b] = shape[b], shape[a]
    return spec(shape, _strong(dtype_of(x)))


def moveaxis(x, source, destination) -> KerasTensor:
    shape = shape_of(x)
    src = norm_axes("moveaxis", source, len(shape))
    dst = norm_axes("moveaxis", destination, len(shape))
    if len(src) != len(dst):
        raise ValueError("moveaxis: source and destination must have the same number of axes")
    order = [i for i in range(len(shape)) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return spec([shape[i] for i in order], _strong(dtype_of(x)))


def expand_dims(x, axis) -> KerasTensor:
    shape = list(shape_of(x))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    nd = len(shape) + len(axes)
    for a in sorted(norm_axes("expand_dims", axes, nd)):
        shape.insert(a, 1)
    return spec(shape, _strong(dtype_of(x)))


def squeeze(x, axis=None) -> KerasTensor:
    shape = shape_of(x)
    if axis is None:
        return spec([d for d in shape if d != 1], _strong(dtype_of(x)))
    axes = norm_axes("squeeze", axis, len(shape))
    for a in axes:
        if shape[a] not in (1, None):
            raise ValueError(f"squeeze: cannot squeeze axis {a} of shape {shape}")
    return spec([d for i, d in enumerate(shape) if i not in axes], _strong(dtype_of(x)))


def broadcast_to(x, shape) -> KerasTensor:
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if len(shape) < len(shape_of(x)):
        raise ValueError(f"broadcast_to: cannot broadcast a tensor of shape {shape_of(x)} to {shape}")
    out = broadcast_shapes("broadcast_to", shape_of(x), shape)
    for d, want in zip(out, shape):
        if want is not None and d != want and d is not None:
            raise ValueError(f"broadcast_to: cannot broadcast a tensor of shape {shape_of(x)} to {shape}")
    return spec(shape, _strong(dtype_of(x)))


def concatenate(xs, axis=0) -> KerasTensor:
    xs = list(xs)
    if not xs:
        raise ValueError("concatenate: need at least one tensor")
    shapes = [shape_of(t) for t in xs]
    dtype = promote(*[_strong(dtype_of(t)) for t in xs])
    if axis is None:
        sizes = [prod(s) for s in shapes]
        return spec((None if None in sizes else builtins.sum(sizes),), dtype)
    ndim = len(shapes[0])
    if ndim == 0 or builtins.any(len(s) != ndim for s in shapes):
        raise ValueError(f"concatenate: all tensors need the same rank (at least 1), got shapes {shapes}")
    a = norm_axis("concatenate", axis, ndim)
    out = []
    for i in range(ndim):
        dims = [s[i] for s in shapes]
        if i == a:
            out.append(None if None in dims else builtins.sum(dims))
            continue
        known = {d for d in dims if d is not None}
        if len(known) > 1:
            raise ValueError(f"concatenate: sizes along axis {i} differ: shapes {shapes}")
        out.append(known.pop() if known else None)
    return spec(out, dtype)


def stack(x, axis=0) -> KerasTensor:
    xs = list(x)
    if not xs:
        raise ValueError("stack: need at least one tensor")
    shapes = [shape_of(t) for t in xs]
    ndim = len(shapes[0])
    if builtins.any(len(s) != ndim for s in shapes):
        raise ValueError(f"stack: all tensors need the same shape, got {shapes}")
    base = []
    for dims in zip(*shapes):
        known = {d for d in dims if d is not None}
        if len(known) > 1:
            raise ValueError(f"stack: all tensors need the same shape, got {shapes}")
        base.append(known.pop() if known else None)
    a = norm_axis("stack", axis, ndim + 1)
    base.insert(a, len(xs))
    return spec(base, promote(*[_strong(dtype_of(t)) for t in xs]))


def split(x, indices_or_sections, axis=0) -> list:
    shape = shape_of(x)
    a = norm_axis("split", axis, len(shape))
    dim = shape[a]
    dtype = _strong(dtype_of(x))
    if isinstance(indices_or_sections, int):
        n = indices_or_sections
        if n <= 0:
            raise ValueError(f"split: the number of sections must be positive, got {n}")
        if dim is not None and dim % n:
            raise ValueError(f"split: axis {a} of size {dim} does not divide into {n} equal sections")
        sizes = [None if dim is None else dim // n] * n
    else:
        bounds = [0, *[int(i) for i in indices_or_sections], dim]
        sizes = []
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            if hi is None or lo is None:
                sizes.append(None)
                continue
            lo_c = builtins.min(builtins.max(lo + dim if lo < 0 and dim is not None else lo, 0), dim if dim is not None else lo)
            hi_c = builtins.min(builtins.max(hi + dim if hi < 0 and dim is not None else hi, 0), dim if dim is not None else hi)
            sizes.append(builtins.max(hi_c - lo_c, 0))
    return [spec(shape[:a] + (s,) + shape[a + 1:], dtype) for s in sizes]


def unstack(x, num=None, axis=0) -> list:
    shape = shape_of(x)
    a = norm_axis("unstack", axis, len(shape))
    n = shape[a] if shape[a] is not None else num
    if n is None:
        raise ValueError(f"unstack: the size of axis {a} of {shape} is unknown; pass num=")
    return [spec(shape[:a] + shape[a + 1:], _strong(dtype_of(x))) for _ in range(n)]


def tile(x, repeats) -> KerasTensor:
    shape = shape_of(x)
    reps = (repeats,) if isinstance(repeats, int) else tuple(int(r) for r in repeats)
    if builtins.any(r < 0 for r in reps):
        raise ValueError(f"tile: repeats must be non-negative, got {repeats!r}")
    n = builtins.max(len(shape), len(reps))
    shape = (1,) * (n - len(shape)) + shape
    reps = (1,) * (n - len(reps)) + reps
    return spec([None if d is None else d * r for d, r in zip(shape, reps)], _strong(dtype_of(x)))


def repeat(x, repeats, axis=None) -> KerasTensor:
    shape = shape_of(x)
    if axis is None:
        shape, a = (prod(shape),), 0
    else:
        a = norm_axis("repeat", axis, len(shape))
    dim = shape[a]
    if isinstance(repeats, int):
        if repeats < 0:
            raise ValueError(f"repeat: repeats must be non-negative, got {repeats}")
        size = None if dim is None else dim * repeats
    elif isinstance(repeats, KerasTensor):
        size = None
    else:
        import numpy as np
        reps = np.asarray(repeats.numpy() if isinstance(repeats, _core.Tensor) else repeats)
        if reps.ndim == 0:
            size = None if dim is None else dim * int(reps)
        else:
            if reps.size == 1:
                size = None if dim is None else dim * int(reps.reshape(-1)[0])
            elif dim is not None and reps.size != dim:
                raise ValueError(f"repeat: {reps.size} repeats for an axis of size {dim}")
            else:
                size = int(reps.sum())
    return spec(shape[:a] + (size,) + shape[a + 1:], _strong(dtype_of(x)))


def flip(x, axis=None) -> KerasTensor:
    norm_axes("flip", axis, len(shape_of(x)))
    return same(x)


def triangle(x, k=0) -> KerasTensor:
    return same(x)


def pad(x, pad_width, mode="constant", constant_values=None) -> KerasTensor:
    import numpy as np
    if mode != "constant":
        raise ValueError(f"pad: only mode='constant' is supported for now, got {mode!r}")
    shape = shape_of(x)
    given = np.asarray(pad_width, dtype=np.int64)
    if (given < 0).any():
        raise ValueError(f"pad: widths must be non-negative, got {pad_width!r}")
    if not shape:  # a scalar has nothing to pad, whatever the widths say (as the kernel)
        return same(x)
    try:
        widths = np.broadcast_to(given, (len(shape), 2))
    except ValueError:
        raise ValueError(f"pad: pad_width {pad_width!r} does not fit a tensor of shape {shape}") from None
    return spec([None if d is None else d + int(w.sum()) for d, w in zip(shape, widths)],
                 _strong(dtype_of(x)))


def take(x, indices, axis=None) -> KerasTensor:
    shape, ind = shape_of(x), shape_of(indices)
    if axis is None:
        return spec(ind, _strong(dtype_of(x)))
    a = norm_axis("take", axis, len(shape))
    return spec(shape[:a] + ind + shape[a + 1:], _strong(dtype_of(x)))


def take_along_axis(x, indices, axis=None) -> KerasTensor:
    shape, ind = shape_of(x), shape_of(indices)
    if axis is None:
        return spec((prod(ind),), _strong(dtype_of(x)))
    if len(ind) != len(shape):
        raise ValueError(f"take_along_axis: indices of shape {ind} need the rank of x {shape}")
    a = norm_axis("take_along_axis", axis, len(shape))
    out = list(broadcast_shapes("take_along_axis", shape[:a] + (1,) + shape[a + 1:],
                                ind[:a] + (1,) + ind[a + 1:]))
    out[a] = ind[a]
    return spec(out, _strong(dtype_of(x)))


def get_item(x, key) -> KerasTensor:
    """NumPy basic and integer-array indexing; a boolean mask gives one unknown size."""
    shape = shape_of(x)
    key = key if isinstance(key, tuple) else (key,)
    consumed = builtins.sum(_consumes(k) for k in key)
    if builtins.sum(k is Ellipsis for k in key) > 1:
        raise IndexError("get_item: an index can only have a single ellipsis ('...')")
    if consumed > len(shape):
        raise IndexError(f"get_item: too many indices for a tensor of rank {len(shape)}")
    if Ellipsis not in key:
        key = key + (Ellipsis,)
    out, adv_shapes, adv_pos, dim = [], [], None, 0
    for k in key:
        if k is Ellipsis:
            n = len(shape) - consumed
            out.extend(shape[dim:dim + n])
            dim += n
        elif k is None:
            out.append(1)
        elif isinstance(k, slice):
            d = shape[dim]
            if d is None:
                out.append(None)
            else:
                out.append(len(range(*k.indices(d))))
            dim += 1
        elif _is_index_array(k):
            kshape, kdtype = shape_of(k), dtype_of(k)
            if _strong(kdtype) == "bool":
                adv_shapes.append((None,))
                dim += len(kshape)
            else:
                adv_shapes.append(kshape)
                dim += 1
            if adv_pos is None:
                adv_pos = len(out)
            elif adv_pos != len(out):
                adv_pos = 0  # separated advanced indices go first (NumPy)
        else:
            i = operator.index(k)
            d = shape[dim]
            if d is not None and not -d <= i < d:
                raise IndexError(f"get_item: index {i} is out of bounds for axis {dim} with size {d}")
            dim += 1
    if adv_shapes:
        adv = broadcast_shapes("get_item", *adv_shapes)
        out[adv_pos:adv_pos] = adv
    return spec(out, _strong(dtype_of(x)))


def _is_index_array(k) -> bool:
    """Tensors, arrays and sequences index by their values (NumPy's advanced indexing)."""
    import numpy as np
    return isinstance(k, (KerasTensor, _core.Tensor, list, tuple, np.ndarray))


def _consumes(k) -> int:
    if k is None or k is Ellipsis:
        return 0
    if _is_index_array(k) and _strong(dtype_of(k)) == "bool":
        return len(shape_of(k))
    return 1


def slice_(inputs, start_indices, shape) -> KerasTensor:
    in_shape = shape_of(inputs)
    shape = tuple(shape)
    if len(shape) != len(in_shape):
        raise ValueError(f"slice: shape {shape} needs one size per axis of {in_shape}")
    starts = None if isinstance(start_indices, KerasTensor) else list(start_indices)
    out = []
    for i, (d, s) in enumerate(zip(in_shape, shape)):
        if s != -1:
            out.append(s)
        elif d is None or starts is None or isinstance(starts[i], KerasTensor):
            out.append(None)
        else:
            start = int(starts[i])
            start = builtins.max(start + d, 0) if start < 0 else builtins.min(start, d)
            out.append(d - start)
    return spec(out, _strong(dtype_of(inputs)))


def scatter(indices, values, shape) -> KerasTensor:
    return spec(tuple(shape), _strong(dtype_of(values)))


def update(inputs, *args) -> KerasTensor:
    """scatter_update / slice_update: the updated tensor has `inputs`' shape and dtype."""
    return same(inputs)


def meshgrid(*x, indexing="xy") -> list:
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    lengths = [prod(shape_of(v)) for v in x]
    if indexing == "xy" and len(lengths) >= 2:
        lengths[0], lengths[1] = lengths[1], lengths[0]
    return [spec(lengths, _strong(dtype_of(v))) for v in x]


# ---------------------------------------------------------------------------------------------
# Neural-network ops


def axis_softmax(x, axis=-1) -> KerasTensor:
    shape = shape_of(x)
    if shape and axis is not None:
        norm_axes("softmax", axis, len(shape))
    return spec(shape, float_dtype(dtype_of(x)))


def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False) -> KerasTensor:
    shape = list(shape_of(x))
    a = norm_axis("one_hot", axis, len(shape) + 1)
    shape.insert(a, int(num_classes))
    return spec(shape, dtype_name(dtype) if dtype is not None else "float32")


def multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False, **kwargs) -> KerasTensor:
    """one_hot with the class axis at `axis`, then reduced over axis 1 (rank > 1) or 0."""
    num_classes = num_classes if num_classes is not None else kwargs.get("num_tokens")
    if num_classes is None:
        raise ValueError("multi_hot: argument num_classes must be specified")
    shape = list(shape_of(inputs))
    if not shape:
        raise ValueError("multi_hot: inputs must have rank >= 1")
    shape.insert(norm_axis("multi_hot", axis, len(shape) + 1), int(num_classes))
    del shape[1 if len(shape) > 2 else 0]
    return spec(shape, dtype_name(dtype) if dtype is not None else "float32")


def crossentropy(target, output, from_logits=False, axis=-1) -> KerasTensor:
    """categorical and sparse categorical cross-entropy: `output` without its class axis."""
    shape = shape_of(output)
    if not shape:
        raise ValueError("crossentropy: output must have a class axis")
    axes = norm_axes("crossentropy", axis, len(shape))
    return spec([d for i, d in enumerate(shape) if i not in axes], nn_float(dtype_of(output)))


def sparse_crossentropy(target, output, from_logits=False, axis=-1) -> KerasTensor:
    """`output` without its class axis, in float32 (the fused kernel's dtype)."""
    return spec(crossentropy(target, output, from_logits, axis).shape, "float32")


def binary_crossentropy(target, output, from_logits=False) -> KerasTensor:
    shape = broadcast_shapes("binary_crossentropy", shape_of(target), shape_of(output))
    return spec(shape, nn_float(dtype_of(output)))


def normalization(x, *args, **kwargs) -> KerasTensor:
    """batch_normalization: `x`'s shape; float64 kept, else float32."""
    return spec(shape_of(x), nn_float(dtype_of(x)))


def layer_normalization(x, gamma=None, beta=None, *args, **kwargs) -> KerasTensor:
    """`x`'s shape broadcast with `gamma` and `beta`; float64 kept, else float32."""
    shapes = [shape_of(a) for a in (gamma, beta) if a is not None]
    return spec(broadcast_shapes("layer_normalization", shape_of(x), *shapes), nn_float(dtype_of(x)))


def normalize(x, axis=-1, order=2, epsilon=None) -> KerasTensor:
    """`x`'s shape (a scalar becomes shape (1,)); float64 kept, else float32."""
    shape = shape_of(x) or (1,)
    norm_axes("normalize", axis, len(shape))
    return spec(shape, nn_float(dtype_of(x)))


def dot_product_attention(query, key, value, bias=None, *args, **kwargs) -> KerasTensor:
    q, v = shape_of(query), shape_of(value)
    if len(q) not in (3, 4) or len(v) != len(q):
        raise ValueError(f"dot_product_attention: query {q} and value {v} need rank 3 or 4")
    operands = [query, key, value] + ([bias] if bias is not None else [])
    return spec(q[:-1] + v[-1:], nn_float(promote(*[dtype_of(a) for a in operands])))


def _out_size(size, window, stride, dilation, padding):
    if size is None:
        return None
    span = (window - 1) * dilation + 1
    if padding in ("same", "causal"):  # causal: "valid" after a left pad of span - 1
        return -(-size // stride)
    return builtins.max((size - span) // stride + 1, 0)


def _spatial(op, inputs, data_format, rank_hint=None):
    from rskeras.backend.config import image_data_format
    shape = shape_of(inputs)
    fmt = data_format or image_data_format()
    if len(shape) < 3:
        raise ValueError(f"{op}: inputs need a batch, spatial and channel axes, got shape {shape}")
    if fmt == "channels_last":
        return shape[0], shape[1:-1], shape[-1], fmt
    return shape[0], shape[2:], shape[1], fmt


def _tuple(value, n):
    return (value,) * n if isinstance(value, int) else tuple(value)


def _assemble(batch, spatial, channels, fmt):
    return (batch, *spatial, channels) if fmt == "channels_last" else (batch, channels, *spatial)


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1,
         depthwise=False) -> KerasTensor:
    batch, spatial, channels, fmt = _spatial("conv", inputs, data_format)
    k = shape_of(kernel)
    n = len(spatial)
    if len(k) != n + 2:
        raise ValueError(f"conv: kernel of shape {k} does not fit inputs of rank {n + 2}")
    padding = padding.lower() if isinstance(padding, str) else padding
    strides, dilation = _tuple(strides, n), _tuple(dilation_rate, n)
    if depthwise:
        if channels is not None and k[-2] != channels:
            raise ValueError(f"depthwise_conv: kernel {k} expects {k[-2]} input channels, inputs have {channels}")
        out_channels = None if channels is None else channels * k[-1]
    else:
        if channels is not None and k[-2] and channels % k[-2]:
            raise ValueError(f"conv: kernel {k} expects {k[-2]} input channels (per group), inputs have {channels}")
        out_channels = k[-1]
    out = [_out_size(s, w, st, d, padding) for s, w, st, d in zip(spatial, k[:n], strides, dilation)]
    return spec(_assemble(batch, out, out_channels, fmt), float_dtype(promote(dtype_of(inputs), dtype_of(kernel))))


def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    return conv(inputs, kernel, strides, padding, data_format, dilation_rate, depthwise=True)


def separable_conv(inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid",
                   data_format=None, dilation_rate=1) -> KerasTensor:
    mid = depthwise_conv(inputs, depthwise_kernel, strides, padding, data_format, dilation_rate)
    return conv(mid, pointwise_kernel, 1, "valid", data_format, 1)


def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None,
                   data_format=None, dilation_rate=1) -> KerasTensor:
    batch, spatial, channels, fmt = _spatial("conv_transpose", inputs, data_format)
    k = shape_of(kernel)
    n = len(spatial)
    if len(k) != n + 2:
        raise ValueError(f"conv_transpose: kernel of shape {k} does not fit inputs of rank {n + 2}")
    if channels is not None and k[-1] != channels:
        raise ValueError(f"conv_transpose: kernel {k} expects {k[-1]} input channels, inputs have {channels}")
    if output_padding is not None:
        raise ValueError("conv_transpose: output_padding is not supported; leave it None")
    strides, dilation = _tuple(strides, n), _tuple(dilation_rate, n)
    padding = padding.lower()
    out = []
    for size, w, s, d in zip(spatial, k[:n], strides, dilation):
        span = (w - 1) * d + 1
        out.append(None if size is None else
                   size * s if padding == "same" else size * s + builtins.max(span - s, 0))
    return spec(_assemble(batch, out, k[-2], fmt), float_dtype(promote(dtype_of(inputs), dtype_of(kernel))))


def pool(inputs, pool_size, strides=None, padding="valid", data_format=None) -> KerasTensor:
    batch, spatial, channels, fmt = _spatial("pool", inputs, data_format)
    n = len(spatial)
    window = _tuple(pool_size, n)
    strides = window if strides is None else _tuple(strides, n)
    padding = padding.lower()
    out = [_out_size(s, w, st, 1, padding) for s, w, st in zip(spatial, window, strides)]
    return spec(_assemble(batch, out, channels, fmt), float_dtype(dtype_of(inputs)))

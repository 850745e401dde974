"""NumPy-style ops (`keras.ops.numpy`). Broadcasting, axes and dtypes follow NumPy; integer
inputs to float functions (exp, log, sqrt, divide, ...) compute in float32 as keras.ops does.
Every op here is differentiable where the math is, through `rskeras.GradientTape`."""

from __future__ import annotations


from rskeras import _core

Tensor = _core.Tensor


def _b(name):
    def op(x1, x2):
        return _core.binary(name, x1, x2)

    op.__name__ = name
    op.__doc__ = (f"Element-wise `{name}` of `x1` and `x2` with NumPy broadcasting.\n\n"
                  "Raises:\n    ValueError: when the shapes cannot be broadcast together.")
    return op


def _u(name):
    def op(x):
        return _core.unary(name, x)

    op.__name__ = name
    op.__doc__ = f"Element-wise `{name}` of `x` (same shape)."
    return op


add = _b("add")
subtract = _b("subtract")
multiply = _b("multiply")
divide = _b("divide")
true_divide = divide
maximum = _b("maximum")
minimum = _b("minimum")
equal = _b("equal")
not_equal = _b("not_equal")
less = _b("less")
less_equal = _b("less_equal")
greater = _b("greater")
greater_equal = _b("greater_equal")
logical_and = _b("logical_and")
logical_or = _b("logical_or")

negative = _u("negative")
absolute = _u("abs")
abs = absolute  # noqa: A001 - Keras exports ops.abs
sign = _u("sign")
square = _u("square")
sqrt = _u("sqrt")
exp = _u("exp")
log = _u("log")
tanh = _u("tanh")
logical_not = _u("logical_not")


def where(condition, x1=None, x2=None) -> Tensor:
    """`x1` where `condition` is true, else `x2`, broadcasting all three.

    Raises:
        ValueError: when only one of `x1`, `x2` is given (the one-argument form, which returns
            indices, is not supported yet).
    """
    if x1 is None or x2 is None:
        raise ValueError("where: both x1 and x2 must be given")
    return _core.where_(condition, x1, x2)


def clip(x, x_min, x_max) -> Tensor:
    """Values of `x` limited to `[x_min, x_max]` (float32). The gradient is 1 inside the range
    (bounds included) and 0 outside."""
    return _core.clip(x, float(x_min), float(x_max))


def sum(x, axis=None, keepdims=False) -> Tensor:  # noqa: A001
    """Sum over `axis` (int, tuple, or None for all axes). bool sums to int32.

    Raises:
        ValueError: when an axis is out of range or repeated.
    """
    return _core.reduce("sum", x, axis, keepdims)


def mean(x, axis=None, keepdims=False) -> Tensor:
    """Arithmetic mean over `axis`; integer inputs give float32. An empty reduction gives NaN."""
    return _core.reduce("mean", x, axis, keepdims)


def _axes(ndim, axis):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(a + ndim if a < 0 else a for a in axes)


def _empty_reduction(x, axis) -> bool:
    shape = convert_to_tensor(x).shape
    return any(shape[a] == 0 for a in _axes(len(shape), axis) if 0 <= a < len(shape))


def _full_reduced(x, axis, keepdims, value) -> Tensor:
    """The result of reducing an empty axis with an `initial` value: `value` everywhere."""
    import numpy as np

    x = convert_to_tensor(x)
    axes = _axes(x.ndim, axis)
    shape = [1 if i in axes else d for i, d in enumerate(x.shape) if keepdims or i not in axes]
    return _core.convert_to_tensor(np.full(shape, value, dtype=x.dtype))


def max(x, axis=None, keepdims=False, initial=None) -> Tensor:  # noqa: A001
    """Maximum over `axis`; NaN propagates. The gradient is shared evenly between ties.

    Raises:
        ValueError: for a reduction over an empty axis (it has no identity).
    """
    if initial is not None and _empty_reduction(x, axis):
        return _full_reduced(x, axis, keepdims, initial)
    out = _core.reduce("max", x, axis, keepdims)
    return out if initial is None else maximum(out, initial)


def min(x, axis=None, keepdims=False, initial=None) -> Tensor:  # noqa: A001
    """Minimum over `axis`; NaN propagates. The gradient is shared evenly between ties."""
    if initial is not None and _empty_reduction(x, axis):
        return _full_reduced(x, axis, keepdims, initial)
    out = _core.reduce("min", x, axis, keepdims)
    return out if initial is None else minimum(out, initial)


def argmax(x, axis=None, keepdims=False) -> Tensor:
    """int32 index of the first maximum along `axis` (None: of the flattened tensor)."""
    return _core.arg_reduce(x, axis, keepdims, True)


def argmin(x, axis=None, keepdims=False) -> Tensor:
    """int32 index of the first minimum along `axis` (None: of the flattened tensor)."""
    return _core.arg_reduce(x, axis, keepdims, False)


def matmul(x1, x2) -> Tensor:
    """Matrix product with NumPy `matmul` rules: 1-D operands are vectors, leading axes are
    broadcast batch axes. `(..., m, k) @ (..., k, n) -> (..., m, n)`.

    Raises:
        ValueError: when the contracted dimensions differ or batch axes do not broadcast.
    """
    return _core.matmul(x1, x2)


def reshape(x, newshape) -> Tensor:
    """Same elements in a new shape; one size may be -1 (or None) and is inferred.

    Raises:
        ValueError: when the element counts differ.
    """
    return _core.reshape(x, newshape)


def transpose(x, axes=None) -> Tensor:
    """Permute the axes (`axes=None` reverses them)."""
    return _core.transpose(x, None if axes is None else list(axes))


def broadcast_to(x, shape) -> Tensor:
    """`x` broadcast to `shape` (NumPy rules)."""
    return _core.broadcast_to(x, shape)


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
    for a in axes:
        if not 0 <= a < len(shape) or shape[a] != 1:
            raise ValueError(f"squeeze: cannot squeeze axis {a} of shape {tuple(shape)}")
    return reshape(x, [d for i, d in enumerate(shape) if i not in axes])


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


def zeros_like(x, dtype=None) -> Tensor:
    x = convert_to_tensor(x)
    return zeros(x.shape, dtype or x.dtype)


def ones_like(x, dtype=None) -> Tensor:
    x = convert_to_tensor(x)
    return ones(x.shape, dtype or x.dtype)


def convert_to_tensor(x, dtype=None) -> Tensor:
    return _core.convert_to_tensor(x, dtype)

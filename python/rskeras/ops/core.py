"""Core ops (`keras.ops.core`): conversion, casting and gradient control."""

from __future__ import annotations


from typing import TYPE_CHECKING

from rskeras import _core

if TYPE_CHECKING:
    import numpy

Tensor = _core.Tensor


def convert_to_tensor(x, dtype=None, sparse=None, ragged=None) -> Tensor:
    """`x` (array, nested list, scalar, tensor or variable) as a tensor.

    Python ints become int32 and floats float32; NumPy float64 arrays become float32 (the
    default floatx); uint8/int8/int16 arrays become int32. `dtype` casts the result.

    Raises:
        TypeError: for values that cannot be converted (strings, objects).
    """
    return _core.convert_to_tensor(x, dtype)


def convert_to_numpy(x) -> "numpy.ndarray":
    """A NumPy copy of `x`."""
    import numpy as np
    if isinstance(x, Tensor):
        return x.numpy()
    return np.asarray(x)


def cast(x, dtype) -> Tensor:
    """`x` converted to `dtype` ("float32", "int32", "int64", "bool"); floats truncate toward 0."""
    return _core.cast(x, dtype)


def stop_gradient(variable) -> Tensor:
    """The same values, but no gradient flows back through the result."""
    return _core.stop_gradient(variable)


def is_tensor(x) -> bool:
    """True for rskeras tensors (and variables)."""
    return isinstance(x, Tensor)


def shape(x) -> tuple:
    """The shape of `x` as a tuple of ints."""
    import numpy as np
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def dtype(x) -> str:
    """The dtype name of `x`."""
    return convert_to_tensor(x).dtype


def _index_list(op, values, what) -> list:
    import numpy as np

    arr = np.asarray(values.numpy() if isinstance(values, Tensor) else values)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise ValueError(f"{op}: {what} must be a 1-D sequence of ints, got {values!r}")
    return [int(v) for v in arr]


def slice(inputs, start_indices, shape) -> Tensor:  # noqa: A001 - Keras name
    """The block `inputs[start:start + shape]` (per axis), as `jax.lax.dynamic_slice`.

    Args:
        inputs: a tensor of rank R.
        start_indices: R ints (or a 1-D int tensor); a negative start counts from the end,
            and starts are then clamped so that the block fits inside `inputs`.
        shape: R sizes of the block; -1 means "to the end of the axis" from the start.
    Returns:
        a tensor of shape `shape` (with -1 resolved) and `inputs`' dtype; differentiable.
    Raises:
        ValueError: when `start_indices` or `shape` do not have R entries, or a size is
            negative (other than -1) or larger than the axis.
    """
    import builtins

    x = convert_to_tensor(inputs)
    starts = _index_list("slice", start_indices, "start_indices")
    sizes = _index_list("slice", shape, "shape")
    if len(starts) != x.ndim or len(sizes) != x.ndim:
        raise ValueError(
            f"slice: start_indices {starts} and shape {sizes} must both have one entry per axis "
            f"of the input of shape {tuple(x.shape)}"
        )
    key = []
    for dim, start, size in zip(x.shape, starts, sizes):
        start = start + dim if start < 0 else start
        start = builtins.min(builtins.max(start, 0), dim)
        if size == -1:
            size = dim - start
        if not 0 <= size <= dim:
            raise ValueError(
                f"slice: size {size} is invalid for an axis of length {dim} (input shape "
                f"{tuple(x.shape)}, shape {sizes})"
            )
        start = builtins.min(start, dim - size)
        key.append(builtins.slice(start, start + size))
    return x[tuple(key)]


def unstack(x, num=None, axis=0) -> list:
    """The slices of `x` along `axis`, as a list of `x.shape[axis]` tensors of rank R-1
    (differentiable).

    Args:
        num: the expected length of `axis` (None: inferred).
    Raises:
        ValueError: for a scalar `x`, an out-of-range axis, or `num` different from
            `x.shape[axis]`.
    """
    import builtins

    x = convert_to_tensor(x)
    if x.ndim == 0:
        raise ValueError("unstack: cannot unstack a scalar (rank-0) tensor")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"unstack: axis {axis} is out of bounds for a tensor of rank {x.ndim}")
    a = axis + x.ndim if axis < 0 else axis
    n = x.shape[a]
    if num is not None and int(num) != n:
        raise ValueError(f"unstack: num={num} but axis {axis} of {tuple(x.shape)} has length {n}")
    head = (builtins.slice(None),) * a
    return [x[head + (i,)] for i in range(n)]

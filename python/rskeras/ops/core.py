"""Core ops (`keras.ops.core`): conversion, casting and gradient control."""

from __future__ import annotations


from typing import TYPE_CHECKING

from rskeras import _core
from rskeras.ops import shape_rules as R
from rskeras.ops.operation import operation

if TYPE_CHECKING:
    import numpy

Tensor = _core.Tensor


@operation(R.convert_to_tensor, core_call=True)
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


@operation(R.cast, core_call=True)
def cast(x, dtype) -> Tensor:
    """`x` converted to `dtype` ("float32", "int32", "int64", "bool"); floats truncate toward 0."""
    return _core.cast(x, dtype)


@operation(R.same, core_call=True)
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


@operation(R.slice_)
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


@operation(R.unstack)
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


def _linear_rows(op, indices, shape):
    """Row numbers into `shape[:k]` flattened, for `indices` of shape `(n, k)`."""
    import numpy as np

    idx = np.asarray(indices, dtype=np.int64)
    if idx.ndim == 1:
        idx = idx[:, None]
    k = idx.shape[-1]
    idx = idx.reshape(-1, k)  # (..., k): every leading position is one index
    lead = tuple(int(d) for d in shape[:k])
    if k > len(shape) or (idx.size and ((idx < 0).any() or (idx >= np.array(lead)).any())):
        raise IndexError(f"{op}: indices {idx.tolist()} out of range for shape {tuple(shape)}")
    rows = np.ravel_multi_index(tuple(idx.T), lead) if idx.size else np.zeros(0, np.int64)
    return rows.reshape(-1), int(np.prod(lead)), tuple(int(d) for d in shape[k:])


@operation(R.scatter)
def scatter(indices, values, shape) -> Tensor:
    """A tensor of `shape` (float: `values`' dtype, or float32), zero except at `indices`
    `(..., k)` (each a position in the first k axes), where `values` `(..., *shape[k:])` are
    added; repeated indices add up, as in
    Keras/TensorFlow `scatter_nd`. Differentiable in `values`.

    Raises:
        IndexError: for an index outside `shape`.
    """
    shape = tuple(int(d) for d in shape)
    rows, lead, rest = _linear_rows("scatter", indices, shape)
    values = convert_to_tensor(values)
    if values.dtype not in ("float16", "bfloat16", "float32", "float64"):
        values = _core.cast(values, "float32")
    values = _core.reshape(values, (len(rows),) + rest)
    return _core.reshape(_core.scatter_add_rows(values, rows, lead), shape)


@operation(R.update)
def scatter_update(inputs, indices, updates) -> Tensor:
    """`inputs` with the entries at `indices` `(n, k)` replaced by `updates` `(n, ...)`.
    Each index should appear once (repeated ones would add their updates)."""
    inputs = convert_to_tensor(inputs)
    shape = tuple(inputs.shape)
    rows, lead, rest = _linear_rows("scatter_update", indices, shape)
    float_dtype = inputs.dtype if inputs.dtype in ("float16", "bfloat16", "float32", "float64") else "float32"
    updates = _core.reshape(convert_to_tensor(updates, float_dtype), (len(rows),) + rest)
    placed = _core.reshape(_core.scatter_add_rows(updates, rows, lead), shape)
    import numpy as np

    mask = np.zeros(lead, dtype=bool)
    mask[rows] = True
    mask = mask.reshape(shape[: len(shape) - len(rest)] + (1,) * len(rest))
    # The update in the input's dtype first: int32 values do not all survive float32.
    return _core.where_(mask, _core.cast(placed, inputs.dtype), inputs)


@operation(R.update)
def slice_update(inputs, start_indices, updates) -> Tensor:
    """`inputs` with the block `updates` written at `start_indices` (one per axis).
    Differentiable in both.

    Raises:
        ValueError: when the block does not fit inside `inputs` at that position.
    """
    import numpy as np

    from rskeras.ops.numpy import pad

    inputs, updates = convert_to_tensor(inputs), convert_to_tensor(updates)
    starts = [int(s) for s in start_indices]
    if len(starts) != inputs.ndim or updates.ndim != inputs.ndim or any(
            s < 0 or s + u > d for s, u, d in zip(starts, updates.shape, inputs.shape)):
        raise ValueError(
            f"slice_update: updates of shape {tuple(updates.shape)} at {starts} do not fit in "
            f"inputs of shape {tuple(inputs.shape)}"
        )
    widths = [(s, d - s - u) for s, u, d in zip(starts, updates.shape, inputs.shape)]
    padded = pad(_core.cast(updates, inputs.dtype), widths)
    mask = np.zeros(tuple(inputs.shape), dtype=bool)
    mask[tuple(np.s_[s:s + u] for s, u in zip(starts, updates.shape))] = True
    return _core.where_(mask, padded, inputs)


def cond(pred, true_fn, false_fn):
    """`true_fn()` if `pred` is true, else `false_fn()` (eager: only the chosen branch runs)."""
    return true_fn() if bool(pred) else false_fn()

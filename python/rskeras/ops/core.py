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

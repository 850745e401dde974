"""`KerasTensor` (a symbolic tensor: shape and dtype, no data) and the small nested-structure
helpers the Functional API uses.

Calling an operation (a `keras.ops` function or a layer) on KerasTensors records a `Node`
(`rskeras.ops.node`) and returns new KerasTensors whose `_keras_history` is
`KerasHistory(operation, node_index, tensor_index)`: the operation that produced them, which
of its calls (`operation._inbound_nodes[node_index]`) and which output of that call. A
Functional `Model(inputs, outputs)` walks these links back from its outputs to its inputs.
The layout follows Keras 3 (`keras/src/backend/common/keras_tensor.py`).

This module sits in `backend`, below `ops`: the Python operators of a KerasTensor reach the
ops through `set_operator_hook`, which `rskeras.ops` calls when it is imported."""

from __future__ import annotations

from collections import namedtuple

KerasHistory = namedtuple("KerasHistory", ["operation", "node_index", "tensor_index"])


def _no_ops(name, *args):
    raise TypeError(f"KerasTensor operator {name!r} needs rskeras.ops, which is not imported yet")


# `fn(op_name, *args)`: applies the keras.ops function `op_name` to arguments of which one is
# a KerasTensor. Set by `rskeras.ops` (the backend never imports the layers above it).
_OPERATOR_HOOK = [_no_ops]


def set_operator_hook(fn) -> None:
    """Route the Python operators of KerasTensors (`+`, `@`, `x[...]`, ...) to `fn(op_name,
    *args)`; called once by `rskeras.ops`."""
    _OPERATOR_HOOK[0] = fn


# ---------------------------------------------------------------------------------------------
# Nested structures (list / tuple / dict), flattened in Keras's order: dict keys sorted.


def _sorted_keys(d: dict) -> list:
    try:
        return sorted(d)
    except TypeError:  # mixed key types: keep insertion order
        return list(d)


def flatten(structure) -> list:
    """The leaves of a nest of lists, tuples and dicts (dict values in sorted-key order).
    `None` is a leaf. Anything else (tensors, KerasTensors, arrays, numbers) is a leaf."""
    if isinstance(structure, (list, tuple)):
        out = []
        for item in structure:
            out.extend(flatten(item))
        return out
    if isinstance(structure, dict):
        out = []
        for key in _sorted_keys(structure):
            out.extend(flatten(structure[key]))
        return out
    return [structure]


def map_structure(fn, structure):
    """`structure` with `fn` applied to every leaf (same nesting; tuples stay tuples)."""
    if isinstance(structure, list):
        return [map_structure(fn, x) for x in structure]
    if isinstance(structure, tuple):
        if hasattr(structure, "_fields"):  # namedtuple
            return type(structure)(*[map_structure(fn, x) for x in structure])
        return tuple(map_structure(fn, x) for x in structure)
    if isinstance(structure, dict):
        return {k: map_structure(fn, v) for k, v in structure.items()}
    return fn(structure)


def pack_sequence_as(structure, flat_values):
    """Rebuild `structure`'s nesting from `flat_values` given in `flatten` order.

    Raises:
        ValueError: when the number of values differs from the number of leaves.
    """
    flat_values = list(flat_values)
    n = len(flatten(structure))
    if n != len(flat_values):
        raise ValueError(f"pack_sequence_as: the structure has {n} leaves, got {len(flat_values)} values")
    # A module-level recursion (not a closure that refers to itself, which would be a
    # reference cycle keeping the values, tensors and their masks alive until a gc pass).
    return _pack(structure, iter(flat_values))


def _pack(s, it):
    if isinstance(s, list):
        return [_pack(x, it) for x in s]
    if isinstance(s, tuple):
        items = [_pack(x, it) for x in s]
        return type(s)(*items) if hasattr(s, "_fields") else tuple(items)
    if isinstance(s, dict):
        packed = {k: _pack(s[k], it) for k in _sorted_keys(s)}
        return {k: packed[k] for k in s}
    return next(it)


def any_symbolic(*structures) -> bool:
    """True when any leaf of the given structures is a `KerasTensor`."""
    for s in structures:
        if isinstance(s, KerasTensor):
            return True
        if isinstance(s, (list, tuple, dict)) and any(isinstance(x, KerasTensor) for x in flatten(s)):
            return True
    return False


# ---------------------------------------------------------------------------------------------


def _standardize_dtype(dtype) -> str:
    if dtype is None:
        from rskeras.backend.config import floatx

        return floatx()
    name = getattr(dtype, "name", None)
    if isinstance(name, str) and not isinstance(dtype, str):
        dtype = name  # numpy dtypes, policies
    dtype = str(dtype)
    return {"float": "float32", "int": "int32", "bool": "bool"}.get(dtype, dtype)


class KerasTensor:
    """A symbolic tensor: a shape (batch axis first; None where unknown) and a dtype, with no
    data. `keras.Input(...)` returns one; calling a layer on KerasTensors returns more, and
    `keras.Model(inputs, outputs)` turns the recorded calls into a model.

    Args:
        shape: a tuple of ints or None.
        dtype: the element type (default `keras.config.floatx()`).
        sparse: must be False (sparse tensors are not supported).
        name: a name; default "keras_tensor", made unique.

    Attributes:
        shape, dtype, ndim, name, sparse; `_keras_history`: `KerasHistory(operation,
        node_index, tensor_index)` of the layer call that produced it (None for a free-standing
        KerasTensor); `_keras_mask`: a boolean KerasTensor describing the mask the layer
        call attaches to the real output (see `Layer.compute_mask`), or None.

    Python operators (`+ - * / // % ** @`, unary `-`, `abs`, comparisons `< <= > >=`,
    `&`, `|`, `~`, and indexing `x[...]`) on KerasTensors record an operation node, as
    `keras.ops` does on symbolic tensors in Keras. A KerasTensor has no value: using it as a
    boolean or converting it to NumPy raises `TypeError`; `keras.ops` functions accept it and
    infer their output's shape and dtype by rule (`Operation.compute_output_spec`).
    """

    __array_ufunc__ = None  # NumPy defers `array + kt` to KerasTensor.__radd__
    _keras_mask = None

    def __init__(self, shape, dtype="float32", sparse=False, name=None, record_history=True):
        from rskeras.backend import naming
        from rskeras.backend.variables import standardize_shape

        self.shape = standardize_shape(shape)
        self.dtype = _standardize_dtype(dtype)
        if sparse:
            raise ValueError("KerasTensor: sparse tensors are not supported")
        self.sparse = False
        self.name = name or naming.uniquify("keras_tensor")
        self._keras_history = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def reshape(self, newshape):
        return _OPERATOR_HOOK[0]("reshape", self, tuple(newshape))

    def __repr__(self) -> str:
        return (f"<KerasTensor shape={self.shape}, dtype={self.dtype}, sparse={self.sparse}, "
                f"name={self.name}>")

    def __bool__(self):
        raise TypeError("A symbolic KerasTensor cannot be used as a boolean (it has no value).")

    def __array__(self, *args, **kwargs):
        raise TypeError(
            f"{self!r} is symbolic: it has no value, so it cannot be converted to a NumPy array "
            "or a tensor. On KerasTensors use layers, or the Python operators (+, -, *, /, @, "
            "x[...]), which record an operation; wrap other keras.ops calls in a layer "
            "(a custom Layer whose call() uses them)."
        )

    def __iter__(self):
        raise TypeError("A symbolic KerasTensor is not iterable; index it with x[i] instead.")

    def __len__(self):
        raise TypeError("len() of a symbolic KerasTensor is not defined; use x.shape[0].")

    # Operators: each is the `keras.ops` function of that name applied symbolically.
    def _op(self, name, *args):
        return _OPERATOR_HOOK[0](name, *args)

    def __add__(self, other): return self._op("add", self, other)
    def __radd__(self, other): return self._op("add", other, self)
    def __sub__(self, other): return self._op("subtract", self, other)
    def __rsub__(self, other): return self._op("subtract", other, self)
    def __mul__(self, other): return self._op("multiply", self, other)
    def __rmul__(self, other): return self._op("multiply", other, self)
    def __truediv__(self, other): return self._op("true_divide", self, other)
    def __rtruediv__(self, other): return self._op("true_divide", other, self)
    def __floordiv__(self, other): return self._op("floor_divide", self, other)
    def __rfloordiv__(self, other): return self._op("floor_divide", other, self)
    def __mod__(self, other): return self._op("mod", self, other)
    def __rmod__(self, other): return self._op("mod", other, self)
    def __pow__(self, other): return self._op("power", self, other)
    def __rpow__(self, other): return self._op("power", other, self)
    def __matmul__(self, other): return self._op("matmul", self, other)
    def __rmatmul__(self, other): return self._op("matmul", other, self)
    def __neg__(self): return self._op("negative", self)
    def __pos__(self): return self
    def __abs__(self): return self._op("absolute", self)
    def __lt__(self, other): return self._op("less", self, other)
    def __le__(self, other): return self._op("less_equal", self, other)
    def __gt__(self, other): return self._op("greater", self, other)
    def __ge__(self, other): return self._op("greater_equal", self, other)
    def __and__(self, other): return self._op("logical_and", self, other)
    def __rand__(self, other): return self._op("logical_and", other, self)
    def __or__(self, other): return self._op("logical_or", self, other)
    def __ror__(self, other): return self._op("logical_or", other, self)
    def __invert__(self): return self._op("logical_not", self)
    def __getitem__(self, key): return self._op("get_item", self, key)

    # Identity semantics (Keras keeps them too): KerasTensors are graph keys.
    __hash__ = object.__hash__

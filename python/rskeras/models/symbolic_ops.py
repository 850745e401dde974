"""Operators on `KerasTensor`s: `x + y`, `x * 2`, `x @ w`, `x[:, 0]`... record a node of a
`SymbolicOp`, a weightless internal layer that applies the matching `keras.ops` function.
`symbolic_op(name, *args, **kwargs)` does the same for any `keras.ops` function name; a
`keras.ops` function can hand its call to it when an argument is a KerasTensor
(`if any_symbolic(args, kwargs): return symbolic_op("exp", x)`), as Keras 3's ops do.

Keras 3 does the same with its `Operation` classes (`keras/src/ops/numpy.py`: `Add`,
`Multiply`, ...). In a saved Functional config they appear with the module
`"keras.src.ops.numpy"` and those class names, so files stay readable by Keras. They are not
part of `model.layers` (Keras lists only layers there), but `summary()` shows them."""

from __future__ import annotations

from rskeras.backend import naming
from rskeras.backend.keras_tensor import any_symbolic
from rskeras.layers.layer import Layer

# op name -> the Keras 3 Operation class name (keras/src/ops/numpy.py)
KERAS_CLASS_NAMES = {
    "add": "Add", "subtract": "Subtract", "multiply": "Multiply", "true_divide": "TrueDivide",
    "divide": "Divide", "floor_divide": "FloorDivide", "mod": "Mod", "power": "Power",
    "matmul": "Matmul", "negative": "Negative", "absolute": "Absolute", "less": "Less",
    "less_equal": "LessEqual", "greater": "Greater", "greater_equal": "GreaterEqual",
    "logical_and": "LogicalAnd", "logical_or": "LogicalOr", "logical_not": "LogicalNot",
    "get_item": "GetItem", "reshape": "Reshape",
}
OP_NAMES = {v: k for k, v in KERAS_CLASS_NAMES.items()}
KERAS_MODULE = "keras.src.ops.numpy"


def _class_name(op_name: str) -> str:
    return KERAS_CLASS_NAMES.get(op_name) or "".join(p.capitalize() for p in op_name.split("_"))


def _keras_module(fn) -> str:
    """Keras's module for the op: rskeras.ops.nn -> keras.src.ops.nn, and so on."""
    module = getattr(fn, "__module__", "") or ""
    family = module.rsplit(".", 1)[-1]
    return f"keras.src.ops.{family}" if family in ("numpy", "nn", "core", "math") else KERAS_MODULE


class SymbolicOp(Layer):
    """A `keras.ops` function recorded as a graph node (weightless, shape-agnostic).

    Args:
        op_name: the `keras.ops` function name ("add", "multiply", "get_item", "exp", ...).
        name: the node name (default: `op_name`, made unique).

    Raises:
        ValueError: for a name that is not a `keras.ops` function.
    """

    def __init__(self, op_name, name=None, **kwargs):
        from rskeras import ops

        fn = getattr(ops, op_name, None)
        if not callable(fn) or op_name.startswith("_"):
            raise ValueError(f"SymbolicOp: {op_name!r} is not a keras.ops function")
        kwargs.pop("dtype", None)
        kwargs.pop("trainable", None)
        super().__init__(name=name or naming.uniquify(op_name), **kwargs)
        self.op_name = op_name
        self._fn = fn
        self.built = True

    def __call__(self, *args, **kwargs):
        kwargs.pop("training", None)
        kwargs.pop("mask", None)
        if any_symbolic(args, kwargs):
            return self._symbolic_call(*args, **kwargs)
        return self.call(*args, **kwargs)

    def call(self, *args, **kwargs):
        if self.op_name == "get_item" and isinstance(args[1], list):
            args = (args[0], tuple(args[1]))  # a tuple key saved as a JSON list
        return self._fn(*args, **kwargs)

    def _warn_mask_dropped(self, stacklevel=2) -> None:
        """Operations carry no masks; Keras 3's ops drop them silently too."""

    def get_config(self) -> dict:
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        raise TypeError("SymbolicOp.from_config: use symbolic_op_from_record")

    def __repr__(self) -> str:
        return f"<SymbolicOp {self.op_name} name={self.name}>"


def symbolic_op(op_name, *args, **kwargs):
    """Apply the op `op_name` to arguments of which at least one is a KerasTensor: records a
    node and returns the output KerasTensor (shape and dtype found by running the op on
    zeros)."""
    return SymbolicOp(op_name)(*args, **kwargs)


def serialize_symbolic_op(op) -> dict:
    return {"module": _keras_module(op._fn), "class_name": _class_name(op.op_name),
            "config": {"name": op.name}, "registered_name": None}


def symbolic_op_from_record(class_name, config) -> SymbolicOp:
    """Rebuild an op node's layer from its saved class name ("Add") and config.

    Raises:
        ValueError: for an operation class that has no symbolic equivalent here.
    """
    from rskeras import ops
    from rskeras.backend.naming import to_snake_case

    op_name = OP_NAMES.get(class_name) or to_snake_case(class_name or "")
    if not callable(getattr(ops, op_name, None)):
        raise ValueError(f"Unknown operation {class_name!r}: keras.ops has no {op_name!r} here")  # noqa: TRY004
    return SymbolicOp(op_name, name=(config or {}).get("name"))

"""`Operation`, as in Keras 3 (`keras/src/ops/operation.py`): something that can be called on
tensors (`call`) or on symbolic `KerasTensor`s (`symbolic_call`, which infers the outputs with
`compute_output_spec` and records a `Node`). Every `keras.ops` function is one (an
`OpFunction` whose output spec comes from its shape/dtype rule in `shape_rules`), and `Layer`
subclasses it.

The op functions themselves stay plain functions on the eager path: `operation(rule)` wraps
a function so that a call with a KerasTensor among its arguments goes to
`OpFunction(name).symbolic_call(...)`, and any other call runs the function as before.

While a layer infers its outputs by running its `call` on KerasTensors, calls are made inside
`spec_scope()`: outputs are inferred, but no Node is recorded, so the only node of that call
is the layer's own."""

from __future__ import annotations

import contextlib
import functools
import threading

from rskeras.backend import naming
from rskeras.backend.keras_tensor import KerasTensor, any_symbolic, set_operator_hook
from rskeras.ops.node import Node

_STATE = threading.local()


@contextlib.contextmanager
def spec_scope():
    """Symbolic calls inside infer their outputs but record no `Node` (used while a layer's
    `call` runs on KerasTensors to infer the layer's outputs)."""
    depth = getattr(_STATE, "spec_depth", 0)
    _STATE.spec_depth = depth + 1
    try:
        yield
    finally:
        _STATE.spec_depth = depth


def recording() -> bool:
    """Whether symbolic calls on this thread record Nodes (False inside `spec_scope`)."""
    return not getattr(_STATE, "spec_depth", 0)


class Operation:
    """A callable computation with a symbolic form (Keras 3's `Operation`).

    Subclasses implement `call(*args, **kwargs)` on tensors and
    `compute_output_spec(*args, **kwargs)`, which returns KerasTensors of the outputs' shapes
    (None where unknown) and dtypes without computing anything. Calling the operation on
    arguments that include a KerasTensor runs `symbolic_call`; otherwise `call`.

    Args:
        name: the name of its graph nodes (default: the snake-case class name, made unique).
    """

    # The keyword arguments `call` takes that a model passes on (Layer: from its signature).
    _call_accepts = frozenset()

    def __init__(self, name=None):
        self.name = name or naming.uniquify(naming.to_snake_case(type(self).__name__))

    def __call__(self, *args, **kwargs):
        if any_symbolic(args, kwargs):
            return self.symbolic_call(*args, **kwargs)
        return self.call(*args, **kwargs)

    def symbolic_call(self, *args, **kwargs):
        """The output KerasTensors of a call on KerasTensors (from `compute_output_spec`),
        recorded as a `Node` of this operation unless inside `spec_scope()`."""
        outputs = self.compute_output_spec(*args, **kwargs)
        if recording():
            Node(self, call_args=args, call_kwargs=kwargs, outputs=outputs)
        return outputs

    def call(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not implement call()")

    def compute_output_spec(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not implement compute_output_spec()")


# ---------------------------------------------------------------------------------------------
# keras.ops functions as Operations

# op name -> (the eager function, its shape/dtype rule)
_OPS: dict = {}

# op name -> the Keras 3 Operation class name where it is not the CamelCase of the name
# (keras/src/ops/numpy.py); saved Functional configs name op nodes by these classes.
KERAS_CLASS_NAMES = {
    "true_divide": "TrueDivide", "matmul": "Matmul", "absolute": "Absolute", "abs": "Absolute",
    "get_item": "GetItem",
}


def keras_class_name(op_name: str) -> str:
    """The Keras 3 class of the op ("add" -> "Add", "get_item" -> "GetItem")."""
    return KERAS_CLASS_NAMES.get(op_name) or "".join(p.capitalize() for p in op_name.split("_"))


def op_name_of_class(class_name: str) -> str | None:
    """The op a Keras 3 Operation class name stands for ("Add" -> "add"), or None."""
    for name in (naming.to_snake_case(class_name or ""),
                 *[k for k, v in KERAS_CLASS_NAMES.items() if v == class_name]):
        if name in _OPS:
            return name
    return None


def op_names() -> list:
    """The names of the `keras.ops` functions registered as Operations."""
    return sorted(_OPS)


def register(name: str, fn, rule) -> None:
    """Register the eager function `fn` and its shape/dtype `rule` (same arguments, returns
    the output KerasTensors) as the op `name`."""
    _OPS[name] = (fn, rule)


class OpFunction(Operation):
    """A `keras.ops` function as an Operation: `call` runs the function, `compute_output_spec`
    applies its rule (no kernel runs).

    Args:
        op_name: a registered op ("add", "exp", "get_item", "conv", ...).
        name: the node name (default: `op_name`, made unique).

    Raises:
        ValueError: for a name that is not a registered `keras.ops` function.
    """

    def __init__(self, op_name, name=None):
        if op_name not in _OPS:
            raise ValueError(f"OpFunction: {op_name!r} is not a keras.ops function with a shape rule")
        super().__init__(name=name or naming.uniquify(op_name))
        self.op_name = op_name
        self._fn, self._rule = _OPS[op_name]

    def call(self, *args, **kwargs):
        if self.op_name == "get_item" and isinstance(args[1], list):
            args = (args[0], tuple(args[1]))  # a tuple key saved as a JSON list
        return self._fn(*args, **kwargs)

    def compute_output_spec(self, *args, **kwargs):
        return self._rule(*args, **kwargs)

    @property
    def keras_module(self) -> str:
        """Keras's module for the op class: rskeras.ops.nn -> "keras.src.ops.nn"."""
        family = (getattr(self._fn, "__module__", "") or "").rsplit(".", 1)[-1]
        return f"keras.src.ops.{family}" if family in ("numpy", "nn", "core", "math") \
            else "keras.src.ops.numpy"

    def get_config(self) -> dict:
        return {"name": self.name}

    def __repr__(self) -> str:
        return f"<OpFunction {self.op_name} name={self.name}>"


def symbolic_op(op_name, *args, **kwargs):
    """Apply the op `op_name` to arguments of which at least one is a KerasTensor: the output
    KerasTensor(s) by the op's rule, recorded as a node (outside `spec_scope`)."""
    if not recording():
        return _OPS[op_name][1](*args, **kwargs)
    return OpFunction(op_name).symbolic_call(*args, **kwargs)


def _has_keras_tensor(values) -> bool:
    """Whether a KerasTensor is among `values` or one level inside them (a list of tensors,
    as concatenate takes)."""
    for a in values:
        t = type(a)
        if t is KerasTensor:
            return True
        if (t is list or t is tuple) and any(type(v) is KerasTensor for v in a):
            return True
    return False


def _dispatcher(fn, op_name):
    """`fn` behind a symbolic check: a KerasTensor among the arguments (or one level inside a
    list or tuple argument) sends the call to `symbolic_op(op_name, ...)`. The eager path pays
    one type test per argument, about 0.3 us a call. (A wrapper generated with `fn`'s exact
    parameters costs 0.1 us, but compiling one per op adds 5-8 ms to `import rskeras`.)"""

    @functools.wraps(fn)
    def op(*args, **kwargs):
        for a in args:
            t = type(a)
            if t is KerasTensor or ((t is list or t is tuple) and _has_keras_tensor(a)):
                return symbolic_op(op_name, *args, **kwargs)
        if kwargs and _has_keras_tensor(kwargs.values()):
            return symbolic_op(op_name, *args, **kwargs)
        return fn(*args, **kwargs)

    return op


def _core_call_dispatcher(fn, op_name):
    """`fn` run first, its symbolic form on TypeError: for a function that hands its
    arguments straight to one `_core` entry, which raises TypeError for a KerasTensor before
    anything runs. The eager path then costs one frame (about 0.1 us), not the type tests."""

    @functools.wraps(fn)
    def op(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except TypeError:
            if not (_has_keras_tensor(args) or kwargs and _has_keras_tensor(kwargs.values())):
                raise
        return symbolic_op(op_name, *args, **kwargs)

    return op


def operation(rule, name=None, core_call=False):
    """Decorator: make the op function an Operation with the shape/dtype `rule` (a function
    of the op's arguments returning its output KerasTensors). Calls with a KerasTensor among
    the arguments return `symbolic_op(name, ...)`; others run the function. `core_call=True`
    marks a function whose body is one `_core` call on its arguments (see
    `_core_call_dispatcher`), which needs no check before it runs."""

    def decorate(fn):
        op_name = name or fn.__name__
        op = (_core_call_dispatcher if core_call else _dispatcher)(fn, op_name)
        op.op_name = op_name
        register(op_name, fn, rule)
        return op

    return decorate


set_operator_hook(symbolic_op)

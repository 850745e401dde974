"""The weight constraints of `keras.constraints` (Keras 3, `keras/src/constraints/constraints.py`):
`Constraint`, `MaxNorm`, `MinMaxNorm`, `NonNeg`, `UnitNorm`.

A constraint is a callable `w -> projected w` of the same shape; the optimizer assigns
`constraint(variable)` to each variable that has one after every update."""

from __future__ import annotations

from rskeras import ops
from rskeras.backend.config import epsilon


def _as_float_tensor(w):
    w = ops.convert_to_tensor(w)
    if not str(w.dtype).startswith(("float", "bfloat")):
        w = ops.cast(w, "float32")
    return w


def _norms(w, axis):
    """`sqrt(sum(w**2, axis, keepdims=True))` (`axis` an int or a list/tuple of ints)."""
    if isinstance(axis, list):
        axis = tuple(axis)
    return ops.sqrt(ops.sum(ops.square(w), axis=axis, keepdims=True))


class Constraint:
    """Base class of the weight constraints (Keras 3 `keras.constraints.Constraint`).

    Subclasses override `__call__(w)`, which returns the projection of `w` (same shape),
    and `get_config()`; `from_config(config)` is `cls(**config)`. The base class returns
    `w` unchanged and has an empty config.
    """

    def __call__(self, w):
        """The projected weight; the base class returns `w` unchanged."""
        return w

    def get_config(self) -> dict:
        """The constructor arguments as a JSON-able dict (empty for the base class)."""
        return {}

    @classmethod
    def from_config(cls, config: dict):
        """`cls(**config)`: the inverse of `get_config`."""
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.get_config() == other.get_config()

    __hash__ = object.__hash__


class MaxNorm(Constraint):
    """Caps the L2 norm of the weight vectors along `axis` at `max_value` (Keras 3
    `keras.constraints.MaxNorm`, alias `max_norm`):

        norms = sqrt(sum(w**2, axis, keepdims=True))
        w * clip(norms, 0, max_value) / (epsilon + norms)

    with `epsilon = keras.config.epsilon()`. For a `Dense` kernel `(input_dim, units)`,
    `axis=0` constrains each unit's incoming weights; for a `Conv2D` kernel
    `(kh, kw, in, out)`, use `axis=[0, 1, 2]`.

    Args:
        max_value: the largest norm (default 2).
        axis: an int or a list of ints (default 0).
    """

    def __init__(self, max_value=2, axis=0):
        self.max_value = max_value
        self.axis = axis

    def __call__(self, w):
        w = _as_float_tensor(w)
        norms = _norms(w, self.axis)
        desired = ops.clip(norms, 0, self.max_value)
        return w * (desired / (epsilon() + norms))

    def get_config(self) -> dict:
        return {"max_value": self.max_value, "axis": self.axis}


class MinMaxNorm(Constraint):
    """Keeps the L2 norm of the weight vectors along `axis` between `min_value` and
    `max_value` (Keras 3 `keras.constraints.MinMaxNorm`, alias `min_max_norm`):

        norms = sqrt(sum(w**2, axis, keepdims=True))
        desired = rate * clip(norms, min_value, max_value) + (1 - rate) * norms
        w * desired / (epsilon + norms)

    with `epsilon = keras.config.epsilon()`; `rate=1.0` enforces the bounds at once, a
    smaller rate moves the norms towards them step by step.

    Args:
        min_value: the smallest norm (default 0.0).
        max_value: the largest norm (default 1.0).
        rate: the enforcement rate (default 1.0).
        axis: an int or a list of ints (default 0).
    """

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = min_value
        self.max_value = max_value
        self.rate = rate
        self.axis = axis

    def __call__(self, w):
        w = _as_float_tensor(w)
        norms = _norms(w, self.axis)
        desired = (self.rate * ops.clip(norms, self.min_value, self.max_value)
                   + (1 - self.rate) * norms)
        return w * (desired / (epsilon() + norms))

    def get_config(self) -> dict:
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}


class NonNeg(Constraint):
    """Makes the weights non-negative: `maximum(w, 0)` (Keras 3
    `keras.constraints.NonNeg`, alias `non_neg`). No arguments."""

    def __call__(self, w):
        w = _as_float_tensor(w)
        return ops.maximum(w, 0)


class UnitNorm(Constraint):
    """Scales the weight vectors along `axis` to unit L2 norm (Keras 3
    `keras.constraints.UnitNorm`, alias `unit_norm`):
    `w / (epsilon + sqrt(sum(w**2, axis, keepdims=True)))` with
    `epsilon = keras.config.epsilon()`.

    Args:
        axis: an int or a list of ints (default 0).
    """

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        w = _as_float_tensor(w)
        return w / (epsilon() + _norms(w, self.axis))

    def get_config(self) -> dict:
        return {"axis": self.axis}


# Keras 3 exports the snake_case names as aliases of the classes themselves.
max_norm = MaxNorm
min_max_norm = MinMaxNorm
non_neg = NonNeg
unit_norm = UnitNorm

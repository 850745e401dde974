"""The weight and activity penalties of `keras.regularizers` (Keras 3,
`keras/src/regularizers/regularizers.py`): `Regularizer`, `L1`, `L2`, `L1L2`,
`OrthogonalRegularizer`.

A regularizer is a callable `x -> scalar tensor` (computed with `rskeras.ops`, so it is
differentiated by the tape); a layer adds the penalties of its weights and of its outputs
to `layer.losses`, and `fit` adds those to the training loss."""

from __future__ import annotations

import math

from rskeras import ops
from rskeras.backend.config import epsilon


def validate_float_arg(value, name: str) -> float:
    """`value` as a float, when it is a finite non-negative number (Keras's
    `validate_float_arg`).

    Raises:
        ValueError: for a negative, infinite or NaN value, a bool, or a non-number (a string,
            None, a list), naming the argument and the value.
    """
    is_number = hasattr(value, "__float__") and not isinstance(value, (str, bytes))
    if isinstance(value, bool) or type(value).__name__ in ("bool", "bool_") or not is_number:
        raise ValueError(
            f"Invalid value for argument {name}: expected a non-negative float. "
            f"Received: {name}={value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if math.isnan(number) or math.isinf(number) or number < 0:
        raise ValueError(
            f"Invalid value for argument {name}: expected a non-negative float. "
            f"Received: {name}={value!r}")
    return number


def _as_float_tensor(x):
    x = ops.convert_to_tensor(x)
    if not str(x.dtype).startswith(("float", "bfloat")):
        x = ops.cast(x, "float32")
    return x


class Regularizer:
    """Base class of the regularizers (Keras 3 `keras.regularizers.Regularizer`).

    A regularizer maps a tensor (a weight, or a layer's output for `activity_regularizer`)
    to a scalar penalty that is added to the loss. Subclasses override `__call__(x)` and
    `get_config()`; `from_config(config)` is `cls(**config)`.

    Any callable `x -> scalar tensor` works as a regularizer too; a subclass of this class
    can also be saved in configs (`get_config`).
    """

    def __call__(self, x):
        """The penalty of `x`: the base class gives a zero scalar in `x`'s float dtype."""
        x = _as_float_tensor(x)
        return ops.zeros((), dtype=x.dtype)

    def get_config(self) -> dict:
        """The constructor arguments as a JSON-able dict.

        Raises:
            NotImplementedError: in the base class, as in Keras.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement get_config()")

    @classmethod
    def from_config(cls, config: dict):
        """`cls(**config)`: the inverse of `get_config`."""
        return cls(**config)

    def __repr__(self) -> str:
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        except NotImplementedError:
            args = ""
        return f"{type(self).__name__}({args})"

    def __eq__(self, other) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        try:
            return self.get_config() == other.get_config()
        except NotImplementedError:
            return self is other

    __hash__ = object.__hash__


class L1L2(Regularizer):
    """Both penalties: `l1 * sum(abs(x)) + l2 * sum(square(x))` (Keras 3
    `keras.regularizers.L1L2`, alias `l1_l2`).

    Args:
        l1: non-negative float, the L1 factor (default 0.0; None means 0.0).
        l2: non-negative float, the L2 factor (default 0.0; None means 0.0).

    A term whose factor is 0 is left out. As in Keras 3, the string names "l1_l2" and
    "l1l2" give `L1L2()`, whose factors are both 0.

    Raises:
        ValueError: when a factor is negative, infinite, NaN or not a number.
    """

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = validate_float_arg(0.0 if l1 is None else l1, "l1")
        self.l2 = validate_float_arg(0.0 if l2 is None else l2, "l2")

    def __call__(self, x):
        x = _as_float_tensor(x)
        penalty = ops.zeros((), dtype=x.dtype)
        if self.l1:
            penalty = penalty + self.l1 * ops.sum(ops.abs(x))
        if self.l2:
            penalty = penalty + self.l2 * ops.sum(ops.square(x))
        return penalty

    def get_config(self) -> dict:
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """The L1 penalty `l1 * sum(abs(x))` (Keras 3 `keras.regularizers.L1`, alias `l1`).

    Args:
        l1: non-negative float, the factor (default 0.01; None means 0.01).

    Raises:
        ValueError: when `l1` is negative, infinite, NaN or not a number.
    """

    def __init__(self, l1=0.01):
        self.l1 = validate_float_arg(0.01 if l1 is None else l1, "l1")

    def __call__(self, x):
        x = _as_float_tensor(x)
        return self.l1 * ops.sum(ops.abs(x))

    def get_config(self) -> dict:
        return {"l1": self.l1}


class L2(Regularizer):
    """The L2 penalty `l2 * sum(square(x))` (Keras 3 `keras.regularizers.L2`, alias `l2`;
    there is no factor 1/2).

    Args:
        l2: non-negative float, the factor (default 0.01; None means 0.01).

    Raises:
        ValueError: when `l2` is negative, infinite, NaN or not a number.
    """

    def __init__(self, l2=0.01):
        self.l2 = validate_float_arg(0.01 if l2 is None else l2, "l2")

    def __call__(self, x):
        x = _as_float_tensor(x)
        return self.l2 * ops.sum(ops.square(x))

    def get_config(self) -> dict:
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """A penalty that pushes the rows (or columns) of a matrix towards being orthogonal
    (Keras 3 `keras.regularizers.OrthogonalRegularizer`, alias `orthogonal_regularizer`).

    For `mode="rows"`, with `u_i` the rows of `x` scaled to unit L2 norm (norms below
    `keras.config.epsilon()` are raised to it) and `n` the number of rows:

        penalty = factor * 0.5 * sum_{i != j} |u_i . u_j| / (n * (n - 1) / 2)

    that is `factor` times the mean absolute cosine over the `n * (n - 1) / 2` pairs of
    distinct rows (each pair appears twice in the sum, hence the 0.5): the formula of
    Keras 3's source (`factor * 0.5 * sum(abs(product * (1 - eye(n)))) / num_pairs`); 0 for
    orthogonal rows, `factor` for parallel ones.
    `mode="columns"` does the same with the columns. For a `Dense` kernel
    `(input_dim, units)`, "rows" acts on the input features, "columns" on the units.

    Args:
        factor: non-negative float (default 0.01).
        mode: "rows" (default) or "columns".

    Raises:
        ValueError: for a bad `factor` or `mode`; when called on a tensor whose rank is not
            2, or with fewer than 2 rows (columns), where the mean over pairs is undefined.
    """

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = validate_float_arg(factor, "factor")
        if mode not in ("rows", "columns"):
            raise ValueError(
                'Invalid value for argument `mode`. Expected one of {"rows", "columns"}. '
                f"Received: mode={mode!r}")
        self.mode = mode

    def __call__(self, x):
        x = _as_float_tensor(x)
        if x.ndim != 2:
            raise ValueError(
                "Inputs to OrthogonalRegularizer must have rank 2. "
                f"Received: inputs.shape={tuple(x.shape)}")
        axis = 1 if self.mode == "rows" else 0
        n = x.shape[1 - axis]
        if n < 2:
            raise ValueError(
                f"OrthogonalRegularizer(mode={self.mode!r}) needs at least 2 {self.mode}, got "
                f"inputs.shape={tuple(x.shape)}")
        eps = epsilon()
        square_sum = ops.sum(ops.square(x), axis=axis, keepdims=True)
        unit = x / ops.sqrt(ops.maximum(square_sum, eps * eps))
        if self.mode == "rows":
            product = ops.matmul(unit, ops.transpose(unit))
        else:
            product = ops.matmul(ops.transpose(unit), unit)
        off_diagonal = product * (1.0 - ops.eye(n, dtype=x.dtype))
        num_pairs = n * (n - 1) / 2.0
        return (self.factor * 0.5 / num_pairs) * ops.sum(ops.abs(off_diagonal))

    def get_config(self) -> dict:
        return {"factor": self.factor, "mode": self.mode}


# Keras 3 exports the snake_case names as aliases of the classes themselves.
l1 = L1
l2 = L2
l1_l2 = L1L2
orthogonal_regularizer = OrthogonalRegularizer

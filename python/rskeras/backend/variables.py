"""`Variable`: a mutable, named tensor holding a model or optimizer state."""

from __future__ import annotations

from rskeras import _core
from rskeras.backend import config


def standardize_shape(shape) -> tuple:
    """A shape as a tuple of ints (None allowed for unknown sizes).

    Raises:
        ValueError: when a size is negative or not an int.
    """
    if shape is None:
        raise ValueError("Undefined shapes are not supported: got shape=None")
    if isinstance(shape, int):
        shape = (shape,)
    out = []
    for d in shape:
        if d is None:
            out.append(None)
            continue
        if not isinstance(d, int) or isinstance(d, bool):
            try:
                d = int(d)
            except (TypeError, ValueError):
                raise ValueError(f"Cannot convert {shape!r} to a shape: {d!r} is not an int") from None
        if d < 0:
            raise ValueError(f"Negative dimensions are not allowed in shape {shape!r}")
        out.append(d)
    return tuple(out)


def array_for_variable(value, variable):
    """`value` (a NumPy array) in `variable`'s dtype (bfloat16 goes through float32, which
    NumPy has)."""
    target = "float32" if variable.dtype == "bfloat16" else variable.dtype
    return value if value.dtype.name == target else value.astype(target)


# `rskeras.initializers.get`, set by that package when it is imported: it sits above backend,
# which does not import it, and a Variable made from an initializer's name needs it.
_initializer_getter = None


def set_initializer_getter(getter) -> None:
    """Register the function that turns an initializer identifier (a name such as
    `"glorot_uniform"`, a class, a config, a callable) into a callable `(shape, dtype)`."""
    global _initializer_getter
    _initializer_getter = getter


def _get_initializer(identifier):
    if _initializer_getter is None:
        if callable(identifier) and not isinstance(identifier, type):
            return identifier
        raise RuntimeError("Variable: initializer names need rskeras.initializers; `import rskeras` first")
    return _initializer_getter(identifier)


def is_tensor(x) -> bool:
    """True for rskeras tensors and variables."""
    return isinstance(x, _core.Tensor)


class Variable(_core.Tensor):
    """A tensor whose value can be replaced in place, as `keras.Variable`.

    Args:
        initializer: an initial value (array, tensor, scalar) or an initializer (a callable
            taking `(shape, dtype)`, or its Keras name such as `"glorot_uniform"`).
        shape: required when `initializer` is a callable.
        dtype: element type; defaults to the value's dtype (float values: `floatx()`), or
            `floatx()` for initializers.
        trainable: whether optimizers update it and `GradientTape` watches it automatically.
        name: a name for `model.weights` listings and saved files.

    Raises:
        ValueError: when `initializer` is callable and `shape` is missing.
    """

    def __new__(cls, initializer, shape=None, dtype=None, trainable=True, autocast=True,
                aggregation="none", synchronization="auto", name=None):
        if isinstance(initializer, str) or (callable(initializer) and not isinstance(initializer, _core.Tensor)):
            if shape is None:
                raise ValueError(
                    f"Variable {name!r}: when `initializer` is a callable, `shape` must be given"
                )
            dtype = dtype or config.floatx()
            value = _get_initializer(initializer)(standardize_shape(shape), dtype=dtype)
        else:
            value = initializer
            if dtype is None:
                value = _core.convert_to_tensor(value)
                if value.dtype == "float64":
                    dtype = config.floatx()  # float values default to floatx, like initializers
        return super().__new__(cls, value, dtype)

    def __init__(self, initializer, shape=None, dtype=None, trainable=True, autocast=True,
                 aggregation="none", synchronization="auto", name=None):
        self.name = name or "variable"
        self.path = self.name
        self.trainable = trainable
        if self.device != _core.get_default_device():
            self._move_to(_core.get_default_device())  # variables live on the default device

    @property
    def trainable(self) -> bool:
        return self._trainable_variable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable_variable = bool(value)

    @property
    def value(self) -> _core.Tensor:
        """The current value as a tensor (shares the buffer)."""
        return _core.convert_to_tensor(self)

    def assign(self, value) -> "Variable":
        """Replace the value (same shape). Raises ValueError on a shape mismatch."""
        self._assign(value)
        return self

    def assign_add(self, value) -> "Variable":
        self._assign(_core.binary("add", self.value, value))
        return self

    def assign_sub(self, value) -> "Variable":
        self._assign(_core.binary("subtract", self.value, value))
        return self

    def __repr__(self) -> str:
        return f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}, value={self.numpy()!r}>"

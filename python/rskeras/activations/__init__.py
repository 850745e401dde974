"""`rskeras.activations`: activation functions by Keras name (used by `activation=` args)."""

from __future__ import annotations

from rskeras import ops


def linear(x):
    """The identity."""
    return x


def relu(x):
    """`max(x, 0)`."""
    return ops.relu(x)


def sigmoid(x):
    """`1 / (1 + exp(-x))`."""
    return ops.sigmoid(x)


def tanh(x):
    """Hyperbolic tangent."""
    return ops.tanh(x)


def softmax(x, axis=-1):
    """Softmax along `axis` (the last by default)."""
    return ops.softmax(x, axis=axis)


def log_softmax(x, axis=-1):
    """Log-softmax along `axis`."""
    return ops.log_softmax(x, axis=axis)


def exponential(x):
    """`exp(x)`."""
    return ops.exp(x)


_BY_NAME = {f.__name__: f for f in (linear, relu, sigmoid, tanh, softmax, log_softmax, exponential)}


def serialize(activation) -> str:
    """The Keras name of an activation function."""
    name = getattr(activation, "__name__", None)
    if name not in _BY_NAME:
        raise ValueError(f"Cannot serialize activation {activation!r}")
    return name


def deserialize(name):
    return get(name)


def get(identifier):
    """An activation function from its name, a callable, or None (linear).

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    if isinstance(identifier, str):
        fn = _BY_NAME.get(identifier)
        if fn is None:
            raise ValueError(
                f"Unknown activation function: {identifier!r}. Known: {sorted(_BY_NAME)}"
            )
        return fn
    raise ValueError(f"Could not interpret activation identifier: {identifier!r}")

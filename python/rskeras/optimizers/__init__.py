"""`rskeras.optimizers`: SGD, Adam and RMSprop with Keras 3 defaults, each a fused Rust update."""

from rskeras.optimizers.adam import Adam
from rskeras.optimizers.optimizer import Optimizer
from rskeras.optimizers.rmsprop import RMSprop
from rskeras.optimizers.sgd import SGD
from rskeras.saving.object_registration import register_framework_class

# `rskeras.saving` sits below optimizers and finds their base class here (no import upwards).
register_framework_class("Optimizer", Optimizer)

__all__ = ["Adam", "Optimizer", "RMSprop", "SGD", "get"]

_BY_NAME = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop}


def get(identifier):
    """An optimizer from a name ("adam", "sgd", "rmsprop"; any case), a config dict or an
    instance.

    Raises:
        ValueError: for an unknown name.
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        cls = _BY_NAME.get(identifier["class_name"].lower())
        if cls is None:
            raise ValueError(f"Unknown optimizer: {identifier['class_name']!r}")
        return cls.from_config(identifier.get("config", {}))
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(f"Unknown optimizer: {identifier!r}. Known: {sorted(_BY_NAME)}")
        return cls()
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}")

"""`rskeras.constraints`: Keras 3's `keras.constraints` — projections applied to weights after
each optimizer update.

Classes: `Constraint` (base), `MaxNorm`, `MinMaxNorm`, `NonNeg`, `UnitNorm`; aliases
`max_norm`, `min_max_norm`, `non_neg`, `unit_norm` (the classes themselves, as in Keras 3);
`get`, `serialize`, `deserialize`. Layers take them as `kernel_constraint=`,
`bias_constraint=` ... (a name such as "non_neg", an instance, a config dict or a callable).
"""

from __future__ import annotations

from rskeras.constraints.constraints import (
    Constraint, MaxNorm, MinMaxNorm, NonNeg, UnitNorm, max_norm, min_max_norm, non_neg,
    unit_norm,
)
from rskeras.saving.object_config import deserialize_object, get_object, name_table, serialize_object

_MODULE = "keras.constraints"
_CLASSES = (Constraint, MaxNorm, MinMaxNorm, NonNeg, UnitNorm)
# Keras 3's table: class names and their snake_case ("max_norm", "min_max_norm", "non_neg",
# "unit_norm", "constraint").
_TABLE = name_table(_CLASSES)
_BUILTIN = {cls.__name__: cls for cls in _CLASSES}


def serialize(constraint):
    """Keras 3's record of a constraint, e.g. `NonNeg()` -> `{"module": "keras.constraints",
    "class_name": "NonNeg", "config": {}, "registered_name": None}`; None -> None. A user
    subclass gets its own module and `registered_name`; a plain function
    `{"class_name": "function", "config": name, ...}`.

    Raises:
        ValueError: for an object without `get_config` that is not a function.
    """
    return serialize_object(constraint, _MODULE, _BUILTIN)


def deserialize(config, custom_objects=None):
    """The constraint a `serialize` record (or a name) describes; `custom_objects` maps the
    names of user classes and functions to them.

    Raises:
        ValueError: for an unknown class name or a malformed config.
    """
    return deserialize_object(config, _TABLE, "constraint", custom_objects)


def get(identifier):
    """A constraint from an identifier, as Keras 3's `keras.constraints.get`:

    - None -> None;
    - a name: "max_norm", "min_max_norm", "non_neg", "unit_norm", or a class name
      ("NonNeg") -> an instance with the default arguments;
    - a `serialize` record dict -> `deserialize(identifier)`;
    - a class -> an instance; any other callable (an instance, a function) -> itself.

    Raises:
        ValueError: for an unknown name, or an identifier that is not callable.
    """
    return get_object(identifier, _TABLE, "constraint")


__all__ = [
    "Constraint", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm", "deserialize", "get",
    "max_norm", "min_max_norm", "non_neg", "serialize", "unit_norm",
]

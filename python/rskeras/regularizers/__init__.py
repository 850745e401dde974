"""`rskeras.regularizers`: Keras 3's `keras.regularizers` — penalties added to the loss.

Classes: `Regularizer` (base), `L1`, `L2`, `L1L2`, `OrthogonalRegularizer`; aliases `l1`, `l2`,
`l1_l2`, `orthogonal_regularizer` (the classes themselves, as in Keras 3); `get`,
`serialize`, `deserialize`. Layers take them as `kernel_regularizer=`, `bias_regularizer=`,
`activity_regularizer=` ... (a name such as "l2", an instance, a config dict or a callable).
"""

from __future__ import annotations

from rskeras.regularizers.regularizers import (
    L1, L1L2, L2, OrthogonalRegularizer, Regularizer, l1, l1_l2, l2, orthogonal_regularizer,
    validate_float_arg,
)
from rskeras.saving.object_config import deserialize_object, get_object, name_table, serialize_object

_MODULE = "keras.regularizers"
_CLASSES = (Regularizer, L1, L2, L1L2, OrthogonalRegularizer)
# Keras 3's table: class names and their snake_case ("l1", "l2", "l1l2",
# "orthogonal_regularizer", "regularizer"); "l1_l2" names the alias too.
_TABLE = name_table(_CLASSES, {"l1_l2": L1L2})
_BUILTIN = {cls.__name__: cls for cls in _CLASSES}


def serialize(regularizer):
    """Keras 3's record of a regularizer, e.g. `L2(0.01)` ->
    `{"module": "keras.regularizers", "class_name": "L2", "config": {"l2": 0.01},
    "registered_name": None}`; None -> None. A user subclass gets its own module and
    `registered_name`; a plain function `{"class_name": "function", "config": name, ...}`.

    Raises:
        ValueError: for an object without `get_config` that is not a function.
    """
    return serialize_object(regularizer, _MODULE, _BUILTIN)


def deserialize(config, custom_objects=None):
    """The regularizer a `serialize` record (or a name) describes; `custom_objects` maps the
    names of user classes and functions to them.

    Raises:
        ValueError: for an unknown class name or a malformed config.
    """
    return deserialize_object(config, _TABLE, "regularizer", custom_objects)


def get(identifier):
    """A regularizer from an identifier, as Keras 3's `keras.regularizers.get`:

    - None -> None;
    - a name: "l1", "l2", "l1_l2" (or "l1l2"), "orthogonal_regularizer", or a class name
      ("L2") -> an instance with the default factors (`L1()`/`L2()`: 0.01; `L1L2()`: 0);
    - a `serialize` record dict -> `deserialize(identifier)`;
    - a class -> an instance; any other callable (an instance, a function) -> itself.

    Raises:
        ValueError: for an unknown name, or an identifier that is not callable.
    """
    return get_object(identifier, _TABLE, "regularizer")


__all__ = [
    "L1", "L1L2", "L2", "OrthogonalRegularizer", "Regularizer", "deserialize", "get", "l1",
    "l1_l2", "l2", "orthogonal_regularizer", "serialize", "validate_float_arg",
]

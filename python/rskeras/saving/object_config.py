"""`get` / `serialize` / `deserialize` for the small configurable objects of a Keras module
(`keras.regularizers`, `keras.constraints`): one implementation of Keras 3's
`serialize_keras_object` record `{"module", "class_name", "config", "registered_name"}` and
of the modules' `get(identifier)` rules."""

from __future__ import annotations

import inspect
import re


def snake_case(name: str) -> str:
    """Keras's `to_snake_case`: "MaxNorm" -> "max_norm", "L1L2" -> "l1l2"."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def name_table(classes, aliases=None) -> dict:
    """`{name: class}` for the class names, their snake_case forms and `aliases`."""
    table = {cls.__name__: cls for cls in classes}
    table.update({snake_case(cls.__name__): cls for cls in classes})
    table.update(aliases or {})
    return table


def serialize_object(obj, module: str, builtin: dict):
    """Keras 3's record of `obj`: None for None; `{"module": module, "class_name", "config":
    obj.get_config(), "registered_name": None}` for a class of `builtin`; for another class
    with `get_config`, its own module and `registered_name` = its class name; for a plain
    function, `{"module", "class_name": "function", "config": name, "registered_name": name}`.

    Raises:
        ValueError: for an object that has no `get_config` and is not a function.
    """
    if obj is None:
        return None
    cls = type(obj)
    if inspect.isfunction(obj):
        return {"module": obj.__module__, "class_name": "function", "config": obj.__name__,
                "registered_name": obj.__name__}
    if not hasattr(obj, "get_config"):
        raise ValueError(
            f"Cannot serialize {obj!r}: it has no get_config() method (give a {module} class "
            "or a subclass of its base class that implements get_config)")
    if builtin.get(cls.__name__) is cls:
        return {"module": module, "class_name": cls.__name__, "config": obj.get_config(),
                "registered_name": None}
    return {"module": cls.__module__, "class_name": cls.__name__, "config": obj.get_config(),
            "registered_name": cls.__name__}


def deserialize_object(config, table: dict, kind: str, custom_objects=None):
    """The object a `serialize_object` record (or a bare name) describes.

    Args:
        config: a record dict (`class_name`, `config`; `module` and `registered_name` are
            only informative), a Keras 2 style `{"class_name", "config"}` dict, or a name.
        table: `{name: class}` of the module (see `name_table`).
        kind: "regularizer" or "constraint", for messages.
        custom_objects: `{name: class or function}` for user classes and functions.

    Raises:
        ValueError: for an unknown name, or a config that is not a dict or a string.
    """
    custom = dict(custom_objects or {})
    if config is None:
        return None
    if isinstance(config, str):
        cls = custom.get(config) or table.get(config)
        if cls is None:
            raise ValueError(_unknown(kind, config, table))
        return cls() if inspect.isclass(cls) else cls
    if not isinstance(config, dict):
        raise ValueError(f"Could not interpret {kind} config: {config!r}")
    class_name = config.get("class_name")
    inner = config.get("config")
    if class_name == "function":
        name = config.get("registered_name") or inner
        fn = custom.get(name) or custom.get(inner)
        if fn is None:
            raise ValueError(
                f"Unknown {kind} function {inner!r}: pass it in custom_objects={{{inner!r}: fn}}")
        return fn
    cls = custom.get(config.get("registered_name") or "") or custom.get(class_name) \
        or table.get(class_name)
    if cls is None:
        raise ValueError(_unknown(kind, class_name, table))
    if not inspect.isclass(cls):
        return cls
    inner = dict(inner or {})
    if hasattr(cls, "from_config"):
        return cls.from_config(inner)
    return cls(**inner)


def get_object(identifier, table: dict, kind: str):
    """Keras 3's `get(identifier)` of a regularizer or constraint module: None stays None; a
    dict is deserialized; a string is looked up in `table` and instantiated with its
    defaults; a class is instantiated; another callable (an instance, a function) is
    returned as it is.

    Raises:
        ValueError: for an unknown name or anything else that is not callable.
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize_object(identifier, table, kind)
    elif isinstance(identifier, str):
        obj = table.get(identifier)
        if obj is None:
            raise ValueError(_unknown(kind, identifier, table))
    else:
        obj = identifier
    if inspect.isclass(obj):
        obj = obj()
    if not callable(obj):
        raise ValueError(f"Could not interpret {kind} identifier: {identifier!r}")
    return obj


def _unknown(kind: str, name, table: dict) -> str:
    known = sorted(k for k in table if k == k.lower())
    return f"Could not interpret {kind} identifier: {name!r}. Known names: {known}"

"""The registry of custom objects, as Keras 3's `keras.saving` (`object_registration.py`):
`register_keras_serializable`, `custom_object_scope`, `get_custom_objects` and the name
lookups that `deserialize_keras_object` uses to find a class a file names."""

from __future__ import annotations

import inspect
import threading

# name -> object, for objects registered with `register_keras_serializable` or added by hand
# to `get_custom_objects()`; object -> its registered name.
GLOBAL_CUSTOM_OBJECTS: dict = {}
GLOBAL_CUSTOM_NAMES: dict = {}

_scopes = threading.local()  # the custom_object_scope stack of this thread


def _scope_stack() -> list:
    stack = getattr(_scopes, "stack", None)
    if stack is None:
        stack = _scopes.stack = []
    return stack


class CustomObjectScope:
    """A `with` scope in which `deserialize_keras_object` (and so `load_model`) also finds the
    given custom objects by name, as `keras.saving.CustomObjectScope`.

    Args:
        custom_objects: a dict `{name: class or function}` (several dicts may be given).

    Example:
        with keras.saving.custom_object_scope({"MyLayer": MyLayer}):
            model = keras.models.load_model("model.keras")
    """

    def __init__(self, custom_objects=None, *more):
        objects = {}
        for mapping in (custom_objects, *more):
            if mapping:
                if not isinstance(mapping, dict):
                    raise TypeError(
                        f"CustomObjectScope: custom_objects must be a dict {{name: object}}, got "
                        f"{type(mapping).__name__}")
                objects.update(mapping)
        self.custom_objects = objects

    def __enter__(self):
        _scope_stack().append(self.custom_objects)
        return self

    def __exit__(self, *exc):
        _scope_stack().pop()
        return False


custom_object_scope = CustomObjectScope


def get_custom_objects() -> dict:
    """The global dict of custom objects (`{name: object}`); adding to it registers an object
    by that name, as in Keras. Prefer `register_keras_serializable`."""
    return GLOBAL_CUSTOM_OBJECTS


def register_keras_serializable(package: str = "Custom", name: str | None = None):
    """A decorator that registers a class or function under `"package>name"` (name defaults
    to the class or function name), so that files naming it load without `custom_objects`.

    Raises:
        ValueError: when the package contains ">", or the class has no `get_config`.
    """
    if ">" in str(package):
        raise ValueError(f"register_keras_serializable: package cannot contain '>', got {package!r}")

    def decorator(arg):
        class_name = name if name is not None else arg.__name__
        registered_name = f"{package}>{class_name}"
        if inspect.isclass(arg) and not hasattr(arg, "get_config"):
            raise ValueError(
                f"Cannot register {arg.__name__}: a class registered for serialization must "
                "implement get_config()")
        GLOBAL_CUSTOM_OBJECTS[registered_name] = arg
        GLOBAL_CUSTOM_NAMES[arg] = registered_name
        return arg

    return decorator


def get_registered_name(obj) -> str:
    """The name `obj` is registered under (`"package>Name"`), else its `__name__`."""
    if obj in GLOBAL_CUSTOM_NAMES:
        return GLOBAL_CUSTOM_NAMES[obj]
    return getattr(obj, "__name__", type(obj).__name__)


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The object registered as `name`: looked up in the innermost custom_object_scope
    first, then the global registry, then `custom_objects`, then `module_objects`; None when
    nothing matches."""
    for scope in reversed(_scope_stack()):
        if name in scope:
            return scope[name]
    if name in GLOBAL_CUSTOM_OBJECTS:
        return GLOBAL_CUSTOM_OBJECTS[name]
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if module_objects and name in module_objects:
        return module_objects[name]
    return None


# ---------------------------------------------------------------------------------------------
# Classes of the packages above `saving`

# Saving walks layers, models and optimizers, yet `saving` sits below those packages in the
# import layering and imports none of them: each registers here, when it is imported, the
# classes saving needs ("Layer" by rskeras.layers; "Model", "Functional", "Sequential" by
# rskeras.models; "Optimizer" by rskeras.optimizers). `import rskeras` imports them all.
_FRAMEWORK_CLASSES: dict = {}


def register_framework_class(name: str, cls) -> None:
    """Make `cls` the class that saving code finds as `framework_class(name)`."""
    _FRAMEWORK_CLASSES[name] = cls


def framework_class(name: str):
    """The class registered as `name` by `register_framework_class`.

    Raises:
        RuntimeError: when the package that registers it has not been imported yet.
    """
    try:
        return _FRAMEWORK_CLASSES[name]
    except KeyError:
        raise RuntimeError(f"rskeras.saving needs the class {name!r}, which its package registers "
                           "when imported; `import rskeras` first") from None

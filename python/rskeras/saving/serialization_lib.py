"""Objects <-> configs in Keras 3's schema (Keras: `keras/src/saving/serialization_lib.py`).

Every object is written as

    {"module": "keras.layers", "class_name": "Dense", "config": {...get_config()...},
     "registered_name": null, "build_config": {...}, "compile_config": {...}}

with Keras's public module names, so that `config.json` files move both ways between rskeras
and Keras. Functions are `{"class_name": "function", "config": name, ...}`; arrays, tensors,
bytes, slices and the Ellipsis have `__numpy__`/`__tensor__`/`__bytes__`/`__slice__`/
`__ellipsis__` records, and a Python `lambda` is `__lambda__` (its marshalled code), which
loading refuses unless safe mode is off. Reading also takes the legacy (Keras 2 / legacy
`.h5`) form without "module" keys.
"""

from __future__ import annotations

import threading

from rskeras.saving import object_registration

_state = threading.local()

# Keras's public namespaces and the rskeras packages that hold their classes and functions.
_NAMESPACES = {
    "keras.layers": "rskeras.layers",
    "keras.initializers": "rskeras.initializers",
    "keras.optimizers": "rskeras.optimizers",
    "keras.optimizers.schedules": "rskeras.optimizers.schedules",
    "keras.losses": "rskeras.losses",
    "keras.metrics": "rskeras.metrics",
    "keras.regularizers": "rskeras.regularizers",
    "keras.constraints": "rskeras.constraints",
    "keras.activations": "rskeras.activations",
    "keras.models": "rskeras.models",
    "keras": "rskeras",
}
FUNCTIONAL_MODULE = "keras.src.models.functional"
# Where a record without "module" (Keras 2, legacy `.h5`) is looked up, in this order.
_LEGACY_SEARCH = ("keras.layers", "keras.models", "keras.initializers", "keras.regularizers",
                  "keras.constraints", "keras.optimizers", "keras.losses", "keras.metrics")


# ---------------------------------------------------------------------------------------------
# Safe mode


class SafeModeScope:
    """`with SafeModeScope(False):` allows deserializing code (a Lambda's marshalled
    function) inside the block; `SafeModeScope(True)` forbids it. The default outside any
    scope is safe, unless `keras.config.enable_unsafe_deserialization()` was called."""

    def __init__(self, safe_mode=True):
        self.safe_mode = safe_mode

    def __enter__(self):
        self._previous = getattr(_state, "safe_mode", None)
        _state.safe_mode = self.safe_mode
        return self

    def __exit__(self, *exc):
        _state.safe_mode = self._previous
        return False


def in_safe_mode() -> bool:
    """Whether code in configs must be refused here (see `SafeModeScope`)."""
    from rskeras import config

    scoped = getattr(_state, "safe_mode", None)
    if scoped is not None:
        return bool(scoped)
    return not config._UNSAFE_DESERIALIZATION


LAMBDA_REFUSED = (
    "Requested the deserialization of a Python lambda (code stored in the file). Running it "
    "could execute arbitrary code, so safe mode refuses it. If you trust the source of this "
    "file, pass `safe_mode=False` to the loading function, or call "
    "`keras.config.enable_unsafe_deserialization()`.")


# ---------------------------------------------------------------------------------------------
# Serializing


def _public_module(obj_or_cls) -> tuple[str, str | None]:
    """(module, registered_name) that Keras writes for an object's class."""
    import importlib

    cls = obj_or_cls if isinstance(obj_or_cls, type) else type(obj_or_cls)
    registered = object_registration.GLOBAL_CUSTOM_NAMES.get(cls)
    if registered is not None:
        return cls.__module__, registered
    if cls is object_registration.framework_class("Functional"):
        return FUNCTIONAL_MODULE, "Functional"
    for keras_module, ours in _NAMESPACES.items():
        module = importlib.import_module(ours)
        if getattr(module, cls.__name__, None) is cls:
            if keras_module == "keras.models":
                keras_module = "keras"
            return keras_module, None
    return cls.__module__, cls.__name__


def serialize_keras_object(obj):
    """The JSON-able record of `obj` (Keras 3 `serialize_keras_object`): primitives as they
    are, lists and tuples as lists, dicts entry by entry, arrays as `__numpy__`, functions as
    `function` records, and objects with `get_config` as `{"module", "class_name", "config",
    "registered_name"[, "build_config"][, "compile_config"]}`.

    Raises:
        TypeError: for an object that has no `get_config` and no record form.
    """
    import types

    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, bytes):
        return {"class_name": "__bytes__", "config": {"value": obj.decode("utf-8")}}
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(x) for x in obj]
    if isinstance(obj, dict):
        return {str(k): serialize_keras_object(v) for k, v in obj.items()}
    if isinstance(obj, slice):
        return {"class_name": "__slice__", "config": {
            "start": serialize_keras_object(obj.start), "stop": serialize_keras_object(obj.stop),
            "step": serialize_keras_object(obj.step)}}
    if obj is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    import numpy as np

    from rskeras import _core
    from rskeras.backend.keras_tensor import KerasTensor

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, KerasTensor):
        history = obj._keras_history
        return {"class_name": "__keras_tensor__", "config": {
            "shape": list(obj.shape), "dtype": obj.dtype,
            "keras_history": None if history is None else [history.operation.name,
                                                            history.node_index,
                                                            history.tensor_index]}}
    if isinstance(obj, (np.ndarray, _core.Tensor)):
        arr = np.asarray(obj)
        kind = "__numpy__" if isinstance(obj, np.ndarray) else "__tensor__"
        return {"class_name": kind, "config": {"value": arr.tolist(), "dtype": arr.dtype.name}}
    if isinstance(obj, types.FunctionType) and obj.__name__ == "<lambda>":
        return {"class_name": "__lambda__", "config": _dump_lambda(obj)}
    if isinstance(obj, type) and not hasattr(obj, "get_config"):
        raise TypeError(f"Cannot serialize the class {obj.__name__}: it has no get_config()")
    if callable(obj) and not hasattr(obj, "get_config"):
        return _serialize_function(obj)
    if not hasattr(obj, "get_config"):
        raise TypeError(
            f"Cannot serialize {obj!r} of type {type(obj).__name__}: it has no get_config()")
    return _serialize_object(obj)


def _serialize_function(fn) -> dict:
    name = object_registration.GLOBAL_CUSTOM_NAMES.get(fn)
    module = getattr(fn, "__module__", None) or ""
    for keras_module, ours in _NAMESPACES.items():
        if module == ours or module.startswith(ours + "."):
            if keras_module in ("keras.activations", "keras.losses", "keras.metrics"):
                module = keras_module
            break
    fn_name = getattr(fn, "__name__", None) or type(fn).__name__
    return {"module": module, "class_name": "function", "config": name or fn_name,
            "registered_name": name or fn_name}


def _serialize_object(obj) -> dict:
    module, registered = _public_module(obj)
    record = {"module": module, "class_name": type(obj).__name__,
              "config": _jsonable(obj.get_config()), "registered_name": registered}
    get_build_config = getattr(obj, "get_build_config", None)
    if get_build_config is not None:
        build = get_build_config()
        if build is not None:
            record["build_config"] = _jsonable(build)
    get_compile_config = getattr(obj, "get_compile_config", None)
    if get_compile_config is not None:
        compiled = get_compile_config()
        if compiled is not None:
            record["compile_config"] = compiled
    return record


def _jsonable(value):
    """A config with tuples as lists and objects in it serialized."""
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return serialize_keras_object(value)


def _dump_lambda(fn) -> dict:
    """Keras's `func_dump`: the function's marshalled code (base64), defaults and closure."""
    import base64
    import marshal

    code = base64.b64encode(marshal.dumps(fn.__code__)).decode("ascii")
    closure = None
    if fn.__closure__:
        closure = [_jsonable(c.cell_contents) for c in fn.__closure__]
    defaults = _jsonable(list(fn.__defaults__)) if fn.__defaults__ else None
    return {"code": code, "defaults": defaults, "closure": closure}


def _load_lambda(config):
    """The function `_dump_lambda` wrote. Only reached outside safe mode.

    Raises:
        ValueError: when the code cannot be read (another Python version wrote it).
    """
    import base64
    import marshal
    import types

    if in_safe_mode():
        raise ValueError(LAMBDA_REFUSED)
    if not isinstance(config, dict) or not isinstance(config.get("code"), str):
        raise ValueError("A __lambda__ record must hold its code; this one does not")
    try:
        code = marshal.loads(base64.b64decode(config["code"].encode("ascii")))
    except (ValueError, EOFError, TypeError) as e:
        raise ValueError(f"Cannot read the lambda's code (written by another Python version?): {e}") from None
    closure = config.get("closure")
    cells = tuple(types.CellType(c) for c in closure) if closure else None
    defaults = tuple(config["defaults"]) if config.get("defaults") else None
    return types.FunctionType(code, globals(), code.co_name, defaults, cells)


# ---------------------------------------------------------------------------------------------
# Deserializing


def resolve_class(record, custom_objects=None, kind=None):
    """The class or function a record names. The search order: the `custom_objects` argument
    and the active `custom_object_scope`s and registry (by registered name, then class name),
    then rskeras's package for the record's Keras module (any of them for a record without
    one), then a `Layer` subclass already defined in the record's Python module. Nothing is
    imported from a name in a file.

    Raises:
        ValueError: when nothing matches, suggesting `custom_objects`.
    """
    import importlib

    class_name = record.get("class_name")
    module = record.get("module") or ""
    registered = record.get("registered_name")
    if not isinstance(class_name, str) or not class_name:
        raise ValueError(f"A serialized object must have a string 'class_name'; got {class_name!r}")
    custom = dict(custom_objects or {})
    for key in (registered, class_name):
        if isinstance(key, str) and key:
            found = object_registration.get_registered_object(key, custom)
            if found is not None:
                return found
    if class_name == "Functional" or module == FUNCTIONAL_MODULE:
        return object_registration.framework_class("Functional")
    if module in _NAMESPACES:
        candidates = [module]
    elif module.startswith("keras.src.") or not module or module.startswith("keras."):
        candidates = list(_LEGACY_SEARCH) + ["keras"]
        if kind is not None:
            candidates.insert(0, kind)
    else:
        candidates = []
    for keras_module in candidates:
        namespace = importlib.import_module(_NAMESPACES[keras_module])
        found = getattr(namespace, class_name, None)
        if found is not None and (isinstance(found, type) or record.get("class_name") == "function"):
            return found
    for sub in _all_subclasses(object_registration.framework_class("Layer")):
        if sub.__name__ == class_name and sub.__module__ == module:
            return sub
    what = kind.split(".")[-1][:-1] if kind else "object"
    raise ValueError(
        f"Could not locate {what} '{class_name}' (module {module!r}). Make sure the custom "
        f"class is defined, and pass it in custom_objects={{'{class_name}': {class_name}}} or "
        "register it with @keras.saving.register_keras_serializable().")


def _all_subclasses(cls):
    out, stack = [], [cls]
    while stack:
        for sub in stack.pop().__subclasses__():
            out.append(sub)
            stack.append(sub)
    return out


def _is_record(value) -> bool:
    return isinstance(value, dict) and "class_name" in value and "config" in value


def deserialize_keras_object(config, custom_objects=None, safe_mode=True, **kwargs):
    """The object a record describes (Keras 3 `deserialize_keras_object`): the inverse of
    `serialize_keras_object`, building (`build_config`) and compiling (`compile_config`,
    unless `compile=False` is passed) what it creates.

    Args:
        config: a record, or a plain value / list / dict of records.
        custom_objects: `{name: class or function}` for custom objects.
        safe_mode: refuse code stored in the file (Python lambdas); default True.

    Raises:
        ValueError: for an unknown class, a lambda in safe mode, or a config the class
            refuses (naming the class).
    """
    compile_ = kwargs.pop("compile", True)
    kind = kwargs.pop("module_objects_kind", None)
    with SafeModeScope(safe_mode if safe_mode is not None else in_safe_mode()):
        return _deserialize(config, custom_objects, compile_, kind)


def _deserialize(config, custom_objects, compile_, kind=None):
    if config is None or isinstance(config, (bool, int, float, str)):
        return config
    if isinstance(config, (list, tuple)):
        return [_deserialize(x, custom_objects, compile_) for x in config]
    if not isinstance(config, dict):
        raise TypeError(f"Cannot deserialize {type(config).__name__} {config!r}")
    if not _is_record(config):
        return {k: _deserialize(v, custom_objects, compile_) for k, v in config.items()}
    class_name, inner = config["class_name"], config["config"]
    if class_name == "__lambda__":
        return _load_lambda(inner)
    if class_name in ("__numpy__", "__tensor__"):
        import numpy as np

        from rskeras import ops

        value = np.asarray(inner["value"], dtype=inner.get("dtype"))
        return value if class_name == "__numpy__" else ops.convert_to_tensor(value)
    if class_name == "__bytes__":
        return inner["value"].encode("utf-8")
    if class_name == "__slice__":
        return slice(*(_deserialize(inner.get(k), custom_objects, compile_)
                       for k in ("start", "stop", "step")))
    if class_name == "__ellipsis__":
        return Ellipsis
    if class_name == "__keras_tensor__":
        from rskeras.backend.keras_tensor import KerasTensor

        return KerasTensor(tuple(inner["shape"]), inner.get("dtype", "float32"))
    if class_name == "function":
        return _deserialize_function(config, custom_objects)
    cls = resolve_class(config, custom_objects, kind)
    if not isinstance(cls, type):
        return cls  # a registered function named by its class_name
    obj = instantiate(cls, inner, custom_objects)
    build_config = config.get("build_config")
    if build_config and not getattr(obj, "built", True):
        obj.build_from_config(build_config)
    compile_config = config.get("compile_config")
    if compile_ and compile_config and hasattr(obj, "compile_from_config"):
        obj.compile_from_config(compile_config)
    return obj


def instantiate(cls, inner, custom_objects=None):
    """`cls.from_config(inner)`, passing `custom_objects` where `from_config` takes them.

    Raises:
        ValueError: when the class refuses the config, naming the class and the error.
    """
    import inspect

    if not isinstance(inner, dict):
        raise ValueError(f"The config of {cls.__name__} must be a dict, got {type(inner).__name__}")
    from_config = getattr(cls, "from_config", None)
    if from_config is None:
        raise ValueError(f"{cls.__name__} cannot be deserialized: it has no from_config()")
    try:
        params = inspect.signature(from_config).parameters
    except (TypeError, ValueError):
        params = {}
    try:
        if "custom_objects" in params:
            return from_config(inner, custom_objects=custom_objects)
        with object_registration.CustomObjectScope(custom_objects or {}):
            return from_config(inner)
    except (TypeError, KeyError, AttributeError) as e:
        raise ValueError(f"{cls.__name__}.from_config could not rebuild the object from "
                         f"{_short(inner)}: {type(e).__name__}: {e}") from e


def _short(value, limit=300) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _deserialize_function(config, custom_objects):
    import importlib

    name = config.get("registered_name") or config.get("config")
    if not isinstance(name, str):
        raise ValueError(f"A function record must name the function; got {config!r}")
    found = object_registration.get_registered_object(name, custom_objects)
    if found is None and isinstance(config.get("config"), str):
        found = object_registration.get_registered_object(config["config"], custom_objects)
    if found is not None:
        return found
    module = config.get("module") or ""
    fn_name = config.get("config") if isinstance(config.get("config"), str) else name
    for keras_module in ([module] if module in _NAMESPACES else
                         ["keras.activations", "keras.losses", "keras.metrics"]):
        namespace = importlib.import_module(_NAMESPACES[keras_module])
        getter = getattr(namespace, "get", None)
        if getter is not None:
            try:
                return getter(fn_name)
            except (ValueError, KeyError, TypeError):
                continue
        if callable(getattr(namespace, fn_name, None)):
            return getattr(namespace, fn_name)
    raise ValueError(
        f"Could not locate function '{fn_name}' (module {module!r}). Pass it in "
        f"custom_objects={{'{fn_name}': {fn_name}}} or register it with "
        "@keras.saving.register_keras_serializable().")


# ---------------------------------------------------------------------------------------------
# Configs written by newer Keras versions


def _accepted_arguments(cls) -> tuple[set, bool]:
    """The keyword arguments `cls(...)` accepts along its `__init__` chain, and whether
    anything goes (a `**kwargs` that reaches no checking base)."""
    import inspect

    Layer = object_registration.framework_class("Layer")
    names: set = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        try:
            params = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            return names, True
        names.update(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            return names, False
        if klass is Layer:
            return names | {"input_dim", "batch_size", "weights"}, False
    return names, True


_NO_VALUE = object()
# Options of Keras layers that rskeras does not have, at the value that turns them off
# (BatchNormalization's batch renormalization; cross-device statistics, moot on one device).
_OFF_VALUES = {"renorm": False, "synchronized": False}
_ONLY_WITH = {"renorm_momentum": "renorm", "renorm_clipping": "renorm"}


def accepted_config(cls, config: dict) -> dict:
    """`config` without the arguments that a newer Keras writes and `cls` does not take,
    when they are unset (None): `quantization_config: None`, an initializer's
    `input_axes: None`, ... An unknown argument with a value would change what the object
    computes, so it is refused.

    Raises:
        ValueError: naming the class, the argument and its value.
    """
    names, anything = _accepted_arguments(cls)
    if anything:
        return config
    out = {}
    for key, value in config.items():
        if key in names:
            out[key] = value
        elif value is None or _OFF_VALUES.get(key, _NO_VALUE) == value:
            continue  # an option a newer Keras added, unset: same numbers without it
        elif key in _ONLY_WITH and not config.get(_ONLY_WITH[key]):
            continue  # a setting of an option that is off
        else:
            raise ValueError(
                f"{cls.__name__}: the config sets `{key}`={_short(value, 120)}, which rskeras "
                "does not support; loading it without that option would change the results")
    return out


# ---------------------------------------------------------------------------------------------
# Layer records inside model configs


def serialize_layer_record(layer) -> dict:
    """The record of a layer or model inside a model config (an op node such as `x + y` has
    the record of its Keras 3 Operation class; see `rskeras/ops/operation.py`)."""
    from rskeras.ops.operation import OpFunction, keras_class_name

    if isinstance(layer, OpFunction):
        return {"module": layer.keras_module, "class_name": keras_class_name(layer.op_name),
                "config": layer.get_config(), "registered_name": None}
    record = _serialize_object(layer)
    record.pop("compile_config", None)  # only the saved model itself carries one
    return record


def deserialize_layer(record, custom_objects=None):
    """A new layer (or model) from its record in a model config; a legacy record without
    "module" is looked up among the layers first.

    Raises:
        ValueError: for an unknown class or a config the class refuses.
    """
    from rskeras.ops.operation import OpFunction, op_name_of_class

    if not isinstance(record, dict) or "class_name" not in record:
        raise ValueError(f"A layer entry of a model config must be a dict with 'class_name'; got {_short(record)}")
    module = record.get("module") or ""
    if module.startswith("keras.src.ops"):
        op_name = op_name_of_class(record["class_name"])
        if op_name is None:
            raise ValueError(f"Unknown operation {record['class_name']!r}: keras.ops has no such op here")
        return OpFunction(op_name, name=(record.get("config") or {}).get("name"))
    record = dict(record)
    record.setdefault("config", {})
    return _deserialize(record, custom_objects, compile_=False, kind="keras.layers")

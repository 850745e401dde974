"""`Lambda`: wrap a Python function as a layer."""

from __future__ import annotations

import importlib
import inspect

from rskeras import ops
from rskeras.layers.layer import Layer


def _is_lambda(fn) -> bool:
    return getattr(fn, "__name__", None) == "<lambda>"


def _unsafe_allowed(safe_mode) -> bool:
    from rskeras.saving.serialization_lib import in_safe_mode

    if safe_mode is not None:
        return not safe_mode
    return not in_safe_mode()  # load_model(safe_mode=...) or enable_unsafe_deserialization()


class Lambda(Layer):
    """Apply `function(inputs, **arguments)` as a layer (Keras `keras.layers.Lambda`). For
    anything with state or weights, subclass `Layer` instead.

    Args:
        function: a callable taking the input tensor (or list of tensors).
        output_shape: the output shape without the batch axis (a tuple, or a list of
            tuples for several outputs), or a callable `input_shape -> output_shape` (batch
            axis included). Default None: inferred by running `function` on zeros of the
            input shape (unknown sizes taken as 1, and an unknown batch axis stays None).
        mask: None, or a callable `(inputs, mask) -> mask` or a fixed mask returned by
            `compute_mask`.
        arguments: optional dict of extra keyword arguments for `function`.

    Shapes: whatever `function` returns, batch axis first.

    Serialization, as Keras 3: a named module-level function is recorded by module and name;
    a `lambda` as `{"class_name": "__lambda__", "config": {"code", "defaults", "closure"}}`
    (its marshalled bytecode, readable by the same Python version only). Loading either one
    means running code named or stored by the file, so `from_config` (and `load_model`)
    refuse both in safe mode, the default; pass `safe_mode=False` (or call
    `keras.config.enable_unsafe_deserialization()`) for files you trust, or give a named
    function in `custom_objects`.

    Raises:
        ValueError: when `function` is not callable, `arguments` is not a dict, or
            `from_config` cannot (or may not, in safe mode) restore the function.
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise ValueError(f"Lambda: `function` must be callable, got {function!r}")  # noqa: TRY004
        if arguments is not None and not isinstance(arguments, dict):
            raise ValueError(f"Lambda: `arguments` must be a dict or None, got {arguments!r}")
        self.function = function
        self.arguments = dict(arguments or {})
        self.mask = mask
        self.supports_masking = mask is not None
        if output_shape is not None and not callable(output_shape):
            output_shape = (tuple(tuple(s) for s in output_shape)
                            if output_shape and isinstance(output_shape[0], (list, tuple))
                            else tuple(output_shape))
        self._output_shape = output_shape
        try:
            params = inspect.signature(function).parameters
        except (TypeError, ValueError):
            params = {}
        self._fn_takes = {name for name in ("mask", "training") if name in params}
        self.built = True

    def call(self, inputs, mask=None, training=None):
        kwargs = dict(self.arguments)
        if "mask" in self._fn_takes:
            kwargs["mask"] = mask
        if "training" in self._fn_takes:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_output_shape(self, input_shape):
        if callable(self._output_shape):
            return self._output_shape(input_shape)
        if self._output_shape is not None:
            batch = input_shape[0][0] if isinstance(input_shape, list) else input_shape[0]
            if self._output_shape and isinstance(self._output_shape[0], tuple):
                return [(batch,) + s for s in self._output_shape]
            return (batch,) + self._output_shape
        return self._infer_output_shape(input_shape)

    def _infer_output_shape(self, input_shape):
        def dummy(shape):
            return ops.zeros(tuple(1 if d is None else d for d in shape))

        def shape_of(out, batch_unknown):
            shape = tuple(out.shape)
            return ((None,) + shape[1:]) if batch_unknown and shape else shape

        if isinstance(input_shape, list):
            out = self.call([dummy(s) for s in input_shape])
            batch_unknown = any(s[0] is None for s in input_shape if s)
        else:
            out = self.call(dummy(input_shape))
            batch_unknown = bool(input_shape) and input_shape[0] is None
        if isinstance(out, (list, tuple)):
            return [shape_of(o, batch_unknown) for o in out]
        if not ops.is_tensor(out):
            out = ops.convert_to_tensor(out)
        return shape_of(out, batch_unknown)

    def compute_mask(self, inputs, mask=None):
        if callable(self.mask):
            return self.mask(inputs, mask)
        return self.mask

    # ----------------------------------------------------------------------------------------
    @staticmethod
    def _serialize_function(fn) -> dict:
        if _is_lambda(fn):
            from rskeras.saving.serialization_lib import serialize_keras_object

            return serialize_keras_object(fn)  # the marshalled code, as Keras writes it
        from rskeras.saving.object_registration import GLOBAL_CUSTOM_NAMES

        registered = GLOBAL_CUSTOM_NAMES.get(fn)
        if registered is not None:  # found by that name on loading, in safe mode too
            return {"module": getattr(fn, "__module__", None), "class_name": "function",
                    "config": registered, "registered_name": registered}
        return {"module": getattr(fn, "__module__", None), "class_name": "function",
                "config": getattr(fn, "__qualname__", getattr(fn, "__name__", repr(fn))),
                "registered_name": "function"}

    def get_config(self):
        config = {**super().get_config(), "function": self._serialize_function(self.function)}
        if self._output_shape is not None:
            config["output_shape"] = (self._serialize_function(self._output_shape)
                                      if callable(self._output_shape) else self._output_shape)
        if self.mask is not None:
            config["mask"] = (self._serialize_function(self.mask) if callable(self.mask)
                              else self.mask)
        config["arguments"] = dict(self.arguments)
        return config

    @staticmethod
    def _deserialize_function(record, what, custom_objects, safe_mode):
        if callable(record) or not isinstance(record, dict):
            return record
        if record.get("class_name") == "__lambda__":
            from rskeras.saving.serialization_lib import LAMBDA_REFUSED, SafeModeScope, _load_lambda

            if not _unsafe_allowed(safe_mode):
                raise ValueError(f"Lambda.from_config: the `{what}` is a Python lambda. "
                                 + LAMBDA_REFUSED)
            if not isinstance(record.get("config"), dict):
                raise ValueError(f"Lambda.from_config: the `{what}` lambda record holds no code")
            with SafeModeScope(False):
                return _load_lambda(record["config"])
        name, module = record.get("config"), record.get("module")
        from rskeras.saving.object_registration import get_registered_object

        found = get_registered_object(name, custom_objects) if isinstance(name, str) else None
        if found is not None:  # custom_objects, a custom_object_scope, or the registry
            return found
        if not _unsafe_allowed(safe_mode):
            raise ValueError(
                f"Lambda.from_config: restoring the `{what}` {module}.{name} means importing "
                "and running code named by the config, which safe mode forbids. Pass "
                f"custom_objects={{{name!r}: {name}}}, or `safe_mode=False` (or call "
                "keras.config.enable_unsafe_deserialization()) if you trust this config.")
        try:
            obj = importlib.import_module(module)
            for part in name.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError, TypeError) as err:
            raise ValueError(
                f"Lambda.from_config: cannot find the `{what}` {module}.{name}: {err}") from None
        return obj

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=None):
        """Rebuild a Lambda layer from `get_config()`'s dict (see the class docstring for what
        can be restored).

        Raises:
            ValueError: for a lambda function, or a named one in safe mode without
                `custom_objects`, or one that cannot be imported.
        """
        config = dict(config)
        for key in ("function", "output_shape", "mask"):
            if key in config and isinstance(config[key], dict):
                config[key] = cls._deserialize_function(config[key], key, custom_objects, safe_mode)
        return super().from_config(config)

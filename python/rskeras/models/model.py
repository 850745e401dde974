"""`Model`: a `Layer` with the training API (`compile`/`fit`/`evaluate`/`predict`), in the three
Keras 3 forms: Functional (`Model(inputs, outputs)`, see `functional.py`), `Sequential`, and
subclassed (`class MyModel(keras.Model)` with `call`)."""

from __future__ import annotations

from rskeras.backend import naming
from rskeras.layers.layer import Layer
from rskeras.trainers.trainer import Trainer


def functional_init_arguments(args, kwargs) -> bool:
    """True when constructor arguments are those of a Functional model, as Keras decides:
    `Model(inputs, outputs)`, `Model(inputs, outputs=...)` or `Model(inputs=..., outputs=...)`."""
    return (len(args) == 2 or (len(args) == 1 and "outputs" in kwargs)
            or ("inputs" in kwargs and "outputs" in kwargs))


_FUNCTIONAL_SUBCLASSES: dict[type, type] = {}


def _functional_subclass(cls):
    """`cls` with `Functional` mixed in, for a `Model` subclass whose `__init__` calls
    `super().__init__(inputs, outputs)` (Keras's `inject_functional_model_class`)."""
    from rskeras.models.functional import Functional

    sub = _FUNCTIONAL_SUBCLASSES.get(cls)
    if sub is None:
        sub = type(cls.__name__, (cls, Functional), {"__module__": cls.__module__,
                                                     "__qualname__": cls.__qualname__})
        _FUNCTIONAL_SUBCLASSES[cls] = sub
    return sub


class Model(Trainer, Layer):
    """A model: layers plus `compile`/`fit`/`evaluate`/`predict`/`summary`.

    Three ways to make one, as in Keras 3:

    * Functional: `keras.Model(inputs, outputs, name=None)` where `inputs` come from
      `keras.Input` (a KerasTensor, a list or a dict of them) and `outputs` from layer calls on
      them. Returns a `Functional` model (see `rskeras.models.functional.Functional`).
    * `keras.Sequential([...])`.
    * Subclassing: create layers in `__init__` (they are tracked automatically, also inside
      lists and dicts) and define `call(inputs, training=None)`; optionally `build(input_shape)`
      and a custom `train_step(data)` written with `rskeras.GradientTape`.

    Args:
        name: the model name (default: the snake_case class name, made unique).
        trainable: whether the weights are updated by training (default True).

    Raises:
        TypeError: for unknown keyword arguments.
    """

    def __new__(cls, *args, **kwargs):
        if functional_init_arguments(args, kwargs) and cls is Model:
            from rskeras.models.functional import Functional

            return Functional.__new__(Functional)
        return super().__new__(cls)

    def __init__(self, *args, **kwargs):
        from rskeras.models.functional import Functional

        if functional_init_arguments(args, kwargs) and not isinstance(self, Functional):
            # A subclass that builds a graph in __init__ and calls super().__init__(inputs, outputs)
            self.__class__ = _functional_subclass(type(self))
        if isinstance(self, Functional) and functional_init_arguments(args, kwargs):
            Functional.__init__(self, *args, **kwargs)
            return
        if args:
            raise TypeError(f"{type(self).__name__}: unexpected positional arguments {args!r}")
        trainable = kwargs.pop("trainable", True)
        name = kwargs.pop("name", None)
        Layer.__init__(self, trainable=trainable, name=name, **kwargs)
        self._init_trainer()

    # ----------------------------------------------------------------------------------------
    def build(self, input_shape) -> None:
        """Create the weights for inputs of `input_shape` (batch axis included; a list or dict
        of shapes for several inputs).

        The default, for a subclassed model without its own `build`, runs `call` once on zeros
        of that shape (an unknown batch size becomes 1) in inference mode, which builds every
        sublayer, as Keras does when building a subclassed model.

        Raises:
            ValueError: when `call` fails on inputs of `input_shape`, naming the model and the
                shape.
        """
        if self.built or type(self).call is Model.call:
            self.built = True
            return
        dummy = _zeros_for(input_shape)
        self.built = True  # the call below must not re-enter build
        try:
            kwargs = {"training": False} if "training" in self._call_accepts else {}
            with naming.name_scope(self.name):
                self.call(dummy, **kwargs)
        except Exception as e:
            self.built = False
            raise ValueError(f'Model "{self.name}" could not be built for input shape {input_shape}: '
                             f"{type(e).__name__}: {e}") from e
        finally:
            self._clear_losses()
        object.__setattr__(self, "_build_shape_for_config", input_shape)

    def _build_for(self, inputs) -> None:
        if type(self).build is Model.build:
            # Default build: the first real call builds the sublayers as it runs. The shape
            # is recorded (`get_build_config`) so a loaded model can be built the same way.
            self.built = True
            if "_build_shape_for_config" not in self.__dict__:
                object.__setattr__(self, "_build_shape_for_config", _shape_struct(inputs))
            return
        Layer._build_for(self, inputs)

    def _warn_mask_dropped(self, stacklevel=2) -> None:
        pass  # a model's own layers consume and produce its masks

    def call(self, inputs, training=None, mask=None):
        """The forward pass; define it in a subclass.

        Raises:
            NotImplementedError: for a subclass that does not define `call`.
        """
        raise NotImplementedError(
            f"Model {type(self).__name__} does not define call(); subclasses of keras.Model must "
            "implement call(inputs, training=None), or use keras.Model(inputs, outputs)")

    # ----------------------------------------------------------------------------------------
    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Print the layer table, parameter counts and sizes, as Keras does: columns
        "Layer (type)", "Output Shape", "Param #", plus "Connected to" for a Functional model
        that is not a plain chain. `print_fn` receives the whole text (default `print`)."""
        from rskeras.utils.summary_utils import print_summary

        print_summary(self, line_length=line_length, print_fn=print_fn, positions=positions)

    def get_layer(self, name=None, index=None):
        """A sublayer by `name` or by `index` in `model.layers`.

        Raises:
            ValueError: when neither or both are given, or nothing matches.
        """
        if (name is None) == (index is None):
            raise ValueError("get_layer: provide exactly one of `name` or `index`")
        layers = self.layers
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"get_layer: index {index} is out of range for {len(layers)} layers")
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: {[layer.name for layer in layers]}")

    def get_config(self) -> dict:
        """The config of a subclassed model: `{"name", "trainable", "dtype"}` (override it, with
        `from_config`, to make a subclass serializable and clonable)."""
        return Layer.get_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """A model from `get_config()`: Functional configs (with "layers", "input_layers",
        "output_layers") are rebuilt as graphs; otherwise `cls(**config)`.

        Raises:
            TypeError: when `cls(**config)` does not accept the config, with a hint.
        """
        if "layers" in config and "input_layers" in config and "output_layers" in config:
            from rskeras.models.functional import Functional, functional_from_config

            target = cls if issubclass(cls, Functional) else Functional
            return functional_from_config(target, config, custom_objects=custom_objects)
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = config["dtype"].get("config", {}).get("name")
        try:
            return cls(**config)
        except TypeError as e:
            raise TypeError(
                f"Unable to revive model {cls.__name__} from config {config}: {e}. When overriding "
                "get_config(), return every argument of the constructor, and define from_config "
                "if the constructor does not accept them directly.") from e

    def to_json(self, **kwargs) -> str:
        """`json.dumps` of `serialize_keras_object(model)` (`{"module", "class_name",
        "config", ...}`); `keras.models.model_from_json` reads it back."""
        import json

        from rskeras.saving.saving_lib import _json_default
        from rskeras.saving.serialization_lib import serialize_layer_record

        return json.dumps(serialize_layer_record(self), default=_json_default, **kwargs)

    # ----------------------------------------------------------------------------------------
    def save(self, filepath, overwrite=True, zipped=None, **kwargs) -> None:
        """Save the model: `.keras` (architecture, weights and optimizer state in one zip, the
        Keras 3 format) or legacy `.h5`/`.hdf5`. The write is atomic: a temporary file in
        the same folder, fsynced, then renamed over `filepath`.

        Args:
            overwrite: replace an existing file (default True).
            include_optimizer: keyword, save the optimizer state (default True).

        Raises:
            ValueError: for another extension (`.weights.h5` files come from save_weights).
        """
        from rskeras.saving import saving_api

        saving_api.save_model(self, filepath, overwrite=overwrite, zipped=zipped, **kwargs)

    def save_weights(self, filepath, overwrite=True, max_shard_size=None) -> None:
        """Save the weights and the optimizer state to `filepath`, which must end in
        `.weights.h5` (Keras 3's object-path layout), atomically.

        Raises:
            ValueError: when `filepath` does not end in `.weights.h5`.
        """
        from rskeras.saving import saving_api

        saving_api.save_weights(self, filepath, overwrite=overwrite, max_shard_size=max_shard_size)

    def load_weights(self, filepath, skip_mismatch=False, **kwargs) -> None:
        """Load weights from `.weights.h5`, `.keras`, or legacy `.h5`/`.hdf5` (weights-only
        files such as the Keras application weights, or a full model's weights; `by_name=True`
        matches layers by name instead of by position).

        Raises:
            ValueError: for a bad file, or a layer whose weight count or shapes differ (the
                message names the layer and both shapes); `skip_mismatch=True` skips those
                layers with a warning instead.
        """
        from rskeras.saving import saving_api

        saving_api.load_weights(self, filepath, skip_mismatch=skip_mismatch, **kwargs)


def _shape_struct(inputs):
    """The shapes of call inputs (a tensor, or a list/dict of them), batch axis included."""
    if isinstance(inputs, dict):
        return {k: _shape_struct(v) for k, v in inputs.items()}
    if isinstance(inputs, (list, tuple)):
        return [_shape_struct(v) for v in inputs]
    shape = getattr(inputs, "shape", None)
    return None if shape is None else tuple(shape)


def _is_shape(value) -> bool:
    return isinstance(value, (tuple, list)) and all(d is None or isinstance(d, int) for d in value)


def _zeros_for(shapes):
    """float32 zeros for a shape (an unknown size becomes 1), or a list/dict of shapes."""
    import numpy as np

    from rskeras import _core

    if _is_shape(shapes):
        return _core.convert_to_tensor(np.zeros(tuple(1 if d is None else d for d in shapes), np.float32))
    if isinstance(shapes, dict):
        return {k: _zeros_for(v) for k, v in shapes.items()}
    return [_zeros_for(s) for s in shapes]

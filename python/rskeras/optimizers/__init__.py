"""`rskeras.optimizers` (`keras.optimizers`): the Keras 3 optimizers with their names,
arguments and defaults, each step one fused Rust update over all float32 weights; `get`,
`serialize` and `deserialize`; `schedules` (learning-rate schedules)."""

from rskeras.optimizers import schedules
from rskeras.optimizers.adadelta import Adadelta
from rskeras.optimizers.adagrad import Adagrad
from rskeras.optimizers.adam import Adam
from rskeras.optimizers.adamax import Adamax
from rskeras.optimizers.adamw import AdamW
from rskeras.optimizers.ftrl import Ftrl
from rskeras.optimizers.lamb import Lamb
from rskeras.optimizers.lion import Lion
from rskeras.optimizers.loss_scale_optimizer import LossScaleOptimizer
from rskeras.optimizers.nadam import Nadam
from rskeras.optimizers.optimizer import Optimizer
from rskeras.optimizers.rmsprop import RMSprop
from rskeras.optimizers.sgd import SGD
from rskeras.saving.object_registration import register_framework_class

# `rskeras.saving` sits below optimizers and finds their base class here (no import upwards).
register_framework_class("Optimizer", Optimizer)

__all__ = ["Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "Ftrl", "Lamb", "Lion",
           "LossScaleOptimizer", "Nadam", "Optimizer", "RMSprop", "SGD", "deserialize", "get",
           "schedules", "serialize"]

# Keras's lookup table (`keras.optimizers.ALL_OBJECTS`), by lower-case class name; Keras
# leaves Lamb out of it, we accept it too.
_BY_NAME = {cls.__name__.lower(): cls for cls in (
    Adadelta, Adagrad, Adam, AdamW, Adamax, Ftrl, Lamb, Lion, LossScaleOptimizer, Nadam,
    RMSprop, SGD)}


def serialize(optimizer) -> dict:
    """The Keras record of `optimizer`: `{"module": "keras.optimizers", "class_name": "Adam",
    "config": {...}, "registered_name": None}`."""
    from rskeras.saving.serialization_lib import serialize_keras_object

    return serialize_keras_object(optimizer)


def deserialize(config, custom_objects=None, use_legacy_format=False):
    """The optimizer a record describes (a `serialize` record, or a Keras 2
    `{"class_name", "config"}` one; the class name in any case, as Keras accepts).

    Raises:
        ValueError: for an unknown optimizer class, or a config the class refuses (naming it).
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not interpret optimizer config: {config!r}")
    cls = _BY_NAME.get(str(config["class_name"]).lower())
    if cls is not None and (custom_objects is None or config["class_name"] not in custom_objects):
        return cls.from_config(dict(config.get("config") or {}))
    from rskeras.saving.serialization_lib import deserialize_keras_object

    obj = deserialize_keras_object({"config": {}, **config}, custom_objects=custom_objects)
    if not isinstance(obj, Optimizer):
        raise ValueError(f"Unknown optimizer: {config['class_name']!r}")
    return obj


def get(identifier):
    """An optimizer from a name ("adam", "AdamW", "rmsprop"; any case), a config dict or an
    instance (returned as is); None gives None.

    Raises:
        ValueError: for an unknown name or an identifier of another kind (naming it).
    """
    if identifier is None or isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None or cls is LossScaleOptimizer:
            raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}. "
                             f"Known: {sorted(n for n in _BY_NAME if n != 'lossscaleoptimizer')}")
        return cls()
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}")

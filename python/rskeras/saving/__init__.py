"""`rskeras.saving`: save and load models and weights in the files Keras reads and writes
(`.keras`, legacy `.h5`, `.weights.h5`), and the registry of custom objects."""

from rskeras.saving.object_registration import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)
from rskeras.saving.saving_api import load_model, load_weights, save_model, save_weights
from rskeras.saving.serialization_lib import (
    deserialize_keras_object,
    serialize_keras_object,
)

__all__ = [
    "CustomObjectScope", "custom_object_scope", "deserialize_keras_object", "get_custom_objects",
    "get_registered_name", "get_registered_object", "load_model", "load_weights",
    "register_keras_serializable", "save_model", "save_weights", "serialize_keras_object",
]

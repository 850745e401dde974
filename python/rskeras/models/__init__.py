"""`rskeras.models`: `Model` (Functional or subclassed), `Sequential`, `clone_model`, and
`load_model` / `save_model` / `model_from_json`."""

from rskeras.models.cloning import clone_model
from rskeras.models.functional import Functional
from rskeras.models.model import Model
from rskeras.models.sequential import Sequential
from rskeras.saving.object_registration import register_framework_class
from rskeras.saving.saving_api import load_model, save_model

# `rskeras.saving` sits below models and finds their classes here (no import upwards).
register_framework_class("Model", Model)
register_framework_class("Functional", Functional)
register_framework_class("Sequential", Sequential)


def model_from_json(json_string, custom_objects=None):
    """A model (new weights) from `model.to_json()`'s string, or a Keras JSON config.

    Raises:
        ValueError: for text that is not JSON or does not describe a model.
    """
    import json

    from rskeras.saving.serialization_lib import deserialize_keras_object

    try:
        config = json.loads(json_string)
    except (TypeError, json.JSONDecodeError) as e:
        raise ValueError(f"model_from_json: the text is not valid JSON: {e}") from None
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError("model_from_json: the JSON does not describe a model (no 'class_name')")
    return deserialize_keras_object(config, custom_objects=custom_objects)


__all__ = ["Functional", "Model", "Sequential", "clone_model", "load_model", "model_from_json",
           "save_model"]

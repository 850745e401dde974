"""`rskeras.utils`: seeding, progress bar, file download, label helpers and `PyDataset`."""

from rskeras.utils.data_packing import pack_x_y_sample_weight, unpack_x_y_sample_weight
from rskeras.utils.file_utils import get_file
from rskeras.utils.numerical_utils import normalize, to_categorical
from rskeras.utils.progbar import Progbar
from rskeras.utils.py_dataset import PyDataset, Sequence
from rskeras.utils.rng_utils import set_random_seed
from rskeras.saving.object_registration import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)
from rskeras.saving.serialization_lib import deserialize_keras_object, serialize_keras_object


def clear_session() -> None:
    """Reset the automatic layer-name counters ("dense", "dense_1", ...)."""
    from rskeras.backend import naming

    naming.reset()


__all__ = ["CustomObjectScope", "Progbar", "PyDataset", "Sequence", "clear_session", "custom_object_scope",
           "deserialize_keras_object", "get_custom_objects", "get_file", "get_registered_name",
           "get_registered_object", "normalize", "pack_x_y_sample_weight",
           "register_keras_serializable",
           "serialize_keras_object", "set_random_seed", "to_categorical",
           "unpack_x_y_sample_weight"]

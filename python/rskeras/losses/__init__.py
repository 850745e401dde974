"""`rskeras.losses`: every Keras 3 loss (classes, functions, and the names `compile` and
`losses.get` accept), with `get`, `serialize` and `deserialize` (Keras 3:
`keras/src/losses/__init__.py`)."""

from __future__ import annotations

import inspect

from rskeras.losses.loss import Loss
from rskeras.losses.losses import (  # noqa: F401
    CTC, BinaryCrossentropy, BinaryFocalCrossentropy, CategoricalCrossentropy,
    CategoricalFocalCrossentropy, CategoricalGeneralizedCrossEntropy, CategoricalHinge, Circle,
    CosineSimilarity, Dice, Hinge, Huber, KLDivergence, LogCosh, LossFunctionWrapper,
    MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredError,
    MeanSquaredLogarithmicError, Poisson, SparseCategoricalCrossentropy, SquaredHinge, Tversky,
    apply_mask, binary_crossentropy, binary_focal_crossentropy, categorical_crossentropy,
    categorical_focal_crossentropy, categorical_generalized_cross_entropy, categorical_hinge,
    circle, combined_mask, cosine_similarity, ctc, dice, hinge, huber, kl_divergence,
    labels_checked, log_cosh, mean_absolute_error, mean_absolute_percentage_error,
    mean_squared_error, mean_squared_logarithmic_error, poisson, reduce_loss,
    reduce_weighted_values, sparse_categorical_crossentropy, squared_hinge, tversky,
)

# The aliases tf.keras (and `keras._tf_keras.keras.losses`) exports as functions.
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kullback_leibler_divergence = kl_divergence
logcosh = log_cosh

ALL_OBJECTS = (
    Loss, LossFunctionWrapper,
    KLDivergence, Poisson, BinaryCrossentropy, BinaryFocalCrossentropy, CategoricalCrossentropy,
    CategoricalFocalCrossentropy, SparseCategoricalCrossentropy,
    MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError, CosineSimilarity, LogCosh, Huber,
    Hinge, SquaredHinge, CategoricalHinge,
    Dice, Tversky, Circle, CTC,
    kl_divergence, poisson, binary_crossentropy, binary_focal_crossentropy,
    categorical_crossentropy, categorical_focal_crossentropy, sparse_categorical_crossentropy,
    mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
    mean_squared_logarithmic_error, cosine_similarity, log_cosh, huber,
    hinge, squared_hinge, categorical_hinge, dice, tversky, circle, ctc,
)

# Keras 3's lookup table (its ALL_OBJECTS by __name__, plus its aliases). Keras 3.15 leaves
# CategoricalGeneralizedCrossEntropy and its function out of the table; they are added here,
# as are the tf.keras 2 names "kullback_leibler_divergence" and "logcosh" (Keras 2 files).
ALL_OBJECTS_DICT = {obj.__name__: obj for obj in ALL_OBJECTS}
ALL_OBJECTS_DICT.update({
    "bce": binary_crossentropy, "BCE": binary_crossentropy,
    "kld": kl_divergence, "KLD": kl_divergence,
    "mae": mean_absolute_error, "MAE": mean_absolute_error,
    "mse": mean_squared_error, "MSE": mean_squared_error,
    "mape": mean_absolute_percentage_error, "MAPE": mean_absolute_percentage_error,
    "msle": mean_squared_logarithmic_error, "MSLE": mean_squared_logarithmic_error,
})
EXTRA_NAMES = {
    "CategoricalGeneralizedCrossEntropy": CategoricalGeneralizedCrossEntropy,
    "categorical_generalized_cross_entropy": categorical_generalized_cross_entropy,
    "kullback_leibler_divergence": kl_divergence,
    "logcosh": log_cosh,
}
_LOOKUP = {**ALL_OBJECTS_DICT, **EXTRA_NAMES}


def serialize(loss):
    """A loss function or `Loss` instance as its Keras 3 config record
    (`{"module": "keras.losses", "class_name": ..., "config": ..., "registered_name": ...}`;
    a function's record has `"class_name": "function"` and its name as config)."""
    from rskeras.saving.serialization_lib import serialize_keras_object

    return serialize_keras_object(loss)


def deserialize(name, custom_objects=None):
    """A `Loss` instance or loss function from `serialize`'s record, or from a name (a class
    name gives the class's default instance).

    Raises:
        ValueError: for an unknown name or class.
    """
    if isinstance(name, str):
        if custom_objects and name in custom_objects:
            obj = custom_objects[name]
        else:
            obj = _LOOKUP.get(name)
        if obj is None:
            raise ValueError(_unknown(name))
        return obj() if inspect.isclass(obj) else obj
    from rskeras.saving.serialization_lib import deserialize_keras_object

    return deserialize_keras_object(name, custom_objects=custom_objects)


def _unknown(identifier) -> str:
    return (f"Could not interpret loss identifier: {identifier}. Known names: "
            f"{sorted(_LOOKUP)}")


def get(identifier):
    """A loss from an identifier, as Keras 3's `keras.losses.get`.

    Args:
        identifier: None (returned as is); a name ("mse", "huber",
            "sparse_categorical_crossentropy", "MeanSquaredError", ...: a function name
            gives the function, a class name a default instance); a config dict
            (`{"class_name": "Huber", "config": {"delta": 2.0}}`); a `Loss` instance or a
            callable (returned as is); a `Loss` class (instantiated with its defaults).

    Raises:
        ValueError: for an unknown name or anything else, listing the known names.
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = _LOOKUP.get(identifier)
    else:
        obj = identifier
    if callable(obj):
        return obj() if inspect.isclass(obj) else obj
    raise ValueError(_unknown(identifier))

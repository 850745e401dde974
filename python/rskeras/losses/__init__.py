"""`rskeras.losses`: Keras 3 losses (classes, functions and the names `compile` accepts)."""

from rskeras.losses.losses import (  # noqa: F401
    MAE, MSE, BinaryCrossentropy, CategoricalCrossentropy, Loss, LossFunctionWrapper,
    MeanAbsoluteError, MeanSquaredError, SparseCategoricalCrossentropy, binary_crossentropy,
    categorical_crossentropy, mae, mean_absolute_error, mean_squared_error, mse, reduce_loss,
    sparse_categorical_crossentropy,
)

_BY_NAME = {
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "categorical_crossentropy": categorical_crossentropy,
    "binary_crossentropy": binary_crossentropy,
    "mean_squared_error": mean_squared_error, "mse": mean_squared_error, "MSE": mean_squared_error,
    "mean_absolute_error": mean_absolute_error, "mae": mean_absolute_error, "MAE": mean_absolute_error,
}
_CLASSES = {c.__name__: c for c in (SparseCategoricalCrossentropy, CategoricalCrossentropy,
                                    BinaryCrossentropy, MeanSquaredError, MeanAbsoluteError)}


def get(identifier):
    """A loss from a name ("mse", "sparse_categorical_crossentropy", "MeanSquaredError"), a
    `Loss` instance, a config dict or a callable; None stays None.

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict):
        return _CLASSES[identifier["class_name"]].from_config(identifier.get("config", {}))
    if isinstance(identifier, str):
        if identifier in _BY_NAME:
            return _BY_NAME[identifier]
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
        raise ValueError(f"Unknown loss: {identifier!r}. Known: {sorted(_BY_NAME) + sorted(_CLASSES)}")
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}")

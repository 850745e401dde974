"""`rskeras.metrics`: every Keras 3 metric, the metric functions `keras.metrics` exports, and
`get`/`serialize`/`deserialize` (Keras 3: `keras/src/metrics/__init__.py`).

The loss functions that `keras.metrics` re-exports (`mean_squared_error`, `hinge`, ...) are
those of `rskeras.losses`, looked up when first used."""

from rskeras.metrics.accuracy_metrics import (  # noqa: F401
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from rskeras.metrics.confusion_metrics import (
    AUC,
    FalseNegatives,
    FalsePositives,
    Precision,
    PrecisionAtRecall,
    Recall,
    RecallAtPrecision,
    SensitivityAtSpecificity,
    SpecificityAtSensitivity,
    TrueNegatives,
    TruePositives,
)
from rskeras.metrics.correlation_metrics import (  # noqa: F401
    ConcordanceCorrelation,
    PearsonCorrelation,
    concordance_correlation,
    pearson_correlation,
)
from rskeras.metrics.f_score_metrics import F1Score, FBetaScore
from rskeras.metrics.hinge_metrics import CategoricalHinge, Hinge, SquaredHinge
from rskeras.metrics.iou_metrics import (
    BinaryIoU,
    IoU,
    MeanIoU,
    OneHotIoU,
    OneHotMeanIoU,
)
from rskeras.metrics.metric import Metric
from rskeras.metrics.probabilistic_metrics import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    KLDivergence,
    Poisson,
    SparseCategoricalCrossentropy,
)
from rskeras.metrics.reduction_metrics import Mean, MeanMetricWrapper, Sum
from rskeras.metrics.regression_metrics import (  # noqa: F401
    CosineSimilarity,
    LogCoshError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    R2Score,
    RootMeanSquaredError,
    cosine_similarity,
)

ALL_OBJECTS = (
    Metric, Mean, Sum, MeanMetricWrapper,
    MeanSquaredError, RootMeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError, CosineSimilarity, LogCoshError, R2Score,
    AUC, FalseNegatives, FalsePositives, Precision, PrecisionAtRecall, Recall,
    RecallAtPrecision, SensitivityAtSpecificity, SpecificityAtSensitivity, TrueNegatives,
    TruePositives,
    ConcordanceCorrelation, PearsonCorrelation,
    Hinge, SquaredHinge, CategoricalHinge,
    KLDivergence, Poisson, BinaryCrossentropy, CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
    Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
    TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy,
    F1Score, FBetaScore,
    IoU, BinaryIoU, MeanIoU, OneHotIoU, OneHotMeanIoU,
)


def _snake(name: str) -> str:
    from rskeras.backend import naming

    return naming.to_snake_case(name)


# The names `get` resolves, as Keras's ALL_OBJECTS_DICT: class names, their snake case
# ("auc", "f1_score", "mean_io_u", ...) and the short aliases.
ALL_OBJECTS_DICT = {cls.__name__: cls for cls in ALL_OBJECTS}
ALL_OBJECTS_DICT.update({_snake(cls.__name__): cls for cls in ALL_OBJECTS})
ALL_OBJECTS_DICT.update({
    "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy,
    "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError,
})

# Loss functions `keras.metrics` re-exports under the same names.
_LOSS_FUNCTIONS = (
    "binary_crossentropy", "binary_focal_crossentropy", "categorical_crossentropy",
    "categorical_focal_crossentropy", "categorical_hinge", "hinge", "huber", "kl_divergence",
    "log_cosh", "mean_absolute_error", "mean_absolute_percentage_error", "mean_squared_error",
    "mean_squared_logarithmic_error", "poisson", "sparse_categorical_crossentropy",
    "squared_hinge",
)


def __getattr__(name):
    if name in _LOSS_FUNCTIONS:
        from rskeras import losses

        found = getattr(losses, name, None)
        if found is not None:
            return found
    raise AttributeError(f"module 'rskeras.metrics' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LOSS_FUNCTIONS))


def serialize(metric):
    """The config record of a `Metric` (`{"module", "class_name", "config",
    "registered_name"}`) or of a metric function, as Keras writes it."""
    from rskeras.saving import serialization_lib

    return serialization_lib.serialize_keras_object(metric)


def deserialize(config, custom_objects=None):
    """A `Metric` (or metric function) from a record `serialize` wrote, or from a name.

    Raises:
        ValueError: for an unknown class or name.
    """
    from rskeras.saving import serialization_lib

    if isinstance(config, str):
        return get(config)
    if isinstance(config, dict) and config.get("class_name") == "function":
        from rskeras.metrics.reduction_metrics import _function_from_record

        return _function_from_record(config)  # the function itself, as Keras returns it
    if isinstance(config, dict) and config.get("class_name") in ALL_OBJECTS_DICT \
            and "module" not in config:
        cls = ALL_OBJECTS_DICT[config["class_name"]]
        return cls.from_config(config.get("config") or {})
    return serialization_lib.deserialize_keras_object(config, custom_objects=custom_objects)


def get(identifier):
    """A `Metric` from an identifier.

    * a name Keras's `metrics.get` knows: a class name (`"AUC"`, `"Precision"`), its snake
      case (`"auc"`, `"precision"`, `"top_k_categorical_accuracy"`, `"f1_score"`) or an alias
      (`"mse"`, `"mae"`, `"mape"`, `"msle"`, `"bce"`, upper case too): a new instance with
      default arguments, named after the string (as `compile` names it; Keras's own `get`
      leaves the class's default name, its `compile` then renames it);
    * a config dict (`{"class_name": ..., "config": ...}`): deserialized;
    * a `Metric` instance: itself; a `Metric` class: an instance;
    * another callable `fn(y_true, y_pred)`: wrapped in `MeanMetricWrapper` (as `compile`
      does; Keras's `get` returns the function itself). None stays None.

    "accuracy"/"acc" are resolved by `compile` from the loss and shapes, not here.

    Raises:
        ValueError: for an unknown name or an identifier of another kind.
    """
    if identifier is None:
        return None
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = ALL_OBJECTS_DICT.get(identifier)
        if cls is None:
            raise ValueError(f"Could not interpret metric identifier: {identifier}")
        metric = cls()
        metric.name = identifier
        return metric
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise ValueError(f"Could not interpret metric identifier: {identifier}")

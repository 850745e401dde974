"""`rskeras.metrics`: Keras 3 metrics, and the name resolution `compile(metrics=...)` uses."""

from rskeras.metrics.accuracy_metrics import (  # noqa: F401
    Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, accuracy,
    binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
)
from rskeras.metrics.metric import Mean, MeanMetricWrapper, Metric, Sum  # noqa: F401

_CLASSES = {c.__name__: c for c in (Accuracy, BinaryAccuracy, CategoricalAccuracy,
                                    SparseCategoricalAccuracy, Mean, Sum)}
_FUNCTIONS = {f.__name__: f for f in (accuracy, binary_accuracy, categorical_accuracy,
                                      sparse_categorical_accuracy)}


def get(identifier):
    """A metric from a class name, a function name or a loss name (wrapped in
    `MeanMetricWrapper`), a `Metric` instance or a callable. "accuracy" is resolved by
    `compile` from the loss and shapes, not here.

    Raises:
        ValueError: for an unknown name.
    """
    from rskeras import losses

    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
        if identifier in _FUNCTIONS:
            return MeanMetricWrapper(_FUNCTIONS[identifier], name=identifier)
        try:
            fn = losses.get(identifier)
        except ValueError:
            raise ValueError(f"Unknown metric: {identifier!r}") from None
        return MeanMetricWrapper(fn, name=identifier)
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise ValueError(f"Could not interpret metric identifier: {identifier!r}")

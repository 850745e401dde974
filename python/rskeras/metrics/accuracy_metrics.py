"""Accuracy metrics: the per-sample match functions and their `MeanMetricWrapper` classes."""

from __future__ import annotations

from rskeras import ops
from rskeras.losses.labels import check_labels, num_classes_of, sparse_labels
from rskeras.metrics.metric import MeanMetricWrapper


def accuracy(y_true, y_pred):
    """1.0 where `y_true == y_pred` exactly, else 0.0 (per element)."""
    check_labels(y_true, "accuracy")
    y_pred = ops.convert_to_tensor(y_pred)
    return ops.cast(ops.equal(ops.cast(y_true, y_pred.dtype), y_pred), "float32")


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """Mean over the last axis of `y_true == (y_pred > threshold)`; `(batch, d)` -> `(batch,)`."""
    check_labels(y_true, "binary_accuracy")
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.cast(y_true, "float32")
    if y_true.ndim == y_pred.ndim - 1:
        y_true = ops.expand_dims(y_true, -1)
    hits = ops.equal(y_true, ops.cast(ops.greater(y_pred, threshold), "float32"))
    return ops.mean(ops.cast(hits, "float32"), axis=-1)


def categorical_accuracy(y_true, y_pred):
    """1.0 where `argmax(y_true) == argmax(y_pred)` along the last axis; `(batch,)`."""
    check_labels(y_true, "categorical_accuracy")
    return ops.cast(ops.equal(ops.argmax(y_true, axis=-1), ops.argmax(y_pred, axis=-1)), "float32")


@sparse_labels
def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the integer label equals `argmax(y_pred)`; labels `(batch,)` or `(batch, 1)`.

    Raises:
        ValueError: for a label that is NaN, infinite or outside `[0, classes)`."""
    y_pred = ops.convert_to_tensor(y_pred)
    check_labels(y_true, "sparse_categorical_accuracy", num_classes_of(y_pred))
    y_true = ops.convert_to_tensor(y_true)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = ops.reshape(y_true, tuple(y_true.shape[:-1]))
    return ops.cast(ops.equal(ops.cast(y_true, "int32"), ops.argmax(y_pred, axis=-1)), "float32")


class Accuracy(MeanMetricWrapper):
    """How often predictions equal labels exactly."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often `y_pred > threshold` matches binary labels (threshold default 0.5)."""

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    """How often the arg-max of predictions matches the arg-max of one-hot labels."""

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the arg-max of predictions matches integer labels."""

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)

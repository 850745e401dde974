"""Accuracy metrics (Keras 3: `keras/src/metrics/accuracy_metrics.py`): the per-sample match
functions and their `MeanMetricWrapper` classes. Each function returns float32 1.0/0.0 per
sample (or per element; `Mean` averages the rest away)."""

from __future__ import annotations

from rskeras import ops
from rskeras.losses.labels import check_labels, num_classes_of, sparse_labels
from rskeras.metrics.metrics_utils import squeeze_or_expand_to_same_rank
from rskeras.metrics.reduction_metrics import MeanMetricWrapper


def _check_batch(name, y_true, y_pred):
    if y_true.ndim and y_pred.ndim and y_true.shape[0] != y_pred.shape[0]:
        raise ValueError(f"{name}: y_true and y_pred must have the same batch size; received "
                         f"y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}")


def accuracy(y_true, y_pred):
    """1.0 where `y_true == y_pred` exactly, else 0.0 (per element; a trailing axis of 1
    on either side is dropped)."""
    check_labels(y_true, "accuracy")
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.convert_to_tensor(y_true, y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return ops.cast(ops.equal(y_true, y_pred), "float32")


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where `y_true == (y_pred > threshold)` (per element, `threshold` default 0.5)."""
    check_labels(y_true, "binary_accuracy")
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.convert_to_tensor(y_true)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    y_pred = ops.cast(ops.greater(y_pred, threshold), y_true.dtype)
    return ops.cast(ops.equal(y_true, y_pred), "float32")


def categorical_accuracy(y_true, y_pred):
    """1.0 where `argmax(y_true) == argmax(y_pred)` along the last axis: `(batch, classes)`
    -> `(batch,)`."""
    check_labels(y_true, "categorical_accuracy")
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.convert_to_tensor(y_true)
    _check_batch("categorical_accuracy", y_true, y_pred)
    return ops.cast(ops.equal(ops.argmax(y_true, axis=-1), ops.argmax(y_pred, axis=-1)), "float32")


def _sparse_ids(y_true, y_pred, dtype="int32"):
    """Labels `(batch,)` or `(batch, 1)` (and more leading axes) flattened to match the
    prediction rows."""
    y_true = ops.convert_to_tensor(y_true)
    if y_true.ndim == y_pred.ndim and y_true.ndim and y_true.shape[-1] == 1:
        y_true = ops.squeeze(y_true, -1)
    return ops.cast(y_true, dtype)


@sparse_labels
def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the integer label equals `argmax(y_pred)`; labels `(batch,)` or `(batch, 1)`
    against `y_pred` `(batch, classes)` -> `(batch,)`.

    Raises:
        ValueError: for a label that is NaN, infinite or outside `[0, classes)`."""
    y_pred = ops.convert_to_tensor(y_pred)
    check_labels(y_true, "sparse_categorical_accuracy", num_classes_of(y_pred))
    y_true = _sparse_ids(y_true, y_pred)
    _check_batch("sparse_categorical_accuracy", y_true, y_pred)
    return ops.cast(ops.equal(y_true, ops.cast(ops.argmax(y_pred, axis=-1), "int32")), "float32")


def _in_top_k(name, labels, y_pred, k):
    if y_pred.ndim > 2:
        y_pred = ops.reshape(y_pred, (-1, y_pred.shape[-1]))
    shape = tuple(labels.shape)
    labels = ops.reshape(labels, (-1,))
    if labels.shape[0] != y_pred.shape[0]:
        raise ValueError(f"{name}: expected one label per prediction row ({y_pred.shape[0]}); "
                         f"received labels of shape {shape}")
    return ops.reshape(ops.cast(ops.in_top_k(labels, y_pred, k), "float32"), shape)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where `argmax(y_true)` is among the `k` (default 5) largest predictions of its
    row; `(batch, classes)` -> `(batch,)`."""
    check_labels(y_true, "top_k_categorical_accuracy")
    y_pred = ops.convert_to_tensor(y_pred)
    labels = ops.cast(ops.argmax(ops.convert_to_tensor(y_true), axis=-1), "int32")
    return _in_top_k("top_k_categorical_accuracy", labels, y_pred, k)


@sparse_labels
def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    """1.0 where the integer label is among the `k` (default 5) largest predictions of its
    row. With `from_sorted_ids=True`, `y_pred` holds class ids sorted by score (as
    `ops.top_k` returns) and the label is looked for in its first `k` columns.

    Raises:
        ValueError: for a label that is NaN, infinite or outside `[0, classes)`."""
    y_pred = ops.convert_to_tensor(y_pred)
    check_labels(y_true, "sparse_top_k_categorical_accuracy",
                 None if from_sorted_ids else num_classes_of(y_pred))
    if from_sorted_ids:
        y_true = ops.convert_to_tensor(y_true, y_pred.dtype)
        shape = tuple(y_true.shape)
        labels = ops.reshape(y_true, (-1, 1))
        ids = ops.reshape(y_pred, (-1, y_pred.shape[-1]))[:, :k]
        return ops.reshape(ops.cast(ops.any(ops.equal(labels, ids), axis=1), "float32"), shape)
    labels = ops.cast(ops.convert_to_tensor(y_true), "int32")
    return _in_top_k("sparse_top_k_categorical_accuracy", labels, y_pred, k)


class Accuracy(MeanMetricWrapper):
    """How often predictions equal labels exactly."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)
        self._direction = "up"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class BinaryAccuracy(MeanMetricWrapper):
    """How often `y_pred > threshold` matches binary labels (`threshold` default 0.5)."""

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold
        self._direction = "up"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "threshold": self.threshold}


class CategoricalAccuracy(MeanMetricWrapper):
    """How often the arg-max of predictions matches the arg-max of one-hot labels."""

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)
        self._direction = "up"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the arg-max of predictions matches integer labels."""

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)
        self._direction = "up"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot label's class is among the top `k` (default 5) predictions."""

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k
        self._direction = "up"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "k": self.k}


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer label is among the top `k` (default 5) predictions
    (`from_sorted_ids`: `y_pred` holds sorted class ids)."""

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None,
                 from_sorted_ids=False):
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k,
                         from_sorted_ids=from_sorted_ids)
        self.k = k
        self.from_sorted_ids = from_sorted_ids
        self._direction = "up"

    def get_config(self):
        config = {"name": self.name, "dtype": self.dtype, "k": self.k}
        if self.from_sorted_ids:
            config["from_sorted_ids"] = True
        return config

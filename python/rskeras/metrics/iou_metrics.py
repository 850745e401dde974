"""Intersection-over-union metrics (Keras 3: `keras/src/metrics/iou_metrics.py`), from a
`(num_classes, num_classes)` confusion matrix accumulated over batches (rows: true class,
columns: predicted class). For class c: `IoU = tp / (tp + fp + fn)`; the result averages it
over the target classes that occurred (a class with an empty denominator is left out)."""

from __future__ import annotations

import warnings

from rskeras import ops
from rskeras.metrics.metric import Metric
from rskeras.metrics.metrics_utils import EPSILON, confusion_matrix


class _IoUBase(Metric):
    """The accumulated confusion matrix `total_confusion_matrix`.

    Labels and predictions are class ids (any shape, flattened), or with
    `sparse_y_true`/`sparse_y_pred` False, scores whose arg-max along `axis` is taken.
    Ids outside `[0, num_classes)` and `ignore_class` are skipped. The state dtype (default
    `"int32"`, Keras's `"int"`) also applies to `sample_weight`: float weights are truncated
    (with Keras's warning).
    """

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None,
                 sparse_y_true=True, sparse_y_pred=True, axis=-1):
        super().__init__(name=name, dtype=dtype or "int")
        self._direction = "up"
        self.num_classes, self.ignore_class = num_classes, ignore_class
        self.sparse_y_true, self.sparse_y_pred, self.axis = sparse_y_true, sparse_y_pred, axis
        self._add_state(shape=(num_classes, num_classes), dtype=self.dtype,
                          name="total_confusion_matrix")

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Raises:
            ValueError: when labels and predictions do not hold the same number of ids, or
                `sample_weight` has neither one entry per id nor one value."""
        if not self.sparse_y_true:
            y_true = ops.argmax(y_true, axis=self.axis)
        if not self.sparse_y_pred:
            y_pred = ops.argmax(y_pred, axis=self.axis)
        y_true = ops.reshape(ops.convert_to_tensor(y_true, self.dtype), (-1,))
        y_pred = ops.reshape(ops.convert_to_tensor(y_pred, self.dtype), (-1,))
        if y_true.shape != y_pred.shape:
            raise ValueError(f"{self.name}: expected as many predicted class ids as labels; "
                             f"received {y_true.shape[0]} labels and {y_pred.shape[0]} "
                             "predictions")
        if sample_weight is None:
            sample_weight = 1
        elif "float" in str(getattr(sample_weight, "dtype", "")) and "int" in self.dtype:
            warnings.warn("You are passing weight as `float`, but dtype is `int`. This may "
                          "result in an incorrect weight due to type casting Consider using "
                          "integer weights.", stacklevel=2)
        sample_weight = ops.convert_to_tensor(sample_weight, self.dtype)
        if sample_weight.ndim > 1:
            sample_weight = ops.reshape(sample_weight, (-1,))
        if sample_weight.ndim and sample_weight.shape[0] not in (1, y_true.shape[0]):
            raise ValueError(f"{self.name}: expected sample_weight of {y_true.shape[0]} entries "
                             f"(one per id), received shape {tuple(sample_weight.shape)}")
        sample_weight = ops.broadcast_to(sample_weight, tuple(y_true.shape))
        n = self.num_classes
        keep = ops.logical_and(ops.logical_and(y_true >= 0, y_true < n),
                               ops.logical_and(y_pred >= 0, y_pred < n))
        if self.ignore_class is not None:
            keep = ops.logical_and(keep, ops.not_equal(y_true, self.ignore_class))
        y_true = ops.where(keep, y_true, 0)
        y_pred = ops.where(keep, y_pred, 0)
        sample_weight = ops.where(keep, sample_weight, 0)
        self._accumulate("total_confusion_matrix",
                         confusion_matrix(y_true, y_pred, n, weights=sample_weight,
                                          dtype=self.dtype))


class IoU(_IoUBase):
    """The mean IoU over `target_class_ids` (those whose denominator is not 0).

    Args:
        num_classes: the number of classes. target_class_ids: the classes averaged.
        name, dtype: defaults the class name in snake case, `"int32"`.
        ignore_class: a label id to skip (None: none). sparse_y_true, sparse_y_pred: whether
            labels/predictions are ids (default) or scores along `axis` (default -1).

    Raises:
        ValueError: for a target class id `>= num_classes`.
    """

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None,
                 sparse_y_true=True, sparse_y_pred=True, axis=-1):
        super().__init__(num_classes=num_classes, name=name, dtype=dtype,
                         ignore_class=ignore_class, sparse_y_true=sparse_y_true,
                         sparse_y_pred=sparse_y_pred, axis=axis)
        if max(target_class_ids) >= num_classes:
            raise ValueError(f"Target class id {max(target_class_ids)} is out of range, which "
                             f"is [0, {num_classes}).")
        self.target_class_ids = list(target_class_ids)

    def result(self):
        cm = ops.cast(self._read("total_confusion_matrix"), "float32")
        eye = ops.eye(self.num_classes, dtype="float32")
        tp = ops.sum(cm * eye, axis=1)
        denominator = ops.sum(cm, axis=0) + ops.sum(cm, axis=1) - tp
        ids = ops.convert_to_tensor(self.target_class_ids, "int32")
        tp, denominator = ops.take(tp, ids), ops.take(denominator, ids)
        valid = ops.cast(ops.greater(denominator, 1e-9), "float32")
        iou = ops.where(valid > 0, tp / (denominator + EPSILON), 0.0)
        return ops.sum(iou, axis=self.axis) / (ops.sum(valid) + EPSILON)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "num_classes": self.num_classes,
                "target_class_ids": self.target_class_ids, "ignore_class": self.ignore_class,
                "sparse_y_true": self.sparse_y_true, "sparse_y_pred": self.sparse_y_pred,
                "axis": self.axis}


class BinaryIoU(IoU):
    """IoU of binary labels against `y_pred >= threshold` (default 0.5), averaged over
    `target_class_ids` (default `(0, 1)`)."""

    def __init__(self, target_class_ids=(0, 1), threshold=0.5, name=None, dtype=None):
        super().__init__(num_classes=2, target_class_ids=target_class_ids, name=name,
                         dtype=dtype)
        self.threshold = threshold

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.convert_to_tensor(y_true, self.dtype)
        y_pred = ops.cast(ops.convert_to_tensor(y_pred, "float32") >= self.threshold, self.dtype)
        super().update_state(y_true, y_pred, sample_weight)

    def get_config(self):
        return {"target_class_ids": self.target_class_ids, "threshold": self.threshold,
                "name": self.name, "dtype": self.dtype}


class MeanIoU(IoU):
    """The IoU averaged over every class (that occurred)."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None,
                 sparse_y_true=True, sparse_y_pred=True, axis=-1):
        super().__init__(num_classes=num_classes, target_class_ids=list(range(num_classes)),
                         name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=sparse_y_true, sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        return {"num_classes": self.num_classes, "name": self.name, "dtype": self.dtype,
                "ignore_class": self.ignore_class, "sparse_y_true": self.sparse_y_true,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class OneHotIoU(IoU):
    """`IoU` of one-hot labels (arg-max along `axis`) and scores (`sparse_y_pred` False by
    default)."""

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None,
                 sparse_y_pred=False, axis=-1):
        super().__init__(num_classes=num_classes, target_class_ids=target_class_ids, name=name,
                         dtype=dtype, ignore_class=ignore_class, sparse_y_true=False,
                         sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        return {"num_classes": self.num_classes, "target_class_ids": self.target_class_ids,
                "name": self.name, "dtype": self.dtype, "ignore_class": self.ignore_class,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class OneHotMeanIoU(MeanIoU):
    """`MeanIoU` of one-hot labels and scores (`sparse_y_pred` False by default)."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None,
                 sparse_y_pred=False, axis=-1):
        super().__init__(num_classes=num_classes, name=name, dtype=dtype,
                         ignore_class=ignore_class, sparse_y_true=False,
                         sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        return {"num_classes": self.num_classes, "name": self.name, "dtype": self.dtype,
                "ignore_class": self.ignore_class, "sparse_y_pred": self.sparse_y_pred,
                "axis": self.axis}

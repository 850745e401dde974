"""Probabilistic metrics (Keras 3: `keras/src/metrics/probabilistic_metrics.py`): running
means of the cross-entropies, KL divergence and Poisson loss of `rskeras.losses`."""

from __future__ import annotations

from rskeras.metrics.reduction_metrics import MeanMetricWrapper
from rskeras.metrics.regression_metrics import _LossMean, loss_function


class KLDivergence(_LossMean):
    """Running mean of `sum(y_true * log(y_true / y_pred), axis=-1)` (both clipped to
    `[eps, 1]`)."""

    _loss_name = _default_name = "kl_divergence"

    def __init__(self, name="kl_divergence", dtype=None):
        super().__init__(name=name, dtype=dtype)
        del self._direction  # Keras gives this metric no direction


class Poisson(_LossMean):
    """Running mean of `mean(y_pred - y_true * log(y_pred + eps), axis=-1)`."""

    _loss_name = _default_name = "poisson"

    def __init__(self, name="poisson", dtype=None):
        super().__init__(name=name, dtype=dtype)
        del self._direction


class BinaryCrossentropy(MeanMetricWrapper):
    """Running mean of `binary_crossentropy(y_true, y_pred, from_logits, label_smoothing)`
    (defaults False, 0)."""

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0):
        super().__init__(loss_function("binary_crossentropy"), name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing)
        self.from_logits, self.label_smoothing = from_logits, label_smoothing
        self._direction = "down"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing}


class CategoricalCrossentropy(MeanMetricWrapper):
    """Running mean of `categorical_crossentropy(y_true, y_pred, from_logits,
    label_smoothing, axis)` (defaults False, 0, -1); one-hot labels."""

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0, axis=-1):
        super().__init__(loss_function("categorical_crossentropy"), name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis
        self._direction = "down"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """Running mean of `sparse_categorical_crossentropy(y_true, y_pred, from_logits,
    ignore_class, axis)` (defaults False, None, -1); integer labels.

    Raises:
        ValueError: for a label that is NaN, infinite or outside `[0, classes)`.
    """

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False,
                 ignore_class=None, axis=-1):
        super().__init__(loss_function("sparse_categorical_crossentropy"), name=name,
                         dtype=dtype, from_logits=from_logits, ignore_class=ignore_class,
                         axis=axis)
        self.from_logits, self.ignore_class, self.axis = from_logits, ignore_class, axis
        self._direction = "down"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "from_logits": self.from_logits,
                "ignore_class": self.ignore_class, "axis": self.axis}

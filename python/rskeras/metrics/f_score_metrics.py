"""F-scores (Keras 3: `keras/src/metrics/f_score_metrics.py`):
`(1 + beta^2) * p * r / (beta^2 * p + r)` from counts accumulated over batches."""

from __future__ import annotations

from rskeras import ops
from rskeras.metrics.metric import Metric
from rskeras.metrics.metrics_utils import EPSILON, check_rank, check_same_shape


class FBetaScore(Metric):
    """The F-beta score of multi-label or one-hot predictions.

    Args:
        average: None (default: one score per class), `"micro"` (counts pooled over classes),
            `"macro"` (the mean of the per-class scores) or `"weighted"` (weighted by each
            class's count of true labels).
        beta: a float > 0 (default 1.0): recall weighs `beta` times precision.
        threshold: a float in (0, 1]: predictions above it are positive; None (default): the
            largest prediction of each row is (if it is not ~0).
        name, dtype: defaults `"fbeta_score"`, floatx.

    Shapes: `y_true`, `y_pred` `(batch, classes)`; `sample_weight` `(batch,)`. The result is
    `(classes,)` with `average=None`, else a scalar. Each ratio adds `epsilon` (1e-7) to its
    denominator, as Keras does.

    Raises:
        ValueError: for a bad argument, or inputs that are not 2-D with the same shape.
    """

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._direction = "up"
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError("Invalid `average` argument value. Expected one of: {None, "
                             f"'micro', 'macro', 'weighted'}}. Received: average={average}")
        if not isinstance(beta, float):
            raise ValueError(  # noqa: TRY004 - Keras raises ValueError
                "Invalid `beta` argument value. It should be a Python float. "
                f"Received: beta={beta} of type '{type(beta)}'")
        if beta <= 0.0:
            raise ValueError(f"Invalid `beta` argument value. It should be > 0. Received: beta={beta}")
        if threshold is not None:
            if not isinstance(threshold, float):
                raise ValueError(
                    "Invalid `threshold` argument value. It should be a Python float. "
                    f"Received: threshold={threshold} of type '{type(threshold)}'")
            if threshold > 1.0 or threshold <= 0.0:
                raise ValueError("Invalid `threshold` argument value. It should verify "
                                 f"0 < threshold <= 1. Received: threshold={threshold}")
        self.average, self.beta, self.threshold = average, beta, threshold
        self.axis = None if average == "micro" else 0
        self._built = False

    def _build(self, y_true_shape, y_pred_shape):
        if len(y_pred_shape) != 2 or len(y_true_shape) != 2:
            raise ValueError("FBetaScore expects 2D inputs with shape (batch_size, output_dim). "
                             f"Received input shapes: y_pred.shape={tuple(y_pred_shape)} and "
                             f"y_true.shape={tuple(y_true_shape)}.")
        shape = (y_pred_shape[-1],) if self.average != "micro" else ()
        for name in ("true_positives", "false_positives", "false_negatives",
                     "intermediate_weights"):
            self._add_state(shape=shape, dtype=self.dtype, name=name)
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.convert_to_tensor(y_true, self.dtype)
        y_pred = ops.convert_to_tensor(y_pred, self.dtype)
        if not self._built:
            self._build(y_true.shape, y_pred.shape)
        check_rank(self.name, y_pred, 2, "y_pred")
        check_same_shape(self.name, y_true, y_pred)
        if self.threshold is None:
            top = ops.max(y_pred, axis=-1, keepdims=True)
            y_pred = ops.logical_and(y_pred >= top, ops.abs(y_pred) > 1e-9)
        else:
            y_pred = y_pred > self.threshold
        y_pred = ops.cast(y_pred, self.dtype)
        if sample_weight is not None:
            sample_weight = ops.expand_dims(ops.convert_to_tensor(sample_weight, self.dtype), 1)

        def weighted_sum(value):
            if sample_weight is not None:
                value = value * sample_weight
            return ops.sum(value, axis=self.axis)

        self._accumulate("true_positives", weighted_sum(y_pred * y_true))
        self._accumulate("false_positives", weighted_sum(y_pred * (1 - y_true)))
        self._accumulate("false_negatives", weighted_sum((1 - y_pred) * y_true))
        self._accumulate("intermediate_weights", weighted_sum(y_true))

    def result(self):
        if not self._built:
            return ops.convert_to_tensor(0.0, self.dtype)
        tp, fp, fn = (self._read(k) for k in ("true_positives", "false_positives",
                                              "false_negatives"))
        precision = tp / (tp + fp + EPSILON)
        recall = tp / (tp + fn + EPSILON)
        b2 = self.beta ** 2
        score = precision * recall / (b2 * precision + recall + EPSILON) * (1 + b2)
        if self.average == "weighted":
            w = self._read("intermediate_weights")
            score = ops.sum(score * (w / (ops.sum(w) + EPSILON)))
        elif self.average is not None:
            score = ops.mean(score)
        return score

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "average": self.average,
                "beta": self.beta, "threshold": self.threshold}


class F1Score(FBetaScore):
    """The F1 score, `2 * p * r / (p + r)`: `FBetaScore` with `beta=1.0` (name
    `"f1_score"`)."""

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config

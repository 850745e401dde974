"""Confusion-matrix metrics (Keras 3: `keras/src/metrics/confusion_metrics.py`): the four
counts, Precision, Recall, the "X at Y" metrics and AUC.

A prediction counts as positive when `y_pred > threshold`, a label when it is non-zero. State
is one count per threshold (`(T,)`; AUC with `multi_label`: `(T, labels)`). Counts are
computed by `metrics_utils.confusion_counts`; with evenly spaced thresholds (AUC's, the "X at
Y" metrics', or a user list `i / (n - 1)`) predictions are bucketed exactly as Keras does.

Shapes: `y_true` and `y_pred` the same (a trailing axis of 1 on either side is dropped);
`sample_weight` broadcastable to them (a `(batch,)` weight covers each sample's row).
Errors: ValueError naming the metric and both shapes when they differ.
"""

from __future__ import annotations

from rskeras.backend.lazy_numpy import np

from rskeras import ops
from rskeras.metrics import metrics_utils as mu
from rskeras.metrics.metric import Metric


def _squeeze_one(value, n):
    return value[0] if n == 1 else value


class _ConfusionMatrixConditionCount(Metric):
    """The weighted count of one confusion condition at each threshold."""

    _condition = None

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.thresholds = mu.parse_init_thresholds(thresholds, default_threshold=0.5)
        self._thresholds_distributed_evenly = mu.is_evenly_distributed_thresholds(self.thresholds)
        self._add_state(shape=(len(self.thresholds),), name="accumulator")

    def update_state(self, y_true, y_pred, sample_weight=None):
        counts = mu.confusion_counts(
            y_true, y_pred, self.thresholds, (self._condition,), name=self.name,
            sample_weight=sample_weight,
            thresholds_distributed_evenly=self._thresholds_distributed_evenly)
        self._accumulate("accumulator", counts[self._condition])

    def result(self):
        return _squeeze_one(self._read("accumulator"), len(self.thresholds))

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "thresholds": self.init_thresholds}


class FalsePositives(_ConfusionMatrixConditionCount):
    """Weighted count of false positives (`thresholds`: a float or list in [0, 1], default
    0.5; the result is a scalar for one threshold, else one count per threshold)."""

    _condition = mu.FALSE_POSITIVES


class FalseNegatives(_ConfusionMatrixConditionCount):
    """Weighted count of false negatives (`thresholds` as `FalsePositives`)."""

    _condition = mu.FALSE_NEGATIVES


class TrueNegatives(_ConfusionMatrixConditionCount):
    """Weighted count of true negatives (`thresholds` as `FalsePositives`)."""

    _condition = mu.TRUE_NEGATIVES


class TruePositives(_ConfusionMatrixConditionCount):
    """Weighted count of true positives (`thresholds` as `FalsePositives`)."""

    _condition = mu.TRUE_POSITIVES


class _PrecisionRecall(Metric):
    _second = None  # the count besides true positives

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._direction = "up"
        self.init_thresholds = thresholds
        self.top_k, self.class_id = top_k, class_id
        default = 0.5 if top_k is None else mu.NEG_INF
        self.thresholds = mu.parse_init_thresholds(thresholds, default_threshold=default)
        self._thresholds_distributed_evenly = mu.is_evenly_distributed_thresholds(self.thresholds)
        n = len(self.thresholds)
        self._add_state(shape=(n,), name=mu.TRUE_POSITIVES)
        self._add_state(shape=(n,), name=self._second)

    def update_state(self, y_true, y_pred, sample_weight=None):
        counts = mu.confusion_counts(
            y_true, y_pred, self.thresholds, (mu.TRUE_POSITIVES, self._second), name=self.name,
            top_k=self.top_k, class_id=self.class_id, sample_weight=sample_weight,
            thresholds_distributed_evenly=self._thresholds_distributed_evenly)
        for key, value in counts.items():
            self._accumulate(key, value)

    def result(self):
        tp = self._read(mu.TRUE_POSITIVES)
        value = ops.divide_no_nan(tp, tp + self._read(self._second))
        return _squeeze_one(value, len(self.thresholds))

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "thresholds": self.init_thresholds,
                "top_k": self.top_k, "class_id": self.class_id}


class Precision(_PrecisionRecall):
    """`tp / (tp + fp)` over all batches (0 when nothing was predicted positive).

    Args:
        thresholds: a float or list in [0, 1] (default 0.5; with `top_k`, no threshold:
            every top-k prediction is positive). One result per threshold for a list.
        top_k: count only the `k` largest predictions of each row as positive.
        class_id: compute for this class only (`y_pred` `(batch, classes)`).
        name, dtype: defaults `"precision"`, floatx.
    """

    _second = mu.FALSE_POSITIVES


class Recall(_PrecisionRecall):
    """`tp / (tp + fn)` over all batches (0 when no label was positive). Arguments as
    `Precision`."""

    _second = mu.FALSE_NEGATIVES


class SensitivitySpecificityBase(Metric):
    """The four counts at `num_thresholds` (default 200) evenly spaced thresholds from 0 to
    1 (one threshold, 0.5, when `num_thresholds == 1`).

    Raises:
        ValueError: for `num_thresholds <= 0`.
    """

    def __init__(self, value, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._direction = "up"
        if num_thresholds <= 0:
            raise ValueError("Argument `num_thresholds` must be an integer > 0. "
                             f"Received: num_thresholds={num_thresholds}")
        self.value, self.class_id = value, class_id
        if num_thresholds == 1:
            self.thresholds, self._thresholds_distributed_evenly = [0.5], False
        else:
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self.thresholds, self._thresholds_distributed_evenly = [0.0] + inner + [1.0], True
        for key in (mu.TRUE_POSITIVES, mu.FALSE_POSITIVES, mu.TRUE_NEGATIVES, mu.FALSE_NEGATIVES):
            self._add_state(shape=(len(self.thresholds),), name=key)

    def update_state(self, y_true, y_pred, sample_weight=None):
        counts = mu.confusion_counts(
            y_true, y_pred, self.thresholds, mu._CONDITIONS, name=self.name,
            class_id=self.class_id, sample_weight=sample_weight,
            thresholds_distributed_evenly=self._thresholds_distributed_evenly)
        for key, value in counts.items():
            self._accumulate(key, value)

    def _rates(self):
        tp, fp = self._read(mu.TRUE_POSITIVES), self._read(mu.FALSE_POSITIVES)
        tn, fn = self._read(mu.TRUE_NEGATIVES), self._read(mu.FALSE_NEGATIVES)
        return {"recall": ops.divide_no_nan(tp, tp + fn),
                "specificity": ops.divide_no_nan(tn, tn + fp),
                "precision": ops.divide_no_nan(tp, tp + fp)}

    def _find_max_under_constraint(self, constrained, dependent):
        """The largest `dependent` among thresholds where `constrained >= value` (0 if none)."""
        return ops.max(ops.where(ops.greater_equal(constrained, self.value), dependent, 0.0),
                       initial=0.0)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "class_id": self.class_id}


def _check_unit(name, value):
    if value < 0 or value > 1:
        raise ValueError(f"Argument `{name}` must be in the range [0, 1]. Received: "
                         f"{name}={value}")


class SensitivityAtSpecificity(SensitivitySpecificityBase):
    """The best sensitivity (recall) among thresholds whose specificity
    `tn / (tn + fp)` is at least `specificity` (in [0, 1])."""

    def __init__(self, specificity, num_thresholds=200, class_id=None, name=None, dtype=None):
        _check_unit("specificity", specificity)
        self.specificity, self.num_thresholds = specificity, num_thresholds
        super().__init__(specificity, num_thresholds=num_thresholds, class_id=class_id,
                         name=name, dtype=dtype)

    def result(self):
        r = self._rates()
        return self._find_max_under_constraint(r["specificity"], r["recall"])

    def get_config(self):
        return {**super().get_config(), "num_thresholds": self.num_thresholds,
                "specificity": self.specificity}


class SpecificityAtSensitivity(SensitivitySpecificityBase):
    """The best specificity among thresholds whose sensitivity (recall) is at least
    `sensitivity` (in [0, 1])."""

    def __init__(self, sensitivity, num_thresholds=200, class_id=None, name=None, dtype=None):
        _check_unit("sensitivity", sensitivity)
        self.sensitivity, self.num_thresholds = sensitivity, num_thresholds
        super().__init__(sensitivity, num_thresholds=num_thresholds, class_id=class_id,
                         name=name, dtype=dtype)

    def result(self):
        r = self._rates()
        return self._find_max_under_constraint(r["recall"], r["specificity"])

    def get_config(self):
        return {**super().get_config(), "num_thresholds": self.num_thresholds,
                "sensitivity": self.sensitivity}


class PrecisionAtRecall(SensitivitySpecificityBase):
    """The best precision among thresholds whose recall is at least `recall` (in [0, 1])."""

    def __init__(self, recall, num_thresholds=200, class_id=None, name=None, dtype=None):
        _check_unit("recall", recall)
        self.recall, self.num_thresholds = recall, num_thresholds
        super().__init__(recall, num_thresholds=num_thresholds, class_id=class_id, name=name,
                         dtype=dtype)

    def result(self):
        r = self._rates()
        return self._find_max_under_constraint(r["recall"], r["precision"])

    def get_config(self):
        return {**super().get_config(), "num_thresholds": self.num_thresholds,
                "recall": self.recall}


class RecallAtPrecision(SensitivitySpecificityBase):
    """The best recall among thresholds whose precision is at least `precision` (in
    [0, 1])."""

    def __init__(self, precision, num_thresholds=200, class_id=None, name=None, dtype=None):
        _check_unit("precision", precision)
        self.precision, self.num_thresholds = precision, num_thresholds
        super().__init__(precision, num_thresholds=num_thresholds, class_id=class_id,
                         name=name, dtype=dtype)

    def result(self):
        r = self._rates()
        return self._find_max_under_constraint(r["precision"], r["recall"])

    def get_config(self):
        return {**super().get_config(), "num_thresholds": self.num_thresholds,
                "precision": self.precision}


_CURVES = {"roc": "ROC", "pr": "PR", "prgain": "PRGAIN"}
_SUMMATIONS = ("interpolation", "majoring", "minoring")


class AUC(Metric):
    """Area under the ROC or precision-recall curve, from the four counts at `num_thresholds`
    thresholds (Keras's Riemann sums; the PR curve with `"interpolation"` uses Davis &
    Goadrich's interpolation, as Keras's `interpolate_pr_auc`).

    Args:
        num_thresholds: default 200 (> 1): thresholds `-eps, 1/(n-1), ..., 1 + eps`.
        curve: `"ROC"` (default), `"PR"` or `"PRGAIN"`.
        summation_method: `"interpolation"` (default), `"majoring"` or `"minoring"`.
        name, dtype: defaults `"auc"`, floatx.
        thresholds: explicit thresholds in [0, 1] (then `num_thresholds` is ignored and
            becomes `len(thresholds) + 2`).
        multi_label: one curve per label column of `(batch, labels)` predictions, the AUCs
            then averaged (weighted by `label_weights`); else every entry is one sample.
        num_labels: the label count with `multi_label` (else learned from the first batch).
        label_weights: per-label weights `(labels,)`.
        from_logits: apply a sigmoid to `y_pred` first.

    Raises:
        ValueError: for a bad `curve`, `summation_method` or `num_thresholds`, `num_labels`
            without `multi_label`, or non-2-D predictions with `multi_label`.
    """

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation",
                 name=None, dtype=None, thresholds=None, multi_label=False, num_labels=None,
                 label_weights=None, from_logits=False):
        self._direction = "up"
        if str(curve).lower() not in _CURVES:
            raise ValueError(f'Invalid AUC curve value: "{curve}". Expected values are '
                             '["PR", "ROC", "PRGAIN"]')
        if str(summation_method).lower() not in _SUMMATIONS:
            raise ValueError(f'Invalid AUC summation method value: "{summation_method}". '
                             'Expected values are ["interpolation", "majoring", "minoring"]')
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            self.num_thresholds = len(thresholds) + 2
            thresholds = sorted(thresholds)
            self._thresholds_distributed_evenly = mu.is_evenly_distributed_thresholds(
                np.array([0.0] + thresholds + [1.0]))
        else:
            if num_thresholds <= 1:
                raise ValueError("Argument `num_thresholds` must be an integer > 1. "
                                 f"Received: num_thresholds={num_thresholds}")
            self.num_thresholds = num_thresholds
            thresholds = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self._thresholds_distributed_evenly = True
        self._thresholds = np.array([0.0 - mu.EPSILON] + list(thresholds) + [1.0 + mu.EPSILON])
        self.curve = _CURVES[str(curve).lower()]
        self.summation_method = str(summation_method).lower()
        super().__init__(name=name, dtype=dtype)
        self.multi_label, self.num_labels = multi_label, num_labels
        self.label_weights = None if label_weights is None else \
            np.asarray(label_weights, dtype=self.dtype)
        self._from_logits = from_logits
        self._built = False
        if multi_label:
            if num_labels:
                self._build((None, num_labels))
        else:
            if num_labels:
                raise ValueError("`num_labels` is needed only when `multi_label` is True.")
            self._build(None)

    @property
    def thresholds(self) -> list:
        return list(self._thresholds)

    def _build(self, shape):
        if self.multi_label:
            if len(shape) != 2:
                raise ValueError("`y_pred` must have rank 2 when `multi_label=True`. Found rank "
                                 f"{len(shape)}. Full shape received for `y_pred`: {tuple(shape)}")
            self._num_labels = shape[1]
            variable_shape = (self.num_thresholds, self._num_labels)
        else:
            variable_shape = (self.num_thresholds,)
        self._build_input_shape = shape
        for key in (mu.TRUE_POSITIVES, mu.FALSE_POSITIVES, mu.TRUE_NEGATIVES, mu.FALSE_NEGATIVES):
            self._add_state(shape=variable_shape, name=key)
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.convert_to_tensor(y_pred)
        if not self._built:
            self._build(tuple(y_pred.shape))
        if self.multi_label and (y_pred.ndim != 2 or y_pred.shape[1] != self._num_labels):
            raise ValueError(f"{self.name}: expected y_pred of shape (batch, {self._num_labels}) "
                             f"with multi_label=True, received y_pred.shape={tuple(y_pred.shape)}")
        if self._from_logits:
            y_pred = ops.sigmoid(y_pred)
        counts = mu.confusion_counts(
            y_true, y_pred, self._thresholds, mu._CONDITIONS, name=self.name,
            sample_weight=sample_weight, multi_label=self.multi_label,
            label_weights=None if self.multi_label else self.label_weights,
            thresholds_distributed_evenly=self._thresholds_distributed_evenly)
        for key, value in counts.items():
            self._accumulate(key, value)

    def _by_label(self, terms):
        if not self.multi_label:
            return ops.sum(terms)
        by_label = ops.sum(terms, axis=0)
        if self.label_weights is None:
            return ops.mean(by_label)
        lw = ops.convert_to_tensor(self.label_weights)
        return ops.divide_no_nan(ops.sum(by_label * lw), ops.sum(lw))

    def interpolate_pr_auc(self):
        """Davis & Goadrich (2006) interpolation of the PR curve between thresholds, as
        Keras's `AUC.interpolate_pr_auc`."""
        tp, fp, fn = (self._read(k) for k in (mu.TRUE_POSITIVES, mu.FALSE_POSITIVES,
                                                mu.FALSE_NEGATIVES))
        n = self.num_thresholds
        dtp = tp[: n - 1] - tp[1:]
        p = tp + fp
        dp = p[: n - 1] - p[1:]
        prec_slope = ops.divide_no_nan(dtp, ops.maximum(dp, 0.0))
        intercept = tp[1:] - prec_slope * p[1:]
        safe_p_ratio = ops.where(ops.logical_and(p[: n - 1] > 0, p[1:] > 0),
                                 ops.divide_no_nan(p[: n - 1], ops.maximum(p[1:], 0.0)),
                                 ops.ones_like(p[1:]))
        increment = ops.divide_no_nan(prec_slope * (dtp + intercept * ops.log(safe_p_ratio)),
                                      ops.maximum(tp[1:] + fn[1:], 0.0))
        return self._by_label(increment)

    def result(self):
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self.interpolate_pr_auc()
        tp, fp, tn, fn = (self._read(k) for k in (mu.TRUE_POSITIVES, mu.FALSE_POSITIVES,
                                                    mu.TRUE_NEGATIVES, mu.FALSE_NEGATIVES))
        recall = ops.divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = ops.divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, ops.divide_no_nan(tp, tp + fp)
        else:  # PRGAIN
            scaling = ops.divide_no_nan(tp + fn, tn + fp)
            recall_gain = 1.0 - scaling * ops.divide_no_nan(fn, tp)
            precision_gain = 1.0 - scaling * ops.divide_no_nan(fp, tp)
            zero_tp = ops.equal(tp, 0.0)
            x = ops.maximum(ops.where(zero_tp, 0.0, recall_gain), 0.0)
            y = ops.where(zero_tp, 1.0, precision_gain)
        n = self.num_thresholds
        if self.summation_method == "interpolation":
            heights = (y[: n - 1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = ops.minimum(y[: n - 1], y[1:])
        else:
            heights = ops.maximum(y[: n - 1], y[1:])
        return self._by_label((x[: n - 1] - x[1:]) * heights)

    def reset_state(self):
        if self._built:
            super().reset_state()

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        weights = config.get("label_weights")
        if isinstance(weights, dict) and weights.get("class_name") in ("__tensor__", "__numpy__"):
            config["label_weights"] = weights["config"]["value"]  # Keras writes a tensor record
        return cls(**config)

    def get_config(self):
        config = {"name": self.name, "dtype": self.dtype, "num_thresholds": self.num_thresholds,
                  "curve": self.curve, "summation_method": self.summation_method,
                  "multi_label": self.multi_label, "num_labels": self.num_labels,
                  "label_weights": None if self.label_weights is None
                  else self.label_weights.tolist(),
                  "from_logits": self._from_logits}
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config

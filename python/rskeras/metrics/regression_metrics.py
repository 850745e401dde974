"""Regression metrics (Keras 3: `keras/src/metrics/regression_metrics.py`): running means of
the regression losses of `rskeras.losses`, `RootMeanSquaredError`, `CosineSimilarity` and
`R2Score`."""

from __future__ import annotations

import warnings

from rskeras import ops
from rskeras.metrics.metric import Metric
from rskeras.metrics.metrics_utils import (
    check_same_shape,
    squeeze_or_expand_to_same_rank,
)
from rskeras.metrics.reduction_metrics import Mean, MeanMetricWrapper


def loss_function(name):
    """The function `name` of `rskeras.losses` (looked up again at call time while the losses
    package does not have it yet, so a metric can be built before its loss exists).

    Raises (at call time):
        NotImplementedError: when `rskeras.losses` has no function of that name.
    """
    from rskeras import losses

    found = getattr(losses, name, None)
    if callable(found):
        return found

    def fn(y_true, y_pred, **kwargs):
        from rskeras import losses

        impl = getattr(losses, name, None)
        if impl is None:
            raise NotImplementedError(f"rskeras.losses has no function {name!r}")
        return impl(y_true, y_pred, **kwargs)

    fn.__name__ = fn.__qualname__ = name
    fn.__module__ = "rskeras.losses"
    return fn


class _LossMean(MeanMetricWrapper):
    """The running mean of a loss function of `rskeras.losses` (config: name, dtype)."""

    _loss_name = None
    _default_name = None

    def __init__(self, name=None, dtype=None):
        super().__init__(loss_function(self._loss_name), name=name or self._default_name,
                         dtype=dtype)
        self._direction = "down"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class MeanSquaredError(_LossMean):
    """Running mean of `mean(square(y_true - y_pred), axis=-1)` (name `"mean_squared_error"`)."""

    _loss_name = _default_name = "mean_squared_error"

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)


class MeanAbsoluteError(_LossMean):
    """Running mean of `mean(abs(y_true - y_pred), axis=-1)` (name `"mean_absolute_error"`)."""

    _loss_name = _default_name = "mean_absolute_error"

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(name=name, dtype=dtype)


class MeanAbsolutePercentageError(_LossMean):
    """Running mean of `100 * mean(abs((y_true - y_pred) / max(abs(y_true), eps)))`."""

    _loss_name = _default_name = "mean_absolute_percentage_error"

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(name=name, dtype=dtype)


class MeanSquaredLogarithmicError(_LossMean):
    """Running mean of `mean(square(log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1)))`."""

    _loss_name = _default_name = "mean_squared_logarithmic_error"

    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(name=name, dtype=dtype)


class LogCoshError(_LossMean):
    """Running mean of `mean(log(cosh(y_pred - y_true)), axis=-1)` (name `"logcosh"`)."""

    _loss_name, _default_name = "log_cosh", "logcosh"

    def __init__(self, name="logcosh", dtype=None):
        super().__init__(name=name, dtype=dtype)


class RootMeanSquaredError(Mean):
    """`sqrt` of the running (weighted) mean of `square(y_pred - y_true)`.

    Shapes: `y_true`, `y_pred` equal (a trailing axis of 1 on either side is dropped).

    Raises:
        ValueError: for shapes that differ, naming both.
    """

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._direction = "down"

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.convert_to_tensor(y_true, self.dtype)
        y_pred = ops.convert_to_tensor(y_pred, self.dtype)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        check_same_shape(self.name, y_true, y_pred)
        super().update_state(ops.square(y_pred - y_true), sample_weight=sample_weight)

    def result(self):
        return ops.sqrt(super().result())

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


def cosine_similarity(y_true, y_pred, axis=-1):
    """`sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)` (the metric: +1 for the same
    direction; the loss of the same name is its negative). `(batch, d)` -> `(batch,)`."""
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.convert_to_tensor(y_true, y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    check_same_shape("cosine_similarity", y_true, y_pred)
    return ops.sum(ops.normalize(y_true, axis=axis) * ops.normalize(y_pred, axis=axis), axis=axis)


class CosineSimilarity(MeanMetricWrapper):
    """Running mean of `cosine_similarity(y_true, y_pred, axis)` (`axis` default -1)."""

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        super().__init__(cosine_similarity, name=name, dtype=dtype, axis=axis)
        self._direction = "up"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class R2Score(Metric):
    """The coefficient of determination over all samples seen:
    `1 - sum(w (y - p)^2) / (sum(w y^2) - sum(w y)^2 / sum(w))` per output column, an
    infinite score (constant labels) reading as 0 (Keras's formula).

    Args:
        class_aggregation: `"uniform_average"` (default: the mean over columns),
            `"variance_weighted_average"` (weighted by each column's total sum of squares)
            or None (one score per column).
        num_regressors: p of the adjusted score `1 - (1 - R2)(n - 1)/(n - p - 1)`, n being
            the number of label entries seen (default 0: not adjusted; Keras falls back to
            the plain score, with a warning, when n - 1 <= p).
        name: default `"r2_score"`. dtype: default floatx.

    Shapes: `y_true`, `y_pred` `(batch, outputs)`; `sample_weight` `(batch,)` or
    `(batch, outputs)`.

    Raises:
        ValueError: for a bad option, or inputs that are not 2-D with the same shape.
    """

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name="r2_score",
                 dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._direction = "up"
        valid = (None, "uniform_average", "variance_weighted_average")
        if class_aggregation not in valid:
            raise ValueError("Invalid value for argument `class_aggregation`. Expected one of "
                             f"{valid}. Received: class_aggregation={class_aggregation}")
        if num_regressors < 0:
            raise ValueError("Invalid value for argument `num_regressors`. Expected a value "
                             f">= 0. Received: num_regressors={num_regressors}")
        self.class_aggregation = class_aggregation
        self.num_regressors = num_regressors
        self._add_state(shape=(), name="num_samples")
        self._built = False

    def _build(self, y_true_shape, y_pred_shape):
        if len(y_pred_shape) != 2 or len(y_true_shape) != 2:
            raise ValueError("R2Score expects 2D inputs with shape (batch_size, output_dim). "
                             f"Received input shapes: y_pred.shape={tuple(y_pred_shape)} and "
                             f"y_true.shape={tuple(y_true_shape)}.")
        n = y_pred_shape[-1]
        for name in ("squared_sum", "sum", "residual", "count"):
            self._add_state(shape=(n,), name=name)
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.convert_to_tensor(y_true, self.dtype)
        y_pred = ops.convert_to_tensor(y_pred, self.dtype)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        if not self._built:
            self._build(y_true.shape, y_pred.shape)
        if y_true.ndim != 2 or y_pred.ndim != 2:
            self._build(y_true.shape, y_pred.shape)  # raises the shape error
        check_same_shape(self.name, y_true, y_pred)
        if tuple(y_pred.shape[-1:]) != self._state_specs["sum"][0]:
            raise ValueError(f"{self.name}: expected y_pred.shape[-1] == "
                             f"{self._state_specs['sum'][0][0]} (as in the first batch), "
                             f"received y_pred.shape={tuple(y_pred.shape)}")
        w = ops.convert_to_tensor(1.0 if sample_weight is None else sample_weight, self.dtype)
        if w.ndim == 1:
            w = ops.expand_dims(w, 1)
        w = ops.broadcast_to(w, tuple(y_true.shape))
        weighted = y_true * w
        self._accumulate("sum", ops.sum(weighted, axis=0))
        self._accumulate("squared_sum", ops.sum(y_true * weighted, axis=0))
        self._accumulate("residual", ops.sum(ops.square(y_true - y_pred) * w, axis=0))
        self._accumulate("count", ops.sum(w, axis=0))
        self._accumulate("num_samples", float(y_true.size))

    def result(self):
        if not self._built:
            return ops.convert_to_tensor(float("nan"), self.dtype)
        s, count = self._read("sum"), self._read("count")
        total = self._read("squared_sum") - s * (s / count)
        raw = 1.0 - self._read("residual") / total
        raw = ops.where(ops.isinf(raw), 0.0, raw)
        if self.class_aggregation == "uniform_average":
            score = ops.mean(raw)
        elif self.class_aggregation == "variance_weighted_average":
            score = ops.sum(total * raw) / ops.sum(total)
        else:
            score = raw
        if self.num_regressors != 0:
            n = float(self._read("num_samples"))
            p = float(self.num_regressors)
            if p > n - 1:
                warnings.warn("More independent predictors than datapoints in adjusted R2 "
                              "score. Falling back to standard R2 score.", stacklevel=2)
            elif p == n - 1:
                warnings.warn("Division by zero in Adjusted R2 score. Falling back to "
                              "standard R2 score.", stacklevel=2)
            else:
                score = 1.0 - (1.0 - score) * (n - 1.0) / (n - p - 1.0)
        return score

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype,
                "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}

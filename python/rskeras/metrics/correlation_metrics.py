"""Correlation metrics (Keras 3: `keras/src/metrics/correlation_metrics.py`): per-sample
Pearson and concordance correlations along `axis`, averaged over samples."""

from __future__ import annotations

from rskeras import ops
from rskeras.metrics.metrics_utils import (
    EPSILON,
    check_same_shape,
    squeeze_or_expand_to_same_rank,
)
from rskeras.metrics.reduction_metrics import MeanMetricWrapper


def _pair(name, y_true, y_pred):
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.convert_to_tensor(y_true, y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    check_same_shape(name, y_true, y_pred)
    return y_true, y_pred


def pearson_correlation(y_true, y_pred, axis=-1):
    """Pearson's r along `axis` (default -1): `mean(zt * zp)` of the standardized values
    (population std). `(batch, d)` -> `(batch,)`."""
    y_true, y_pred = _pair("pearson_correlation", y_true, y_pred)
    t = y_true - ops.mean(y_true, axis=axis, keepdims=True)
    p = y_pred - ops.mean(y_pred, axis=axis, keepdims=True)
    t = t / ops.std(t, axis=axis, keepdims=True)
    p = p / ops.std(p, axis=axis, keepdims=True)
    return ops.mean(t * p, axis=axis)


def concordance_correlation(y_true, y_pred, axis=-1):
    """Lin's concordance correlation along `axis` (default -1), exactly as Keras 3.15
    computes it: `mean(2 (y_true - mean_pred)(y_pred - mean_pred) / (var_true + var_pred +
    (mean_true - mean_pred)^2 + eps))` (Keras centres `y_true` on the prediction mean).
    `(batch, d)` -> `(batch,)`."""
    y_true, y_pred = _pair("concordance_correlation", y_true, y_pred)
    mt = ops.mean(y_true, axis=axis, keepdims=True)
    mp = ops.mean(y_pred, axis=axis, keepdims=True)
    vt = ops.var(y_true - mt, axis=axis, keepdims=True)
    vp = ops.var(y_pred - mp, axis=axis, keepdims=True)
    covar = (y_true - mp) * (y_pred - mp)
    norm = vt + vp + ops.square(mt - mp)
    return ops.mean(2 * covar / (norm + EPSILON), axis=axis)


class PearsonCorrelation(MeanMetricWrapper):
    """Running mean of `pearson_correlation(y_true, y_pred, axis)` (`axis` default -1)."""

    def __init__(self, name="pearson_correlation", dtype=None, axis=-1):
        super().__init__(pearson_correlation, name=name, dtype=dtype, axis=axis)
        self.axis = axis
        self._direction = "up"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "axis": self.axis}


class ConcordanceCorrelation(MeanMetricWrapper):
    """Running mean of `concordance_correlation(y_true, y_pred, axis)` (`axis` default -1)."""

    def __init__(self, name="concordance_correlation", dtype=None, axis=-1):
        super().__init__(concordance_correlation, name=name, dtype=dtype, axis=axis)
        self.axis = axis
        self._direction = "up"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "axis": self.axis}

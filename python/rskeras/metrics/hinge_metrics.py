"""Hinge metrics (Keras 3: `keras/src/metrics/hinge_metrics.py`): running means of the
hinge losses of `rskeras.losses`. Labels are -1/1 (0/1 are mapped to -1/1 by the losses)."""

from __future__ import annotations

from rskeras.metrics.regression_metrics import _LossMean


class Hinge(_LossMean):
    """Running mean of `mean(maximum(1 - y_true * y_pred, 0), axis=-1)`."""

    _loss_name = _default_name = "hinge"

    def __init__(self, name="hinge", dtype=None):
        super().__init__(name=name, dtype=dtype)


class SquaredHinge(_LossMean):
    """Running mean of `mean(square(maximum(1 - y_true * y_pred, 0)), axis=-1)`."""

    _loss_name = _default_name = "squared_hinge"

    def __init__(self, name="squared_hinge", dtype=None):
        super().__init__(name=name, dtype=dtype)


class CategoricalHinge(_LossMean):
    """Running mean of `maximum(neg - pos + 1, 0)` with `pos = sum(y_true * y_pred)` and
    `neg = max((1 - y_true) * y_pred)` over the last axis."""

    _loss_name = _default_name = "categorical_hinge"

    def __init__(self, name="categorical_hinge", dtype=None):
        super().__init__(name=name, dtype=dtype)

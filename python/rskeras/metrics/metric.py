"""`Metric` base class and the reduction metrics `Mean`, `Sum` and `MeanMetricWrapper`.

State is kept as scalar tensors on the device of the values: an update never reads a value
back (on the GPU that would be a synchronization), and it is detached from any tape, so no
graph outlives a step. `result()` returns a float32 scalar tensor."""

from __future__ import annotations

from rskeras import _core, ops
from rskeras.backend.masking import get_keras_mask
from rskeras.losses.labels import check_labels, is_sparse, num_classes_of


class Metric:
    """Base class: `update_state(...)`, `result()`, `reset_state()`.

    Args:
        name: the name shown in logs and History. dtype: result dtype (float32).
    """

    def __init__(self, name=None, dtype=None):
        from rskeras.backend import naming

        self.name = name or naming.to_snake_case(type(self).__name__)
        self.dtype = dtype or "float32"

    def update_state(self, *args, **kwargs):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def reset_state(self):
        raise NotImplementedError

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _detached(values):
    """`values` as a float32 tensor that no tape traces through (metric state must not keep
    a step's graph alive)."""
    return ops.stop_gradient(ops.convert_to_tensor(values, "float32"))


class Sum(Metric):
    """The running sum of the (weighted) values, kept as a float32 scalar tensor on the
    device of the values (no host synchronization per update)."""

    def __init__(self, name="sum", dtype=None):
        super().__init__(name, dtype)
        self.reset_state()

    def reset_state(self):
        self.total = 0.0

    def update_state(self, values, sample_weight=None):
        values = _detached(values)
        if sample_weight is not None:
            values = values * ops.cast(sample_weight, "float32")
        self.total = ops.sum(values) + self.total

    def result(self):
        return ops.convert_to_tensor(self.total, "float32")


class Mean(Metric):
    """The running (weighted) mean: `sum(values * w) / sum(w)`. A scalar `sample_weight`
    counts the value that many times (how the loss tracker weights by batch size).

    The total is a float32 scalar tensor on the values' device, as Keras keeps metric state
    in float32 variables; the count stays a Python float while the weights are known on the
    host, so an update never waits for the device. `result()` is 0 before any update."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name, dtype)
        self.reset_state()

    def reset_state(self):
        self.total, self.count = 0.0, 0.0

    def update_state(self, values, sample_weight=None):
        if isinstance(values, (int, float)) and sample_weight is None:
            self.total += float(values)
            self.count += 1.0
            return
        values = _detached(values)
        if sample_weight is None:
            self.total = ops.sum(values) + self.total
            self.count += float(values.size)
        elif isinstance(sample_weight, (int, float)):
            self.total = ops.sum(values) * float(sample_weight) + self.total
            self.count += float(values.size) * sample_weight
        else:
            sw = ops.cast(sample_weight, "float32")
            if sw.ndim < values.ndim:
                sw = ops.reshape(sw, tuple(sw.shape) + (1,) * (values.ndim - sw.ndim))
            sw = ops.broadcast_to(sw, values.shape)
            self.total = ops.sum(values * sw) + self.total
            self.count = ops.sum(sw) + self.count

    def result(self):
        if isinstance(self.count, float):
            value = self.total / self.count if self.count else 0.0
            return ops.convert_to_tensor(value, "float32")
        return ops.divide_no_nan(self.total, self.count)


class MeanMetricWrapper(Mean):
    """The running mean of `fn(y_true, y_pred, **kwargs)` over all samples seen. When
    `y_pred` carries a mask (`y_pred._keras_mask`), masked values are left out (the mask is
    a 0/1 sample weight, as in Keras 3)."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or fn.__name__, dtype=dtype)
        self._fn, self._fn_kwargs = fn, kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Raises:
            ValueError: for a non-finite label, or (sparse metrics) one outside
                `[0, classes)`, naming the metric, the value and its index."""
        check_labels(y_true, self.name, num_classes_of(y_pred) if is_sparse(self._fn) else None)
        mask = get_keras_mask(y_pred) if isinstance(y_pred, _core.Tensor) else None
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        if mask is not None:
            from rskeras.losses.losses import apply_mask

            sample_weight = apply_mask(sample_weight, mask, "float32", reduction="sum")
        super().update_state(values, sample_weight)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, **self._fn_kwargs}

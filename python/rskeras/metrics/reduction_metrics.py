"""The reduction metrics `Sum`, `Mean` and `MeanMetricWrapper` (Keras 3:
`keras/src/metrics/reduction_metrics.py`).

Values are first reduced to one value per sample, as Keras's `reduce_to_samplewise_values`
does: with a `sample_weight` of lower rank, the values' extra trailing axes are averaged (Sum:
added) away, the weight is broadcast and multiplied in; then every axis after the first is
averaged (Sum: added). `Mean` counts samples (the first axis, or the summed weights), not
elements.

The count stays a Python float while it is known on the host (no weight, or a scalar
weight), so the loss tracker of `fit` never waits for the device."""

from __future__ import annotations

from rskeras import _core, ops
from rskeras.backend.masking import get_keras_mask
from rskeras.losses.labels import check_labels, is_sparse, num_classes_of
from rskeras.metrics.metric import Metric
from rskeras.metrics.metrics_utils import squeeze_or_expand_to_same_rank


def _samplewise(values, sample_weight, reduce_fn, dtype):
    """(per-sample values, processed sample weight or None), as Keras's
    `reduce_to_samplewise_values`."""
    values = ops.stop_gradient(ops.cast(ops.convert_to_tensor(values), dtype))
    if sample_weight is not None:
        mask = get_keras_mask(values) if isinstance(values, _core.Tensor) else None
        sample_weight = ops.convert_to_tensor(sample_weight, dtype)
        if mask is not None:
            from rskeras.losses.losses import apply_mask

            sample_weight = apply_mask(sample_weight, mask, dtype=dtype, reduction="sum")
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        w_ndim, v_ndim = sample_weight.ndim, values.ndim
        if v_ndim > w_ndim:
            values = reduce_fn(values, axis=tuple(range(w_ndim, v_ndim)))
        sample_weight = ops.broadcast_to(sample_weight, tuple(values.shape))
        values = values * sample_weight
        if w_ndim > 1:
            sample_weight = reduce_fn(sample_weight, axis=tuple(range(1, w_ndim)))
    if values.ndim > 1:
        values = reduce_fn(values, axis=tuple(range(1, values.ndim)))
    return values, sample_weight


class Sum(Metric):
    """The running (weighted) sum of the values.

    Args:
        name: default `"sum"`. dtype: default floatx.

    State: `total` (scalar). `result()`: `total`.
    """

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._add_state(shape=(), dtype=self.dtype, name="total")

    def update_state(self, values, sample_weight=None):
        if isinstance(values, (int, float)) and sample_weight is None:
            current = self._state["total"]
            self._state["total"] = float(values) + (0.0 if current is None else current)
            return
        values, _ = _samplewise(values, sample_weight, ops.sum, self.dtype)
        self._accumulate("total", ops.sum(values))

    def result(self):
        return ops.cast(self._read("total"), self.dtype)


class Mean(Metric):
    """The running (weighted) mean: `sum(w * v) / sum(w)` over samples (each sample's value
    being the mean over its non-batch axes). A scalar `sample_weight` counts the batch that
    many times (how the loss tracker weights by batch size).

    Args:
        name: default `"mean"`. dtype: default floatx.

    State: `total`, `count` (scalars). `result()`: `total / count`, 0 before any update
    (`divide_no_nan`).
    """

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._add_state(shape=(), dtype=self.dtype, name="total")
        self._add_state(shape=(), dtype=self.dtype, name="count")

    def _add(self, name, value):
        current = self._state[name]
        if current is None:
            current = 0.0
        if isinstance(value, float):  # tensor + float stays on the tensor's device
            self._state[name] = current + value
        else:
            self._state[name] = ops.stop_gradient(ops.cast(value, self.dtype)) + current

    def update_state(self, values, sample_weight=None):
        if isinstance(values, (int, float)) and not isinstance(values, bool) \
                and sample_weight is None:
            self._add("total", float(values))
            self._add("count", 1.0)
            return
        if isinstance(sample_weight, (int, float)) and not isinstance(sample_weight, bool):
            # A host scalar weight: Keras averages the values to one and weights it.
            values = ops.stop_gradient(ops.cast(ops.convert_to_tensor(values), self.dtype))
            self._add("total", ops.mean(values) * float(sample_weight) if values.ndim
                      else values * float(sample_weight))
            self._add("count", float(sample_weight))
            return
        values, sample_weight = _samplewise(values, sample_weight, ops.mean, self.dtype)
        self._add("total", ops.sum(values))
        if sample_weight is not None:
            self._add("count", ops.sum(sample_weight))
        else:
            self._add("count", float(values.shape[0]) if values.ndim else 1.0)

    def result(self):
        total, count = self._state["total"], self._state["count"]
        if count is None:
            return ops.convert_to_tensor(0.0, self.dtype)
        if isinstance(count, float) and isinstance(total, float):
            return ops.convert_to_tensor(total / count if count else 0.0, self.dtype)
        if isinstance(count, float) and count:
            return ops.cast(total / count, self.dtype)
        return ops.cast(ops.divide_no_nan(self._read("total"), self._read("count")), self.dtype)


class MeanMetricWrapper(Mean):
    """The running mean of `fn(y_true, y_pred, **kwargs)` over all samples seen.

    Args:
        fn: a function `(y_true, y_pred, **kwargs) -> values` (one value per sample, or per
            element: Mean averages the rest). name: default `fn.__name__`. dtype: default
            floatx. **kwargs: passed to `fn` on every update.

    When `y_pred` carries a mask (`y_pred._keras_mask`), masked values are left out (the mask
    is a 0/1 sample weight, as in Keras 3).
    """

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", None) or "mean_metric_wrapper",
                         dtype=dtype)
        self._fn, self._fn_kwargs = fn, kwargs
        if getattr(fn, "__module__", "").startswith("rskeras.losses"):
            self._direction = "down"

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Raises:
            ValueError: for a non-finite label, or (sparse metrics) one outside
                `[0, classes)`, naming the metric, the value and its index."""
        bounded = is_sparse(self._fn) and not self._fn_kwargs.get("from_sorted_ids")
        check_labels(y_true, self.name, num_classes_of(y_pred) if bounded else None)
        mask = get_keras_mask(y_pred) if isinstance(y_pred, _core.Tensor) else None
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        if mask is not None:
            from rskeras.losses.losses import apply_mask

            sample_weight = apply_mask(sample_weight, mask, self.dtype, reduction="sum")
        super().update_state(values, sample_weight)

    def get_config(self):
        from rskeras.saving import serialization_lib

        config = {"name": self.name, "dtype": self.dtype,
                  "fn": serialization_lib.serialize_keras_object(self._fn)}
        config.update(serialization_lib.serialize_keras_object(self._fn_kwargs))
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        fn = config.get("fn")
        if isinstance(fn, dict):
            config["fn"] = _function_from_record(fn)
        return cls(**config)


def _function_from_record(record):
    """The metric or loss function a serialized function record names: looked up among
    rskeras's metric and loss functions by name first (where Keras's `metrics.get` would
    give a class instance), then through the saving registry."""
    from rskeras import losses, metrics
    from rskeras.saving import serialization_lib

    name = record.get("config") if isinstance(record.get("config"), str) else None
    if record.get("class_name") == "function" and name:
        for module in (metrics, losses):
            fn = getattr(module, name, None)
            if callable(fn) and not isinstance(fn, type):
                return fn
    return serialization_lib.deserialize_keras_object(record)

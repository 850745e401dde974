"""Loss classes and functions with Keras 3 names, defaults and reductions.

A loss function maps `(y_true, y_pred)` to one value per sample (the mean over the last axis
for element-wise losses, as in Keras); a `Loss` object then reduces over the batch with
`reduction="sum_over_batch_size"` (the mean) by default, after weighting by `sample_weight`.

Masks (Keras 3, `keras/src/losses/loss.py`): when `y_pred` carries a mask (`y_pred._keras_mask`,
e.g. from `Embedding(mask_zero=True)` or `Masking`), or the loss values do, the masked values
get weight 0. With "sum_over_batch_size" or "mean" the kept ones get `total / valid` (`total`:
the mask's size, `valid`: its True count), so the loss is the mean over the unmasked values:
`sum(loss * sample_weight * mask) / valid`. With "sum" (and "mean_with_sample_weight") the mask
is a 0/1 weight."""

from __future__ import annotations

from rskeras import _core
from rskeras import ops
from rskeras.backend.config import FLOAT_DTYPES
from rskeras.backend.masking import get_keras_mask
from rskeras.losses.labels import check_labels, is_sparse, num_classes_of, sparse_labels

_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def _squeeze_labels(y_true, y_pred):
    """Sparse labels of shape (batch, 1) against predictions (batch, classes) -> (batch,)."""
    y_true = ops.convert_to_tensor(y_true)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = ops.reshape(y_true, tuple(y_true.shape[:-1]))
    return y_true


def _float_pair(y_true, y_pred, name):
    check_labels(y_true, name)
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.cast(y_true, y_pred.dtype if y_pred.dtype in FLOAT_DTYPES else "float32")
    if y_true.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
        y_true = ops.expand_dims(y_true, -1)
    if tuple(y_true.shape) != tuple(y_pred.shape) and not (y_true.ndim == 0 or y_pred.ndim == 0):
        try:
            _core.broadcast_to(y_true, y_pred.shape)
        except ValueError:
            raise ValueError(
                f"{name}: y_true shape {tuple(y_true.shape)} is incompatible with y_pred shape "
                f"{tuple(y_pred.shape)}"
            ) from None
    return y_true, y_pred


@sparse_labels
def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """Per-sample cross-entropy between integer labels `(batch,)` (or `(batch, 1)`) and
    probabilities (or logits) `(batch, classes)`; returns `(batch,)`.

    Raises:
        ValueError: on a shape mismatch, or a label that is NaN, infinite or outside
            `[0, classes)` (naming the value and its index).
    """
    if ignore_class is not None:
        raise ValueError("sparse_categorical_crossentropy: ignore_class is not supported yet")
    y_pred = ops.convert_to_tensor(y_pred)
    check_labels(y_true, "sparse_categorical_crossentropy", num_classes_of(y_pred))
    return ops.sparse_categorical_crossentropy(_squeeze_labels(y_true, y_pred), y_pred, from_logits, axis)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample cross-entropy between one-hot `y_true` and `y_pred`, both `(batch, classes)`.
    `label_smoothing` mixes the targets with the uniform distribution."""
    y_true, y_pred = _float_pair(y_true, y_pred, "categorical_crossentropy")
    if label_smoothing:
        n = y_pred.shape[-1]
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / n
    return ops.categorical_crossentropy(y_true, y_pred, from_logits, axis)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Mean over the last axis of the element-wise binary cross-entropy; `(batch, d)` ->
    `(batch,)`. `label_smoothing` moves targets toward 0.5."""
    y_true, y_pred = _float_pair(y_true, y_pred, "binary_crossentropy")
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    return ops.mean(ops.binary_crossentropy(y_true, y_pred, from_logits), axis=axis)


def mean_squared_error(y_true, y_pred):
    """`mean((y_true - y_pred)^2, axis=-1)`."""
    y_true, y_pred = _float_pair(y_true, y_pred, "mean_squared_error")
    return ops.mean(ops.square(y_true - y_pred), axis=-1)


def mean_absolute_error(y_true, y_pred):
    """`mean(|y_true - y_pred|, axis=-1)`."""
    y_true, y_pred = _float_pair(y_true, y_pred, "mean_absolute_error")
    return ops.mean(ops.abs(y_true - y_pred), axis=-1)


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Make ranks that differ by one trailing axis of size 1 equal (Keras's helper): squeeze
    that axis, or expand a rank-1 partner when `expand_rank_1`."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = ops.expand_dims(x2, -1)
        else:
            x1 = ops.squeeze(x1, axis=-1)
    if r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = ops.expand_dims(x1, -1)
        else:
            x2 = ops.squeeze(x2, axis=-1)
    return x1, x2


def _weight_dtype(values) -> str:
    return "float64" if getattr(values, "dtype", None) == "float64" else "float32"


def apply_mask(sample_weight, mask, dtype="float32", reduction="sum_over_batch_size"):
    """`sample_weight` with a mask folded in (Keras 3's `apply_mask`). For "mean" and
    "sum_over_batch_size" the kept entries weigh `total / valid` (`total`: the mask's size,
    `valid`: its True count; 0 when none is kept) so that dividing by the number of values
    gives the mean over the kept ones; otherwise the mask is a 0/1 weight. None when both
    are None."""
    if mask is None:
        return sample_weight
    mask = ops.cast(mask, "bool")
    float_mask = ops.cast(mask, dtype)
    if reduction in ("mean", "sum_over_batch_size"):
        # A tensor expression (no read-back): the weights stay where the mask lives.
        float_mask = float_mask * ops.divide_no_nan(float(mask.size), ops.sum(float_mask))
    if sample_weight is None:
        return float_mask
    sample_weight = ops.cast(sample_weight, dtype)
    float_mask, sample_weight = squeeze_or_expand_to_same_rank(float_mask, sample_weight)
    return sample_weight * float_mask


def combined_mask(y_pred, values):
    """The mask that weights a loss: `y_pred`'s AND the loss values' own (Keras's
    `Loss.__call__`), or whichever exists, or None."""
    in_mask = get_keras_mask(y_pred) if isinstance(y_pred, _core.Tensor) else None
    out_mask = get_keras_mask(values) if isinstance(values, _core.Tensor) else None
    if in_mask is not None and out_mask is not None:
        return ops.logical_and(in_mask, out_mask)
    return in_mask if in_mask is not None else out_mask


def reduce_loss(values, sample_weight=None, reduction="sum_over_batch_size", mask=None):
    """Weight per-sample `values` by `sample_weight` (and `mask`, see `apply_mask`) and reduce
    them (Keras semantics: "sum_over_batch_size" and "mean" divide the weighted sum by the
    number of values, "mean_with_sample_weight" by the sum of the weights)."""
    values = ops.convert_to_tensor(values)
    sample_weight = apply_mask(sample_weight, mask, _weight_dtype(values), reduction)
    if sample_weight is not None:
        sw = ops.cast(sample_weight, _weight_dtype(values))
        if sw.ndim > values.ndim and sw.size == values.size:
            sw = ops.reshape(sw, tuple(values.shape))
        else:
            values, sw = squeeze_or_expand_to_same_rank(values, sw)
        values = values * sw
        sample_weight = sw
    if reduction in ("none", None) or values.ndim == 0:
        return values
    total = ops.sum(values)
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        return ops.divide_no_nan(total, ops.sum(sample_weight))
    return total / float(max(values.size, 1))


class Loss:
    """Base class: `loss(y_true, y_pred, sample_weight=None)` returns the reduced loss.

    Args:
        name: the loss name. reduction: "sum_over_batch_size" (default), "sum", "mean",
            "mean_with_sample_weight" or "none".

    Raises:
        ValueError: for an unknown reduction.
    """

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in _REDUCTIONS:
            raise ValueError(f"Invalid reduction {reduction!r}; expected one of {_REDUCTIONS[:-1]}")
        self.name = name or type(self).__name__
        self.reduction = reduction

    def call(self, y_true, y_pred):
        raise NotImplementedError

    def _sparse_labels(self) -> bool:
        """Whether `y_true` holds class ids checked against `y_pred.shape[-1]`."""
        return False

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The reduced loss; a mask on `y_pred` (or on the values `call` returns) weights
        the values (see the module docstring).

        Raises:
            ValueError: for a non-finite label, or a sparse one outside `[0, classes)`,
                naming the loss, the value and its index (`rskeras.losses.labels`).
        """
        check_labels(y_true, self.name, num_classes_of(y_pred) if self._sparse_labels() else None)
        values = self.call(y_true, y_pred)
        return reduce_loss(values, sample_weight, self.reduction, mask=combined_mask(y_pred, values))

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class LossFunctionWrapper(Loss):
    """A `Loss` around a per-sample function `fn(y_true, y_pred, **kwargs)`."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name or fn.__name__, reduction=reduction)
        self.fn, self._fn_kwargs = fn, kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def _sparse_labels(self) -> bool:
        return is_sparse(self.fn)

    def get_config(self):
        return {**super().get_config(), **self._fn_kwargs}


def _wrapper_class(fn, default_name, doc, **defaults):
    def __init__(self, *args, reduction="sum_over_batch_size", name=default_name, dtype=None, **kwargs):
        params = dict(defaults)
        for key, value in zip(defaults, args):
            params[key] = value
        unknown = set(kwargs) - set(defaults)
        if unknown:
            raise TypeError(f"{type(self).__name__}: unexpected arguments {sorted(unknown)}")
        params.update(kwargs)
        LossFunctionWrapper.__init__(self, fn, reduction=reduction, name=name, **params)

    return {"__init__": __init__, "__doc__": doc}


SparseCategoricalCrossentropy = type("SparseCategoricalCrossentropy", (LossFunctionWrapper,), _wrapper_class(
    sparse_categorical_crossentropy, "sparse_categorical_crossentropy",
    "Cross-entropy for integer labels `(batch,)` against `(batch, classes)` predictions.\n\n"
    "Args: from_logits (default False), ignore_class (unsupported), reduction, name.",
    from_logits=False, ignore_class=None))
CategoricalCrossentropy = type("CategoricalCrossentropy", (LossFunctionWrapper,), _wrapper_class(
    categorical_crossentropy, "categorical_crossentropy",
    "Cross-entropy for one-hot labels `(batch, classes)`.\n\n"
    "Args: from_logits (False), label_smoothing (0.0), axis (-1), reduction, name.",
    from_logits=False, label_smoothing=0.0, axis=-1))
BinaryCrossentropy = type("BinaryCrossentropy", (LossFunctionWrapper,), _wrapper_class(
    binary_crossentropy, "binary_crossentropy",
    "Binary cross-entropy, averaged over the last axis.\n\n"
    "Args: from_logits (False), label_smoothing (0.0), axis (-1), reduction, name.",
    from_logits=False, label_smoothing=0.0, axis=-1))
MeanSquaredError = type("MeanSquaredError", (LossFunctionWrapper,), _wrapper_class(
    mean_squared_error, "mean_squared_error", "Mean of squared errors over the last axis."))
MeanAbsoluteError = type("MeanAbsoluteError", (LossFunctionWrapper,), _wrapper_class(
    mean_absolute_error, "mean_absolute_error", "Mean of absolute errors over the last axis."))

for _cls in (SparseCategoricalCrossentropy, CategoricalCrossentropy, BinaryCrossentropy,
             MeanSquaredError, MeanAbsoluteError):
    _cls.__module__ = __name__

mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error

"""`Loss`, the base class of every loss, and the weighting and reduction it applies
(Keras 3: `keras/src/losses/loss.py`).

A loss's `call(y_true, y_pred)` gives one value per sample (or per element); `__call__` then
weights those values by `sample_weight` and by a mask, and reduces them:

* "sum_over_batch_size" (the default) and "mean": the weighted sum divided by the number of
  values (not by the sum of the weights);
* "sum": the weighted sum;
* "mean_with_sample_weight": the weighted sum divided by the sum of the weights;
* "none" or None: the weighted values, unreduced.

Masks: when `y_pred` carries a mask (`y_pred._keras_mask`, e.g. from
`Embedding(mask_zero=True)` or `Masking`), or the loss values do (`ignore_class`, `Circle`),
the masked values get weight 0. With "sum_over_batch_size" or "mean" the kept ones weigh
`total / valid` (`total`: the mask's size, `valid`: its True count), so the loss is the mean
over the unmasked values, `sum(loss * sample_weight * mask) / valid`; with "sum" and
"mean_with_sample_weight" the mask is a 0/1 weight.
"""

from __future__ import annotations

from rskeras import _core
from rskeras import ops
from rskeras.backend import config as _config
from rskeras.backend.masking import get_keras_mask
from rskeras.backend.naming import to_snake_case
from rskeras.losses.labels import check_labels, num_classes_of

REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def standardize_reduction(reduction):
    """`reduction` itself when it is one of `REDUCTIONS`.

    Raises:
        ValueError: naming the allowed values and the one received (Keras's message).
    """
    if reduction not in REDUCTIONS:
        raise ValueError(
            "Invalid value for argument `reduction`. Expected one of "
            f"{set(REDUCTIONS)}. Received: reduction={reduction}")
    return reduction


def _dtype_name(dtype) -> str:
    """A dtype string from a string, a NumPy dtype or a dtype policy (its compute dtype)."""
    if dtype is None:
        return _config.floatx()
    compute = getattr(dtype, "compute_dtype", None)
    if isinstance(compute, str):
        return compute
    if isinstance(dtype, str):
        return dtype.split("_")[-1] if dtype.startswith("mixed_") else dtype
    return str(getattr(dtype, "name", dtype))


def as_tensor(x, dtype=None):
    """`x` as a tensor; cast to `dtype` only when it differs (a tensor that already has it is
    returned as is, keeping its mask and its place on the gradient tape)."""
    if isinstance(x, _core.Tensor):
        return x if dtype is None or str(x.dtype) == dtype else ops.cast(x, dtype)
    return ops.convert_to_tensor(x, dtype=dtype)


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Make ranks that differ by one trailing axis of size 1 equal (Keras's helper): squeeze
    that axis, or expand a rank-1 partner when `expand_rank_1`. Other shapes are returned
    unchanged."""
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
    dtype = str(getattr(values, "dtype", "float32"))
    return dtype if dtype in ("float16", "bfloat16", "float32", "float64") else "float32"


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


def reduce_values(values, sample_weight=None, reduction="sum_over_batch_size"):
    """Reduce already weighted `values` (Keras's `reduce_values`); a scalar, an empty
    vector, or `reduction` "none"/None returns `values` itself."""
    if reduction in ("none", None) or values.ndim == 0 or tuple(values.shape) == (0,):
        return values
    total = ops.sum(values)
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        return ops.divide_no_nan(total, ops.sum(sample_weight))
    return total / float(max(values.size, 1))


def reduce_weighted_values(values, sample_weight=None, mask=None,
                           reduction="sum_over_batch_size", dtype=None):
    """Weight `values` by `sample_weight` and `mask` (see `apply_mask`) and reduce them
    (Keras's `reduce_weighted_values`).

    Args:
        values: the per-sample (or per-element) losses.
        sample_weight: None, or weights broadcastable to `values` once a trailing axis of
            size 1 is squeezed or added; a weight with as many entries as `values` but more
            axes is reshaped to `values`'s shape.
        mask: None or a boolean tensor of `values`'s shape.
        reduction: one of `REDUCTIONS`.
        dtype: the values' dtype (default: theirs, float32 for integers).
    """
    reduction = standardize_reduction(reduction)
    values = as_tensor(values, dtype)
    wdtype = _weight_dtype(values)
    sample_weight = apply_mask(sample_weight, mask, wdtype, reduction)
    if sample_weight is not None:
        sw = as_tensor(sample_weight, wdtype)
        if sw.ndim > values.ndim and sw.size == values.size:
            sw = ops.reshape(sw, tuple(values.shape))
        else:
            values, sw = squeeze_or_expand_to_same_rank(values, sw)
        values = values * sw
        sample_weight = sw
    return reduce_values(values, sample_weight, reduction)


def reduce_loss(values, sample_weight=None, reduction="sum_over_batch_size", mask=None):
    """`reduce_weighted_values` with the arguments in rskeras's earlier order (kept for the
    trainer's plain-function path)."""
    return reduce_weighted_values(values, sample_weight, mask, reduction)


def modern_config(config: dict) -> dict:
    """A loss config with tf.keras 2's reduction "auto" (what its losses wrote, meaning
    "sum_over_batch_size" outside a distribution strategy) read as "sum_over_batch_size", so
    that legacy `.h5` files compile."""
    if config.get("reduction") == "auto":
        config = {**config, "reduction": "sum_over_batch_size"}
    return config


class Loss:
    """Base class of the losses: `loss(y_true, y_pred, sample_weight=None)` is the reduced
    loss. A subclass implements `call(y_true, y_pred)`, returning one value per sample.

    Args:
        name: the loss name (default: the class name in snake_case).
        reduction: "sum_over_batch_size" (default), "sum", "mean",
            "mean_with_sample_weight", "none" or None (module docstring).
        dtype: the dtype of the computation (default `keras.config.floatx()`, "float32");
            `y_true` and `y_pred` are cast to it, as in Keras. A dtype policy gives its
            compute dtype.

    Raises:
        ValueError: for an unknown reduction.
    """

    # Whether `y_true` holds integer labels, kept in their dtype rather than cast to the
    # loss's (Keras casts them; the values are the same, and one kernel call is saved).
    _INTEGER_LABELS = False

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        self.name = name or to_snake_case(type(self).__name__)
        self.reduction = standardize_reduction(reduction)
        self._dtype = _dtype_name(dtype)

    @property
    def dtype(self) -> str:
        return self._dtype

    def call(self, y_true, y_pred):
        raise NotImplementedError

    def _sparse_labels(self) -> bool:
        """Whether `y_true` holds class ids checked against `_num_classes(y_pred)`."""
        return False

    def _num_classes(self, y_pred):
        """The class count of sparse labels: `y_pred.shape[-1]` unless the class axis is
        another."""
        return num_classes_of(y_pred)

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The reduced loss, a scalar tensor (or the weighted values for reduction "none");
        a mask on `y_pred` (or on the values `call` returns) weights the values.

        Raises:
            ValueError: for a non-finite label, or a sparse one outside `[0, classes)`,
                naming the loss, the value and its index (`rskeras.losses.labels`); for
                shapes the loss cannot pair, naming the loss and both shapes.
        """
        check_labels(y_true, self.name, self._num_classes(y_pred) if self._sparse_labels() else None)
        in_mask = get_keras_mask(y_pred) if isinstance(y_pred, _core.Tensor) else None
        y_pred = as_tensor(y_pred, self.dtype)
        y_true = as_tensor(y_true, None if self._INTEGER_LABELS else self.dtype)
        values = self.call(y_true, y_pred)
        out_mask = get_keras_mask(values) if isinstance(values, _core.Tensor) else None
        if in_mask is not None and out_mask is not None:
            mask = ops.logical_and(in_mask, out_mask)
        else:
            mask = in_mask if in_mask is not None else out_mask
        return reduce_weighted_values(values, sample_weight, mask, self.reduction)

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        """`cls(**config)`; tf.keras 2's reduction "auto" reads as "sum_over_batch_size"."""
        return cls(**modern_config(config))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} reduction={self.reduction!r}>"

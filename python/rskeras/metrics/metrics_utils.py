"""Helpers shared by the metrics (Keras 3: `keras/src/metrics/metrics_utils.py`): threshold
parsing, the confusion-matrix counts behind Precision/Recall/AUC and friends, top-k
filtering, the integer confusion matrix of the IoU metrics, and shape checks."""

from __future__ import annotations

from rskeras.backend.lazy_numpy import np

from rskeras import ops
from rskeras.losses.loss import squeeze_or_expand_to_same_rank  # noqa: F401  (Keras exports it here too)

NEG_INF = -1e10
EPSILON = 1e-7  # keras.config.epsilon()

TRUE_POSITIVES, FALSE_POSITIVES = "true_positives", "false_positives"
TRUE_NEGATIVES, FALSE_NEGATIVES = "true_negatives", "false_negatives"
_CONDITIONS = (TRUE_POSITIVES, FALSE_POSITIVES, TRUE_NEGATIVES, FALSE_NEGATIVES)


def check_same_shape(name, y_true, y_pred, what=("y_true", "y_pred")):
    """Raises ValueError naming the metric and both shapes when they differ."""
    if tuple(y_true.shape) != tuple(y_pred.shape):
        raise ValueError(f"{name}: `{what[0]}` and `{what[1]}` must have the same shape; "
                         f"expected {what[0]}.shape == {what[1]}.shape == "
                         f"{tuple(y_pred.shape)}, received {what[0]}.shape="
                         f"{tuple(y_true.shape)}")


def check_rank(name, tensor, rank, what):
    """Raises ValueError naming the metric, the expected rank and the actual shape."""
    if tensor.ndim != rank:
        raise ValueError(f"{name} expects {rank}D `{what}`; received {what}.shape="
                         f"{tuple(tensor.shape)}")


def to_list(x):
    if isinstance(x, (list, tuple)):
        return list(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    return [x]


def assert_thresholds_range(thresholds):
    """Raises ValueError for a threshold outside [0, 1] (or None)."""
    if thresholds is not None:
        invalid = [t for t in thresholds if t is None or t < 0 or t > 1]
        if invalid:
            raise ValueError(f"Threshold values must be in [0, 1]. Received: {invalid}")


def parse_init_thresholds(thresholds, default_threshold=0.5) -> list:
    if thresholds is not None:
        assert_thresholds_range(to_list(thresholds))
    return to_list(default_threshold if thresholds is None else thresholds)


def is_evenly_distributed_thresholds(thresholds) -> bool:
    """Whether `thresholds` (3 or more) are `i / (n - 1)` up to epsilon (Keras then counts
    by buckets, which decides the ties exactly as here)."""
    n = len(thresholds)
    if n < 3:
        return False
    even = np.arange(n, dtype=np.float32) / (n - 1)
    return bool(np.allclose(thresholds, even, atol=EPSILON))


def filter_top_k(x, k):
    """`x` with every entry outside the top `k` of its last axis set to `NEG_INF`."""
    _, idx = ops.top_k(x, k)
    keep = ops.sum(ops.one_hot(idx, x.shape[-1], axis=-1), axis=-2)
    return x * keep + NEG_INF * (1 - keep)


def _reverse_cumsum(x, axis=-1):
    return ops.flip(ops.cumsum(ops.flip(x, axis=axis), axis=axis), axis=axis)


def confusion_counts(y_true, y_pred, thresholds, conditions, *, name, top_k=None,
                     class_id=None, sample_weight=None, multi_label=False, label_weights=None,
                     thresholds_distributed_evenly=False) -> dict:
    """The weighted counts of `conditions` (a subset of true/false positives/negatives) per
    threshold, as Keras's `update_confusion_matrix_variables` adds them: a prediction is
    positive when `y_pred > threshold`, a label when it is non-zero.

    Shapes: `y_true`, `y_pred` `(batch, ...)`, equal after dropping a trailing axis of 1;
    `sample_weight` broadcastable to them. Each count is `(T,)`, or `(T, labels)` with
    `multi_label` (then `y_pred` is `(batch, labels)`).

    With evenly spaced thresholds Keras counts predictions by bucket,
    `ceil(clip(p, 0, 1) * (T - 1)) - 1`, so the same is done here: ties at a threshold fall
    as they fall in Keras.

    Raises:
        ValueError: for mismatched shapes, or `class_id` with 1-D predictions.
    """
    y_true = ops.cast(ops.convert_to_tensor(y_true), "float32")
    y_pred = ops.cast(ops.convert_to_tensor(y_pred), "float32")
    y_pred, y_true = squeeze_or_expand_to_same_rank(y_pred, y_true)
    check_same_shape(name, y_true, y_pred)
    with_epsilon = False
    if thresholds_distributed_evenly:
        with_epsilon = thresholds[0] < 0.0 or thresholds[-1] > 1.0
    num_thresholds = len(thresholds)
    if sample_weight is not None:
        sample_weight = ops.expand_dims(ops.cast(ops.convert_to_tensor(sample_weight), "float32"), -1)
        _, sample_weight = squeeze_or_expand_to_same_rank(y_true, sample_weight, expand_rank_1=False)
        try:
            np.broadcast_shapes(tuple(sample_weight.shape), tuple(y_pred.shape))
        except ValueError:
            raise ValueError(f"{name}: `sample_weight` of shape {tuple(sample_weight.shape)} "
                             f"does not broadcast to y_pred.shape={tuple(y_pred.shape)}") from None
    if top_k is not None:
        y_pred = filter_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.ndim == 1:
            raise ValueError("When class_id is provided, y_pred must be a 2D array with shape "
                             f"(num_samples, num_classes), found shape: {tuple(y_pred.shape)}")
        y_true = ops.expand_dims(y_true[..., class_id], -1)
        y_pred = ops.expand_dims(y_pred[..., class_id], -1)
    shape = tuple(y_pred.shape)

    weights = None
    if sample_weight is not None:
        weights = ops.broadcast_to(sample_weight, shape)
    if label_weights is not None and not multi_label:
        lw = ops.broadcast_to(ops.expand_dims(ops.cast(label_weights, "float32"), 0), shape)
        weights = lw if weights is None else weights * lw
    flat = (-1,) if not multi_label else None

    out = {}
    if thresholds_distributed_evenly:
        y_pred = ops.clip(y_pred, 0.0, 1.0)
        y_true = ops.cast(ops.cast(y_true, "bool"), "float32")
        if flat:
            y_true, y_pred = ops.reshape(y_true, flat), ops.reshape(y_pred, flat)
            weights = None if weights is None else ops.reshape(weights, flat)
        true_labels = y_true if weights is None else y_true * weights
        false_labels = (1.0 - y_true) if weights is None else (1.0 - y_true) * weights
        buckets = ops.ceil(y_pred * float(num_thresholds - 1)) - 1.0
        if with_epsilon:
            buckets = ops.relu(buckets)
        # Bucket sums by scatter-add (O(batch)); slot 0 collects bucket -1 (a prediction
        # below every threshold but the first, with no epsilon) and is dropped.
        slots = ops.cast(buckets, "int32") + 1
        if multi_label:
            labels_idx = ops.broadcast_to(ops.arange(shape[-1], dtype="int32"), shape)
            index = ops.stack([slots, labels_idx], axis=-1)
            target = (num_thresholds + 1, shape[-1])
        else:
            index = ops.expand_dims(slots, -1)
            target = (num_thresholds + 1,)
        tp = _reverse_cumsum(ops.scatter(index, true_labels, target)[1:], axis=0)
        fp = _reverse_cumsum(ops.scatter(index, false_labels, target)[1:], axis=0)
        axis = 0 if multi_label else None
        if TRUE_POSITIVES in conditions:
            out[TRUE_POSITIVES] = tp
        if FALSE_POSITIVES in conditions:
            out[FALSE_POSITIVES] = fp
        if TRUE_NEGATIVES in conditions:
            out[TRUE_NEGATIVES] = ops.sum(false_labels, axis=axis) - fp
        if FALSE_NEGATIVES in conditions:
            out[FALSE_NEGATIVES] = ops.sum(true_labels, axis=axis) - tp
        return out

    thr = ops.convert_to_tensor(np.asarray(thresholds, np.float32))
    if multi_label:
        thr = ops.reshape(thr, (num_thresholds, 1, 1))
        preds, labels = ops.expand_dims(y_pred, 0), ops.expand_dims(ops.cast(y_true, "bool"), 0)
        w = None if weights is None else ops.expand_dims(weights, 0)
    else:
        thr = ops.reshape(thr, (num_thresholds, 1))
        preds = ops.reshape(y_pred, (1, -1))
        labels = ops.reshape(ops.cast(y_true, "bool"), (1, -1))
        w = None if weights is None else ops.reshape(weights, (1, -1))
    pred_pos = ops.greater(preds, thr)
    pred_neg = ops.logical_not(pred_pos)
    label_neg = ops.logical_not(labels)
    pairs = {TRUE_POSITIVES: (labels, pred_pos), FALSE_POSITIVES: (label_neg, pred_pos),
             TRUE_NEGATIVES: (label_neg, pred_neg), FALSE_NEGATIVES: (labels, pred_neg)}
    for cond in _CONDITIONS:
        if cond not in conditions:
            continue
        both = ops.logical_and(*pairs[cond])
        values = ops.cast(both, "float32") if w is None else ops.where(both, w, 0.0)
        out[cond] = ops.sum(values, axis=1)
    return out


def confusion_matrix(labels, predictions, num_classes, weights=None, dtype="int32"):
    """The `(num_classes, num_classes)` matrix of summed `weights` (default 1) at
    `[label, prediction]` (rows: labels). `labels`, `predictions`: 1-D class ids in range."""
    labels = ops.cast(ops.reshape(labels, (-1,)), "int32")
    predictions = ops.cast(ops.reshape(predictions, (-1,)), "int32")
    if weights is None:
        weights = ops.ones(tuple(labels.shape), "float32")
    weights = ops.cast(ops.broadcast_to(ops.reshape(weights, (-1,)) if getattr(weights, "ndim", 0)
                                        else weights, tuple(labels.shape)), "float32")
    index = ops.stack([labels, predictions], axis=-1)
    return ops.cast(ops.scatter(index, weights, (num_classes, num_classes)), dtype)

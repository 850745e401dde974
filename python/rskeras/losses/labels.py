"""The label check every loss and metric runs on `y_true` before using it.

Keras trains silently on NaN labels and on sparse class ids outside `[0, classes)` (a NaN
sparse label reads as class 0); rskeras refuses them with a ValueError naming the loss or
metric, the first bad value and its index.

* Every loss and metric: `y_true` must be finite (integer and bool labels always are).
* Sparse losses and metrics (functions marked with `sparse_labels`): each label must also
  satisfy `0 <= label < classes`, `classes` being `y_pred.shape[-1]`.

Cost: one elementwise pass and one reduction per labels tensor, read back as one bool; the
first bad index is looked up only on the error path. Two shortcuts make it free in the usual
cases:

* the last tensor found clean is remembered (by identity, plain immutable tensors only), so
  a loss and the metrics of the same batch check its labels once;
* `fit`/`evaluate` know the bounds of their whole `y` arrays (computed once on the host,
  `summarize`) and announce each batch's label tensors with `known_labels`: a batch drawn
  from clean data needs no device work at all (no GPU synchronization per step). When the
  data holds a bad label somewhere, each batch is checked exactly, and the error also gives
  the sample's row in `y`.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import threading
from typing import Any, NamedTuple

from rskeras import _core

_F32_MAX = 3.4028234663852886e38


class LabelSummary(NamedTuple):
    """Bounds of a host label array: all finite (and within float32 range, which the gpu
    device stores), and the smallest and largest value (None for an empty array)."""

    finite: bool
    low: float | None
    high: float | None

    def clean_for(self, num_classes: int | None) -> bool:
        if not self.finite:
            return False
        if num_classes is None or self.low is None:
            return True
        return self.low >= 0 and self.high < num_classes


class _Known(NamedTuple):
    tensor: Any  # the batch's labels tensor (kept to compare identity safely)
    summary: LabelSummary  # of the whole array it was drawn from
    rows: Any  # batch row -> row in the array: an int offset or an integer index array


# Label tensors of the current step whose source arrays are summarized: {id: _Known}.
_KNOWN: contextvars.ContextVar[dict | None] = contextvars.ContextVar("rskeras_known_labels",
                                                                     default=None)
# (tensor, num_classes) of the last tensor found clean.
_last_clean: tuple = (None, None)
# Per thread, while the trainer traces a step: the exact checks the step made, as
# `[(y_true, where, num_classes)]`. They read values, so they run outside the recording and
# the trainer repeats them before each replay.
TRACE = threading.local()


def sparse_labels(fn):
    """Mark a loss or metric function as taking sparse class ids (checked against
    `y_pred.shape[-1]`)."""
    fn._rskeras_sparse_labels = True
    return fn


def is_sparse(fn) -> bool:
    return bool(getattr(fn, "_rskeras_sparse_labels", False))


def summarize(array) -> LabelSummary | None:
    """The bounds of a host (NumPy) label array, or None when it holds no numbers."""
    import numpy as np

    if array is None:
        return None
    array = np.asarray(array)
    if array.dtype.kind not in "biuf":
        return None
    if array.size == 0:
        return LabelSummary(True, None, None)
    low, high = array.min(), array.max()  # NaN propagates through min/max
    finite = bool(np.isfinite(low) and np.isfinite(high)) if array.dtype.kind == "f" else True
    if finite and array.dtype.kind == "f" and max(abs(float(low)), abs(float(high))) > _F32_MAX:
        finite = False  # becomes inf as float32: let the exact check decide
    return LabelSummary(finite, float(low), float(high))


@contextlib.contextmanager
def known_labels(entries):
    """Within the block, `check_labels` trusts each `(tensor, summary, rows)` of `entries`:
    the tensor was drawn from an array with that summary, its row `i` being the array's row
    `rows + i` (an int) or `rows[i]` (an index array)."""
    token = _KNOWN.set({id(t): _Known(t, s, r) for t, s, r in entries
                        if t is not None and s is not None})
    try:
        yield
    finally:
        _KNOWN.reset(token)


def num_classes_of(y_pred) -> int | None:
    """`y_pred.shape[-1]` (the class count of sparse labels), or None when unknown."""
    shape = getattr(y_pred, "shape", None)
    if shape is None:
        import numpy as np

        try:
            shape = np.shape(y_pred)
        except Exception:  # noqa: BLE001 - not array-like: no bound to check against
            return None
    if not shape or shape[-1] is None:
        return None
    return int(shape[-1])


def check_labels(y_true, where: str, num_classes: int | None = None) -> None:
    """Refuse non-finite labels, and with `num_classes` labels outside `[0, num_classes)`.

    Args:
        y_true: the labels (a tensor, a NumPy array, nested lists or a number; anything
            else, e.g. a symbolic KerasTensor, is left alone).
        where: the loss or metric name, for the message.
        num_classes: the class count of sparse labels; None checks finiteness only.

    Raises:
        ValueError: naming `where`, the first bad value and its index.
    """
    global _last_clean
    if y_true is None:
        return
    if isinstance(y_true, _core.Tensor):
        cached, cached_classes = _last_clean
        if cached is y_true and (num_classes is None or num_classes == cached_classes):
            return
        known = _KNOWN.get()
        entry = known.get(id(y_true)) if known else None
        if entry is not None and entry.tensor is not y_true:
            entry = None
        if entry is not None and entry.summary.clean_for(num_classes):
            return
        dtype = str(y_true.dtype)
        if num_classes is None and not _is_float_dtype(dtype):
            return  # integer and bool labels are always finite
        deferred = getattr(TRACE, "deferred", None)
        if deferred is not None and _core.trace_active():
            deferred.append((y_true, where, num_classes))
            _core.trace_pause(True)
            try:
                check_labels(y_true, where, num_classes)
            finally:
                _core.trace_pause(False)
            return
        ok = _ok_mask(y_true, dtype, num_classes)
        from rskeras import ops

        if bool(ops.all(ok)):
            if type(y_true) is _core.Tensor:  # a Variable may change in place: never cached
                _last_clean = (y_true, num_classes)
            return
        import numpy as np

        _raise(np.asarray(y_true), np.asarray(ok), where, num_classes,
               entry.rows if entry is not None else None)
    import numpy as np

    if not isinstance(y_true, (np.ndarray, np.generic, list, tuple, int, float)):
        return
    try:
        array = np.asarray(y_true)
    except (ValueError, TypeError):
        return  # ragged or not numeric: the loss reports it
    if array.dtype.kind not in "biuf" or (num_classes is None and array.dtype.kind != "f"):
        return
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(array) if array.dtype.kind == "f" else np.ones(array.shape, bool)
        if num_classes is not None:
            ok &= (array >= 0) & (array < num_classes)
    if not ok.all():
        _raise(array, ok, where, num_classes, None)


def _is_float_dtype(dtype: str) -> bool:
    return dtype.startswith(("float", "bfloat"))


def _ok_mask(y_true, dtype: str, num_classes: int | None):
    """True where a label is valid (one elementwise expression; NaN compares False)."""
    from rskeras import ops

    if num_classes is None:
        return ops.isfinite(y_true)
    return ops.logical_and(ops.greater_equal(y_true, 0), ops.less(y_true, num_classes))


def _raise(values, ok, where, num_classes, rows) -> None:
    """The error for the first False of `ok` (row-major order)."""
    import numpy as np

    ok = np.broadcast_to(ok, values.shape)
    index = tuple(int(i) for i in np.unravel_index(int(np.argmin(ok.ravel())), values.shape))
    value = values[index].item()
    shown = repr(value)
    if isinstance(value, float) and not math.isfinite(value):
        problem = f"label {shown} is not finite (labels must not be NaN or infinite)"
    else:
        problem = (f"label {shown} is out of range for {num_classes} classes "
                   f"(expected 0 <= label < {num_classes})")
    located = f"at index {index} of y_true"
    if rows is not None and index:
        row = rows + index[0] if isinstance(rows, int) else int(rows[index[0]])
        located += f" (row {row} of the data's y)"
    raise ValueError(f"{where}: {problem}, {located}")

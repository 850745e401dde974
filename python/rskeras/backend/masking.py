"""Keras masks carried by tensors: `x._keras_mask`, `get_keras_mask(x)`, `set_keras_mask(x, m)`.

A mask is a boolean tensor, usually `(batch, steps)`, True for the entries to use. A layer's
`compute_mask` produces it after a call and `Layer.__call__` attaches it to the outputs, so the
next layer, the model and the loss find it (Keras 3, `keras/src/backend/common/masking.py`).
Eager tensors keep it in a `_keras_mask` slot of the Rust Tensor (None by default; ops never
copy it to their results); `KerasTensor`s in a plain attribute.
"""

from __future__ import annotations


def get_keras_mask(x):
    """The mask attached to `x` (a tensor or KerasTensor), or None."""
    return getattr(x, "_keras_mask", None)


def set_keras_mask(x, mask) -> None:
    """Attach `mask` to `x` in place (None removes it). Anything that cannot carry a mask
    (None, NumPy arrays, Python numbers) is left alone."""
    if x is None:
        return
    try:
        x._keras_mask = mask
    except (AttributeError, TypeError):
        pass

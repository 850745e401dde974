"""Per-object re-entrant locks for models and optimizers, used from several Python threads.

A model may be used by several threads at once, as Keras on TensorFlow allows (`predict` in
one thread while another runs `fit`). The model's lock is held around each optimizer update
and each predict/evaluate batch, so a batch never sees half of an update; a model shares it
with its optimizer (`share_lock`), so a custom `train_step` that calls
`optimizer.apply` is covered too.

The lock lives in the object's `__dict__` under `ATTR`, made on first use (so objects made by
`__new__`, copies and unpickled ones get one too); `state_without_lock` keeps it out of
pickles and copies. Saving and `get_config` never see it (it is not a saveable)."""

from __future__ import annotations

import threading

ATTR = "_rskeras_lock"
_CREATE = threading.RLock()  # makes creating an object's lock race-free (re-entered by share_lock)


def object_lock(obj) -> threading.RLock:
    """`obj`'s re-entrant lock, made on first use."""
    lock = obj.__dict__.get(ATTR)
    if lock is None:
        with _CREATE:
            lock = obj.__dict__.get(ATTR)
            if lock is None:
                lock = threading.RLock()
                object.__setattr__(obj, ATTR, lock)
    return lock


def share_lock(model, optimizer) -> None:
    """Make `model` and `optimizer` hold the same lock: the optimizer takes the model's when
    it has none yet; otherwise (an optimizer already used by another model) the model takes
    the optimizer's, so that every model it updates is covered."""
    lock = optimizer.__dict__.get(ATTR)
    if lock is None:
        with _CREATE:
            if optimizer.__dict__.get(ATTR) is None:
                object.__setattr__(optimizer, ATTR, object_lock(model))
                return
            lock = optimizer.__dict__[ATTR]
    if model.__dict__.get(ATTR) is not lock:
        object.__setattr__(model, ATTR, lock)


def state_without_lock(obj) -> dict:
    """`obj.__dict__` without its lock (for `__getstate__`: locks cannot be pickled, and a
    copy gets a lock of its own)."""
    state = dict(obj.__dict__)
    state.pop(ATTR, None)
    return state

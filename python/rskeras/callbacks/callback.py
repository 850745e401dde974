"""`Callback` base class and `CallbackList`, as in Keras."""

from __future__ import annotations

from rskeras.utils.python_utils import pythonify_logs


class Callback:
    """Base class for callbacks: override the `on_*` hooks you need. `self.model` and
    `self.params` (`{"epochs", "steps", "verbose"}`) are set before training starts.
    Setting `self.model.stop_training = True` ends `fit` after the current batch (the epoch
    still ends: validation, `on_epoch_end`, then `on_train_end`).
    `on_train_batch_begin`/`on_train_batch_end` call `on_batch_begin`/`on_batch_end` unless
    overridden, as in Keras, so either name works for training batches."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params) -> None:
        self.params = params

    @property
    def _needs_batch_logs(self) -> bool:
        """Whether a batch-end hook reads its `logs` (on the GPU, reading them costs a
        synchronization): true when a subclass overrides one of those hooks."""
        return any(getattr(type(self), hook) is not getattr(Callback, hook)
                   for hook in _BATCH_END + ("on_batch_end",))

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_batch_begin(self, batch, logs=None): pass
    def on_batch_end(self, batch, logs=None): pass

    # As in Keras, the train-batch hooks default to the older `on_batch_*` names.
    def on_train_batch_begin(self, batch, logs=None): self.on_batch_begin(batch, logs=logs)
    def on_train_batch_end(self, batch, logs=None): self.on_batch_end(batch, logs=logs)

    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass


# `on_batch_*` are reached through the train-batch hooks, so the list does not forward them.
_HOOKS = [name for name in vars(Callback) if name.startswith("on_") and not name.startswith("on_batch_")]
_BATCH_END = ("on_train_batch_end", "on_test_batch_end", "on_predict_batch_end")
_METRIC_BATCH_END = _BATCH_END[:2]  # the hooks whose logs are metric values


class CallbackList(Callback):
    """Forwards every hook to a list of callbacks, adding `History` and `ProgbarLogger` as
    Keras does when asked. The logs of a train or test batch (scalar tensors, maybe on the
    GPU) become Python floats, in one read-back, only when a callback reads them."""

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None, **params):
        super().__init__()
        from rskeras.callbacks.history import History
        from rskeras.callbacks.progbar_logger import ProgbarLogger

        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be keras.callbacks.Callback instances, got {cb!r}")
        if add_progbar and not any(isinstance(c, ProgbarLogger) for c in self.callbacks):
            self.callbacks.append(ProgbarLogger())
        if add_history:
            self.history = next((c for c in self.callbacks if isinstance(c, History)), None) or History()
            if self.history not in self.callbacks:
                self.callbacks.append(self.history)
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    def set_model(self, model):
        super().set_model(model)
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params):
        super().set_params(params)
        for cb in self.callbacks:
            cb.set_params(params)


def _forward(name):
    def hook(self, *args, **kwargs):
        for cb in self.callbacks:
            getattr(cb, name)(*args, **kwargs)

    hook.__name__ = name
    return hook


def _forward_batch_logs(name):
    def hook(self, batch, logs=None):
        if logs and any(cb._needs_batch_logs for cb in self.callbacks):
            logs = pythonify_logs(logs)
        for cb in self.callbacks:
            getattr(cb, name)(batch, logs)

    hook.__name__ = name
    return hook


for _name in _HOOKS:
    setattr(CallbackList, _name, (_forward_batch_logs if _name in _METRIC_BATCH_END else _forward)(_name))

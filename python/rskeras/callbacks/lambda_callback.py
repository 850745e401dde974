"""`LambdaCallback`: a callback from plain functions."""

from rskeras.callbacks.callback import Callback


class LambdaCallback(Callback):
    """Build a callback from functions, e.g. `LambdaCallback(on_epoch_end=lambda epoch, logs: ...)`.
    Accepts on_epoch_begin/end(epoch, logs), on_train_batch_begin/end(batch, logs) (also
    on_batch_begin/end) and on_train_begin/end(logs)."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None, **kwargs):
        super().__init__()
        hooks = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                     on_train_begin=on_train_begin, on_train_end=on_train_end,
                     on_train_batch_begin=on_train_batch_begin or kwargs.pop("on_batch_begin", None),
                     on_train_batch_end=on_train_batch_end or kwargs.pop("on_batch_end", None))
        hooks.update(kwargs)
        for name, fn in hooks.items():
            if fn is not None:
                setattr(self, name, fn)

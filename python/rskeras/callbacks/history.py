"""`History`: records the logs of every epoch; `fit` returns it."""

from rskeras.callbacks.callback import Callback


class History(Callback):
    """`history.history` maps each metric name ("loss", "accuracy", "val_loss", ...) to its
    list of per-epoch values; `history.epoch` lists the epoch indices."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)
        if self.model is not None:
            self.model.history = self

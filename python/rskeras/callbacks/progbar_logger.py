"""`ProgbarLogger`: prints the progress bar during fit, evaluate and predict."""

from rskeras.callbacks.callback import Callback
from rskeras.utils.progbar import Progbar


class ProgbarLogger(Callback):
    """Shows `Epoch i/n` and a `Progbar` per epoch (verbose 1: bar, 2: one line per epoch)."""

    def __init__(self):
        super().__init__()
        self.progbar = None
        self.seen = 0

    def _start(self):
        self.verbose = self.params.get("verbose", 1)
        self.progbar = Progbar(self.params.get("steps"), verbose=self.verbose)
        self.seen = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.verbose = self.params.get("verbose", 1)
        if self.verbose and self.params.get("epochs", 1) > 1:
            print(f"Epoch {epoch + 1}/{self.params['epochs']}", flush=True)
        self._start()

    @property
    def _needs_batch_logs(self) -> bool:
        # Only a bar redrawn in place shows the values between steps; otherwise the epoch
        # end's values are all that is printed, and reading the batch logs would only cost
        # a GPU synchronization per step.
        return self.params.get("verbose", 1) == 1 and Progbar.redraws()

    def _batch_values(self, logs):
        return list((logs or {}).items()) if self._needs_batch_logs else None

    def on_train_batch_end(self, batch, logs=None):
        self.seen = batch + 1
        self.progbar.update(self.seen, self._batch_values(logs), finalize=False)

    def on_epoch_end(self, epoch, logs=None):
        self.progbar.stateful_metrics = set(logs or ())
        self.progbar.update(self.seen, list((logs or {}).items()), finalize=True)

    def on_test_begin(self, logs=None):
        if not self.params.get("in_fit"):
            self._start()

    def on_test_batch_end(self, batch, logs=None):
        if not self.params.get("in_fit"):
            self.seen = batch + 1
            self.progbar.update(self.seen, self._batch_values(logs), finalize=False)

    def on_test_end(self, logs=None):
        if not self.params.get("in_fit"):
            self.progbar.stateful_metrics = set(logs or ())
            self.progbar.update(self.seen, list((logs or {}).items()), finalize=True)

    def on_predict_begin(self, logs=None):
        self._start()

    def on_predict_batch_end(self, batch, logs=None):
        self.seen = batch + 1
        self.progbar.update(self.seen, finalize=False)

    def on_predict_end(self, logs=None):
        self.progbar.update(self.seen, finalize=True)

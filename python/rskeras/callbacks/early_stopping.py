"""`EarlyStopping`: stop training when a monitored metric stops improving."""

from __future__ import annotations

import warnings

from rskeras.callbacks.callback import Callback
from rskeras.callbacks.monitor import is_improvement, resolve_mode


class EarlyStopping(Callback):
    """Stop `fit` once `monitor` has not improved for `patience` epochs (Keras 3's
    `keras.callbacks.EarlyStopping`, same arguments, defaults and decisions).

    At each epoch end (from epoch `start_from_epoch` on) the monitored value is compared with
    the best so far: it improves when it beats the best by more than `min_delta`. A counter
    `wait` counts the epochs since the last improvement; when it reaches `patience` (and the
    epoch is not the first), `model.stop_training` is set and `fit` ends after this epoch.

    Args:
        monitor: the log to watch (default "val_loss").
        min_delta: the smallest change that counts as an improvement (default 0).
        patience: epochs without improvement before stopping (default 0).
        verbose: 1 prints "Epoch N: early stopping" and the restoring message (default 0).
        mode: "auto" (default: "max" for accuracy/AUC-like names, "min" otherwise), "min" or
            "max". An unknown mode warns and falls back to "auto", as Keras.
        baseline: a value the metric must beat: while no epoch beats both the best so far
            and `baseline`, `wait` is not reset, so training stops after `patience` epochs.
        restore_best_weights: at the end of training (stopped early or not), put back the
            weights of the best epoch (the first monitored epoch if none improved). Default
            False: the weights of the last step are kept.
        start_from_epoch: epochs to wait before monitoring starts (default 0).

    Attributes:
        stopped_epoch: the epoch (0-based) at which training was stopped, 0 if it was not.
        best, best_epoch, best_weights, wait: the state after the last epoch.
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        self.monitor, self.patience, self.verbose = monitor, patience, verbose
        self.mode = resolve_mode(monitor, mode, type(self).__name__)
        self.min_delta = abs(min_delta)
        self.baseline, self.restore_best_weights = baseline, restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.wait, self.stopped_epoch = 0, 0
        self.best, self.best_weights, self.best_epoch = None, None, 0

    def on_train_begin(self, logs=None):
        # Reset so that one instance can serve several `fit` calls (Keras does the same).
        self.wait, self.stopped_epoch = 0, 0
        self.best, self.best_weights, self.best_epoch = None, None, 0

    def _improves(self, current, reference) -> bool:
        return is_improvement(current, reference, self.mode, self.min_delta)

    def on_epoch_end(self, epoch, logs=None):
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # Nothing kept yet: this epoch's weights are the best known.
            self.best_weights, self.best_epoch = self.model.get_weights(), epoch
        self.wait += 1
        if self._improves(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            # The count restarts only when the epoch beats the baseline as well.
            if self.baseline is None or self._improves(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)

    def get_monitor_value(self, logs):
        """`logs[monitor]`, or None with a warning listing the logs there are."""
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(f"Early stopping conditioned on metric `{self.monitor}` which is not "
                          f"available. Available metrics are: {','.join(list(logs.keys()))}",
                          stacklevel=2)
        return value

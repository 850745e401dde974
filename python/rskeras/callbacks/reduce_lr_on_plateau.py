"""`ReduceLROnPlateau`: lower the learning rate when a metric has stopped improving."""

from __future__ import annotations

import warnings

from rskeras.backend.lazy_numpy import np

from rskeras.callbacks._lr import log_learning_rates, lr_value, optimizers_of
from rskeras.callbacks.callback import Callback
from rskeras.callbacks.monitor import is_improvement, resolve_mode


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by `factor` once `monitor` has not improved for `patience`
    epochs (Keras 3's `keras.callbacks.ReduceLROnPlateau`, same arguments and defaults).

    At each epoch end: `logs["learning_rate"]` is set to the optimizer's current rate (before
    any change), as Keras. During a cooldown the counter stays at 0. An improvement (beating
    the best by more than `min_delta`) resets the counter; otherwise, outside a cooldown, it
    grows, and on reaching `patience` the rate becomes `max(lr * factor, min_lr)` (only if
    `lr > min_lr`), the counter resets and a cooldown of `cooldown` epochs starts.

    Args:
        monitor: the log to watch (default "val_loss").
        factor: the multiplier, < 1 (default 0.1).
        patience: epochs without improvement before lowering the rate (default 10).
        verbose: 1 prints "Epoch N: ReduceLROnPlateau reducing learning rate to X." (default 0).
        mode: "auto" (default), "min" or "max"; an unknown mode warns and means "auto".
        min_delta: the smallest change that counts as an improvement (default 1e-4).
        cooldown: epochs to wait after a reduction before counting again (default 0).
        min_lr: the lower bound of the rate (default 0.0).

    Raises:
        ValueError: for `factor >= 1.0`.
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0, **kwargs):
        super().__init__()
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0. Received factor={factor}")
        self.monitor, self.factor, self.patience, self.verbose = monitor, factor, patience, verbose
        self.mode = resolve_mode(monitor, mode, type(self).__name__)
        self.min_delta, self.cooldown, self.min_lr = abs(min_delta), cooldown, min_lr
        self.best, self.cooldown_counter, self.wait = None, 0, 0

    def _reset(self):
        self.best, self.cooldown_counter, self.wait = None, 0, 0

    def on_train_begin(self, logs=None):
        self._reset()

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _reduce(self, optimizer, epoch, name="") -> bool:
        old_lr = lr_value(optimizer)
        # Keras compares with min_lr in float32, so a rate already at min_lr stays there.
        if old_lr > np.float32(self.min_lr):
            new_lr = max(old_lr * self.factor, self.min_lr)
            optimizer.learning_rate = new_lr
            if self.verbose > 0:
                name_str = f" {name}" if name else ""
                print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing{name_str} learning rate to {new_lr}.")
            return True
        return False

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        log_learning_rates(self.model, logs)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Learning rate reduction is conditioned on metric `{self.monitor}` which is "
                          f"not available. Available metrics are: {','.join(list(logs.keys()))}.",
                          stacklevel=2)
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if is_improvement(current, self.best, self.mode, self.min_delta):
            self.best, self.wait = current, 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                reduced = False
                for suffix, opt in optimizers_of(self.model):
                    reduced = self._reduce(opt, epoch, suffix[1:]) or reduced
                if reduced:
                    self.cooldown_counter, self.wait = self.cooldown, 0

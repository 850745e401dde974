"""`LearningRateScheduler`: set the learning rate at the start of each epoch."""

from __future__ import annotations

from rskeras.backend.lazy_numpy import np

from rskeras.callbacks._lr import log_learning_rates, lr_value, optimizers_of
from rskeras.callbacks.callback import Callback


class LearningRateScheduler(Callback):
    """At the start of every epoch, set the optimizer's learning rate to
    `schedule(epoch, lr)` (`epoch` 0-based, `lr` the current rate as a float), or to
    `schedule(epoch)` for a one-argument function (Keras tries the two-argument call and falls
    back on TypeError). At each epoch end, `logs["learning_rate"]` holds the rate in use, so
    `History` records it (Keras 3's `keras.callbacks.LearningRateScheduler`).

    Args:
        schedule: a function `(epoch[, lr]) -> float`.
        verbose: 1 prints "Epoch N: LearningRateScheduler setting learning rate to X." (default 0).

    Raises:
        ValueError: when `schedule` returns something other than a Python or NumPy float
            (Keras rejects ints too), or the optimizer has no `learning_rate`.
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule, self.verbose = schedule, verbose

    def _update_optimizer_lr(self, optimizer, epoch) -> float:
        if not hasattr(optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        try:
            learning_rate = self.schedule(epoch, lr_value(optimizer))
        except TypeError:  # the one-argument form
            learning_rate = self.schedule(epoch)
        if not isinstance(learning_rate, (float, np.float32, np.float64)):
            raise ValueError(f"The output of the `schedule` function should be a float. Got: {learning_rate}")
        optimizer.learning_rate = learning_rate
        return learning_rate

    def on_epoch_begin(self, epoch, logs=None):
        for suffix, opt in optimizers_of(self.model):
            learning_rate = self._update_optimizer_lr(opt, epoch)
            if self.verbose > 0:
                which = f"{suffix[1:]} " if suffix else ""
                print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting {which}learning rate to "
                      f"{learning_rate}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            log_learning_rates(self.model, logs)

"""`ModelCheckpoint`: save the model or its weights during `fit`."""

from __future__ import annotations

import os
import warnings

from rskeras.callbacks.callback import Callback
from rskeras.callbacks.monitor import is_improvement, monitor_mode


class ModelCheckpoint(Callback):
    """Save the model (`model.save`) or its weights (`model.save_weights`) at the end of
    every epoch or every `save_freq` batches, optionally only when `monitor` improves (Keras 3
    arguments and defaults). Every write is atomic, so a crash mid-save keeps the previous
    checkpoint.

    Args:
        filepath: where to save; may hold `str.format` fields filled from the epoch (1-based)
            and the logs, e.g. `"ckpt-{epoch:02d}-{val_loss:.2f}.keras"`. It must end in
            `.keras` or `.h5` (a whole model), or `.weights.h5` with `save_weights_only=True`.
        monitor: the log to watch (default "val_loss").
        verbose: 1 prints a line at each save decision.
        save_best_only: save only when `monitor` improves on the best value so far.
        save_weights_only: save weights (and optimizer state) only.
        mode: "auto", "min" or "max" (auto: max for accuracy-like names).
        save_freq: "epoch", or an int: save every that many batches.
        initial_value_threshold: a value the first saved `monitor` value must beat.

    Raises:
        ValueError: for a filepath with the wrong extension, a bad `save_freq` or `mode`.
        KeyError: when `filepath` names a log key that is not in the logs.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__()
        self.filepath = os.fspath(filepath)
        self.monitor, self.verbose = monitor, verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self.mode = monitor_mode(monitor, mode, "ModelCheckpoint")
        self.best = initial_value_threshold
        if save_freq != "epoch" and not (isinstance(save_freq, int) and not isinstance(save_freq, bool)
                                         and save_freq > 0):
            raise ValueError(f"Unrecognized save_freq: {save_freq!r}. Expected save_freq are "
                             "'epoch' or a positive integer")
        self.save_freq = save_freq
        if save_weights_only:
            if not self.filepath.endswith(".weights.h5"):
                raise ValueError(
                    "When using `save_weights_only=True` in `ModelCheckpoint`, the filepath "
                    "provided must end in `.weights.h5` (Keras weights format). Received: "
                    f"filepath={self.filepath}")
        elif not self.filepath.endswith((".keras", ".h5", ".hdf5")) or \
                self.filepath.endswith(".weights.h5"):
            raise ValueError("The filepath provided must end in `.keras` (Keras model format) "
                             f"or `.h5`. Received: filepath={self.filepath}")
        self._batches_since_save = 0
        self._epoch = 0

    @property
    def _needs_batch_logs(self) -> bool:
        return self.save_freq != "epoch"

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._epoch, batch, logs or {})

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs or {})

    def _file_path(self, epoch, batch, logs) -> str:
        fields = dict(logs)
        fields["epoch"] = epoch + 1
        if batch is not None and "batch" not in logs:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**fields)
        except KeyError as e:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". '
                           f"Reason: {e}") from None

    def _save(self, epoch, batch, logs) -> None:
        path = self._file_path(epoch, batch, logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn(f"Can save best model only with {self.monitor} available.",
                              stacklevel=2)
            else:
                # `best` is still None when the first value is NaN (never an improvement).
                best = "None" if self.best is None else f"{self.best:.5f}"
                if not is_improvement(current, self.best, self.mode):
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
                    return
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                          f"{float(current):.5f}, saving model to {path}")
                self.best = float(current)
        elif self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if os.path.isdir(path):
            raise OSError("Please specify a non-directory filepath for ModelCheckpoint. "
                          f"Filepath used is an existing directory: {path}")
        if self.save_weights_only:
            self.model.save_weights(path, overwrite=True)
        else:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*HDF5 file.*legacy")
                self.model.save(path, overwrite=True)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: finished saving model to {path}")

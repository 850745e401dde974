"""`BackupAndRestore`: resume an interrupted `fit` where it stopped."""

from __future__ import annotations

import json
import os

from rskeras.callbacks.callback import Callback


class BackupAndRestore(Callback):
    """Back up the weights, the optimizer state and the epoch reached during `fit`, so that a
    `fit` killed mid-way (an exception, Ctrl-C, `kill -9`, a lost machine) and started again
    with the same callback resumes at the next epoch with the same state, as Keras 3's
    `BackupAndRestore`. When training ends normally the backup is deleted
    (`delete_checkpoint=True`).

    Files in `backup_dir`: `latest.weights.h5` (weights and optimizer state) and
    `training_metadata.json`, as Keras 3 writes them: `{"epoch": the epoch to resume at,
    "batch": the last batch backed up (0 at an epoch end)}`, so either library resumes from
    the other's backup. Each is written atomically, the weights first, so a kill between them
    leaves a consistent older pair.

    Args:
        backup_dir: the folder for the backup (created when missing).
        save_freq: "epoch" (default), or an int: back up every that many batches, counted
            across epochs as Keras does (a resume then restarts that epoch from its beginning
            with the backed-up state).
        delete_checkpoint: delete the backup when `fit` finishes (default True).

    Raises:
        ValueError: for an empty `backup_dir` or a bad `save_freq`.
    """

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False,
                 delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("BackupAndRestore: empty `backup_dir` argument passed")
        if save_freq != "epoch" and save_freq is not False and not (
                isinstance(save_freq, int) and not isinstance(save_freq, bool) and save_freq > 0):
            raise ValueError(f"BackupAndRestore: invalid save_freq {save_freq!r}; use 'epoch', "
                             "False or a positive int")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq, self.delete_checkpoint = save_freq, delete_checkpoint
        self.double_checkpoint = double_checkpoint
        self._weights_path = os.path.join(self.backup_dir, "latest.weights.h5")
        self._meta_path = os.path.join(self.backup_dir, "training_metadata.json")
        self._epoch = 0
        self._batches = 0

    @property
    def _needs_batch_logs(self) -> bool:
        return False

    def on_train_begin(self, logs=None):
        self._batches = 0
        if not os.path.exists(self._meta_path) or not os.path.exists(self._weights_path):
            return
        with open(self._meta_path, encoding="utf-8") as f:
            try:
                meta = json.load(f)
            except json.JSONDecodeError as e:
                raise ValueError(f"BackupAndRestore: {self._meta_path} is corrupt: {e}") from None
        if not self.model.built:
            raise ValueError("BackupAndRestore: the model must be built before fit can resume "
                             "from a backup (give it an Input or call it once)")
        if not self.model.optimizer._slots and self.model.trainable_variables:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(self._weights_path)
        # Keras's meaning: the epoch to start at (the next one after an epoch-end backup, the
        # interrupted one after a mid-epoch backup, which is then redone from its start).
        object.__setattr__(self.model, "_initial_epoch", int(meta.get("epoch", 0)))

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        # The count runs on across epoch ends, as Keras's `_should_save_on_batch`.
        if isinstance(self.save_freq, int) and self.save_freq is not False:
            self._batches += 1
            if self._batches >= self.save_freq:
                self._batches = 0
                self._backup(self._epoch, batch)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._backup(epoch + 1, 0)

    def _backup(self, epoch, batch) -> None:
        from rskeras.saving.file_io import atomic_write

        os.makedirs(self.backup_dir, exist_ok=True)
        self.model.save_weights(self._weights_path, overwrite=True)
        with atomic_write(self._meta_path) as tmp:
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump({"epoch": epoch, "batch": batch}, f)

    def on_train_end(self, logs=None):
        # Reached only when fit returns normally: an exception or a kill keeps the backup.
        if self.delete_checkpoint:
            for path in (self._weights_path, self._meta_path):
                if os.path.exists(path):
                    os.remove(path)

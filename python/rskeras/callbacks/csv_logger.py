"""`CSVLogger`: one CSV row of logs per epoch."""

from __future__ import annotations

import collections.abc
import csv
import os

from rskeras.callbacks.callback import Callback


class CSVLogger(Callback):
    """Write the epoch logs to a CSV file, one row per epoch (Keras 3's
    `keras.callbacks.CSVLogger`, same file).

    The columns are `epoch`, then the first epoch's log names sorted; when that epoch has no
    `val_` log, a `val_<name>` column is added for each name (filled with "NA" where absent),
    as Keras does. A log that is an iterable (not a string) is written as `"[a, b]"`. Lines
    end with "\\r\\n" (the csv module's Excel dialect, as Keras's file).

    Args:
        filename: the CSV file's path (str or path-like).
        separator: the field delimiter (default ",").
        append: True: add to an existing file (a header is written only if it is empty);
            False (default): overwrite it.
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.sep = separator
        self.filename = os.fspath(filename)
        self.append = append
        self.writer, self.keys, self.append_header, self.csv_file = None, None, True, None

    def on_train_begin(self, logs=None):
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename) as f:
                    self.append_header = not bool(len(f.readline()))
            mode = "a"
        else:
            mode = "w"
        if self.csv_file and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, mode)
        self.writer, self.keys = None, None

    @staticmethod
    def _handle_value(value):
        if isinstance(value, str):
            return value
        if isinstance(value, collections.abc.Iterable) and getattr(value, "ndim", None) != 0:
            return f'"[{", ".join(map(str, value))}]"'
        return value

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs.keys())
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys.extend([f"val_{k}" for k in self.keys])
        if not self.writer:
            class Dialect(csv.excel):
                delimiter = self.sep

            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + (self.keys or []),
                                         dialect=Dialect)
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((key, self._handle_value(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None

"""`keras.utils.PyDataset` (alias `keras.utils.Sequence`): a dataset written in Python that
`fit`/`evaluate`/`predict` read batch by batch, optionally in parallel.

Keras 3 semantics (`keras/src/trainers/data_adapters/py_dataset_adapter.py`): a subclass
defines `__getitem__(index)` returning one whole batch, and `__len__()` (or the property
`num_batches`, None for an infinite dataset) giving the number of batches. `on_epoch_begin()`
and `on_epoch_end()` are called around every epoch. The parallelism arguments go to
`super().__init__(workers=..., use_multiprocessing=..., max_queue_size=...)`, not to `fit`.
How the trainers read it: `rskeras/trainers/data_adapters/py_dataset_adapter.py`.
"""

from __future__ import annotations

import itertools
import warnings


class PyDataset:
    """Base class for a dataset of batches written in Python.

    `__getitem__(index)` returns a batch: `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)`,
    where each item is an array (or a list/dict of arrays for several inputs/outputs); a
    dict alone is `x`. `__len__` returns the number of batches.

    Args:
        workers: how many batches are prepared at once by `fit`/`evaluate`/`predict`
            (default 1: read in the training thread). More than 1: a pool of that many
            threads, or of processes with `use_multiprocessing=True`.
        use_multiprocessing: prepare batches in worker processes (default False). The
            processes are forked at the start of each epoch (the platform's default
            `multiprocessing` start method), so the dataset need not be picklable on Linux;
            `__getitem__` should use NumPy (not rskeras ops) there. Batches come back in index
            order either way.
        max_queue_size: the most batches prepared ahead of the one being trained on
            (default 10).

    Iterating over a PyDataset yourself (`for batch in ds`) reads it in order, without
    parallelism, as in Keras.
    """

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False,
                 max_queue_size: int = 10):
        self._workers = workers
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = max_queue_size

    def _warn_if_super_not_called(self) -> None:
        missing = False
        for attr, default in (("_workers", 1), ("_use_multiprocessing", False),
                              ("_max_queue_size", 10)):
            if attr not in self.__dict__:
                self.__dict__[attr] = default
                missing = True
        if missing:
            warnings.warn(
                "Your `PyDataset` class should call `super().__init__(**kwargs)` in its "
                "constructor. `**kwargs` can include `workers`, `use_multiprocessing`, "
                "`max_queue_size`. Do not pass these arguments to `fit()`, as they will be "
                "ignored.", stacklevel=3)

    @property
    def workers(self) -> int:
        self._warn_if_super_not_called()
        return self._workers

    @workers.setter
    def workers(self, value) -> None:
        self._workers = value

    @property
    def use_multiprocessing(self) -> bool:
        self._warn_if_super_not_called()
        return self._use_multiprocessing

    @use_multiprocessing.setter
    def use_multiprocessing(self, value) -> None:
        self._use_multiprocessing = value

    @property
    def max_queue_size(self) -> int:
        self._warn_if_super_not_called()
        return self._max_queue_size

    @max_queue_size.setter
    def max_queue_size(self, value) -> None:
        self._max_queue_size = value

    def __getitem__(self, index):
        """The batch at position `index` (0-based)."""
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__(index)")

    @property
    def num_batches(self):
        """The number of batches, or None for an infinite dataset. Defaults to `len(self)`.

        Raises:
            NotImplementedError: when the subclass defines neither `__len__` nor this.
        """
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError(
            f"{type(self).__name__} must implement `__len__` or the `num_batches` property "
            "(None for an infinite dataset)")

    def __iter__(self):
        try:
            n = self.num_batches
        except NotImplementedError:
            n = None
        for index in (range(n) if n is not None else itertools.count()):
            yield self[index]

    def on_epoch_begin(self) -> None:
        """Called at the start of every epoch."""

    def on_epoch_end(self) -> None:
        """Called at the end of every epoch (e.g. to reshuffle the samples)."""


# Keras 3 exports the same class under both names.
Sequence = PyDataset

"""`keras.utils.PyDataset` as batches, read in index order, in parallel when it asks for
workers (Keras 3: `PyDatasetAdapter` and `OrderedEnqueuer`).

With `workers > 1`, or `use_multiprocessing=True` and `workers >= 1`, up to
`max_queue_size` batches are requested ahead from a pool of `workers` threads (or processes)
and handed to training in index order. The pool lives for one pass over the dataset (one epoch,
unless `steps_per_epoch` spans passes) and is shut down when the pass ends or training stops;
a worker's exception reaches the training loop as it was raised, and a worker process that
dies raises `BrokenProcessPool` instead of hanging.
"""

from __future__ import annotations

import collections
import itertools

from rskeras.trainers.data_adapters.data_adapter_utils import (
    batch_to_tensors,
    class_weight_to_sample_weights,
    standardize_batch,
)

_KIND = "PyDataset.__getitem__()"

# The dataset in a worker process (set once per process by the pool's initializer).
_WORKER_DATASET = None


def _init_worker(dataset) -> None:
    global _WORKER_DATASET
    _WORKER_DATASET = dataset


def _worker_getitem(index):
    return _WORKER_DATASET[index]


class PyDatasetAdapter:
    """Batches of a `PyDataset`.

    Args:
        class_weight: `{class: weight}`, turned into the sample weights of each `(x, y)`
            batch.
        shuffle: visit a finite dataset's batches in a new random order each pass (Keras).

    Raises:
        ValueError: (when reading) a batch that is not `x` or a tuple of 1 to 3 items; a
            batch with sample weights when `class_weight` is given.
    """

    one_shot = False

    def __init__(self, dataset, class_weight=None, shuffle=False):
        self.dataset = dataset
        self.class_weight = class_weight
        self.shuffle = shuffle
        workers = int(dataset.workers or 0)
        self.use_multiprocessing = bool(dataset.use_multiprocessing)
        self.parallel = workers > 1 or (workers > 0 and self.use_multiprocessing)
        self.workers = max(workers, 1)
        self.max_queue_size = max(int(dataset.max_queue_size or 0), 1)

    @property
    def num_batches(self):
        return self.dataset.num_batches

    def _standardize(self, batch):
        batch = standardize_batch(batch, _KIND)
        if self.class_weight is not None:
            if len(batch) == 3:
                raise ValueError("You cannot specify `class_weight` and `sample_weight` at the "
                                 "same time.")
            if len(batch) == 2:
                batch = batch + (class_weight_to_sample_weights(batch[1], self.class_weight),)
        return batch_to_tensors(batch, "PyDataset")

    def _indices(self):
        n = self.num_batches
        if n is None:
            return itertools.count()
        if self.shuffle:
            import numpy as np

            return [int(i) for i in np.random.permutation(n)]
        return range(n)

    def get_iterator(self):
        indices = self._indices()
        if not self.parallel:
            for i in indices:
                yield self._standardize(self.dataset[i])
            return
        for batch in self._ordered(indices):
            yield self._standardize(batch)

    def _ordered(self, indices):
        """The batches at `indices`, in that order, prepared by a pool."""
        from concurrent import futures

        if self.use_multiprocessing:
            import multiprocessing

            pool = futures.ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context(),
                initializer=_init_worker, initargs=(self.dataset,))
            get = _worker_getitem
        else:
            pool = futures.ThreadPoolExecutor(self.workers, thread_name_prefix="PyDataset")
            get = self.dataset.__getitem__
        ahead = max(self.max_queue_size, self.workers)
        pending = collections.deque()
        it = iter(indices)
        try:
            for i in itertools.islice(it, ahead):
                pending.append(pool.submit(get, i))
            while pending:
                batch = pending.popleft().result()
                for i in itertools.islice(it, 1):
                    pending.append(pool.submit(get, i))
                yield batch
        finally:
            for f in pending:
                f.cancel()
            pool.shutdown(wait=True, cancel_futures=True)

    def label_entries(self) -> list:
        return []

    def on_epoch_begin(self) -> None:
        self.dataset.on_epoch_begin()

    def on_epoch_end(self) -> None:
        self.dataset.on_epoch_end()

"""Steps of one epoch over a data adapter, grouped by `steps_per_execution` (Keras 3:
`keras/src/trainers/epoch_iterator.py`).

* No `steps`: one pass over the data (a generator: until it is exhausted).
* `steps` given: that many batches per epoch. The pass continues across epochs (epoch 2 starts
  where epoch 1 stopped); data of known length that ends before the steps are done ends the
  epoch early with Keras's "ran out of data" warning and starts a new pass next epoch. A
  generator that runs out sets `exhausted`, and `fit` stops there (Keras would replay the
  generator's first batches instead).
"""

from __future__ import annotations

import warnings

_RAN_OUT = ("Your input ran out of data; interrupting training. Make sure that your dataset or "
            "generator can generate at least `steps_per_epoch * epochs` batches.")


class EpochIterator:
    """Iterates `adapter` for `fit`/`evaluate`/`predict`.

    Args:
        adapter: from `rskeras.trainers.data_adapters.get_data_adapter`.
        steps: batches per epoch, or None for one pass.
        steps_per_execution: batches per group: the callbacks' `on_*_batch_begin` is called
            with a group's first step and `on_*_batch_end` with its last.

    Raises:
        ValueError: for an infinite PyDataset (`num_batches` None) without `steps`.
    """

    def __init__(self, adapter, steps=None, steps_per_execution=1, where="fit"):
        self.adapter = adapter
        self.steps = steps
        self.steps_per_execution = max(int(steps_per_execution or 1), 1)
        if steps is None and adapter.num_batches is None and not adapter.one_shot:
            raise ValueError(
                f"{where}: the PyDataset is infinite (`num_batches` is None): pass "
                f"`{'steps_per_epoch' if where == 'fit' else 'steps'}` to say how many batches "
                "make an epoch")
        self.exhausted = False  # a one-shot input ran out: nothing more will come
        self._current = None  # the pass in progress (kept across epochs when `steps` is set)
        self._steps_seen = 0

    @property
    def num_batches(self):
        """Steps per epoch when known (for the progress bar), else None."""
        return self.steps or self.adapter.num_batches

    def close(self) -> None:
        """End the pass in progress (shuts a PyDataset's worker pool down)."""
        current, self._current = self._current, None
        if current is not None and hasattr(current, "close"):
            current.close()

    def epoch(self):
        """Yields `(begin_step, end_step, [(batch, label_entries), ...])` for one epoch."""
        self.adapter.on_epoch_begin()
        try:
            yield from self._epoch()
        finally:
            self.adapter.on_epoch_end()

    def _epoch(self):
        known = self.adapter.num_batches
        limit = self.steps or known  # None: until the data runs out
        spe = self.steps_per_execution
        if self._current is None or not self.steps:
            self.close()
            self._current = iter(self.adapter.get_iterator())
            self._steps_seen = 0
        step = 0
        while limit is None or step < limit:
            n = spe if limit is None else min(spe, limit - step)
            if known is not None:
                left = known - self._steps_seen
                if left <= 0:
                    warnings.warn(_RAN_OUT, stacklevel=4)
                    break
                n = min(n, left)
            buffer, ran_out = [], False
            for _ in range(n):
                try:
                    batch = next(self._current)
                except StopIteration:
                    ran_out = True
                    break
                buffer.append((batch, self.adapter.label_entries()))
            self._steps_seen += len(buffer)
            if buffer:
                yield step, step + len(buffer) - 1, buffer
                step += len(buffer)
            if ran_out:
                self.close()
                if self.steps or step == 0:
                    warnings.warn(_RAN_OUT, stacklevel=4)
                    if self.adapter.one_shot:
                        self.exhausted = True
                break
        if known is not None and self._steps_seen >= known:
            self.close()  # the next epoch starts a new pass

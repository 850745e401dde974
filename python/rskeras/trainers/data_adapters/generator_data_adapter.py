"""A Python generator (or another iterator) of batches, read once."""

from __future__ import annotations

import itertools

from rskeras.trainers.data_adapters.data_adapter_utils import (
    batch_to_tensors,
    standardize_batch,
)


class GeneratorDataAdapter:
    """Batches from a generator yielding `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)`.

    A generator is read once: the first pass ends when it is exhausted (or after the steps
    asked for), and every later pass continues where the last stopped. The first batch is
    read here, so that an empty generator or a batch of the wrong kind fails before training.

    Raises:
        ValueError: for an empty generator, or a first batch that is not `x` or a tuple of
            1 to 3 items (Keras's messages).
    """

    one_shot = True
    num_batches = None

    def __init__(self, generator):
        try:
            first = next(generator)
        except StopIteration:
            raise ValueError("When passing a Python generator to a Keras model, the generator "
                             "must yield at least one batch. Received an empty generator.") \
                from None
        standardize_batch(first, "A generator given to a Keras model")
        self._stream = itertools.chain([first], generator)

    def get_iterator(self):
        for batch in self._stream:
            yield batch_to_tensors(standardize_batch(batch, "A generator given to a Keras model"),
                                   "generator")

    def label_entries(self) -> list:
        return []

    def on_epoch_begin(self) -> None:
        pass

    def on_epoch_end(self) -> None:
        pass

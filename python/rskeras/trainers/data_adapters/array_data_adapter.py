"""Arrays (NumPy arrays, tensors, nested lists of numbers, lists/tuples/dicts of them) as
batches: `rskeras.trainers.data_adapter.ArrayBatches` behind the adapter interface."""

from __future__ import annotations

import math

from rskeras.backend.keras_tensor import flatten
from rskeras.trainers import data_adapter
from rskeras.trainers.data_adapters.data_adapter_utils import (
    class_weight_to_sample_weights,
)


class ArrayDataAdapter:
    """Batches of `x`, `y`, `sample_weight` given as arrays.

    Args:
        batch_size: None gives `ceil(samples / steps)` when `steps` is given, else 32 (Keras).
        class_weight: `{class: weight}` turned into per-sample weights from `y`.

    Raises:
        ValueError: `class_weight` with `sample_weight` (Keras's message) or with several
            outputs; a list/dict `sample_weight` whose structure differs from `y`'s; a
            bad `batch_size`; arrays of different lengths (naming each).
        TypeError: for data that is not arrays of numbers.
    """

    one_shot = False

    def __init__(self, x, y=None, sample_weight=None, batch_size=None, steps=None,
                 shuffle=False, class_weight=None, where="fit"):
        x = data_adapter.to_array(x, "x")
        y = data_adapter.to_array(y, "y")
        sample_weight = data_adapter.to_array(sample_weight, "sample_weight")
        if x is None:
            raise ValueError(f"{where}: `x` must be given (an array, or a list/dict of arrays)")
        if class_weight is not None:
            if sample_weight is not None:
                raise ValueError("You cannot `class_weight` and `sample_weight` at the same time.")
            sample_weight = class_weight_to_sample_weights(y, class_weight)
        if isinstance(sample_weight, (list, tuple, dict)) and y is not None:
            n_sw, n_y = len(flatten(sample_weight)), len(flatten(y)) \
                if isinstance(y, (list, tuple, dict)) else 1
            if n_sw != n_y:
                raise ValueError(
                    "You should provide one `sample_weight` array per output in `y`: got "
                    f"{n_sw} sample_weight arrays for {n_y} target arrays")
        if batch_size is None and steps:
            n = next((len(a) for a in flatten([x, y, sample_weight]) if a is not None), 0)
            batch_size = max(1, math.ceil(n / steps))
        self.batches = data_adapter.ArrayBatches(
            [x, y, sample_weight], data_adapter.batch_size_arg(batch_size, where),
            shuffle=bool(shuffle))
        self.arrays = (x, y, sample_weight)

    @property
    def num_batches(self) -> int:
        return self.batches.num_batches

    @property
    def num_samples(self) -> int:
        return self.batches.num_samples

    def get_iterator(self):
        return iter(self.batches)

    def label_entries(self) -> list:
        return self.batches.label_entries()

    def on_epoch_begin(self) -> None:
        pass

    def on_epoch_end(self) -> None:
        pass

"""What `fit`/`evaluate`/`predict` accept as data, each kind behind one small interface
(Keras 3: `keras/src/trainers/data_adapters/`).

An adapter has `num_batches` (None when unknown or infinite), `one_shot` (True when a second
pass cannot be made: a Python generator), `get_iterator()` (a new pass over its batches, each a
tuple `(x,)`, `(x, y)` or `(x, y, sample_weight)` of tensors or structures of them),
`label_entries()` (what `rskeras.losses.labels.known_labels` may trust about the last batch),
and `on_epoch_begin()` / `on_epoch_end()`.

* Arrays (NumPy arrays, tensors, nested lists of numbers, and lists/tuples/dicts of them):
  `ArrayDataAdapter`, batched by `batch_size` and shuffled per pass when asked.
* `keras.utils.PyDataset` / `Sequence`: `PyDatasetAdapter` (workers, processes, ordered).
* Python generators and other iterators: `GeneratorDataAdapter`.
"""

from __future__ import annotations

import warnings

from rskeras.trainers.data_adapters.array_data_adapter import ArrayDataAdapter
from rskeras.trainers.data_adapters.data_adapter_utils import (
    class_weight_to_sample_weights,
    is_iterator_data,
    pack_x_y_sample_weight,
    unpack_x_y_sample_weight,
)
from rskeras.trainers.data_adapters.generator_data_adapter import GeneratorDataAdapter
from rskeras.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter
from rskeras.utils.py_dataset import PyDataset

__all__ = ["ArrayDataAdapter", "GeneratorDataAdapter", "PyDatasetAdapter",
           "class_weight_to_sample_weights", "get_data_adapter", "is_iterator_data",
           "pack_x_y_sample_weight", "unpack_x_y_sample_weight"]


def _unsupported_arg(arg_name: str, what: str, kind: str) -> ValueError:
    # Keras's wording (`raise_unsupported_arg`).
    return ValueError(f"When providing `x` as a {kind}, `{arg_name}` should not be passed. "
                      f"Instead, {what} should be included as part of the {kind}.")


def get_data_adapter(x, y=None, sample_weight=None, batch_size=None, steps=None,
                     shuffle=False, class_weight=None, where="fit"):
    """The adapter for `x` (and `y`, `sample_weight` for arrays).

    Args:
        batch_size: samples per batch for arrays (None: 32, or `ceil(samples / steps)` when
            `steps` is given, as Keras). Other kinds make their own batches: a `batch_size`
            given with them is ignored with a warning (Keras 3 ignores it silently).
        steps: the steps asked for (`steps_per_epoch`, `validation_steps`, `steps`); only
            used here to size array batches.
        shuffle: shuffle arrays per pass, or a finite PyDataset's batch order.
        class_weight: `{class: weight}`, turned into per-sample weights (arrays, PyDataset).
        where: the caller, for messages ("fit", "evaluate", "predict", "validation").

    Raises:
        ValueError: `y` or `sample_weight` given with a generator or PyDataset, or
            `class_weight` with a generator (Keras's messages); an empty generator; a
            generator whose first batch is not a tuple of 1 to 3 items; mismatched array
            lengths (naming each). TypeError: for data that is not arrays of numbers.
    """
    if isinstance(x, PyDataset):
        if y is not None:
            raise _unsupported_arg("y", "the targets", "PyDataset")
        if sample_weight is not None:
            raise _unsupported_arg("sample_weights", "the sample weights", "PyDataset")
        _warn_batch_size(batch_size, "a PyDataset", where)
        return PyDatasetAdapter(x, class_weight=class_weight, shuffle=shuffle)
    if is_iterator_data(x):
        if y is not None:
            raise _unsupported_arg("y", "the targets", "generator")
        if sample_weight is not None:
            raise _unsupported_arg("sample_weights", "the sample weights", "generator")
        if class_weight is not None:
            raise ValueError("Argument `class_weight` is not supported for Python generator "
                             f"inputs. Received: class_weight={class_weight}")
        _warn_batch_size(batch_size, "a generator", where)
        return GeneratorDataAdapter(x)
    return ArrayDataAdapter(x, y, sample_weight, batch_size=batch_size, steps=steps,
                            shuffle=shuffle, class_weight=class_weight, where=where)


def _warn_batch_size(batch_size, kind: str, where: str) -> None:
    if batch_size is not None:
        warnings.warn(f"{where}: `batch_size={batch_size}` is ignored: the batches of {kind} "
                      "are the ones it yields", stacklevel=4)

"""Helpers shared by the data adapters: `(x, y, sample_weight)` packing, class weights, and
turning a batch made in Python (a generator's, a PyDataset's) into tensors."""

from __future__ import annotations

from rskeras import _core
from rskeras.backend.keras_tensor import map_structure
from rskeras.utils.data_packing import (  # noqa: F401 - re-exported for the adapters
    pack_x_y_sample_weight,
    unpack_x_y_sample_weight,
)


def is_iterator_data(data) -> bool:
    """True for a Python generator or another iterator (`itertools` objects, `iter(list)`),
    which fit/evaluate/predict read batch by batch."""
    import types

    if isinstance(data, types.GeneratorType):
        return True
    return hasattr(data, "__next__") and hasattr(data, "__iter__") and \
        not isinstance(data, (list, tuple, dict, str, bytes, _core.Tensor)) and \
        not hasattr(data, "__array__")


def class_weight_to_sample_weights(y, class_weight):
    """Per-sample weights (float32, shape `(samples,)`) from `{class: weight}` and the labels
    `y`: one-hot labels (last axis > 1) by their argmax, `(samples, 1)` labels squeezed,
    values rounded to ints; a class missing from `class_weight` weighs 1.0 (Keras's
    `class_weight_to_sample_weights`).

    Raises:
        ValueError: when `y` is missing or is a list/dict (several outputs), as in Keras.
    """
    import numpy as np

    if y is None:
        raise ValueError("`class_weight` needs targets `y` to weight samples by their class")
    if isinstance(y, (list, tuple, dict)):
        raise ValueError("`class_weight` is only supported for Models with a single output.")  # noqa: TRY004
    labels = np.asarray(y)
    if labels.ndim > 1:
        labels = labels.argmax(axis=-1) if labels.shape[-1] != 1 else labels.squeeze(-1)
    labels = np.round(labels).astype("int64").reshape(len(labels), -1)[:, 0] \
        if labels.ndim else labels.reshape(1).astype("int64")
    table = {int(k): float(v) for k, v in dict(class_weight).items()}
    return np.array([table.get(int(c), 1.0) for c in labels], dtype="float32")


def standardize_batch(batch, kind: str):
    """A batch as a tuple `(x,)`, `(x, y)` or `(x, y, sample_weight)`: an array, a tensor or a
    dict alone is `x`, a list is read as a tuple (Keras's PyDataset rule).

    Raises:
        ValueError: for anything else, with Keras's message.
    """
    import numpy as np

    if isinstance(batch, (dict, np.ndarray, _core.Tensor)):
        return (batch,)
    if isinstance(batch, list):
        batch = tuple(batch)
    if not isinstance(batch, tuple) or len(batch) not in (1, 2, 3):
        raise ValueError(
            f"{kind} must return a tuple or a dict. If a tuple, it must be ordered either "
            "(input,) or (inputs, targets) or (inputs, targets, sample_weights). "
            f"Received: {str(batch)[:100]}... of type {type(batch)}")
    return batch


def batch_to_tensors(batch, kind: str):
    """Each array in a standardized batch as a tensor (on the gpu device when it is the
    default, float64 as float32 there); None entries kept.

    Raises:
        TypeError / ValueError: for items that are not arrays of numbers (naming them).
    """
    from rskeras.trainers import data_adapter

    names = ("x", "y", "sample_weight")
    on_gpu = _core.get_default_device() == "gpu"

    def convert(a):
        if a is None:
            return None
        if isinstance(a, _core.Tensor):
            return a.to("gpu") if on_gpu and a.device == "cpu" else a
        if on_gpu:
            return _core.convert_to_tensor(data_adapter._gpu_dtype(a)).to("gpu")
        return _core.convert_to_tensor(a)

    out = []
    for name, item in zip(names, batch):
        arrays = data_adapter.to_array(item, f"{kind} batch {name}") \
            if not isinstance(item, _core.Tensor) else item
        out.append(map_structure(convert, arrays) if arrays is not None else None)
    return tuple(out)

"""`keras.utils.pack_x_y_sample_weight` / `unpack_x_y_sample_weight`: the batch tuples
`train_step` receives (Keras 3: `keras/src/trainers/data_adapters/data_adapter_utils.py`)."""

from __future__ import annotations


def unpack_x_y_sample_weight(data):
    """`(x, y, sample_weight)` from `(x,)`, `(x, y)`, `(x, y, sample_weight)` (a tuple, or a
    list read as one) or a single `x` (missing parts are None).

    Raises:
        ValueError: for a tuple of more than 3 items.
    """
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data[0], data[1], data[2]
    raise ValueError("Data is expected to be in format `x`, `(x,)`, `(x, y)`, or "
                     f"`(x, y, sample_weight)`, found a tuple of {len(data)} items")


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """The shortest form holding what is given: `x` alone (`(x,)` when `x` is a list or
    tuple, so that it is not read as `(x, y)`), `(x, y)` or `(x, y, sample_weight)`."""
    if y is None:
        return (x,) if isinstance(x, (list, tuple)) else x
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)

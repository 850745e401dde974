"""Turning the `x`, `y`, `sample_weight` given to fit/evaluate/predict into batches."""

from __future__ import annotations

import math

from rskeras import _core
from rskeras.backend.keras_tensor import flatten, pack_sequence_as


def _is_array_struct(data) -> bool:
    """True for a dict, or a list/tuple whose items are arrays, tensors or such structures
    (the inputs of a multi-input model or the targets of a multi-output one), as opposed to a
    nested Python list of numbers (one array)."""
    import numpy as np
    if isinstance(data, dict):
        return True
    if isinstance(data, (list, tuple)) and data:
        return all(isinstance(d, (np.ndarray, _core.Tensor)) or
                   (isinstance(d, (list, tuple, dict)) and _is_array_struct(d)) for d in data)
    return False


def to_array(data, name: str):
    """NumPy array (or None) from an array, tensor or nested list of numbers; a dict, or a
    list/tuple of arrays (several inputs or outputs), gives the same structure of arrays.

    Raises:
        TypeError: for a generator or PyDataset inside a structure (they are accepted as `x`
            alone), and for data that is not an array of numbers with a batch axis (a
            string, a scalar, objects).
        ValueError: for ragged nested lists.
    """
    import numpy as np
    if data is None:
        return None
    if isinstance(data, np.ndarray) and data.dtype.kind in "biuf" and data.ndim:
        return data
    if isinstance(data, _core.Tensor):
        return data.numpy()
    if hasattr(data, "__next__") or hasattr(data, "num_batches"):
        raise TypeError(
            f"`{name}`: a generator or PyDataset is accepted only as the whole `x` (yielding "
            "`(x, y, sample_weight)` batches), not here; pass arrays (or lists/dicts of them)"
        )
    if _is_array_struct(data):
        if isinstance(data, dict):
            return {k: to_array(v, f"{name}[{k!r}]") for k, v in data.items()}
        return [to_array(v, f"{name}[{i}]") for i, v in enumerate(data)]
    try:
        array = np.asarray(data)
    except ValueError as e:  # ragged nested lists
        raise ValueError(f"`{name}`: cannot make an array of it ({e})") from None
    if array.dtype.kind not in "biuf" or array.ndim == 0:
        raise TypeError(
            f"`{name}` must be an array of numbers with a batch axis (a NumPy array, a tensor, "
            f"or a list/dict of them), got {type(data).__name__} "
            f"{'of dtype ' + str(array.dtype) if array.ndim else 'scalar'}"
        )
    return array


def batch_size_arg(batch_size, where: str) -> int:
    """`batch_size` for fit/evaluate/predict: None gives 32 (Keras's default).

    Raises:
        ValueError: for anything but None or a positive int, naming the call.
    """
    if batch_size is None:
        return 32
    if not hasattr(batch_size, "__index__") or isinstance(batch_size, bool) or batch_size <= 0:
        raise ValueError(f"{where}: `batch_size` must be a positive int or None, got {batch_size!r}")
    return int(batch_size)


def require_samples(batches, where: str) -> None:
    """Refuse data with no sample (fit/evaluate would report metrics of nothing).

    Raises:
        ValueError: naming the call.
    """
    if batches.num_samples == 0:
        raise ValueError(f"{where}: the data has no samples (an empty array); pass at least one")


def unpack_x_y_sample_weight(data):
    """`(x, y, sample_weight)` from a tuple of 1 to 3 elements or a single `x`."""
    if isinstance(data, tuple):
        if len(data) == 1:
            return data[0], None, None
        if len(data) == 2:
            return data[0], data[1], None
        if len(data) == 3:
            return data
        raise ValueError(f"Data is expected to be (x,), (x, y) or (x, y, sample_weight), got {len(data)} items")
    return data, None, None


class ArrayBatches:
    """Batches of aligned arrays, reshuffled at each epoch when `shuffle` is set.

    With the gpu default device, each array is uploaded once (float64 as float32, which the
    gpu device computes in) and every batch is sliced or gathered there, so a step sends
    nothing to the device; an array over the device's buffer limit is sent a batch at a time.

    Raises:
        ValueError: when the arrays have different numbers of samples (naming the counts).
    """

    def __init__(self, arrays, batch_size: int, shuffle: bool = False):
        # Each entry (x, y, sample_weight) may be an array or a list/dict of arrays.
        self.structure = list(arrays)
        self.arrays = flatten(self.structure)
        sizes = {len(a) for a in self.arrays if a is not None}
        if len(sizes) > 1:
            names = ["x", "y", "sample_weight"]
            detail = ", ".join(f"{n}: {sorted({len(a) for a in flatten(s) if a is not None})}"
                               for n, s in zip(names, self.structure) if s is not None)
            raise ValueError(f"Data cardinality is ambiguous: the arrays have different sizes ({detail})")
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.num_samples = sizes.pop() if sizes else 0
        self.batch_size, self.shuffle = batch_size, shuffle
        self.num_batches = math.ceil(self.num_samples / batch_size)
        self._resident = None  # the arrays on the gpu device, made by the first GPU epoch
        # Flat positions of the `y` arrays, their bounds (made on first use), and the last
        # batch's flat tensors and rows, for `label_entries`.
        n_x = len(flatten(self.structure[0])) if self.structure else 0
        n_y = len(flatten(self.structure[1])) if len(self.structure) > 1 else 0
        self._label_positions = range(n_x, n_x + n_y)
        self._label_summaries = None
        self._last = ([], None)

    def label_entries(self) -> list:
        """`(tensor, summary, rows)` for each `y` tensor of the last batch yielded, for
        `rskeras.losses.labels.known_labels`: the bounds of its whole array (computed once)
        let the losses and metrics skip checking a batch drawn from clean labels."""
        from rskeras.losses import labels

        if self._label_summaries is None:
            self._label_summaries = [labels.summarize(self.arrays[i]) for i in self._label_positions]
        flat, rows = self._last
        if not flat:
            return []
        return [(flat[i], summary, rows) for i, summary in zip(self._label_positions,
                                                               self._label_summaries)]

    def __iter__(self):
        if _core.get_default_device() == "gpu":
            yield from self._gpu_batches()
            return
        import numpy as np
        n, bs = self.num_samples, self.batch_size
        order = np.random.permutation(n).astype(np.int64, copy=False) if self.shuffle else None
        simple = len(self.arrays) == len(self.structure)
        for start in range(0, n, bs):
            if order is None:
                batch = [None if a is None else _core.convert_to_tensor(a[start:start + bs]) for a in self.arrays]
            else:
                idx = order[start:start + bs]
                batch = [None if a is None else _core.gather_rows(a, idx) for a in self.arrays]
            self._last = (batch, start if order is None else idx)
            yield tuple(batch) if simple else tuple(pack_sequence_as(self.structure, batch))

    def _gpu_batches(self):
        import numpy as np

        from rskeras import ops

        if self._resident is None:
            self._resident = [None if a is None else _gpu_resident(a) for a in self.arrays]
        n, bs = self.num_samples, self.batch_size
        perm = order = None
        if self.shuffle:
            perm = np.random.permutation(n).astype(np.int32)
            order = _core.convert_to_tensor(perm).to("gpu")
        simple = len(self.arrays) == len(self.structure)
        for start in range(0, n, bs):
            idx = None if order is None else order[start:start + bs]
            batch = []
            for host, dev in zip(self.arrays, self._resident):
                if host is None:
                    batch.append(None)
                elif dev is None:  # too large to keep on the device: send this batch
                    rows = slice(start, start + bs) if perm is None else perm[start:start + bs]
                    batch.append(_core.convert_to_tensor(_gpu_dtype(host[rows])).to("gpu"))
                elif idx is None:
                    batch.append(dev[start:start + bs])
                else:
                    batch.append(ops.take(dev, idx, axis=0))
            self._last = (batch, start if perm is None else perm[start:start + bs])
            yield tuple(batch) if simple else tuple(pack_sequence_as(self.structure, batch))


def _gpu_dtype(array):
    """`array` in a dtype the gpu device stores (float64 as float32)."""
    return array.astype("float32") if array.dtype.name == "float64" else array


def _gpu_resident(array):
    """`array` as a GPU tensor, or None when it is over the device's buffer limit."""
    from rskeras.backend.webgpu.executor import get_executor

    limit = int(get_executor().ctx.limits["max-storage-buffer-binding-size"])
    # Every element takes 4 bytes on the device (`backend/webgpu/buffers.py`).
    if 4 * array.size > limit:
        return None
    return _core.convert_to_tensor(_gpu_dtype(array)).to("gpu")


def split_validation(arrays, validation_split: float):
    """Split off the last `validation_split` fraction of samples (before any shuffling, as in
    Keras). Returns `(train_arrays, val_arrays)`.

    Raises:
        ValueError: when the split is outside (0, 1) or leaves no training sample.
    """
    if not 0.0 < validation_split < 1.0:
        raise ValueError(f"validation_split must be in (0, 1), got {validation_split}")
    n = len(flatten(arrays[0])[0])
    split_at = math.floor(n * (1.0 - validation_split))
    if split_at == 0 or split_at == n:
        raise ValueError(
            f"validation_split={validation_split} leaves an empty training or validation set "
            f"with {n} samples"
        )
    flat = flatten(list(arrays))
    train = pack_sequence_as(list(arrays), [None if a is None else a[:split_at] for a in flat])
    val = pack_sequence_as(list(arrays), [None if a is None else a[split_at:] for a in flat])
    return train, val

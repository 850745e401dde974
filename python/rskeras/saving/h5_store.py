"""HDF5 access for weight files, with the guards of a loader that reads untrusted files.

Reading refuses what could make a file reach outside itself or allocate more than it holds:
soft and external links, external storage, virtual datasets, non-numeric dtypes, and
datasets whose decoded size the file could not hold (a "shape bomb"). Every refusal is a
ValueError naming the file and the object. (Keras 3 has the same kind of guards in
`saving_lib.safe_get_h5_group/dataset`; these are written for rskeras.)"""

from __future__ import annotations

import os

# Deflate expands at most about 1032:1, so no compressed dataset can decode to more.
MAX_COMPRESSION_RATIO = 1032
# Chunks bigger than their dataset are allowed up to this size (h5py's own chunks are <= 1 MiB).
MAX_CHUNK_BYTES = 16 << 20


def h5py():
    """The h5py module, or an ImportError saying how to install it."""
    try:
        import h5py as module
    except ImportError as e:  # pragma: no cover - h5py is a dependency
        raise ImportError("Saving and loading weights needs h5py: pip install h5py") from e
    return module


def decode(value):
    """An HDF5 attribute as str (or a list of str): attributes may be bytes or str, scalars or
    arrays, depending on the writer."""
    import numpy as np

    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray):
        return [decode(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [decode(v) for v in value]
    if isinstance(value, np.generic):
        return decode(value.item())
    return value


def read_attr(obj, name):
    """`obj.attrs[name]`, after checking that none of its variable-length strings claims
    more bytes than the file holds (see `check_string_attribute`)."""
    from rskeras.saving.hdf5_guards import check_string_attribute

    check_string_attribute(obj, name)
    return obj.attrs[name]


def read_split_attr(group, name):
    """The list attribute `name`, also when the writer split it over `name0`, `name1`, ...
    (Keras does past the 64 KiB HDF5 header limit). None when absent."""
    if name in group.attrs:
        value = decode(read_attr(group, name))
        return value if isinstance(value, list) else [value]
    parts, i = [], 0
    while f"{name}{i}" in group.attrs:
        value = decode(read_attr(group, f"{name}{i}"))
        parts.extend(value if isinstance(value, list) else [value])
        i += 1
    return parts if i else None


def write_split_attr(group, name, values, limit=64512):
    """Write the list attribute `name`, split over `name0`, `name1`, ... when it would pass
    the HDF5 object-header limit, as Keras does (`save_attributes_to_hdf5_group`)."""
    import numpy as np

    data = np.array([v.encode("utf-8") for v in values], dtype=object) if values else np.array([], "float64")
    if data.nbytes <= limit or not values:
        group.attrs[name] = data if values else np.array([], "float64")
        return
    size = sum(len(v.encode("utf-8")) for v in values)
    chunks = max(2, -(-size // limit) + 1)
    per = -(-len(values) // chunks)
    for i in range(0, len(values), per):
        group.attrs[f"{name}{i // per}"] = np.array(
            [v.encode("utf-8") for v in values[i:i + per]], dtype=object)


class Guard:
    """Checks objects of one open HDF5 file against the file's size."""

    def __init__(self, source: str, file_size: int):
        self.source = source
        self.file_size = int(file_size)

    def fail(self, what: str):
        raise ValueError(f"{self.source}: {what}")

    def child(self, group, key):
        """`group[key]` after checking the link is a plain hard link; None when absent."""
        h5 = h5py()
        if key in ("", ".", ".."):  # the group itself or its parent: never a weight's name
            return None
        try:
            link = group.get(key, getlink=True)
        except (KeyError, ValueError, TypeError):
            return None
        if link is None:
            return None
        if isinstance(link, (h5.SoftLink, h5.ExternalLink)):
            self.fail(f"refusing the {type(link).__name__} '{group.name}/{key}': weight files "
                      "must not point outside themselves")
        return group[key]

    def group(self, parent, path):
        """The group at `path` (segments separated by "/") under `parent`, or None."""
        h5 = h5py()
        node = parent
        parts = [p for p in path.split("/") if p]
        if not parts:
            return None
        for part in parts:
            if not isinstance(node, h5.Group):
                return None
            node = self.child(node, part)
            if node is None:
                return None
        return node if isinstance(node, h5.Group) else None

    def read(self, dataset, max_count=None):
        """The dataset's values as a NumPy array, after the guards; `max_count`, when given,
        is the most values the reader can use (its biggest variable).

        Raises:
            ValueError: for external storage, virtual datasets, non-numeric dtypes, a size
                the file could not hold, more than `max_count` values, or chunks bigger
                than the file could hold.
        """
        import numpy as np

        h5 = h5py()
        if not isinstance(dataset, h5.Dataset):
            self.fail(f"'{dataset.name}' is a {type(dataset).__name__}, not a dataset of weights")
        name = dataset.name
        if dataset.is_virtual:
            self.fail(f"refusing the virtual dataset '{name}'")
        if dataset.external:
            self.fail(f"refusing the dataset '{name}' with external storage")
        dtype = dataset.dtype
        if dtype.kind not in "biuf" or dtype.fields is not None or dtype.subdtype is not None:
            self.fail(f"dataset '{name}' has dtype {dtype}, not a numeric weight dtype")
        shape = dataset.shape
        if shape is None:
            self.fail(f"dataset '{name}' has no shape (an empty dataspace)")
        count = 1
        for d in shape:
            count *= int(d)
        nbytes = count * dtype.itemsize
        stored = dataset.id.get_storage_size()
        limit = self.file_size if not dataset.compression and dataset.chunks is None \
            else self.file_size * MAX_COMPRESSION_RATIO
        if nbytes > limit or (dataset.chunks is None and nbytes > max(stored, 0) and count):
            self.fail(f"dataset '{name}' claims shape {shape} ({nbytes} bytes), more than the "
                      f"{self.file_size}-byte file holds")
        if max_count is not None and count > max_count:
            # A compressed dataset can decode to ~1000x the file: compare with what the
            # model can take before decoding it.
            self.fail(f"dataset '{name}' has shape {shape}, more values than any variable it "
                      f"could be loaded into ({max_count})")
        if dataset.chunks is not None:
            # libhdf5 allocates whole chunks to read a dataset, however small the dataset.
            chunk_bytes = dtype.itemsize
            for d in dataset.chunks:
                chunk_bytes *= int(d)
            if chunk_bytes > max(nbytes, MAX_CHUNK_BYTES):
                self.fail(f"dataset '{name}' of {nbytes} bytes has chunks of {chunk_bytes} "
                          "bytes; a corrupted or hostile layout")
        out = np.empty(shape, dtype=dtype)
        if count:
            dataset.read_direct(out)
        return out


class VarsWriter:
    """The "vars" group of one object, filled as `store["0"] = array`."""

    def __init__(self, group):
        self.group = group

    def __setitem__(self, key, value):
        import numpy as np

        self.group.create_dataset(key, data=np.asarray(value))

    def __len__(self):
        return len(self.group)


class VarsReader:
    """The "vars" group of one object read as `store["0"]` (guarded), `len(store)`."""

    def __init__(self, group, guard: Guard, path: str):
        self.group, self.guard, self.path = group, guard, path
        self.keys = [] if group is None else sorted(
            (k for k in group.keys()), key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k))
        self.read_count = 0
        self.max_count = None  # the most values one variable of the reader holds, if known

    def __len__(self):
        return len(self.keys)

    def __contains__(self, key):
        return key in self.keys

    def __getitem__(self, key):
        if key not in self.keys:
            self.guard.fail(f"'{self.path}/vars' has no variable {key!r}")
        self.read_count += 1
        return self.guard.read(self.guard.child(self.group, key), self.max_count)


class H5WeightsFile:
    """An open `.weights.h5` (Keras 3 object-path layout) for writing or guarded reading."""

    def __init__(self, file, mode: str, source: str, size: int | None = None):
        self.file, self.mode, self.source = file, mode, source
        self.guard = Guard(source, size if size is not None else _size_of(file))

    def make(self, path: str, name: str | None) -> VarsWriter:
        group = self.file.require_group(f"{path}/vars" if path else "vars")
        if name is not None:
            group.attrs["name"] = name
        return VarsWriter(group)

    def get(self, path: str) -> VarsReader:
        return VarsReader(self.guard.group(self.file, f"{path}/vars" if path else "vars"),
                          self.guard, path)

    def paths_with_variables(self) -> list[str]:
        """Every object path whose vars group holds datasets (to report unread weights)."""
        h5 = h5py()
        found = []

        def visit(name, obj):
            if isinstance(obj, h5.Group) and name.split("/")[-1] == "vars" and len(obj):
                found.append(name[:-len("/vars")] if "/" in name else "")

        self.file.visititems(visit)
        return found


def _size_of(file) -> int:
    try:
        return os.path.getsize(file.filename)
    except (OSError, TypeError, AttributeError):
        return 1 << 62

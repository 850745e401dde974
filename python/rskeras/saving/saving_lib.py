"""The Keras 3 formats: the `.keras` zip and the `.weights.h5` file (Keras:
`keras/src/saving/saving_lib.py`).

A `.keras` file is a zip with, in this order and stored uncompressed, `metadata.json`
(`{"keras_version", "date_saved"}`), `config.json` (`serialize_keras_object(model)`) and
`model.weights.h5`. Weights are laid out by object path, not by layer name: the model's
own variables in `vars`, its layers under `layers/<snake_case class name>[_N]/vars` (a
counter per container: `dense`, `dense_1`), other attributes that hold layers under their
attribute name (`encoder/vars`, `blocks/dense/vars`), and the optimizer under
`optimizer/vars`; in each `vars` group the variables are numbered "0", "1", ... and the
group's `name` attribute holds the object's name. Attributes are visited in sorted order
with private names last, and an object reached twice is written once, as Keras does, so
files move both ways."""

from __future__ import annotations

import datetime
import io
import json
import os
import warnings
import zipfile

from rskeras.saving import file_io
from rskeras.saving.h5_store import MAX_COMPRESSION_RATIO, H5WeightsFile, h5py
from rskeras.saving.hdf5_guards import check_file
from rskeras.saving.object_registration import framework_class

KERAS_VERSION = "3.15.1"  # the Keras file-format version rskeras writes and reads
CONFIG_FILENAME, METADATA_FILENAME, WEIGHTS_FILENAME = "config.json", "metadata.json", "model.weights.h5"
MAX_JSON_BYTES = 64 << 20
# Deflate can expand about 1032:1, but a model's members (weights are mostly noisy floats)
# compress far less: a compressed member that claims more than this ratio, past a few MiB,
# is a decompression bomb, and is refused before anything is decompressed.
MAX_PLAUSIBLE_RATIO = 100
BOMB_MIN_BYTES = 16 << 20

# Attributes of rskeras's own classes that are bookkeeping, not saveable children.
_INTERNAL_ATTRS = frozenset({
    "_layers", "_loss_tracker", "_input_layer", "_graph", "_operations", "_compile_loss",
    "_compile_metrics", "_compiled_metrics", "_metric_specs", "_inbound_nodes", "_inputs",
    "_outputs", "_inputs_struct", "_outputs_struct", "_nodes_by_depth", "_plan",
    "_trainable_variables", "_non_trainable_variables", "_losses", "history", "input_spec",
    "loss", "_compile_args", "_output_shapes",
})


# ---------------------------------------------------------------------------------------------
# Walking the object tree


def _is_saveable(obj) -> bool:
    return isinstance(obj, (framework_class("Layer"), framework_class("Optimizer")))


def _holds_saveable(value, depth=0) -> bool:
    if _is_saveable(value):
        return True
    if depth < 8 and isinstance(value, (list, tuple)):
        return any(_holds_saveable(v, depth + 1) for v in value)
    if depth < 8 and isinstance(value, dict):
        return any(_holds_saveable(v, depth + 1) for v in value.values())
    return False


def _name_key(name: str) -> str:
    return "~" + name if name.startswith("_") else name  # private names last, as Keras


def _children(obj):
    """(attribute name, child) pairs in Keras's visiting order."""
    graph_model = isinstance(obj, (framework_class("Sequential"), framework_class("Functional")))
    if graph_model:
        yield "layers", obj.layers
    names = [k for k in vars(obj) if k not in _INTERNAL_ATTRS and not k.startswith("__")]
    if isinstance(obj, framework_class("Model")) and not graph_model:
        names.append("layers")
    for name in sorted(set(names), key=_name_key):
        value = obj.layers if name == "layers" else obj.__dict__.get(name)
        if _holds_saveable(value):
            yield name, value


def _join(path: str, name: str) -> str:
    return f"{path}/{name}" if path else name


def walk(obj, path="", visited=None):
    """Yield (path, object) for `obj` and every saveable it holds, each object once, in the
    order Keras writes them."""
    visited = set() if visited is None else visited
    if id(obj) in visited:
        return
    visited.add(id(obj))
    yield path, obj
    for name, child in _children(obj):
        if _is_saveable(child):
            yield from walk(child, _join(path, name), visited)
        else:
            yield from _walk_container(child, _join(path, name), visited)


def _walk_container(container, path, visited):
    from rskeras.backend.naming import to_snake_case

    items = container.values() if isinstance(container, dict) else container
    used: dict[str, int] = {}
    for item in items:
        if not _is_saveable(item):
            continue
        name = to_snake_case(type(item).__name__)
        if name in used:
            used[name] += 1
            name = f"{name}_{used[name]}"
        else:
            used[name] = 0
        yield from walk(item, _join(path, name), visited)


# ---------------------------------------------------------------------------------------------
# Weights: write and read the object-path layout


def save_state(model, h5file, include_optimizer=True) -> None:
    """Write every object's own variables into the open h5py file (Keras 3 layout)."""
    Optimizer = framework_class("Optimizer")
    store = H5WeightsFile(h5file, "w", "")
    for path, obj in walk(model):
        if isinstance(obj, Optimizer) and not include_optimizer:
            continue
        name = getattr(obj, "name", None)
        obj.save_own_variables(store.make(path, name if isinstance(name, str) else None))


def load_state(model, h5file, source: str, size: int, skip_mismatch=False,
               include_optimizer=True) -> None:
    """Read every object's own variables from the open h5py file.

    Raises:
        ValueError: when a layer's variable count or shapes differ from the file (naming the
            layer, its path and both values), or when the file holds weights the model has no
            place for; with `skip_mismatch=True` those become warnings.
    """
    Optimizer = framework_class("Optimizer")
    store = H5WeightsFile(h5file, "r", source, size)
    read_paths = set()
    largest = largest_variable(model)
    for path, obj in walk(model):
        if isinstance(obj, Optimizer):
            if include_optimizer:
                vars_ = store.get(path)
                vars_.max_count = largest
                _load_optimizer(model, obj, vars_)
            read_paths.add(path)
            continue
        vars_ = store.get(path)
        if vars_.group is None and path.startswith("layers"):
            vars_ = store.get("_layer_checkpoint_dependencies" + path[len("layers"):])
        vars_.max_count = _own_largest_variable(obj)
        try:
            obj.load_own_variables(vars_)
        except ValueError as e:
            if not skip_mismatch:
                raise ValueError(f"{source}: cannot load the weights of '{path or obj.name}': {e}") from e
            warnings.warn(f"Skipping '{path or obj.name}' (skip_mismatch=True): {e}", stacklevel=3)
        read_paths.add(path)
    unread = [p for p in store.paths_with_variables() if p not in read_paths
              and not p.startswith("optimizer")]
    if unread:
        message = (f"{source}: the file holds weights for {sorted(unread)}, which this model "
                   "does not have (a different architecture?)")
        if not skip_mismatch:
            raise ValueError(message)
        warnings.warn(message, stacklevel=3)


def largest_variable(model) -> int:
    """The number of values of the model's biggest variable (optimizer slots are no bigger):
    no dataset with more is read."""
    import math

    return max((math.prod(v.shape) for v in model.weights), default=1) or 1


def _own_largest_variable(obj):
    """The most values one of `obj`'s own variables holds, when `obj` loads them with
    Layer's own `load_own_variables` (which compares each value with its variable); None
    for a class with its own loading code."""
    import math

    Layer = framework_class("Layer")
    if not isinstance(obj, Layer) or type(obj).load_own_variables is not Layer.load_own_variables:
        return None
    own = list(obj._trainable_variables) + list(obj._non_trainable_variables)
    return max((math.prod(v.shape) for v in own), default=1) or 1


def _load_optimizer(model, optimizer, store) -> None:
    if not len(store):
        return
    if model.built and not optimizer._slots and model.trainable_variables:
        optimizer.build(model.trainable_variables)
    optimizer.load_own_variables(store)


# ---------------------------------------------------------------------------------------------
# .weights.h5


def save_weights_only(model, filepath, overwrite=True) -> None:
    """Write `model`'s weights (and optimizer state, if compiled) as a Keras 3 `.weights.h5`,
    atomically."""
    h5 = h5py()
    with file_io.atomic_write(filepath, overwrite=overwrite) as tmp:
        with h5.File(tmp, "w") as f:
            save_state(model, f)


def load_weights_only(model, filepath, skip_mismatch=False) -> None:
    """Load a Keras 3 `.weights.h5` (or the weights inside a `.keras` zip) into `model`.

    Raises:
        ValueError: for a file that is not such a file, or weights that do not fit.
    """
    filepath = os.fspath(filepath)
    if zipfile.is_zipfile(filepath):
        with open_keras_zip(filepath) as archive:
            data = read_member(archive, filepath, WEIGHTS_FILENAME)
        _load_weights_bytes(model, data, filepath, skip_mismatch)
        return
    h5 = h5py()
    check_file(filepath)
    try:
        f = h5.File(filepath, "r")
    except OSError as e:
        raise ValueError(f"{filepath} is not a readable HDF5 weights file: {e}") from None
    with f:
        load_state(model, f, filepath, os.path.getsize(filepath), skip_mismatch)


def _load_weights_bytes(model, data: bytes, source: str, skip_mismatch=False,
                        include_optimizer=True) -> None:
    h5 = h5py()
    check_file(f"{source}/{WEIGHTS_FILENAME}", data)
    try:
        f = h5.File(io.BytesIO(data), "r")
    except OSError as e:
        raise ValueError(f"{source}: {WEIGHTS_FILENAME} is not a readable HDF5 file: {e}") from None
    with f:
        load_state(model, f, f"{source}/{WEIGHTS_FILENAME}", len(data), skip_mismatch,
                   include_optimizer)


# ---------------------------------------------------------------------------------------------
# .keras


def save_model(model, filepath, overwrite=True, include_optimizer=True) -> None:
    """Write `model` as a `.keras` zip (config, metadata and weights), atomically."""
    from rskeras.saving.serialization_lib import serialize_keras_object

    h5 = h5py()
    config = serialize_keras_object(model)
    if not include_optimizer:
        config.pop("compile_config", None)
    metadata = {"keras_version": KERAS_VERSION,
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
    weights = io.BytesIO()
    with h5.File(weights, "w") as f:
        save_state(model, f, include_optimizer)
    with file_io.atomic_write(filepath, overwrite=overwrite) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr(METADATA_FILENAME, json.dumps(metadata))
            archive.writestr(CONFIG_FILENAME, json.dumps(config, default=_json_default))
            archive.writestr(WEIGHTS_FILENAME, weights.getbuffer())


def _json_default(obj):
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def open_keras_zip(filepath):
    """The `.keras` archive, after checking its members: only the known files and `assets/`
    under the archive's root, each no bigger than the archive could hold.

    Raises:
        ValueError: for a file that is not a zip, or a member that breaks those rules.
    """
    try:
        archive = zipfile.ZipFile(filepath, "r")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as e:
        raise ValueError(f"{filepath} is not a valid .keras file (a zip archive): {e}") from None
    size = os.path.getsize(filepath)
    try:
        for info in archive.infolist():
            name = info.filename
            parts = name.replace("\\", "/").split("/")
            if name.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
                raise ValueError(f"{filepath}: refusing the member {name!r}, which points "
                                 "outside the archive's root")
            if name not in (CONFIG_FILENAME, METADATA_FILENAME, WEIGHTS_FILENAME) \
                    and not name.startswith(("assets/", "model.weights")):
                raise ValueError(f"{filepath}: unexpected member {name!r} in a .keras archive")
            if info.compress_type == zipfile.ZIP_STORED:
                limit = size
            else:
                packed = max(info.compress_size, 1)
                limit = max(packed * MAX_PLAUSIBLE_RATIO,
                            min(packed * MAX_COMPRESSION_RATIO, BOMB_MIN_BYTES))
            if info.file_size > limit or info.compress_size > size:
                raise ValueError(f"{filepath}: the member {name!r} claims {info.file_size} "
                                 f"bytes ({info.compress_size} compressed), more than the "
                                 f"{size}-byte file could hold (a zip bomb, or a corrupted "
                                 "archive)")
    except BaseException:
        archive.close()
        raise
    return archive


def read_member(archive, filepath, name, limit=None) -> bytes:
    """The bytes of one member (checked by `open_keras_zip`).

    Raises:
        ValueError: when it is missing or unreadable (a truncated or corrupted archive).
    """
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise ValueError(f"{filepath}: the .keras archive has no {name}") from None
    if limit is not None and info.file_size > limit:
        raise ValueError(f"{filepath}: {name} is {info.file_size} bytes, over the {limit}-byte limit")
    try:
        return archive.read(name)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as e:
        raise ValueError(f"{filepath}: cannot read {name} ({type(e).__name__}: {e}); the file "
                         "is truncated or corrupted") from None


def read_config(archive, filepath) -> dict:
    text = read_member(archive, filepath, CONFIG_FILENAME, limit=MAX_JSON_BYTES)
    try:
        config = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise ValueError(f"{filepath}: config.json is not valid JSON: {e}") from None
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"{filepath}: config.json does not describe a model "
                         "(no 'class_name' at its top level)")
    return config


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """A model from a `.keras` zip: rebuilt from config.json, compiled from its
    compile_config (unless `compile=False`), then its weights and optimizer state loaded.

    Raises:
        ValueError: for a file that is not a valid `.keras` archive, a config naming unknown
            classes or Python code (in safe mode), or weights that do not fit the config.
    """
    from rskeras.saving.serialization_lib import deserialize_keras_object

    filepath = os.fspath(filepath)
    with open_keras_zip(filepath) as archive:
        config = read_config(archive, filepath)
        weights_info = archive.getinfo(WEIGHTS_FILENAME) if WEIGHTS_FILENAME in archive.namelist() else None
        budget = weights_info.file_size if weights_info is not None else 0
        with file_io.load_budget(budget + 4096, filepath):
            model = deserialize_keras_object(config, custom_objects=custom_objects,
                                             safe_mode=safe_mode, compile=compile)
        if weights_info is None:
            if model.weights:
                raise ValueError(f"{filepath}: the .keras archive has no {WEIGHTS_FILENAME}, "
                                 "so the model's weights are missing")
        else:
            data = read_member(archive, filepath, WEIGHTS_FILENAME)
            _load_weights_bytes(model, data, filepath, include_optimizer=compile)
    return model

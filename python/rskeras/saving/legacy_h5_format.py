"""The legacy HDF5 format: `model.save("x.h5")` and weight-only `.h5` files (Keras:
`keras/src/legacy/saving/legacy_h5_format.py`; Keras 2: `keras/saving/legacy/hdf5_format.py`).

Layout (read and written):

    /                        attrs keras_version, backend, model_config (JSON),
                             training_config (JSON, only when compiled)
    /model_weights           attrs layer_names, backend, keras_version
    /model_weights/<layer>   attrs weight_names (variable paths); the datasets at
                             <layer>/<weight name> (the name split on "/" into groups)
    /optimizer_weights       attrs weight_names; datasets at their names

A weights-only file (Keras 2 `save_weights("x.h5")`, the application weight files) has the
layer groups and `layer_names` at the root. Loading is positional: the model's layers that
have weights are paired in order with the file's layer groups that have weights, as Keras
does, or matched by layer name with `by_name=True`. Keras 2 configs (`batch_input_shape`,
old inbound-node lists, `axis: [n]`, "Custom>Adam", wrapped metrics) are converted on read.
"""

from __future__ import annotations

import json
import os
import warnings

from rskeras.saving import file_io
from rskeras.saving.hdf5_guards import check_file
from rskeras.saving.h5_store import (Guard, decode, h5py, read_attr, read_split_attr,
                                     write_split_attr)

KERAS_VERSION = "3.15.1"
BACKEND = "rskeras"


# ---------------------------------------------------------------------------------------------
# Writing


def legacy_weights(layer) -> list:
    """A layer's weights in the legacy order: trainable, then non-trainable (sublayers'
    included), as Keras's `_legacy_weights`."""
    return list(layer.trainable_weights) + list(layer.non_trainable_weights)


def _legacy_config(config):
    """A model config in the legacy `.h5` form: layer entries keep class_name, config, name
    and inbound_nodes (Keras writes them without module/registered_name)."""
    if isinstance(config, dict):
        layers = config.get("layers")
        if isinstance(layers, list):
            config = dict(config)
            config["layers"] = [_legacy_layer(entry) for entry in layers]
    return config


def _legacy_layer(entry):
    if not isinstance(entry, dict):
        return entry
    registered = entry.get("registered_name")
    custom = isinstance(registered, str) and ">" in registered  # "package>Name"
    out = {"class_name": registered if custom else entry["class_name"],
           "config": _legacy_config(entry.get("config"))}
    if str(entry.get("module") or "").startswith("keras.src.ops"):
        out["module"] = entry["module"]  # an operator node (x + y): not a layer of that name
    for key in ("name", "inbound_nodes"):
        if key in entry:
            out[key] = entry[key]
    return out


def save_model_to_hdf5(model, filepath, overwrite=True, include_optimizer=True) -> None:
    """Write `model` as a legacy `.h5` file, atomically.

    A subclassed model's config is what its `get_config` returns (by default `{"name",
    "trainable", "dtype"}`), as Keras writes it; loading it needs the class.
    """
    from rskeras.saving.saving_lib import _json_default

    h5 = h5py()
    model_config = {"class_name": type(model).__name__, "config": _legacy_config(model.get_config())}
    training_config = None
    if include_optimizer and getattr(model, "compiled", False):
        compile_config = model.get_compile_config()
        optimizer = compile_config.pop("optimizer")
        training_config = dict(compile_config)
        training_config["optimizer_config"] = {"class_name": optimizer["class_name"],
                                               "config": optimizer["config"]}
    with file_io.atomic_write(filepath, overwrite=overwrite) as tmp:
        with h5.File(tmp, "w") as f:
            f.attrs["keras_version"] = KERAS_VERSION
            f.attrs["backend"] = BACKEND
            f.attrs["model_config"] = json.dumps(model_config, default=_json_default)
            if training_config is not None:
                f.attrs["training_config"] = json.dumps(training_config, default=_json_default)
            save_weights_to_hdf5_group(f.create_group("model_weights"), model)
            if training_config is not None and model.optimizer is not None:
                _save_optimizer_weights(f, model.optimizer)


def save_weights_to_hdf5_group(group, model) -> None:
    """The layer groups of `model` under `group` (legacy layout)."""
    write_split_attr(group, "layer_names", [layer.name for layer in model.layers])
    group.attrs["backend"] = BACKEND
    group.attrs["keras_version"] = KERAS_VERSION
    for layer in sorted(model.layers, key=lambda layer: layer.name):
        layer_group = group.create_group(layer.name)
        names = _unique_names([w.path for w in legacy_weights(layer)])
        write_split_attr(layer_group, "weight_names", names)
        for name, w in zip(names, legacy_weights(layer)):
            layer_group.create_dataset(name, data=w.numpy())
    top = group.create_group("top_level_model_weights")
    own = list(model._trainable_variables) + list(model._non_trainable_variables)
    names = _unique_names([w.path for w in own])
    write_split_attr(top, "weight_names", names)
    for name, w in zip(names, own):
        top.create_dataset(name, data=w.numpy())


def _unique_names(names) -> list:
    seen, out = set(), []
    for name in names:
        candidate, i = name, 1
        while candidate in seen:
            candidate, i = f"{name}_{i}", i + 1
        seen.add(candidate)
        out.append(candidate)
    return out


def _save_optimizer_weights(f, optimizer) -> None:
    entries = optimizer.get_state_arrays()
    group = f.create_group("optimizer_weights")
    names = _unique_names([name for name, _ in entries])
    write_split_attr(group, "weight_names", names)
    for name, (_, value) in zip(names, entries):
        group.create_dataset(name, data=value)


# ---------------------------------------------------------------------------------------------
# Reading


def _open(filepath):
    h5 = h5py()
    check_file(filepath)
    try:
        return h5.File(filepath, "r")
    except OSError as e:
        raise ValueError(f"{filepath} is not a readable HDF5 file (truncated, corrupted, or "
                         f"another kind of file): {e}") from None


def _json_attr(f, name, filepath):
    if name not in f.attrs:
        return None
    text = decode(read_attr(f, name))
    if not isinstance(text, str):
        raise ValueError(f"{filepath}: the attribute {name} is not a JSON string")
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as e:
        raise ValueError(f"{filepath}: the attribute {name} is not valid JSON: {e}") from None


def load_model_from_hdf5(filepath, custom_objects=None, compile=True, safe_mode=True):
    """A model from a legacy `.h5` file written by Keras 3, tf.keras 2 or rskeras.

    Raises:
        ValueError: for a file without a model config ("No model config found"), unknown
            classes, or weights that do not fit (naming the layer and both shapes).
    """
    from rskeras.saving.serialization_lib import deserialize_keras_object

    filepath = os.fspath(filepath)
    with _open(filepath) as f:
        guard = Guard(filepath, os.path.getsize(filepath))
        model_config = _json_attr(f, "model_config", filepath)
        if model_config is None:
            raise ValueError(f"No model config found in the file at {filepath}: it holds "
                             "weights only; build the model and call model.load_weights()")
        if not isinstance(model_config, dict) or "config" not in model_config:
            raise ValueError(f"{filepath}: model_config is not a Keras model config")
        model_config = convert_legacy_config(model_config)
        with file_io.load_budget(guard.file_size, filepath):
            model = deserialize_keras_object(model_config, custom_objects=custom_objects,
                                             safe_mode=safe_mode, compile=False)
        weights_group = guard.group(f, "model_weights")
        if weights_group is None:
            raise ValueError(f"{filepath}: the file has no model_weights group")
        load_weights_from_hdf5_group(weights_group, model, guard)
        training_config = _json_attr(f, "training_config", filepath) if compile else None
        if training_config is not None:
            model.compile_from_config(convert_training_config(training_config))
            group = guard.group(f, "optimizer_weights")
            if group is not None:
                _load_optimizer_weights(model, group, guard)
        elif compile and "training_config" not in f.attrs:
            pass  # never compiled: Keras loads it uncompiled too
    return model


def _load_optimizer_weights(model, group, guard) -> None:
    from rskeras.saving.saving_lib import largest_variable

    names = read_split_attr(group, "weight_names") or []
    largest = largest_variable(model)
    values = [guard.read(_dataset(guard, group, n), largest) for n in names]
    optimizer = model.optimizer
    if model.trainable_variables and not optimizer._slots:
        optimizer.build(model.trainable_variables)
    if names and not callable(optimizer._learning_rate) and (
            len(names) < 2 or not names[1].split(":")[0].endswith("learning_rate")):
        # Keras 2 files have no learning_rate entry: keep the configured one.
        import numpy as np

        values.insert(1, np.array(optimizer.learning_rate, np.float32))
    optimizer.set_state_arrays(values)


def _dataset(guard, group, name):
    if not isinstance(name, str):
        guard.fail(f"'{group.name}' has a non-text weight name {name!r}")
    node = group
    for part in [p for p in name.split("/") if p]:
        child = guard.child(node, part) if isinstance(node, h5py().Group) else None
        if child is None:
            guard.fail(f"'{group.name}' lists the weight {name!r}, which the file does not hold")
        node = child
    if not isinstance(node, h5py().Dataset):
        guard.fail(f"'{node.name}' is a {type(node).__name__}, not a dataset of weights")
    if node.shape is None:
        guard.fail(f"dataset '{node.name}' has no shape (an empty dataspace)")
    return node


def _file_layers(group, guard):
    """[(layer name, [weight arrays])] of the file's layer groups, in `layer_names` order."""
    names = read_split_attr(group, "layer_names")
    if names is None:
        guard.fail(f"'{group.name}' has no layer_names attribute: not a Keras weights group")
    out = []
    for name in names:
        if not isinstance(name, str):
            guard.fail(f"'{group.name}' has a non-text layer name {name!r}")
        layer_group = guard.group(group, name)
        if layer_group is None:
            guard.fail(f"the layer '{name}' is listed in layer_names but has no group")
        weight_names = read_split_attr(layer_group, "weight_names") or []
        out.append((name, [(w, _dataset(guard, layer_group, w)) for w in weight_names]))
    return out


def load_weights_from_hdf5_group(group, model, guard, skip_mismatch=False) -> None:
    """Positional loading, as Keras: the model's layers with weights, in order, against the
    file's layer groups with weights.

    Raises:
        ValueError: on a layer-count mismatch (both counts and names listed) or a shape
            mismatch (the layer, the weight, and both shapes).
    """
    layers = [layer for layer in model.layers if legacy_weights(layer)]
    file_layers = [(name, ws) for name, ws in _file_layers(group, guard) if ws]
    if len(layers) != len(file_layers):
        guard.fail(
            f"Layer count mismatch when loading weights from file. Model expected "
            f"{len(layers)} layers with weights ({[layer.name for layer in layers]}), found "
            f"{len(file_layers)} saved layers with weights ({[n for n, _ in file_layers]}).")
    for k, (layer, (file_name, weights)) in enumerate(zip(layers, file_layers)):
        _assign_layer(layer, file_name, weights, guard, k, skip_mismatch)
    top = guard.group(group, "top_level_model_weights")
    own = list(model._trainable_variables) + list(model._non_trainable_variables)
    if top is not None and own:
        names = read_split_attr(top, "weight_names") or []
        _assign_variables(model.name, own, [(n, _dataset(guard, top, n)) for n in names],
                          guard, skip_mismatch)


def load_weights_from_hdf5_group_by_name(group, model, guard, skip_mismatch=False) -> None:
    """Match the file's layer groups to the model's layers by name (`by_name=True`); layers
    absent from the file keep their weights.

    Raises:
        ValueError: on a count or shape mismatch for a matched layer, unless
            `skip_mismatch`, which warns and skips that layer.
    """
    by_name = {}
    for layer in model.layers:
        by_name.setdefault(layer.name, layer)
    for k, (name, weights) in enumerate(_file_layers(group, guard)):
        layer = by_name.get(name)
        if layer is not None:
            _assign_layer(layer, name, weights, guard, k, skip_mismatch)


def _assign_layer(layer, file_name, weights, guard, k, skip_mismatch):
    symbolic = legacy_weights(layer)
    where = f"layer #{k} (named {layer.name} in the current model, {file_name} in the save file)"
    message = None
    if len(symbolic) != len(weights):
        message = (f"Weight count mismatch for {where}. Layer expects {len(symbolic)} weight(s) "
                   f"({[w.path for w in symbolic]}), received {len(weights)} saved weight(s) "
                   f"({[n for n, _ in weights]})")
    else:
        for (name, dataset), w in zip(weights, symbolic):
            if tuple(dataset.shape) != tuple(w.shape):
                message = (f"Shape mismatch in {where} for weight {w.path}: the weight has shape "
                           f"{tuple(w.shape)}, the saved weight {name} has shape "
                           f"{tuple(dataset.shape)}")
                break
    if message is not None:
        if not skip_mismatch:
            guard.fail(message)
        warnings.warn(f"Skipping loading weights for layer {layer.name}: {message}", stacklevel=4)
        return
    _assign_variables(layer.name, symbolic, weights, guard, skip_mismatch)


def _assign_variables(owner, variables, weights, guard, skip_mismatch):
    from rskeras.backend.variables import array_for_variable

    if len(variables) != len(weights):
        if skip_mismatch:
            return
        guard.fail(f"'{owner}' has {len(variables)} weights, the file {len(weights)}")
    for (name, dataset), w in zip(weights, variables):
        if tuple(dataset.shape) != tuple(w.shape):
            if skip_mismatch:
                return
            guard.fail(f"'{owner}': weight {w.path} has shape {tuple(w.shape)}, the file's "
                       f"{name} has shape {tuple(dataset.shape)}")
    for (_, dataset), w in zip(weights, variables):
        w.assign(array_for_variable(guard.read(dataset), w))


def load_weights(model, filepath, skip_mismatch=False, by_name=False) -> None:
    """Load a legacy `.h5`/`.hdf5` weights file (weights-only, or the `model_weights` of a
    full-model file) into a built `model`.

    Raises:
        ValueError: for a file without Keras weights, or weights that do not fit.
    """
    filepath = os.fspath(filepath)
    with _open(filepath) as f:
        guard = Guard(filepath, os.path.getsize(filepath))
        group = f
        if read_split_attr(f, "layer_names") is None:
            group = guard.group(f, "model_weights")
            if group is None:
                if guard.group(f, "layers") is not None or guard.group(f, "vars") is not None:
                    guard.fail("this is a Keras 3 weights file; name it *.weights.h5")
                guard.fail("no Keras weights found (no layer_names attribute, no model_weights)")
        if by_name:
            load_weights_from_hdf5_group_by_name(group, model, guard, skip_mismatch)
        else:
            load_weights_from_hdf5_group(group, model, guard, skip_mismatch)


# ---------------------------------------------------------------------------------------------
# Keras 2 configs


def convert_legacy_config(config):
    """A Keras 2 (or Keras 3 legacy-`.h5`) model or layer config in the form rskeras reads:
    `batch_input_shape` -> `batch_shape` (InputLayer) or kept for other layers, `axis: [n]`
    -> `n`, a Lambda's `[code, defaults, closure]` -> a `__lambda__` record, and the same
    for every nested layer entry."""
    if isinstance(config, list):
        return [convert_legacy_config(c) for c in config]
    if not isinstance(config, dict):
        return config
    config = dict(config)
    inner = config.get("config")
    if isinstance(inner, dict) and "class_name" in config:
        inner = dict(inner)
        class_name = config["class_name"]
        batch_input_shape = inner.get("batch_input_shape")
        if class_name == "InputLayer" and batch_input_shape is not None:
            inner.pop("batch_input_shape")
            inner.setdefault("batch_shape", batch_input_shape)
        axis = inner.get("axis")
        if isinstance(axis, list) and len(axis) == 1 and class_name in (
                "BatchNormalization", "LayerNormalization"):
            inner["axis"] = int(axis[0]) if class_name == "BatchNormalization" else axis
        if class_name == "Lambda" and isinstance(inner.get("function"), list):
            code = inner["function"]
            inner["function"] = {"class_name": "__lambda__", "config": {
                "code": code[0] if code else None, "defaults": code[1] if len(code) > 1 else None,
                "closure": code[2] if len(code) > 2 else None}}
            inner.pop("function_type", None)
            inner.pop("output_shape_type", None)
            inner.pop("output_shape_module", None)
            inner.pop("module", None)
        if isinstance(inner.get("layers"), list):
            inner["layers"] = [convert_legacy_config(c) for c in inner["layers"]]
        config["config"] = inner
    return config


def convert_training_config(config) -> dict:
    """A legacy `training_config` as `compile_from_config` reads it: the optimizer record
    (Keras 2's "Custom>Adam" names the built-in Adam), metric wrappers as metric names, a
    single output's metrics unnested."""
    config = dict(config)
    optimizer = config.pop("optimizer_config", None)
    if isinstance(optimizer, dict):
        optimizer = dict(optimizer)
        name = optimizer.get("class_name", "")
        if isinstance(name, str) and name.startswith("Custom>"):
            optimizer["class_name"] = name[len("Custom>"):]
        optimizer.setdefault("module", "keras.optimizers")
        optimizer["config"] = {k: v for k, v in dict(optimizer.get("config") or {}).items()
                               if k not in ("jit_compile", "is_legacy_optimizer")}
        config["optimizer"] = optimizer
    for key in ("metrics", "weighted_metrics"):
        if config.get(key) is not None:
            config[key] = _convert_metrics(config[key])
    if isinstance(config.get("loss"), dict) and "class_name" in config["loss"] \
            and config["loss"]["class_name"] in ("function", "LossFunctionWrapper"):
        config["loss"] = config["loss"]["config"] if isinstance(config["loss"]["config"], str) \
            else config["loss"]["config"].get("fn")
    return config


def _convert_metrics(metrics):
    if isinstance(metrics, list):
        converted = [_convert_metrics(m) for m in metrics]
        if len(converted) == 1 and isinstance(converted[0], list):
            return converted[0]
        return converted
    if isinstance(metrics, dict) and "class_name" in metrics:
        if metrics["class_name"] == "MeanMetricWrapper":
            inner = metrics.get("config") or {}
            fn = inner.get("fn")
            return fn if isinstance(fn, str) else inner.get("name")
        return metrics
    if isinstance(metrics, dict):
        return {k: _convert_metrics(v) for k, v in metrics.items()}
    return metrics

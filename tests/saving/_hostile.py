"""Helpers shared by the hostile-file, corrupt-file and fuzz tests: the fixture paths, a
loader that picks `load_model` or `load_weights` by the file's kind, and writers of `.keras`
archives with chosen members."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import rskeras as keras

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "saving"
MLP = "sequential_mlp"  # Keras 3.15.1: Input(8) -> Dense(16, relu) -> Dropout -> Dense(4, softmax)


def fixture(name: str) -> Path:
    return FIXTURES / name


def copy_fixture(name: str, folder, as_name: str | None = None) -> Path:
    dst = Path(folder) / (as_name or name)
    shutil.copyfile(fixture(name), dst)
    return dst


def mlp_model():
    """A fresh rskeras model with the architecture of the `sequential_mlp` fixtures (to load
    `.weights.h5` files into)."""
    return keras.models.load_model(fixture(MLP + ".keras"), compile=False)


def mlp_input():
    return np.load(fixture(MLP + ".npz"))["x"]


def keras_members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {info.filename: z.read(info.filename) for info in z.infolist()}


def write_zip(path, members, compress_type=zipfile.ZIP_STORED) -> Path:
    """A zip with `members` ({name: bytes or str}, or [(name, bytes)] to keep duplicates or
    an order) written as given (no name normalisation beyond zipfile's own)."""
    items = members.items() if isinstance(members, dict) else members
    with zipfile.ZipFile(path, "w", compression=compress_type) as z:
        for name, data in items:
            z.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data,
                       compress_type=compress_type)
    return Path(path) if isinstance(path, (str, os.PathLike)) else path


def keras_with(path, base=MLP + ".keras", config=None, weights=None, drop=(), extra=()) -> Path:
    """A copy of the fixture `.keras` `base` with config.json replaced (`config`: a dict, or a
    str/bytes written verbatim, or a function of the parsed config), model.weights.h5 replaced
    (`weights`: bytes or a path), members in `drop` left out and `extra` (name, bytes) added."""
    members = keras_members(fixture(base))
    if config is not None:
        if callable(config):
            config = config(json.loads(members["config.json"]))
        members["config.json"] = config if isinstance(config, (str, bytes)) else json.dumps(config)
    if weights is not None:
        members["model.weights.h5"] = weights if isinstance(weights, bytes) else Path(weights).read_bytes()
    for name in drop:
        members.pop(name)
    return write_zip(path, list(members.items()) + list(extra))


def load(path, model=None, **kwargs):
    """`load_model` for `.keras`/`.h5`, `model.load_weights` for `.weights.h5` (into a fresh
    `sequential_mlp` model unless `model` is given)."""
    path = os.fspath(path)
    if path.endswith(".weights.h5"):
        (model or mlp_model()).load_weights(path)
        return model
    return keras.models.load_model(path, **kwargs)

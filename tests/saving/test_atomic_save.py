"""Saving is atomic: the data goes to a hidden temporary file in the target's folder
(`.<name>.<random>.tmp`), is fsynced and renamed over the target
(python/rskeras/saving/file_io.py `atomic_write`). So an exception, or a `kill -9` at any
moment, leaves the previous file intact (or the new one, complete), never a torn file.

What a kill leaves behind: when the process dies while writing, its temporary file stays
(nothing can remove it: the process is gone). That hidden `.<name>.<random>.tmp` is the
only kind of leftover; the next save does not reuse or remove it. The tests assert that no
other file appears.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import rskeras as keras

from ._atomic_child import build
from ._atomic_child import save as save_file

CHILD = Path(__file__).resolve().parent / "_atomic_child.py"
SUFFIXES = (".keras", ".h5", ".weights.h5")
ITERATIONS = 50
SEED_A, SEED_B = 1, 2


def leftovers(folder: Path, target: Path) -> list[str]:
    """Files in `folder` other than `target`; each must be a hidden temporary of `target`."""
    pattern = re.compile(rf"\.{re.escape(target.name)}\..+\.tmp")
    others = sorted(p.name for p in folder.iterdir() if p.name != target.name)
    strays = [name for name in others if not pattern.fullmatch(name)]
    assert not strays, f"unexpected files next to {target.name}: {strays}"
    return others


def predict_file(path: Path, model, x) -> np.ndarray:
    if path.name.endswith(".weights.h5"):
        model.load_weights(path)
    else:
        model = keras.models.load_model(path)
    return np.asarray(model(x))


# ---------------------------------------------------------------------------------------------
# kill -9 during a save, at random moments


class Timing:
    def __init__(self, ready_s: float, save_s: dict):
        self.ready_s, self.save_s = ready_s, save_s


def _spawn(path: Path, seed: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(CHILD), str(path), str(seed)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _calibrate(tmp_path, model_a) -> Timing:
    """How long a child takes to be ready, and how long one save takes in each format."""
    save_s = {}
    for suffix in SUFFIXES:
        path = tmp_path / ("calibrate" + suffix)
        start = time.perf_counter()
        save_file(model_a, str(path))
        save_s[suffix] = time.perf_counter() - start
        path.unlink()
    start = time.perf_counter()
    child = _spawn(tmp_path / "calibrate.keras", SEED_B)
    line = child.stdout.readline()
    ready_s = time.perf_counter() - start
    child.kill()
    child.wait()
    assert line == b"ready\n", child.stderr.read().decode()
    for p in tmp_path.iterdir():
        p.unlink()
    return Timing(ready_s, save_s)


def test_kill_9_during_save_leaves_the_previous_or_the_new_file(tmp_path):
    """50 times, rotating .keras / .h5 / .weights.h5: write the file with model A, start a
    child that saves model B (same architecture, other weights, 6 MB) over it in a loop, and
    SIGKILL it after a random delay: half of the delays are counted from the start of the
    child (before its first save, or during the first saves), half from the moment it
    starts saving (within about three saves; every tenth after its first completed save). The
    file must then load as A or as B."""
    x = np.random.default_rng(0).standard_normal((4, 256)).astype("float32")
    model_a, model_b = build(SEED_A), build(SEED_B)
    expected = {"A": np.asarray(model_a(x)), "B": np.asarray(model_b(x))}
    assert not np.allclose(expected["A"], expected["B"])
    reader = build(SEED_A)  # the model .weights.h5 files are loaded into
    timing = _calibrate(tmp_path, model_a)
    rng = np.random.default_rng(1234)
    seen = {"A": 0, "B": 0}
    temporaries = 0
    start = time.perf_counter()
    for i in range(ITERATIONS):
        suffix = SUFFIXES[i % len(SUFFIXES)]
        folder = tmp_path / suffix.replace(".", "_")  # one folder per format
        folder.mkdir(exist_ok=True)
        target = folder / ("model" + suffix)
        save_file(model_a, str(target))  # the previous content
        child = _spawn(target, SEED_B)
        if i % 2 == 0:
            time.sleep(rng.uniform(0, timing.ready_s + 3 * timing.save_s[suffix]))
        else:
            line = child.stdout.readline()
            assert line == b"ready\n", child.stderr.read().decode()
            if i % 10 == 9:  # after a completed save, whatever the machine's load: B for sure
                assert child.stdout.readline() == b"saved\n", child.stderr.read().decode()
            time.sleep(rng.uniform(0, 3 * timing.save_s[suffix]))
        child.kill()
        child.wait()
        child.stdout.close()
        child.stderr.close()

        others = leftovers(folder, target)
        temporaries += len(others)
        got = predict_file(target, reader, x)
        matches = [k for k, v in expected.items() if np.allclose(got, v, rtol=1e-6, atol=1e-6)]
        assert matches, f"iteration {i} ({suffix}): the file holds neither A nor B"
        seen[matches[0]] += 1
        for name in others:
            (folder / name).unlink()
    elapsed = time.perf_counter() - start
    print(f"\nkill -9 x{ITERATIONS}: previous file {seen['A']}x, new file {seen['B']}x, "
          f"{temporaries} temporary file(s) left by killed writes, {elapsed:.1f} s")
    assert seen["A"] and seen["B"], seen  # the kills did land before and after saves


# ---------------------------------------------------------------------------------------------
# Failing saves in this process


def small_model(seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    return model


def _save(model, path, **kwargs):
    path = str(path)
    if path.endswith(".weights.h5"):
        model.save_weights(path, **kwargs)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.save(path, **kwargs)


class Boom(Exception):
    pass


@pytest.fixture(params=SUFFIXES)
def existing(request, tmp_path):
    """(path, bytes) of a file saved by `small_model(0)`."""
    path = tmp_path / ("model" + request.param)
    _save(small_model(0), path)
    return path, path.read_bytes()


def _assert_untouched(path, data):
    assert path.read_bytes() == data
    assert leftovers(path.parent, path) == [], "the temporary file was not removed"


def _raise_after(n, exc=Boom):
    calls = {"n": 0}

    def hook(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > n:
            raise exc("injected failure")
        return hook.original(*args, **kwargs)
    return hook


# An error, or a KeyboardInterrupt, while a dataset is written.
@pytest.mark.parametrize("after, exc", [(2, Boom), (1, KeyboardInterrupt)], ids=["error", "keyboard_interrupt"])
def test_failing_dataset_write_leaves_the_old_file(existing, monkeypatch, after, exc):
    path, data = existing
    hook = _raise_after(after, exc)
    hook.original = h5py.Group.create_dataset
    monkeypatch.setattr(h5py.Group, "create_dataset", hook)
    with pytest.raises(exc):
        _save(small_model(1), path)
    monkeypatch.undo()
    _assert_untouched(path, data)


def test_failing_zip_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.keras"
    _save(small_model(0), path)
    data = path.read_bytes()
    original = zipfile.ZipFile.writestr

    def writestr(self, name, payload, *args, **kwargs):
        name_str = name.filename if isinstance(name, zipfile.ZipInfo) else name
        if name_str == "model.weights.h5":
            original(self, name_str, bytes(payload)[:1000], *args, **kwargs)  # half written
            raise Boom("disk full")
        return original(self, name, payload, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", writestr)
    with pytest.raises(Boom):
        _save(small_model(1), path)
    monkeypatch.undo()
    _assert_untouched(path, data)
    keras.models.load_model(path)


@pytest.mark.parametrize("what", ["fsync", "replace"])
def test_failing_fsync_or_rename_leaves_the_old_file(existing, monkeypatch, what):
    path, data = existing
    hook = _raise_after(0, OSError)
    hook.original = getattr(os, what)
    monkeypatch.setattr(os, what, hook)
    with pytest.raises(OSError, match="injected failure"):
        _save(small_model(1), path)
    monkeypatch.undo()
    _assert_untouched(path, data)


def test_overwrite_false_raises_file_exists(existing):
    path, data = existing
    with pytest.raises(FileExistsError, match=re.escape(str(path))):
        _save(small_model(1), path, overwrite=False)
    _assert_untouched(path, data)


def test_overwrite_false_on_a_new_file_saves(tmp_path):
    for suffix in SUFFIXES:
        folder = tmp_path / suffix.replace(".", "_")
        folder.mkdir()
        path = folder / ("new" + suffix)
        _save(small_model(1), path, overwrite=False)
        assert path.stat().st_size > 0
        assert leftovers(folder, path) == []


def test_saving_into_a_missing_folder(tmp_path):
    for suffix in SUFFIXES:
        with pytest.raises(FileNotFoundError):
            _save(small_model(0), tmp_path / "missing" / ("model" + suffix))
    assert list(tmp_path.iterdir()) == []


def test_successful_overwrite_replaces_the_content_and_leaves_nothing(existing):
    path, data = existing
    model = small_model(1)
    _save(model, path)
    assert path.read_bytes() != data
    assert leftovers(path.parent, path) == []
    x = np.ones((2, 4), "float32")
    reader = small_model(0)
    np.testing.assert_allclose(predict_file(path, reader, x), np.asarray(model(x)), rtol=1e-6)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_saved_file_has_the_mode_of_a_plain_open(tmp_path):
    umask = os.umask(0o022)
    try:
        for suffix in SUFFIXES:
            path = tmp_path / ("mode" + suffix)
            _save(small_model(0), path)
            assert path.stat().st_mode & 0o777 == 0o644, oct(path.stat().st_mode)
    finally:
        os.umask(umask)

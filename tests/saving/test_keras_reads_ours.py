"""Files written by rskeras load in the real Keras 3 with the same predictions, weights and
optimizer state.

rskeras builds and briefly trains the models of test_keras_files.py (plus a subclassed model),
saves each as `.keras`, legacy `.h5` and `.weights.h5`, then one child process running the real
Keras (tests/saving/keras_oracle_child.py, with the Python named by RSKERAS_KERAS_PYTHON; see
the `keras_python` fixture in conftest.py) loads every file: `load_model` for `.keras` and
`.h5`, `load_weights` into the same architecture built with Keras for `.weights.h5`.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from tests.fixtures._fixture_files import as_list

from ._common import BUILDERS, Blocks, assert_all_close, assert_all_equal, fit_data, \
    iterations, predict, state_values
from .conftest import keras_child_env

CHILD = Path(__file__).with_name("keras_oracle_child.py")
ALL_FORMATS = [".keras", ".h5", ".weights.h5"]
# Case -> the formats Keras can read for it. Keras 3 cannot load a subclassed model from a
# legacy .h5 (it loads the config unbuilt, then finds "Layer count mismatch"), whoever wrote it.
CASES = {
    "sequential_mlp": ALL_FORMATS,
    "functional_two_in_two_out": ALL_FORMATS,
    "cnn_batchnorm": ALL_FORMATS,
    "nested": ALL_FORMATS,
    "custom_layer": ALL_FORMATS,
    "blocks": [".keras", ".weights.h5"],
}
# Cases whose loss is an alias string ("mse"): Keras 3.15.1 cannot re-compile them from a legacy
# .h5, whoever wrote the file (keras-team/keras#19330); the child loads them with compile=False.
H5_ALIAS_LOSS = {"functional_two_in_two_out", "nested", "custom_layer"}


def _blocks(compile=True):
    model = Blocks(units=4)
    model.build((None, 5))
    if compile:
        model.compile("adam", "mse")
    return model


def _blocks_data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 5)).astype("float32"), rng.normal(size=(n, 1)).astype("float32")


def _write_case(workdir, case):
    """Build, fit (8 steps) and save one case; what rskeras predicts and holds."""
    if case == "blocks":
        model, (x, y) = _blocks(), _blocks_data()
    else:
        model, (x, y) = BUILDERS[case](compile=True), fit_data(case)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    xs = [a[:5] for a in as_list(x)]
    np.savez(workdir / f"{case}.inputs.npz", **{f"x_{i}": a for i, a in enumerate(xs)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the "legacy HDF5" notice
        for ext in CASES[case]:
            if ext == ".weights.h5":
                model.save_weights(workdir / f"{case}{ext}")
            else:
                model.save(workdir / f"{case}{ext}")
    return SimpleNamespace(y=predict(model, xs), w=model.get_weights(),
                           opt=state_values(model.optimizer),
                           iterations=iterations(model.optimizer),
                           learning_rate=model.optimizer.learning_rate,
                           optimizer=type(model.optimizer).__name__)


@pytest.fixture(scope="module")
def keras_results(keras_python, tmp_path_factory):
    """{case: what rskeras saved}, {file name: what Keras loaded}, and the work folder."""
    workdir = tmp_path_factory.mktemp("keras_reads_ours")
    ours = {case: _write_case(workdir, case) for case in CASES}
    (workdir / "manifest.json").write_text(json.dumps({"cases": CASES}))
    done = subprocess.run([keras_python, "-I", str(CHILD), str(workdir)], env=keras_child_env(),
                          capture_output=True, text=True, timeout=540)
    assert done.returncode == 0, f"the Keras child failed:\n{done.stdout}\n{done.stderr[-5000:]}"
    results = json.loads((workdir / "results.json").read_text())
    return ours, results, workdir


def _keras_output(workdir, name):
    with np.load(workdir / f"{name}.out.npz") as z:
        data = {k: z[k] for k in z.files}

    def series(prefix):
        return [data[f"{prefix}_{i}"] for i in range(sum(k.startswith(prefix + "_") for k in data))]

    return series("y"), series("w"), series("opt")


PARAMS = [pytest.param(case, ext, id=f"{case}{ext}") for case in CASES for ext in CASES[case]]


@pytest.mark.parametrize("case,ext", PARAMS)
def test_keras_loads_our_file(keras_results, case, ext):
    ours, results, workdir = keras_results
    name = case + ext
    entry = results[name]
    assert entry["error"] is None, f"Keras could not load {name}:\n{entry['error']}"
    y, w, opt = _keras_output(workdir, name)
    mine = ours[case]
    assert_all_close(y, mine.y, f"Keras's predictions from {name}", rtol=1e-5, atol=1e-5)
    assert_all_equal(w, mine.w, f"Keras's weights from {name}")

    if ext == ".h5":
        if case in H5_ALIAS_LOSS and entry["compile_error"] is not None:
            assert "KerasSaveable" in entry["compile_error"], entry["compile_error"]
            return
        assert entry["compile_error"] is None, entry["compile_error"]
        # Keras's legacy loader restores iteration and learning_rate only (it builds the
        # optimizer without the model's variables; see make_saving_fixtures.py).
        assert entry["compiled"] and entry["optimizer"] == mine.optimizer
        assert entry["iterations"] == mine.iterations == 8
        assert np.float32(entry["learning_rate"]) == np.float32(mine.learning_rate)
        return

    assert entry["compiled"], f"Keras loaded {name} uncompiled"
    assert entry["optimizer"] == mine.optimizer
    assert entry["iterations"] == mine.iterations == 8
    assert np.float32(entry["learning_rate"]) == np.float32(mine.learning_rate)
    assert_all_equal(opt, mine.opt, f"Keras's optimizer variables from {name}")


def _imported_modules(path):
    """The top-level modules a file imports (asserting it has no relative imports)."""
    tree = ast.parse(path.read_text())
    modules = {alias.name.split(".")[0] for node in ast.walk(tree)
               if isinstance(node, ast.Import) for alias in node.names}
    modules |= {node.module.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module}
    assert all(node.level == 0 for node in ast.walk(tree) if isinstance(node, ast.ImportFrom))
    return modules


def test_child_script_imports_only_keras_numpy_and_the_stdlib():
    """The child runs under `python -I` in another environment: it must not import rskeras
    or anything from the test suite but _architectures.py (beside it), which imports only the
    stdlib. (This test needs no Keras.)"""
    modules = _imported_modules(CHILD)
    assert modules - set(sys.stdlib_module_names) == {"numpy", "keras", "_architectures"}, modules
    shared = _imported_modules(CHILD.with_name("_architectures.py"))
    assert shared <= set(sys.stdlib_module_names), shared

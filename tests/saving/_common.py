"""Shared by the tests of tests/saving: the fixture files written by the real Keras
(tests/fixtures/saving, made by tests/fixtures/make_saving_fixtures.py and
make_tf_keras2_fixtures.py), the same model architectures built with rskeras and the custom
`ScaledDense` layer of the fixtures (both from _architectures.py), and comparison helpers.

tests/saving is a package (it has an `__init__.py`) so that its conftest.py does not replace
tests/conftest.py as the module `conftest`, which other test files import from.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import rskeras as keras
from rskeras.saving import object_registration

from tests.fixtures._fixture_files import npz_list

from ._architectures import define

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "saving"

# The Keras 3 cases of make_saving_fixtures.py, and the tf.keras 2 cases of
# make_tf_keras2_fixtures.py.
KERAS3_CASES = ["sequential_mlp", "functional_two_in_two_out", "cnn_batchnorm", "nested",
                "custom_layer", "uncompiled_mlp"]
COMPILED_CASES = [c for c in KERAS3_CASES if c != "uncompiled_mlp"]
TF_KERAS2_CASES = ["tfkeras2_mlp", "tfkeras2_functional"]


# ---------------------------------------------------------------------------------------------
# The custom layer of the fixtures (ScaledDense), a subclassed model (Blocks) and the fixture
# architectures (BUILDERS: case -> build(compile=...)), made with rskeras from
# tests/saving/_architectures.py, which keras_oracle_child.py shares.
_ARCHITECTURES = define(keras)
ScaledDense = _ARCHITECTURES.ScaledDense
Blocks = _ARCHITECTURES.Blocks
BUILDERS = _ARCHITECTURES.BUILDERS


@contextlib.contextmanager
def isolated_registry():
    """A `with` block in which changes to the global custom-object registry (registering,
    removing "fixtures>ScaledDense") are undone afterwards."""
    objects = dict(object_registration.GLOBAL_CUSTOM_OBJECTS)
    names = dict(object_registration.GLOBAL_CUSTOM_NAMES)
    try:
        yield object_registration.GLOBAL_CUSTOM_OBJECTS
    finally:
        object_registration.GLOBAL_CUSTOM_OBJECTS.clear()
        object_registration.GLOBAL_CUSTOM_OBJECTS.update(objects)
        object_registration.GLOBAL_CUSTOM_NAMES.clear()
        object_registration.GLOBAL_CUSTOM_NAMES.update(names)


# ---------------------------------------------------------------------------------------------
# Fixture data


def load_case(name) -> SimpleNamespace:
    """The npz of a fixture case: x (list of inputs), y (list of Keras's predictions),
    w (get_weights()), opt (the optimizer variables, Keras's order), meta (dict)."""
    with np.load(FIXTURES / f"{name}.npz") as z:
        data = {k: z[k] for k in z.files}
    return SimpleNamespace(name=name, x=npz_list(data, "x"), y=npz_list(data, "y_pred"),
                           w=npz_list(data, "w"), opt=npz_list(data, "opt"),
                           meta=json.loads(str(data["meta"])))


def fixture(name) -> str:
    path = FIXTURES / name
    assert path.exists(), f"missing fixture {path}"
    return os.fspath(path)


def model_input(xs):
    return xs[0] if len(xs) == 1 else list(xs)


def predict(model, xs) -> list:
    """The model's predictions on the list of inputs `xs`, as a list of NumPy arrays."""
    out = model.predict(model_input(xs), verbose=0)
    if isinstance(out, dict):
        out = [out[name] for name in model.output_names]
    return [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]


def assert_all_close(got, want, what, rtol=1e-5, atol=1e-5):
    assert len(got) == len(want), f"{what}: {len(got)} arrays, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        g = np.asarray(g)
        assert g.shape == np.shape(w), f"{what}[{i}]: shape {g.shape} != {np.shape(w)}"
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"{what}[{i}]")


def assert_all_equal(got, want, what):
    """Exact equality (values and shapes) of two lists of arrays."""
    assert len(got) == len(want), f"{what}: {len(got)} arrays, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape, f"{what}[{i}]: shape {g.shape} != {w.shape}"
        assert np.array_equal(g, w), (
            f"{what}[{i}]: values differ (max abs diff "
            f"{np.max(np.abs(g.astype(np.float64) - w.astype(np.float64)))})")


def state_values(optimizer) -> list:
    """The optimizer state as Keras saves it: iteration, learning_rate, slots."""
    return [value for _, value in optimizer.get_state_arrays()]


def iterations(optimizer) -> int:
    return int(np.asarray(optimizer.iterations))


def json_normalized(value):
    return json.loads(json.dumps(value))


def fit_data(case, n=32, seed=0):
    """Random training data of the fixture's shapes: (x, y) for `case`."""
    rng = np.random.default_rng(seed)

    def normal(*shape):
        return rng.normal(size=shape).astype("float32")

    if case == "sequential_mlp":
        return normal(n, 8), rng.integers(0, 4, size=(n,)).astype("int32")
    if case == "functional_two_in_two_out":
        return [normal(n, 5), normal(n, 3)], {
            "reg": normal(n, 2), "cls": rng.integers(0, 3, size=(n,)).astype("int32")}
    if case == "cnn_batchnorm":
        return normal(n, 8, 8, 1), rng.integers(0, 3, size=(n,)).astype("int32")
    if case == "nested":
        return normal(n, 5), normal(n, 2)
    if case == "custom_layer":
        return normal(n, 4), normal(n, 2)
    if case == "uncompiled_mlp":
        return normal(n, 3), normal(n, 2)
    raise KeyError(case)

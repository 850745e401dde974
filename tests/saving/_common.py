"""Shared by the tests of tests/saving: the fixture files written by the real Keras
(tests/fixtures/saving, made by tests/fixtures/make_saving_fixtures.py and
make_tf_keras2_fixtures.py), the same model architectures built with rskeras, the custom
`ScaledDense` layer of the fixtures, and comparison helpers.

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
from rskeras import ops
from rskeras.saving import object_registration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "saving"

# The Keras 3 cases of make_saving_fixtures.py, and the tf.keras 2 cases of
# make_tf_keras2_fixtures.py.
KERAS3_CASES = ["sequential_mlp", "functional_two_in_two_out", "cnn_batchnorm", "nested",
                "custom_layer", "uncompiled_mlp"]
COMPILED_CASES = [c for c in KERAS3_CASES if c != "uncompiled_mlp"]
TF_KERAS2_CASES = ["tfkeras2_mlp", "tfkeras2_functional"]

L = keras.layers


# ---------------------------------------------------------------------------------------------
# The custom layer of the fixtures: the source in custom_layer.npz meta["custom_class_source"],
# with rskeras in place of keras.
@keras.saving.register_keras_serializable(package="fixtures")
class ScaledDense(keras.layers.Layer):
    def __init__(self, units, scale=2.0, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.scale = scale

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.units),
            initializer="glorot_uniform",
            name="kernel",
        )
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def call(self, x):
        return self.scale * (ops.matmul(x, self.kernel) + self.bias)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "scale": self.scale})
        return config


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


# A subclassed model whose layers are held in an attribute, a list and a dict, plus one
# (`proj`) whose attribute name sorts after "layers", so Keras stores it under layers/.
@keras.saving.register_keras_serializable(package="saving_tests")
class Blocks(keras.Model):
    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.encoder = L.Dense(units, activation="relu")
        self.blocks = [L.Dense(units), L.LayerNormalization()]
        self.heads = {"a": L.Dense(2), "b": L.Dense(3)}
        self.proj = L.Dense(1)

    def call(self, x):
        h = self.encoder(x)
        for block in self.blocks:
            h = block(h)
        return self.proj(self.heads["a"](h)) + self.heads["b"](h)[:, :1]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


# ---------------------------------------------------------------------------------------------
# Fixture data


def npz_list(data, prefix) -> list:
    """`data[prefix]` as a one-item list, else `data[prefix_0], data[prefix_1], ...`."""
    if prefix in data:
        return [data[prefix]]
    out, i = [], 0
    while f"{prefix}_{i}" in data:
        out.append(data[f"{prefix}_{i}"])
        i += 1
    return out


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


# ---------------------------------------------------------------------------------------------
# The fixture architectures, built with rskeras (make_saving_fixtures.py's builders). Layer
# names are given where the fixture relies on auto-names, so that they do not depend on how
# many layers the test process made before.


def build_sequential_mlp(compile=True):
    model = keras.Sequential([
        keras.Input((8,)),
        L.Dense(16, activation="relu", name="dense"),
        L.Dropout(0.1, name="dropout"),
        L.Dense(4, activation="softmax", name="dense_1"),
    ], name="sequential")
    if compile:
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
    return model


def build_functional_two_in_two_out(compile=True):
    a = keras.Input((5,), name="a")
    b = keras.Input((3,), name="b")
    ha = L.Dense(6, activation="relu", name="dense")(a)
    hb = L.Dense(4, activation="relu", name="dense_1")(b)
    c = L.Concatenate(name="concatenate")([ha, hb])
    d = L.Dense(10, activation="relu", name="dense_2")(c)
    s = L.Add(name="add")([c, d])
    reg = L.Dense(2, name="reg")(s)
    cls = L.Dense(3, activation="softmax", name="cls")(s)
    model = keras.Model(inputs=[a, b], outputs=[reg, cls], name="functional")
    if compile:
        model.compile(
            optimizer=keras.optimizers.Adam(0.01),
            loss={"reg": "mse", "cls": "sparse_categorical_crossentropy"},
            loss_weights={"reg": 0.5, "cls": 1.0},
            metrics={"cls": ["accuracy"]},
        )
    return model


def build_cnn_batchnorm(compile=True):
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        L.Conv2D(4, 3, activation="relu", name="conv2d"),
        L.BatchNormalization(name="batch_normalization"),
        L.MaxPooling2D(name="max_pooling2d"),
        L.Flatten(name="flatten"),
        L.Dense(3, activation="softmax", name="dense"),
    ], name="sequential")
    if compile:
        model.compile("rmsprop", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def build_nested(compile=True):
    inner = keras.Sequential([keras.Input((6,)), L.Dense(6, activation="relu", name="dense"),
                              L.Dense(4, name="dense_1")], name="inner")
    inp = keras.Input((5,))
    h = L.Dense(6, name="pre")(inp)
    h = inner(h)
    out = L.Dense(2, name="head")(h)
    model = keras.Model(inp, out, name="functional_1")
    if compile:
        model.compile(keras.optimizers.SGD(0.05, momentum=0.9), "mse")
    return model


def build_custom_layer(compile=True, layer_class=ScaledDense):
    model = keras.Sequential([keras.Input((4,)), layer_class(3, scale=0.5, name="scaled_dense"),
                              L.Dense(2, name="dense")], name="sequential")
    if compile:
        model.compile("adam", "mse")
    return model


def build_uncompiled_mlp(compile=False):
    model = keras.Sequential([keras.Input((3,)), L.Dense(2, name="dense")], name="sequential")
    if compile:
        model.compile("adam", "mse")
    return model


BUILDERS = {
    "sequential_mlp": build_sequential_mlp,
    "functional_two_in_two_out": build_functional_two_in_two_out,
    "cnn_batchnorm": build_cnn_batchnorm,
    "nested": build_nested,
    "custom_layer": build_custom_layer,
    "uncompiled_mlp": build_uncompiled_mlp,
}


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

"""Files written by the real Keras (3.15.1 on JAX, and tf.keras 2.15) load in rskeras with the
same predictions, weights and training state.

The fixtures and what each holds: tests/fixtures/make_saving_fixtures.py and
tests/fixtures/make_tf_keras2_fixtures.py (a `<case>.npz` next to each model file holds the
inputs, Keras's predictions, `get_weights()` and the optimizer variables).
"""

from __future__ import annotations

import json
import shutil
import warnings
import zipfile

import h5py
import numpy as np
import pytest
import rskeras as keras

from ._common import (
    BUILDERS,
    COMPILED_CASES,
    KERAS3_CASES,
    TF_KERAS2_CASES,
    ScaledDense,
    assert_all_close,
    assert_all_equal,
    fit_data,
    fixture,
    isolated_registry,
    iterations,
    json_normalized,
    load_case,
    predict,
    state_values,
)
from rskeras import ops

L = keras.layers
FORMATS = [".keras", ".h5"]


def _loss_config(model):
    return json_normalized(model.get_compile_config()["loss"])


def _check_compiled_state(model, case, ext):
    """model.compiled, optimizer class and config, loss, and every optimizer variable."""
    meta = case.meta
    if not meta["compiled"]:
        assert not model.compiled, f"{case.name}{ext}: an uncompiled model loaded compiled"
        return
    assert model.compiled, f"{case.name}{ext}: not compiled after load_model(compile=True)"
    opt = model.optimizer
    assert type(opt).__name__ == meta["optimizer_class"]
    want = meta["optimizer_config"]
    got = json_normalized(opt.get_config())
    for key, value in want.items():
        if isinstance(value, float):
            assert np.float32(got[key]) == np.float32(value), (key, got[key], value)
        else:
            assert got.get(key) == value, (key, got.get(key), value)
    assert np.float32(opt.learning_rate) == np.float32(want["learning_rate"])
    compile_config = meta["compile_config"]
    assert _loss_config(model) == compile_config["loss"]
    got_config = json_normalized(model.get_compile_config())
    for key in ("loss_weights", "metrics"):
        assert got_config.get(key) == compile_config[key], (key, got_config.get(key))
    # The full optimizer state, in Keras's order, exactly. Keras's own load of its .h5 drops
    # the slots (see make_saving_fixtures.py), but the file holds them all.
    names = [name for name, _ in opt.get_state_arrays()]
    assert len(names) == len(meta["optimizer_variable_paths"]), names
    assert_all_equal(state_values(opt), case.opt, f"{case.name}{ext} optimizer state")
    assert iterations(opt) == int(case.opt[0]) > 0


@pytest.mark.parametrize("ext", FORMATS)
@pytest.mark.parametrize("name", KERAS3_CASES)
def test_load_model_matches_keras(name, ext):
    case = load_case(name)
    model = keras.models.load_model(fixture(name + ext))
    assert type(model).__name__ == case.meta["model_class"]
    assert model.name == case.meta["model_name"]
    assert [layer.name for layer in model.layers] == case.meta["layer_names"]
    assert [type(layer).__name__ for layer in model.layers] == case.meta["layer_classes"]
    if case.meta["output_names"] is not None:
        assert list(model.output_names) == case.meta["output_names"]
    assert [list(w.shape) for w in model.weights] == case.meta["weight_shapes"]
    assert_all_equal(model.get_weights(), case.w, f"{name}{ext} weights")
    assert_all_close(predict(model, case.x), case.y, f"{name}{ext} predictions")
    _check_compiled_state(model, case, ext)


@pytest.mark.parametrize("ext", FORMATS)
@pytest.mark.parametrize("name", COMPILED_CASES)
def test_load_model_compile_false(name, ext):
    case = load_case(name)
    model = keras.models.load_model(fixture(name + ext), compile=False)
    assert not model.compiled and model.optimizer is None
    assert_all_close(predict(model, case.x), case.y, f"{name}{ext} predictions")


# The optimizer variable names follow the variable paths, which in Keras 3 include the name of
# the enclosing Sequential or nested model ("sequential/dense/kernel",
# "adam/sequential_dense_kernel_momentum"). They are written into .h5 files (weight_names).
@pytest.mark.parametrize("name", COMPILED_CASES)
def test_variable_paths_match_keras(name):
    """The same architecture built in rskeras code names its variables and optimizer slots
    as Keras did ("sequential/dense/kernel", "adam/sequential_dense_kernel_momentum")."""
    case = load_case(name)
    keras.utils.clear_session()  # automatic names from scratch, as in the generation script
    model = BUILDERS[name](compile=True)
    model.optimizer.build(model.trainable_variables)
    assert [w.path for w in model.weights] == case.meta["weight_paths"]
    names = [n for n, _ in model.optimizer.get_state_arrays()]
    assert names == case.meta["optimizer_variable_paths"]


# ---------------------------------------------------------------------------------------------
# load_weights into models built by rskeras code


@pytest.mark.parametrize("ext", [".weights.h5", ".keras", ".h5"])
@pytest.mark.parametrize("name", COMPILED_CASES)
def test_load_weights_into_rebuilt_model(name, ext):
    """`.weights.h5` and `.keras` restore the weights and the optimizer state of a compiled
    model; a legacy `.h5` (its model_weights group) restores the weights only."""
    case = load_case(name)
    model = BUILDERS[name](compile=True)
    before = state_values(model.optimizer) if model.optimizer.built else None
    model.load_weights(fixture(name + ext))
    assert_all_equal(model.get_weights(), case.w, f"{name}{ext} weights")
    assert_all_close(predict(model, case.x), case.y, f"{name}{ext} predictions")
    if ext == ".h5":
        assert iterations(model.optimizer) == 0
        if before is not None:
            assert_all_equal(state_values(model.optimizer), before, "optimizer untouched")
    else:
        assert_all_equal(state_values(model.optimizer), case.opt, f"{name}{ext} optimizer state")


@pytest.mark.parametrize("ext", [".weights.h5", ".keras"])
def test_load_weights_into_uncompiled_model_ignores_optimizer(ext):
    case = load_case("sequential_mlp")
    model = BUILDERS["sequential_mlp"](compile=False)
    model.load_weights(fixture("sequential_mlp" + ext))
    assert model.optimizer is None and not model.compiled
    assert_all_close(predict(model, case.x), case.y, "predictions")


def test_legacy_weights_only_file():
    """sequential_mlp_legacy_weights.h5: root layer_names, one group per layer at the root."""
    path = fixture("sequential_mlp_legacy_weights.h5")
    with h5py.File(path, "r") as f:
        assert "layer_names" in f.attrs and "model_weights" not in f
    case = load_case("sequential_mlp")
    model = BUILDERS["sequential_mlp"](compile=False)
    model.load_weights(path)
    assert_all_equal(model.get_weights(), case.w, "weights")
    assert_all_close(predict(model, case.x), case.y, "predictions")
    with pytest.raises(ValueError, match="No model config"):
        keras.models.load_model(path)


# ---------------------------------------------------------------------------------------------
# by_name and skip_mismatch, on a model whose last layer has 5 units instead of 4


def _mlp(last_units=4, extra_layer=False, last_name="dense_1"):
    layers = [keras.Input((8,)), L.Dense(16, activation="relu", name="dense")]
    if extra_layer:
        layers.append(L.Dense(16, name="extra"))
    layers += [L.Dropout(0.1, name="dropout"),
               L.Dense(last_units, activation="softmax", name=last_name)]
    return keras.Sequential(layers)


LEGACY_FILES = ["sequential_mlp.h5", "sequential_mlp_legacy_weights.h5"]
ALL_WEIGHT_FILES = LEGACY_FILES + ["sequential_mlp.weights.h5", "sequential_mlp.keras"]


@pytest.mark.parametrize("filename", ALL_WEIGHT_FILES)
def test_shape_mismatch_names_layer_and_shapes(filename):
    model = _mlp(last_units=5)
    before = model.get_weights()
    with pytest.raises(ValueError) as info:
        model.load_weights(fixture(filename))
    message = str(info.value)
    assert "dense_1" in message, message
    assert "(16, 5)" in message and "(16, 4)" in message, message
    # Nothing half-loaded into the layer that did not fit.
    assert_all_equal(model.get_weights()[2:], before[2:], "dense_1 weights")


@pytest.mark.parametrize("filename,by_name", [(f, False) for f in ALL_WEIGHT_FILES]
                         + [(f, True) for f in LEGACY_FILES])  # by_name: legacy .h5 only
def test_skip_mismatch_warns_and_loads_the_others(filename, by_name):
    case = load_case("sequential_mlp")
    model = _mlp(last_units=5)
    before = model.get_weights()
    kwargs = {"by_name": True} if by_name else {}
    with pytest.warns(UserWarning, match="dense_1") as record:
        model.load_weights(fixture(filename), skip_mismatch=True, **kwargs)
    assert any("(16, 5)" in str(w.message) and "(16, 4)" in str(w.message) for w in record), [
        str(w.message) for w in record]
    weights = model.get_weights()
    assert_all_equal(weights[:2], case.w[:2], "the matching layer 'dense' is loaded")
    assert_all_equal(weights[2:], before[2:], "the mismatched layer keeps its weights")


@pytest.mark.parametrize("filename", LEGACY_FILES)
def test_by_name_matches_layer_names(filename):
    """An extra layer breaks positional loading; by_name loads the layers the file names and
    leaves the others alone."""
    case = load_case("sequential_mlp")
    model = _mlp(extra_layer=True)
    with pytest.raises(ValueError, match="(?i)layer count mismatch"):
        model.load_weights(fixture(filename))
    extra_before = model.get_layer("extra").get_weights()
    model.load_weights(fixture(filename), by_name=True)
    assert_all_equal(model.get_layer("dense").get_weights(), case.w[:2], "dense")
    assert_all_equal(model.get_layer("dense_1").get_weights(), case.w[2:], "dense_1")
    assert_all_equal(model.get_layer("extra").get_weights(), extra_before, "extra untouched")

    renamed = _mlp(last_name="renamed")
    renamed_before = renamed.get_layer("renamed").get_weights()
    renamed.load_weights(fixture(filename), by_name=True)
    assert_all_equal(renamed.get_layer("dense").get_weights(), case.w[:2], "dense")
    assert_all_equal(renamed.get_layer("renamed").get_weights(), renamed_before, "renamed")


@pytest.mark.parametrize("filename", ["sequential_mlp.weights.h5", "sequential_mlp.keras"])
def test_by_name_refused_for_keras3_files(filename):
    with pytest.raises(ValueError, match="by_name"):
        _mlp().load_weights(fixture(filename), by_name=True)


# ---------------------------------------------------------------------------------------------
# tf.keras 2 files


def _check_keras2_optimizer(model, case):
    """Keras 2 stores iteration and the slots, but no learning_rate: rskeras's state is
    [iteration, learning_rate, slots...]."""
    opt = model.optimizer
    assert type(opt).__name__ == case.meta["optimizer_class"]
    assert np.float32(opt.learning_rate) == np.float32(case.meta["optimizer_config"]["learning_rate"])
    for key in ("beta_1", "beta_2", "epsilon", "amsgrad"):
        assert getattr(opt, key) == case.meta["optimizer_config"][key], key
    state = state_values(opt)
    assert len(state) == len(case.opt) + 1
    assert iterations(opt) == int(case.opt[0]) == 8
    assert_all_equal(state[2:], case.opt[1:], f"{case.name} optimizer slots")


@pytest.mark.parametrize("name", TF_KERAS2_CASES)
def test_tf_keras2_load_model(name):
    case = load_case(name)
    model = keras.models.load_model(fixture(name + ".h5"))
    assert [layer.name for layer in model.layers] == case.meta["layer_names"]
    assert_all_equal(model.get_weights(), case.w, f"{name} weights")
    assert_all_close(predict(model, case.x), case.y, f"{name} predictions")
    assert model.compiled
    _check_keras2_optimizer(model, case)


def test_tf_keras2_weights_file():
    case = load_case("tfkeras2_mlp")
    model = keras.Sequential([keras.Input((8,)), L.Dense(16, activation="relu"),
                              L.Dense(4, activation="softmax")])
    model.load_weights(fixture("tfkeras2_mlp_weights.h5"))
    assert_all_equal(model.get_weights(), case.w, "weights")
    assert_all_close(predict(model, case.x), case.y, "predictions")


def test_tf_keras2_full_file_load_weights():
    """load_weights on a full-model .h5 reads its model_weights group."""
    case = load_case("tfkeras2_functional")
    a, b = keras.Input((5,), name="a"), keras.Input((3,), name="b")
    c = L.Concatenate()([L.Dense(6, activation="relu")(a), L.Dense(4, activation="relu")(b)])
    model = keras.Model([a, b], L.Dense(3, activation="softmax", name="out")(c))
    model.load_weights(fixture("tfkeras2_functional.h5"))
    assert_all_close(predict(model, case.x), case.y, "predictions")


# ---------------------------------------------------------------------------------------------
# Attributes: split over name0, name1, ... and bytes instead of str


def _split_attribute(obj, name, parts):
    values = list(obj.attrs[name])
    del obj.attrs[name]
    size = -(-len(values) // parts)
    for i in range(parts):
        chunk = values[i * size:(i + 1) * size]
        obj.attrs[f"{name}{i}"] = np.array([v if isinstance(v, bytes) else v.encode()
                                            for v in chunk])


def _as_fixed_bytes(obj):
    """Every str attribute of `obj` (and its subgroups) rewritten as fixed-length bytes."""
    def convert(item):
        for key in list(item.attrs):
            value = item.attrs[key]
            if isinstance(value, str):
                item.attrs[key] = np.bytes_(value.encode())
            elif isinstance(value, np.ndarray) and value.dtype.kind == "O":
                item.attrs[key] = np.array([v.encode() if isinstance(v, str) else v
                                            for v in value], dtype=f"S{max(len(v) for v in value) or 1}")
    convert(obj)
    obj.visititems(lambda _, item: convert(item))


@pytest.mark.parametrize("name", ["tfkeras2_mlp", "sequential_mlp"])
def test_split_attributes(tmp_path, name):
    """Keras splits attributes over 64 KiB into layer_names0, layer_names1, ...; the reader
    joins them (layer_names, weight_names of a layer and of the optimizer)."""
    case = load_case(name)
    path = tmp_path / "split.h5"
    shutil.copy(fixture(name + ".h5"), path)
    with h5py.File(path, "r+") as f:
        group = f["model_weights"]
        _split_attribute(group, "layer_names", 2)
        first = group[case.meta["layer_names"][0]]
        _split_attribute(first, "weight_names", 2)
        _split_attribute(f["optimizer_weights"], "weight_names", 3)
        assert "layer_names" not in group.attrs and "layer_names1" in group.attrs
    model = keras.models.load_model(path)
    assert_all_equal(model.get_weights(), case.w, "weights")
    assert_all_close(predict(model, case.x), case.y, "predictions")
    state = state_values(model.optimizer)
    assert_all_equal(state[2:], case.opt[-(len(state) - 2):], "optimizer slots")

    fresh = keras.models.clone_model(model)
    fresh.load_weights(path)
    assert_all_equal(fresh.get_weights(), case.w, "load_weights")


def test_split_attributes_weights_only(tmp_path):
    case = load_case("tfkeras2_mlp")
    path = tmp_path / "split_weights.h5"
    shutil.copy(fixture("tfkeras2_mlp_weights.h5"), path)
    with h5py.File(path, "r+") as f:
        _split_attribute(f, "layer_names", 2)
    model = keras.Sequential([keras.Input((8,)), L.Dense(16, activation="relu"),
                              L.Dense(4, activation="softmax")])
    model.load_weights(path)
    assert_all_equal(model.get_weights(), case.w, "weights")


@pytest.mark.parametrize("name", ["tfkeras2_mlp", "tfkeras2_functional", "sequential_mlp",
                                  "functional_two_in_two_out"])
def test_bytes_attributes(tmp_path, name):
    """Attributes as fixed-length bytes (older h5py and Keras 2 wrote them so) read the same
    as str ones."""
    case = load_case(name)
    path = tmp_path / "bytes.h5"
    shutil.copy(fixture(name + ".h5"), path)
    with h5py.File(path, "r+") as f:
        _as_fixed_bytes(f)
        assert isinstance(f.attrs["model_config"], (bytes, np.bytes_))
        assert f["model_weights"].attrs["layer_names"].dtype.kind == "S"
    model = keras.models.load_model(path)
    assert model.compiled
    assert_all_equal(model.get_weights(), case.w, "weights")
    assert_all_close(predict(model, case.x), case.y, "predictions")
    assert iterations(model.optimizer) == int(case.opt[0])


# ---------------------------------------------------------------------------------------------
# Custom objects


def _fresh_scaled_dense_class():
    """A second, unregistered class with ScaledDense's name and behaviour."""
    class ScaledDense(keras.layers.Layer):  # noqa: F811 - same name on purpose
        def __init__(self, units, scale=2.0, **kwargs):
            super().__init__(**kwargs)
            self.units, self.scale = units, scale

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units),
                                          initializer="glorot_uniform", name="kernel")
            self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

        def call(self, x):
            return self.scale * (ops.matmul(x, self.kernel) + self.bias)

        def get_config(self):
            return {**super().get_config(), "units": self.units, "scale": self.scale}

    return ScaledDense


def _check_custom(model, cls, ext):
    case = load_case("custom_layer")
    assert type(model.layers[0]) is cls
    assert model.layers[0].scale == 0.5 and model.layers[0].units == 3
    assert_all_equal(model.get_weights(), case.w, f"custom_layer{ext} weights")
    assert_all_close(predict(model, case.x), case.y, f"custom_layer{ext} predictions")


@pytest.mark.parametrize("ext", FORMATS)
def test_custom_layer_from_registry(ext):
    model = keras.models.load_model(fixture("custom_layer" + ext))
    _check_custom(model, ScaledDense, ext)


# Keras finds a custom class by its registered name ("package>Name"); rskeras also takes the
# bare class name for a .keras file (whose record has both). In a legacy .h5 the class_name
# itself is "fixtures>ScaledDense", and Keras 3.15.1 only accepts that key.
@pytest.mark.parametrize("ext,key", [(".keras", "fixtures>ScaledDense"), (".h5", "fixtures>ScaledDense"),
                                     (".keras", "ScaledDense")])
def test_custom_layer_from_custom_objects(ext, key):
    other = _fresh_scaled_dense_class()
    with isolated_registry() as registry:
        del registry["fixtures>ScaledDense"]
        model = keras.models.load_model(fixture("custom_layer" + ext), custom_objects={key: other})
    _check_custom(model, other, ext)


@pytest.mark.parametrize("ext", FORMATS)
def test_custom_layer_from_custom_object_scope(ext):
    other = _fresh_scaled_dense_class()
    with isolated_registry() as registry:
        del registry["fixtures>ScaledDense"]
        with keras.saving.custom_object_scope({"fixtures>ScaledDense": other}):
            model = keras.models.load_model(fixture("custom_layer" + ext))
        with pytest.raises(ValueError, match="ScaledDense"):  # the scope has ended
            keras.models.load_model(fixture("custom_layer" + ext))
    _check_custom(model, other, ext)


@pytest.mark.parametrize("ext", FORMATS)
def test_custom_layer_unknown_is_a_value_error(ext):
    with isolated_registry() as registry:
        del registry["fixtures>ScaledDense"]
        with pytest.raises(ValueError, match="ScaledDense"):
            keras.models.load_model(fixture("custom_layer" + ext))


def test_custom_layer_fixture_source_runs_unchanged():
    """The Keras source of the fixture's class, run with `keras` = rskeras, loads the file."""
    case = load_case("custom_layer")
    with isolated_registry():
        namespace = {"keras": keras}
        exec(case.meta["custom_class_source"], namespace)  # noqa: S102 - the fixture's source
        cls = namespace["ScaledDense"]
        assert keras.saving.get_registered_name(cls) == case.meta["custom_registered_name"]
        model = keras.models.load_model(fixture("custom_layer.keras"))
    _check_custom(model, cls, ".keras")


# ---------------------------------------------------------------------------------------------
# to_json / model_from_json


@pytest.mark.parametrize("name", KERAS3_CASES)
def test_to_json_round_trip(name):
    case = load_case(name)
    model = keras.models.load_model(fixture(name + ".keras"))
    text = model.to_json()
    record = json.loads(text)
    with zipfile.ZipFile(fixture(name + ".keras")) as archive:
        keras_record = json.loads(archive.read("config.json"))
    assert record["class_name"] == keras_record["class_name"]
    assert [entry["class_name"] for entry in record["config"]["layers"]] == [
        entry["class_name"] for entry in keras_record["config"]["layers"]]
    clone = keras.models.model_from_json(text)
    assert type(clone) is type(model)
    assert json_normalized(clone.get_config()) == json_normalized(model.get_config())
    assert not clone.compiled
    clone.set_weights(case.w)
    assert_all_close(predict(clone, case.x), case.y, f"{name} model_from_json predictions")


# ---------------------------------------------------------------------------------------------
# Training after loading


def _load_fixture(name, ext):
    """The fixture model `name + ext`: load_model, or (.weights.h5) load_weights into the
    architecture built in rskeras and compiled."""
    if ext == ".weights.h5":
        model = BUILDERS[name](compile=True)
        model.load_weights(fixture(name + ext))
        return model
    return keras.models.load_model(fixture(name + ext))


@pytest.mark.parametrize("ext", [".keras", ".h5", ".weights.h5"])
@pytest.mark.parametrize("name", COMPILED_CASES)
def test_fit_continues_after_loading(name, ext):
    case = load_case(name)
    model = _load_fixture(name, ext)
    saved_iterations = iterations(model.optimizer)
    assert saved_iterations == int(case.opt[0]) == 8
    x, y = fit_data(name, n=len(case.x[0]), seed=7)
    history = model.fit(x, y, epochs=1, batch_size=len(case.x[0]), verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert iterations(model.optimizer) == saved_iterations + 1
    changed = [not np.array_equal(a, b) for a, b in zip(model.get_weights(), case.w)]
    assert any(changed), "fit changed no weight"


def _hand_set(name, case):
    """The fixture's architecture built in rskeras, its weights and optimizer state set by
    hand (set_weights, optimizer.build, set_state_arrays)."""
    model = BUILDERS[name](compile=True)
    model.set_weights(case.w)
    model.optimizer.build(model.trainable_variables)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert model.optimizer.set_state_arrays(case.opt)
    return model


# No Dropout in these, so a training step is deterministic.
@pytest.mark.parametrize("ext", [".keras", ".h5", ".weights.h5"])
@pytest.mark.parametrize("name", ["cnn_batchnorm", "nested", "custom_layer",
                                  "functional_two_in_two_out"])
def test_step_after_loading_equals_step_from_hand_set_state(name, ext):
    case = load_case(name)
    loaded = _load_fixture(name, ext)
    by_hand = _hand_set(name, case)
    x, y = fit_data(name, n=8, seed=3)
    for model in (loaded, by_hand):
        model.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    assert iterations(loaded.optimizer) == iterations(by_hand.optimizer) == int(case.opt[0]) + 4
    assert_all_close(loaded.get_weights(), by_hand.get_weights(), "weights after 4 steps",
                     rtol=1e-6, atol=1e-7)
    assert_all_close(state_values(loaded.optimizer), state_values(by_hand.optimizer),
                     "optimizer state after 4 steps", rtol=1e-6, atol=1e-7)

"""Models saved by rskeras load back in rskeras unchanged: every exported layer class in every
format (`.keras`, legacy `.h5`, `.weights.h5`), Sequential, Functional and subclassed models,
and compiled models whose training resumes where it stopped."""

from __future__ import annotations

import inspect
import json
import warnings
import zipfile
from types import SimpleNamespace

import h5py
import numpy as np
import pytest
import rskeras as keras
from tests._layer_cases import CASES as KERAS_LAYER_CASES

from ._common import Blocks, assert_all_close, assert_all_equal, iterations, json_normalized, \
    predict, state_values

L = keras.layers
FORMATS = [".keras", ".h5", ".weights.h5"]


# ---------------------------------------------------------------------------------------------
# One case per exported layer class


def _double(x):
    return x * 2.0


def _adapted_normalization():
    layer = L.Normalization(axis=-1)
    layer.adapt(np.random.default_rng(3).uniform(-2, 5, size=(50, 4)).astype("float32"))
    return layer


def _case(factory, shapes, dtype="float32", custom_objects=None, batch=3):
    """`shapes`: one input shape (batch axis excluded), or a list of them for a layer taking
    several inputs."""
    multi = isinstance(shapes, list)
    return SimpleNamespace(factory=factory, shapes=list(shapes) if multi else [shapes],
                           multi=multi, dtype=dtype, custom_objects=custom_objects, batch=batch)


def _from_layer_cases():
    """The first case of each class in tests/_layer_cases.py (constructor arguments and input
    shapes used with the real Keras's numbers)."""
    out = {}
    for class_name, kwargs, shape in KERAS_LAYER_CASES.values():
        if class_name in out:
            continue
        if isinstance(shape, list):
            shapes, batch = [tuple(s[1:]) for s in shape], shape[0][0]
        else:
            shapes, batch = tuple(shape[1:]), shape[0]

        def factory(class_name=class_name, kwargs=kwargs):
            return getattr(L, class_name)(**kwargs)

        out[class_name] = _case(factory, shapes, batch=batch)
    return out


LAYER_CASES = _from_layer_cases()
LAYER_CASES.update({
    "Activation": _case(lambda: L.Activation("tanh"), (4,)),
    "ActivityRegularization": _case(lambda: L.ActivityRegularization(0.01, 0.02), (4,)),
    "Add": _case(L.Add, [(4,), (4,), (4,)]),
    "Average": _case(L.Average, [(4,), (4,)]),
    "Concatenate": _case(lambda: L.Concatenate(axis=1), [(4,), (2,)]),
    "Cropping1D": _case(lambda: L.Cropping1D((1, 2)), (6, 3)),
    "Cropping2D": _case(lambda: L.Cropping2D(((1, 0), (2, 1))), (5, 6, 2)),
    "Dropout": _case(lambda: L.Dropout(0.5, seed=1), (4,)),
    "Embedding": _case(lambda: L.Embedding(10, 4), (3,), dtype="int32"),
    "Flatten": _case(L.Flatten, (3, 4)),
    "GaussianDropout": _case(lambda: L.GaussianDropout(0.4, seed=1), (4,)),
    "GaussianNoise": _case(lambda: L.GaussianNoise(0.5, seed=1), (4,)),
    "Identity": _case(L.Identity, (4,)),
    "Lambda": _case(lambda: L.Lambda(_double), (4,), custom_objects={"_double": _double}),
    "LeakyReLU": _case(lambda: L.LeakyReLU(0.2), (4,)),
    "Masking": _case(lambda: L.Masking(0.0), (3, 4)),
    "Maximum": _case(L.Maximum, [(4,), (4,)]),
    "Minimum": _case(L.Minimum, [(4,), (4,)]),
    "Multiply": _case(L.Multiply, [(4,), (4,)]),
    "Normalization": _case(_adapted_normalization, (4,)),
    "Permute": _case(lambda: L.Permute((2, 1)), (3, 4)),
    "ReLU": _case(lambda: L.ReLU(max_value=1.5, negative_slope=0.1, threshold=0.5), (4,)),
    "RepeatVector": _case(lambda: L.RepeatVector(3), (4,)),
    "Rescaling": _case(lambda: L.Rescaling(1 / 255.0, offset=-0.5), (4,)),
    "Reshape": _case(lambda: L.Reshape((2, -1)), (3, 4)),
    "SpatialDropout1D": _case(lambda: L.SpatialDropout1D(0.5, seed=1), (3, 4)),
    "SpatialDropout2D": _case(lambda: L.SpatialDropout2D(0.5, seed=1), (3, 3, 4)),
    "Subtract": _case(L.Subtract, [(4,), (4,)]),
    "UpSampling1D": _case(lambda: L.UpSampling1D(3), (3, 4)),
    "UpSampling2D": _case(lambda: L.UpSampling2D((2, 3)), (2, 3, 2)),
    "ZeroPadding1D": _case(lambda: L.ZeroPadding1D((1, 2)), (3, 4)),
    "ZeroPadding2D": _case(lambda: L.ZeroPadding2D(((1, 0), (2, 3))), (2, 3, 2)),
})

# Exported layer classes with no case of their own, and why.
NO_CASE = {
    "Layer": "the abstract base class (custom layers: test_keras_files.py's ScaledDense and the "
             "subclassed model below)",
    "InputLayer": "part of every Functional and Sequential model below (created by keras.Input)",
    "Merge": "the abstract base of the merge layers (Add, Concatenate, ...), which have cases",
}


def exported_layer_classes() -> set:
    names = set(getattr(L, "__all__", [])) | {n for n in dir(L) if not n.startswith("_")}
    return {n for n in names
            if inspect.isclass(getattr(L, n, None)) and issubclass(getattr(L, n), keras.layers.Layer)}


def test_every_exported_layer_has_a_round_trip_case():
    exported = exported_layer_classes()
    missing = exported - set(LAYER_CASES) - set(NO_CASE)
    assert not missing, f"layer classes without a round-trip case (add one to LAYER_CASES): {sorted(missing)}"
    assert set(NO_CASE) <= exported, f"stale NO_CASE entries: {sorted(set(NO_CASE) - exported)}"
    assert set(LAYER_CASES) <= exported, f"cases for unknown classes: {sorted(set(LAYER_CASES) - exported)}"


def _randomize(model, seed=0):
    """Non-trivial weights: trainable ones and BatchNormalization's moving statistics (an
    adapted Normalization keeps its statistics)."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        name = w.path.split("/")[-1]
        if not w.trainable and name not in ("moving_mean", "moving_variance"):
            continue
        low, high = (0.5, 1.5) if "variance" in name else (-1.0, 1.0)
        w.assign(rng.uniform(low, high, size=tuple(w.shape)).astype(np.dtype(str(w.dtype))))


def _inputs(case, seed=1):
    rng = np.random.default_rng(seed)
    if case.dtype.startswith("int"):
        return [rng.integers(0, 10, size=(case.batch, *s)).astype(case.dtype) for s in case.shapes]
    return [rng.normal(size=(case.batch, *s)).astype(case.dtype) for s in case.shapes]


def _layer_model(case, container):
    layer = case.factory()
    if container == "sequential":
        model = keras.Sequential([keras.Input(case.shapes[0], dtype=case.dtype), layer])
    else:
        inputs = [keras.Input(s, dtype=case.dtype) for s in case.shapes]
        inputs = inputs if case.multi else inputs[0]
        model = keras.Model(inputs, layer(inputs))
    _randomize(model)
    return model, layer


def _save_and_reload(model, path, fmt, custom_objects=None):
    """Save in `fmt`; reload with load_model, or (.weights.h5) into a model made from the
    config."""
    if fmt == ".weights.h5":
        model.save_weights(path)
        clone = keras.saving.deserialize_keras_object(
            keras.saving.serialize_keras_object(model), custom_objects=custom_objects)
        clone.load_weights(path)
        return clone
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the "legacy HDF5" notice
        model.save(path)
    return keras.models.load_model(path, custom_objects=custom_objects)


def _comparable_config(model, fmt):
    """The model config after JSON; for a legacy .h5, whose layer entries carry no
    build_config (as Keras writes them), without the layers' build_config."""
    config = json_normalized(model.get_config())
    if fmt == ".h5":
        for entry in config.get("layers", []):
            entry.pop("build_config", None)
    return config


LAYER_PARAMS = [pytest.param(name, fmt, container, id=f"{name}-{container}{fmt}")
                for name in sorted(LAYER_CASES) for fmt in FORMATS
                for container in (["functional"] if LAYER_CASES[name].multi
                                  else ["functional", "sequential"])]


@pytest.mark.parametrize("name,fmt,container", LAYER_PARAMS)
def test_layer_round_trip(tmp_path, name, fmt, container):
    case = LAYER_CASES[name]
    model, layer = _layer_model(case, container)
    xs = _inputs(case)
    want = predict(model, xs)
    loaded = _save_and_reload(model, tmp_path / f"model{fmt}", fmt, case.custom_objects)
    assert loaded is not model
    assert_all_equal(predict(loaded, xs), want, f"{name} predictions")
    assert_all_equal(loaded.get_weights(), model.get_weights(), f"{name} weights")
    twin = loaded.get_layer(layer.name)
    assert type(twin) is type(layer)
    assert json_normalized(twin.get_config()) == json_normalized(layer.get_config())
    assert _comparable_config(loaded, fmt) == _comparable_config(model, fmt)


@pytest.mark.parametrize("where", ["inputs", "outputs"])
def test_functional_one_element_lists_keep_their_structure(tmp_path, where):
    inp = keras.Input((4,))
    out = L.Dense(2)(inp)
    model = keras.Model([inp], out) if where == "inputs" else keras.Model(inp, [out])
    key = "input_layers" if where == "inputs" else "output_layers"
    assert isinstance(model.get_config()[key][0], list)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.get_config()[key] == json_normalized(model.get_config()[key])


# ---------------------------------------------------------------------------------------------
# Lambda


@pytest.mark.parametrize("fmt", [".keras", ".h5"])
def test_lambda_python_lambda_needs_unsafe_mode(tmp_path, fmt):
    inp = keras.Input((4,))
    model = keras.Model(inp, L.Lambda(lambda t: t * 3.0 + 1.0)(inp))
    x = np.random.default_rng(0).normal(size=(2, 4)).astype("float32")
    path = tmp_path / f"lambda{fmt}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.save(path)
    with pytest.raises(ValueError, match="(?i)lambda"):
        keras.models.load_model(path)
    loaded = keras.models.load_model(path, safe_mode=False)
    assert_all_equal(predict(loaded, [x]), predict(model, [x]), "predictions")


def test_lambda_function_from_custom_object_scope(tmp_path):
    inp = keras.Input((4,))
    model = keras.Model(inp, L.Lambda(_double)(inp))
    model.save(tmp_path / "lambda.keras")
    with keras.saving.custom_object_scope({"_double": _double}):
        loaded = keras.models.load_model(tmp_path / "lambda.keras")
    x = np.ones((2, 4), "float32")
    assert_all_equal(predict(loaded, [x]), [2 * x], "predictions")


@keras.saving.register_keras_serializable(package="round_trip")
def registered_triple(x):
    return x * 3.0


@pytest.mark.parametrize("fmt", [".keras", ".h5"])
def test_lambda_registered_function_loads_in_safe_mode(tmp_path, fmt):
    inp = keras.Input((4,))
    model = keras.Model(inp, L.Lambda(registered_triple)(inp))
    fn_record = model.get_config()["layers"][1]["config"]["function"]
    path = tmp_path / f"lambda{fmt}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.save(path)
    loaded = keras.models.load_model(path)
    x = np.ones((2, 4), "float32")
    assert_all_equal(predict(loaded, [x]), [3 * x], "predictions")
    assert fn_record["config"] == "round_trip>registered_triple", fn_record


# ---------------------------------------------------------------------------------------------
# Models


def _check_round_trip(model, xs, tmp_path, fmt, custom_objects=None, same_paths=True):
    """Save and reload; the same predictions, weights, config (and variable names; the paths
    themselves lose the enclosing model's name scope on loading, in Keras 3.15.1 too:
    "sequential/dense/kernel" comes back as "dense/kernel"; a subclassed model's layers get
    new automatic names when it is re-made)."""
    want = predict(model, xs)
    loaded = _save_and_reload(model, tmp_path / f"model{fmt}", fmt, custom_objects)
    assert type(loaded) is type(model)
    assert_all_equal(predict(loaded, xs), want, "predictions")
    assert_all_equal(loaded.get_weights(), model.get_weights(), "weights")
    if same_paths:
        assert [w.path.split("/")[-2:] for w in loaded.weights] == \
            [w.path.split("/")[-2:] for w in model.weights]
    assert _comparable_config(loaded, fmt) == _comparable_config(model, fmt)
    return loaded


def _normal(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


@pytest.mark.parametrize("fmt", FORMATS)
def test_sequential_model(tmp_path, fmt):
    model = keras.Sequential([
        keras.Input((6, 6, 2)),
        L.Conv2D(3, 3, padding="same", name="conv"),
        L.BatchNormalization(),
        L.ReLU(),
        L.MaxPooling2D(),
        L.Flatten(),
        L.Dropout(0.3),
        L.Dense(5, activation="softmax"),
    ], name="seq")
    _randomize(model)
    _check_round_trip(model, [_normal(4, 6, 6, 2)], tmp_path, fmt)


@pytest.mark.parametrize("built_by", ["call", "fit", "build"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_sequential_without_input(tmp_path, fmt, built_by):
    """A Sequential without keras.Input, built by its first call, fit, or build()."""
    model = keras.Sequential([L.Dense(4, activation="relu"), L.Dense(2)])
    x = _normal(3, 5)
    if built_by == "call":
        model(x)
    elif built_by == "fit":
        model.compile("sgd", "mse")
        model.fit(x, _normal(3, 2), verbose=0)
    else:
        model.build((None, 5))
    _check_round_trip(model, [x], tmp_path, fmt)


def _two_in_two_out():
    """Two inputs, two outputs, a layer shared by both branches, a nested Sequential and a
    nested Functional."""
    a, b = keras.Input((5,), name="a"), keras.Input((5,), name="b")
    shared = L.Dense(4, activation="tanh", name="shared")
    ha, hb = shared(a), shared(b)
    inner_in = keras.Input((4,))
    inner_functional = keras.Model(inner_in, L.Dense(4, name="inner_dense")(inner_in),
                                   name="inner_functional")
    inner_sequential = keras.Sequential([keras.Input((8,)), L.Dense(3), L.LayerNormalization()],
                                        name="inner_sequential")
    merged = L.Concatenate()([inner_functional(ha), hb])
    out_1 = inner_sequential(merged)
    out_2 = L.Dense(2, name="out_2")(L.Add()([ha, hb]))
    model = keras.Model([a, b], [out_1, out_2], name="two_in_two_out")
    _randomize(model)
    return model


@pytest.mark.parametrize("fmt", FORMATS)
def test_functional_two_inputs_two_outputs_shared_and_nested(tmp_path, fmt):
    model = _two_in_two_out()
    assert [layer.name for layer in model.layers].count("shared") == 1
    loaded = _check_round_trip(model, [_normal(3, 5, seed=1), _normal(3, 5, seed=2)], tmp_path, fmt)
    assert loaded.output_names == model.output_names
    assert [t.name for t in loaded.inputs] == ["a", "b"]


def _operator_model():
    a, b = keras.Input((5,), name="a"), keras.Input((5,), name="b")
    dense = L.Dense(4, name="shared")
    ha, hb = dense(a), dense(b)
    s = ha + hb
    d = ha * 2.0 - hb
    model = keras.Model([a, b], [L.Dense(3, name="o1")(s), L.Dense(2, name="o2")(d)])
    _randomize(model)
    return model


@pytest.mark.parametrize("fmt", [
    # rskeras's .h5 keeps the operator nodes' module (Keras 3.15.1's own .h5 writer drops it
    # and then cannot read such a model back).
    ".keras", ".weights.h5", ".h5",
])
def test_functional_operator_nodes(tmp_path, fmt):
    _check_round_trip(_operator_model(), [_normal(3, 5, seed=1), _normal(3, 5, seed=2)],
                      tmp_path, fmt)


# The .weights.h5 layout of Blocks, as Keras 3.15.1 writes it (checked with the real Keras):
# group -> (the attribute path to the layer, its variable shapes).
BLOCKS_LAYOUT = {
    "encoder": ("encoder", [(5, 4), (4,)]),
    "blocks/dense": ("blocks.0", [(4, 4), (4,)]),
    "blocks/layer_normalization": ("blocks.1", [(4,), (4,)]),
    "heads/dense": ("heads.a", [(4, 2), (2,)]),
    "heads/dense_1": ("heads.b", [(4, 3), (3,)]),
    "layers/dense_4": ("proj", [(2, 1), (1,)]),
}


def _attribute(model, dotted):
    obj = model
    for part in dotted.split("."):
        obj = obj[int(part)] if isinstance(obj, list) else (
            obj[part] if isinstance(obj, dict) else getattr(obj, part))
    return obj


def _vars_groups(h5) -> dict:
    """{object path: its `vars` group} of a Keras 3 weights file ("" for the root object)."""
    groups = {}

    def visit(name, item):
        if isinstance(item, h5py.Group) and (name == "vars" or name.endswith("/vars")):
            groups[name[:-len("vars")].rstrip("/")] = item

    h5.visititems(visit)
    return groups


def _check_blocks_layout(model, h5):
    groups = _vars_groups(h5)
    expected = dict(BLOCKS_LAYOUT, **{"": None})
    if model.compiled:
        expected["optimizer"] = None
    assert sorted(groups) == sorted(expected), sorted(groups)
    assert groups[""].attrs["name"] == model.name and len(groups[""]) == 0
    for path, (attribute, shapes) in BLOCKS_LAYOUT.items():
        layer = _attribute(model, attribute)
        vars_group = groups[path]
        assert vars_group.attrs["name"] == layer.name, path
        assert [vars_group[str(i)].shape for i in range(len(vars_group))] == shapes, path
        assert_all_equal([vars_group[str(i)][()] for i in range(len(vars_group))],
                         layer.get_weights(), path)


@pytest.mark.parametrize("compiled", [False, True])
def test_subclassed_model_weights_layout(tmp_path, compiled):
    model = Blocks()
    model.build((None, 5))
    _randomize(model)
    if compiled:
        model.compile("adam", "mse")
        model.fit(_normal(4, 5), _normal(4, 1), verbose=0)
    path = tmp_path / "blocks.weights.h5"
    model.save_weights(path)
    with h5py.File(path, "r") as f:
        _check_blocks_layout(model, f)
    model.save(tmp_path / "blocks.keras")
    with zipfile.ZipFile(tmp_path / "blocks.keras") as archive:
        (tmp_path / "inner.weights.h5").write_bytes(archive.read("model.weights.h5"))
    with h5py.File(tmp_path / "inner.weights.h5", "r") as f:
        _check_blocks_layout(model, f)


@pytest.mark.parametrize("fmt", [".keras", ".weights.h5"])
def test_subclassed_model(tmp_path, fmt):
    model = Blocks(units=4)
    model.build((None, 5))
    _randomize(model)
    loaded = _check_round_trip(model, [_normal(3, 5)], tmp_path, fmt, same_paths=False)
    assert isinstance(loaded, Blocks) and loaded.units == 4


def test_subclassed_model_built_by_calling_it_weights(tmp_path):
    model = Blocks(units=4)
    x = _normal(3, 5)
    model(x)
    _randomize(model)
    model.save_weights(tmp_path / "blocks.weights.h5")
    clone = Blocks(units=4)
    clone(x)
    clone.load_weights(tmp_path / "blocks.weights.h5")
    assert_all_equal(predict(clone, [x]), predict(model, [x]), "predictions")


@pytest.mark.parametrize("built_by", [
    "build",
    "call",
    "fit",
])
def test_subclassed_model_keras_file(tmp_path, built_by):
    model = Blocks(units=4)
    x = _normal(3, 5)
    if built_by == "build":
        model.build((None, 5))
    elif built_by == "call":
        model(x)
    else:
        model.compile("adam", "mse")
        model.fit(x, _normal(3, 1), verbose=0)
    model.save(tmp_path / "blocks.keras")
    loaded = keras.models.load_model(tmp_path / "blocks.keras")
    assert isinstance(loaded, Blocks)
    assert_all_equal(predict(loaded, [x]), predict(model, [x]), "predictions")
    if built_by == "fit":
        assert iterations(loaded.optimizer) == 1


def test_subclassed_model_from_custom_objects(tmp_path):
    model = Blocks()
    model.build((None, 5))
    model.save(tmp_path / "blocks.keras")
    from rskeras.saving import object_registration

    registry = object_registration.GLOBAL_CUSTOM_OBJECTS
    saved = registry.pop("saving_tests>Blocks")
    try:
        loaded = keras.models.load_model(tmp_path / "blocks.keras",
                                         custom_objects={"saving_tests>Blocks": Blocks})
        assert isinstance(loaded, Blocks)
    finally:
        registry["saving_tests>Blocks"] = saved


# ---------------------------------------------------------------------------------------------
# Compiled models: the optimizer state comes back, and training resumes where it stopped


def _optimizers():
    """Every optimizer class rskeras exports (defaults), plus variants with more slots."""
    O = keras.optimizers
    out = {}
    for name in getattr(O, "__all__", dir(O)):
        cls = getattr(O, name, None)
        if inspect.isclass(cls) and issubclass(cls, O.Optimizer) and cls is not O.Optimizer:
            out[name] = (lambda cls=cls: cls())
    out["LossScaleOptimizer"] = lambda: O.LossScaleOptimizer(O.Adam())  # needs its inner one
    out.update({
        "SGD-momentum": lambda: O.SGD(0.05, momentum=0.9, nesterov=True),
        "Adam-amsgrad": lambda: O.Adam(0.01, amsgrad=True),
        "RMSprop-centered": lambda: O.RMSprop(0.01, momentum=0.5, centered=True),
    })
    return out


OPTIMIZERS = _optimizers()


def _trainable_model(optimizer):
    model = keras.Sequential([keras.Input((6,)), L.Dense(8, activation="tanh"),
                              L.BatchNormalization(), L.Dense(2)], name="trainable")
    model.compile(optimizer=optimizer, loss="mse", metrics=["mae"])
    return model


def _data(n=32):
    x = _normal(n, 6, seed=4)
    return x, (x[:, :2] * 1.5 - x[:, 2:4]).astype("float32")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
def test_training_resumes_after_round_trip(tmp_path, opt, fmt):
    x, y = _data()
    model = _trainable_model(OPTIMIZERS[opt]())
    first = model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"]
    assert iterations(model.optimizer) == 12
    path = tmp_path / f"model{fmt}"
    if fmt == ".weights.h5":
        model.save_weights(path)
        loaded = _trainable_model(OPTIMIZERS[opt]())
        loaded.load_weights(path)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.save(path)
        loaded = keras.models.load_model(path)
    assert loaded.compiled
    assert type(loaded.optimizer) is type(model.optimizer)
    want_config = model.optimizer.get_config()
    got_config = loaded.optimizer.get_config()
    assert got_config.keys() == want_config.keys()
    for key, value in want_config.items():  # the learning rate is stored as float32
        same = np.float32(got_config[key]) == np.float32(value) if isinstance(value, float) \
            else got_config[key] == value
        assert same, (key, got_config[key], value)
    assert iterations(loaded.optimizer) == 12
    # Slot names follow the variable paths, whose model scope a loaded model does not have
    # (Keras 3.15.1 too); the values are compared in order below.
    assert_all_equal(state_values(loaded.optimizer), state_values(model.optimizer), "optimizer state")

    resumed = loaded.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history["loss"]
    continued = model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(resumed, continued, rtol=1e-6, atol=1e-7)
    assert_all_close(loaded.get_weights(), model.get_weights(), "weights", rtol=1e-6, atol=1e-7)
    assert iterations(loaded.optimizer) == iterations(model.optimizer) == 20
    assert resumed[-1] < first[0], (first, resumed)


def _fit_one_epoch_and_save(x, y, path, **save_kwargs):
    """An Adam `_trainable_model` fitted one epoch on (x, y) and saved to `path`: (model, path)."""
    model = _trainable_model("adam")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.save(path, **save_kwargs)
    return model, path


@pytest.mark.parametrize("fmt", [".keras", ".h5"])
def test_include_optimizer_false(tmp_path, fmt):
    x, y = _data()
    model, path = _fit_one_epoch_and_save(x, y, tmp_path / f"model{fmt}", include_optimizer=False)
    if fmt == ".h5":
        with h5py.File(path, "r") as f:
            assert "optimizer_weights" not in f and "training_config" not in f.attrs
    else:
        with zipfile.ZipFile(path) as archive:
            (tmp_path / "inner.weights.h5").write_bytes(archive.read("model.weights.h5"))
        with h5py.File(tmp_path / "inner.weights.h5", "r") as f:
            assert "optimizer" not in f
    loaded = keras.models.load_model(path)
    assert not loaded.compiled
    assert_all_equal(predict(loaded, [x]), predict(model, [x]), "predictions")
    loaded.compile("adam", "mse")
    loaded.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert iterations(loaded.optimizer) == 4


@pytest.mark.parametrize("fmt", [".keras", ".h5"])
def test_compile_false(tmp_path, fmt):
    x, y = _data()
    model, path = _fit_one_epoch_and_save(x, y, tmp_path / f"model{fmt}")
    loaded = keras.models.load_model(path, compile=False)
    assert not loaded.compiled and loaded.optimizer is None
    assert_all_equal(predict(loaded, [x]), predict(model, [x]), "predictions")
    assert_all_equal(loaded.get_weights(), model.get_weights(), "weights")


def test_keras_zip_members(tmp_path):
    """metadata.json, config.json and model.weights.h5, stored uncompressed, in that order."""
    model = _trainable_model("adam")
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos] == ["metadata.json", "config.json", "model.weights.h5"]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in infos)
        metadata = json.loads(archive.read("metadata.json"))
        config = json.loads(archive.read("config.json"))
    assert set(metadata) >= {"keras_version", "date_saved"}
    assert config["class_name"] == "Sequential" and config["module"] == "keras"
    assert config["compile_config"]["loss"] == "mse"


def test_save_argument_errors(tmp_path):
    model = _trainable_model("adam")
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        model.save_weights(tmp_path / "w.h5")
    with pytest.raises(ValueError):
        model.save(tmp_path / "m.txt")
    model.save(tmp_path / "m.keras")
    with pytest.raises(FileExistsError):
        model.save(tmp_path / "m.keras", overwrite=False)


def test_saving_module_functions(tmp_path):
    """keras.saving.save_model / load_model / save_weights / load_weights, with str and
    pathlib paths, and serialize / deserialize_keras_object."""
    x, y = _data()
    model = _trainable_model("adam")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    keras.saving.save_model(model, tmp_path / "m.keras")
    loaded = keras.saving.load_model(str(tmp_path / "m.keras"))
    assert_all_equal(predict(loaded, [x]), predict(model, [x]), "load_model")
    assert_all_equal(state_values(loaded.optimizer), state_values(model.optimizer), "optimizer")

    keras.saving.save_weights(model, str(tmp_path / "m.weights.h5"))
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model))
    assert clone.compiled and clone.built
    keras.saving.load_weights(clone, tmp_path / "m.weights.h5")
    assert_all_equal(predict(clone, [x]), predict(model, [x]), "load_weights")
    assert iterations(clone.optimizer) == iterations(model.optimizer) == 4

"""Every Keras 3 loss against the numbers real Keras 3.15 (JAX backend) gives
(tests/fixtures/keras_losses.npz, written by tests/fixtures/make_loss_fixtures.py from the
cases in tests/fixtures/_loss_cases.py): each reduction, sample weights, the function form;
then names, configs, serialization, saving, training by name and errors.

Tolerance: rtol 1e-6 (atol 1e-6 for values near 0) everywhere; the Circle loss, a sum of
exponentials of terms scaled by gamma = 80 that Keras's float32 matmul and ours round
differently, at rtol 1e-5."""

from __future__ import annotations

import json
import math
import os
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import rskeras as keras
from rskeras import losses as L

from tests.fixtures._loss_cases import (
    CASES, INPUTS, REDUCTIONS, WEIGHTED, sample_weight_for,
)

FIXTURE = np.load(os.path.join(os.path.dirname(__file__), "..", "fixtures", "keras_losses.npz"))
JSON = json.loads(str(FIXTURE["json"]))
NAMES = [str(n) for n in FIXTURE["names"]]
NOISY = {"circle", "circle_opts"}  # rtol 1e-5 (module docstring)
# Config keys rskeras adds to Keras 3.15's, so that these arguments survive saving (Keras's
# constructors accept them, so the files still load there).
EXTRA_CONFIG = {"CosineSimilarity": {"axis"}, "Huber": {"delta"},
                "SparseCategoricalCrossentropy": {"axis"}}


def _compute(key, variant):
    cls_name, fn_name, kwargs, yt, yp, _ = CASES[key]
    cls, fn = getattr(L, cls_name), getattr(L, fn_name)
    y_true, y_pred = INPUTS[yt], INPUTS[yp]
    if variant == "value":
        return cls(**kwargs)(y_true, y_pred)
    if variant == "fn":
        return fn(y_true, y_pred, **kwargs)
    if variant in REDUCTIONS:
        return cls(reduction=variant, **kwargs)(y_true, y_pred)
    reduction = dict((s, r) for r, s in WEIGHTED)[variant]
    return cls(reduction=reduction, **kwargs)(y_true, y_pred, sample_weight=sample_weight_for(key))


def _keys():
    out = []
    for k in FIXTURE.files:
        case, _, variant = k.partition("/")
        if case in CASES:
            out.append((case, variant))
    return sorted(out)


@pytest.mark.parametrize("case, variant", _keys())
def test_loss_matches_keras(case, variant):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        got = np.asarray(_compute(case, variant), np.float64)
    expected = FIXTURE[f"{case}/{variant}"].astype(np.float64)
    assert got.shape == expected.shape, f"{case}/{variant}: {got.shape} != Keras {expected.shape}"
    rtol = 1e-5 if case in NOISY else 1e-6
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=1e-6, err_msg=f"{case}/{variant}")


def test_fixture_inputs_are_the_cases_inputs():
    for name, value in INPUTS.items():
        np.testing.assert_array_equal(FIXTURE[f"in/{name}"], value, err_msg=name)


def test_every_keras_class_and_function_is_exported():
    for name in NAMES:
        if name not in ("bce", "BCE"):  # names `get` knows, not module attributes (as Keras)
            assert hasattr(L, name), name
    for name in ("CategoricalGeneralizedCrossEntropy", "categorical_generalized_cross_entropy",
                 "get", "serialize", "deserialize", "Loss"):
        assert hasattr(L, name), name


@pytest.mark.parametrize("name", NAMES)
def test_every_keras_name_resolves(name):
    if name == "LossFunctionWrapper":
        with pytest.raises(TypeError):  # as in Keras: it needs a function
            L.get(name)
        return
    obj = L.get(name)
    if name[0].isupper() and name not in ("MSE", "MAE", "MAPE", "MSLE", "KLD", "BCE"):
        assert isinstance(obj, L.Loss), name
        assert type(obj).__name__ == name
    else:
        assert callable(obj) and not isinstance(obj, L.Loss), name


def test_get_deserialize_and_unknown_names():
    assert L.get(None) is None
    assert L.get("logcosh") is L.log_cosh  # a tf.keras 2 name
    assert L.get("kullback_leibler_divergence") is L.kl_divergence
    assert isinstance(L.get(L.Huber), L.Huber)
    huber = L.get({"class_name": "Huber", "config": {"delta": 2.5}})
    assert isinstance(huber, L.Huber) and huber.get_config()["delta"] == 2.5
    loss = L.Huber()
    assert L.get(loss) is loss
    assert isinstance(L.deserialize("Poisson"), L.Poisson)
    assert L.deserialize("mse") is L.mean_squared_error
    with pytest.raises(ValueError, match="not_a_loss"):
        L.get("not_a_loss")
    with pytest.raises(ValueError):
        L.deserialize("not_a_loss")
    with pytest.raises(ValueError):
        L.get(42)


def _case_class(key):
    cls_name, _, kwargs, *_ = CASES[key]
    return getattr(L, cls_name), kwargs


@pytest.mark.parametrize("case", sorted(JSON["configs"]))
def test_config_has_keras_shape(case):
    cls, kwargs = _case_class(case)
    ours = cls(**kwargs).get_config()
    theirs = JSON["configs"][case]
    extra = EXTRA_CONFIG.get(cls.__name__, set())
    assert set(ours) == set(theirs) | extra, case
    for key, value in theirs.items():
        mine = ours[key]
        assert (list(mine) if isinstance(mine, tuple) else mine) == value, (case, key)


@pytest.mark.parametrize("case", sorted(JSON["configs"]))
def test_config_round_trip_and_serialize(case):
    cls, kwargs = _case_class(case)
    y_true, y_pred = INPUTS[CASES[case][3]], INPUTS[CASES[case][4]]
    loss = cls(reduction="sum", name="my_loss", **kwargs)
    again = cls.from_config(loss.get_config())
    assert again.get_config() == loss.get_config()
    back = L.deserialize(json.loads(json.dumps(L.serialize(loss))))
    assert type(back) is cls and back.get_config() == loss.get_config()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        np.testing.assert_allclose(np.asarray(back(y_true, y_pred)),
                                   np.asarray(loss(y_true, y_pred)), rtol=1e-6)


def test_serialize_records_match_keras():
    theirs = JSON["serialized"]
    for what, loss in (("huber", L.Huber(2.0)),
                       ("scce", L.SparseCategoricalCrossentropy(from_logits=True, ignore_class=3))):
        ours = L.serialize(loss)
        assert ours["module"] == theirs[what]["module"] == "keras.losses"
        assert ours["class_name"] == theirs[what]["class_name"]
        extra = EXTRA_CONFIG[ours["class_name"]]
        assert {k: v for k, v in ours["config"].items() if k not in extra} == theirs[what]["config"]
    record = L.serialize(L.get("mse"))
    assert record["class_name"] == "function" and record["config"] == theirs["mse"]["config"]
    assert L.deserialize(record) is L.mean_squared_error
    # Keras's own record for a function (module "builtins") loads too.
    assert L.deserialize(theirs["mse"]) is L.mean_squared_error


def test_tf_keras2_configs_load():
    """tf.keras 2 wrote reduction "auto" and every function argument in its loss configs."""
    loss = L.get({"class_name": "Huber", "config": {"reduction": "auto", "name": "huber_loss",
                                                    "delta": 0.5}})
    assert loss.reduction == "sum_over_batch_size"
    np.testing.assert_allclose(np.asarray(loss(INPUTS["reg_true"], INPUTS["big_pred"])),
                               FIXTURE["huber_delta/value"], rtol=1e-6)
    scce = L.SparseCategoricalCrossentropy.from_config(
        {"reduction": "auto", "name": "sparse_categorical_crossentropy", "from_logits": True,
         "ignore_class": None})
    np.testing.assert_allclose(np.asarray(scce(INPUTS["labels"], INPUTS["logits"])),
                               FIXTURE["scce_logits/value"], rtol=1e-6)
    with pytest.raises(ValueError, match="reduction"):
        L.Huber(reduction="auto")  # the constructor stays as strict as Keras 3's


def test_loss_function_wrapper_config_round_trip():
    loss = L.LossFunctionWrapper(L.huber, delta=0.5, name="hub")
    config = loss.get_config()
    assert config["fn"]["config"] == "huber" and config["delta"] == 0.5
    again = L.LossFunctionWrapper.from_config(json.loads(json.dumps(config)))
    y, p = INPUTS["reg_true"], INPUTS["big_pred"]
    np.testing.assert_allclose(np.asarray(again(y, p)), FIXTURE["huber_delta/value"], rtol=1e-6)


def test_default_names_and_reductions():
    assert L.Huber().name == "huber_loss"
    assert L.MeanSquaredError().name == "mean_squared_error"
    assert L.CategoricalGeneralizedCrossEntropy().name == "categorical_generalized_cross_entropy"
    assert L.Huber().reduction == "sum_over_batch_size"
    assert L.Huber().dtype == "float32"

    class MyLoss(L.Loss):
        def call(self, y_true, y_pred):
            return keras.ops.mean(keras.ops.square(y_pred - y_true), axis=-1)

    assert MyLoss().name == "my_loss"
    y, p = INPUTS["reg_true"], INPUTS["reg_pred"]
    np.testing.assert_allclose(np.asarray(MyLoss()(y, p)), FIXTURE["mse/value"], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(MyLoss(reduction=None)(y, p)), FIXTURE["mse/none"],
                               rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# Options Keras's JAX backend cannot compute, checked against an equivalent


def test_sparse_categorical_axis_is_the_class_axis():
    logits = np.random.default_rng(0).standard_normal((2, 5, 3)).astype(np.float32)
    labels = np.array([[0, 4, 2], [1, 1, 3]], np.int32)
    got = L.SparseCategoricalCrossentropy(from_logits=True, axis=1, reduction="none")(labels, logits)
    moved = L.SparseCategoricalCrossentropy(from_logits=True, reduction="none")(
        labels, np.moveaxis(logits, 1, -1))
    np.testing.assert_allclose(np.asarray(got), np.asarray(moved), rtol=1e-6)


def test_ignore_class_result_carries_mask_and_skips_label_check():
    values = L.sparse_categorical_crossentropy(INPUTS["labels_ignore"], INPUTS["logits"],
                                               from_logits=True, ignore_class=-1)
    np.testing.assert_array_equal(np.asarray(values._keras_mask), [True, False, True, False])
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy: label 7"):
        L.SparseCategoricalCrossentropy(ignore_class=-1)(np.array([0, -1, 7, 1]), INPUTS["probs"])


def test_ctc_gradient_is_finite_and_matches_finite_differences():
    labels, logits = INPUTS["ctc_labels"], INPUTS["ctc_logits"].astype(np.float64)
    x = keras.Variable(logits, dtype="float64")
    with keras.GradientTape() as tape:
        loss = L.CTC(dtype="float64")(labels, x)
    grad = np.asarray(tape.gradient(loss, x))
    assert np.all(np.isfinite(grad))

    def value(z):
        return float(L.CTC(dtype="float64")(labels, z))

    eps = 1e-6
    for index in [(0, 0, 0), (1, 3, 2), (2, 6, 1)]:
        plus, minus = logits.copy(), logits.copy()
        plus[index] += eps
        minus[index] -= eps
        assert math.isclose(grad[index], (value(plus) - value(minus)) / (2 * eps),
                            rel_tol=1e-4, abs_tol=1e-7), index


@given(st.integers(0, 2**31 - 1), st.floats(-60.0, 60.0))
def test_crossentropy_from_logits_is_stable_and_consistent(seed, scale):
    rng = np.random.default_rng(seed)
    logits = (rng.standard_normal((3, 4)) * scale).astype(np.float32)
    labels = rng.integers(0, 4, 3).astype(np.int32)
    onehot = np.eye(4, dtype=np.float32)[labels]
    sparse = np.asarray(L.sparse_categorical_crossentropy(labels, logits, from_logits=True))
    dense = np.asarray(L.categorical_crossentropy(onehot, logits, from_logits=True))
    assert np.all(np.isfinite(sparse)) and np.all(sparse >= 0)
    np.testing.assert_allclose(sparse, dense, rtol=1e-5, atol=1e-5)
    bce = np.asarray(L.binary_crossentropy(onehot, logits, from_logits=True))
    assert np.all(np.isfinite(bce))


@given(st.integers(0, 2**31 - 1))
def test_reductions_agree_with_each_other(seed):
    rng = np.random.default_rng(seed)
    y, p = rng.standard_normal((5, 3)).astype(np.float32), rng.standard_normal((5, 3)).astype(np.float32)
    sw = rng.random(5).astype(np.float32)
    none = np.asarray(L.LogCosh(reduction="none")(y, p, sample_weight=sw), np.float64)
    np.testing.assert_allclose(float(L.LogCosh(reduction="sum")(y, p, sample_weight=sw)),
                               none.sum(), rtol=1e-5)
    np.testing.assert_allclose(float(L.LogCosh()(y, p, sample_weight=sw)), none.mean(), rtol=1e-5)
    np.testing.assert_allclose(float(L.LogCosh(reduction="mean_with_sample_weight")(
        y, p, sample_weight=sw)), none.sum() / sw.sum(), rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize("cls, name", [
    (L.MeanSquaredError, "mean_squared_error"), (L.Huber, "huber"), (L.LogCosh, "log_cosh"),
    (L.Poisson, "poisson"), (L.KLDivergence, "kl_divergence"), (L.Hinge, "hinge"),
    (L.BinaryCrossentropy, "binary_crossentropy"),
    (L.BinaryFocalCrossentropy, "binary_focal_crossentropy"),
    (L.CategoricalCrossentropy, "categorical_crossentropy"),
    (L.CategoricalFocalCrossentropy, "categorical_focal_crossentropy"),
    (L.CosineSimilarity, "cosine_similarity"), (L.Dice, "dice"), (L.Tversky, "tversky"),
])
def test_shape_mismatch_names_loss_and_shapes(cls, name):
    with pytest.raises(ValueError, match=rf"{name}: expected y_true .*\(6, 4\).*got y_true of shape \(6, 3\)"):
        cls()(np.zeros((6, 3), np.float32), np.full((6, 4), 0.5, np.float32))


@pytest.mark.parametrize("cls, name", [
    (L.SparseCategoricalCrossentropy, "sparse_categorical_crossentropy"),
    (L.CategoricalGeneralizedCrossEntropy, "categorical_generalized_cross_entropy"),
])
def test_sparse_shape_mismatch_names_loss_and_shapes(cls, name):
    with pytest.raises(ValueError, match=rf"{name}: expected y_true of shape \(6,\).*got y_true of shape \(5,\)"):
        cls()(np.zeros((5,), np.int32), np.full((6, 4), 0.25, np.float32))


def test_argument_errors():
    with pytest.raises(ValueError, match="reduction"):
        L.MeanSquaredError(reduction="average")
    with pytest.raises(ValueError, match="q must be"):
        L.CategoricalGeneralizedCrossEntropy(q=1.5)
    with pytest.raises(ValueError, match="axis"):
        L.categorical_crossentropy(INPUTS["onehot"], INPUTS["probs"], axis=True)
    with pytest.raises(ValueError, match="y_true.shape"):
        L.CTC()(np.zeros((3,), np.int32), INPUTS["ctc_logits"])
    with pytest.raises(ValueError, match="y_pred.shape"):
        L.CTC()(INPUTS["ctc_labels"], INPUTS["probs"])
    with pytest.raises(ValueError, match=r"ctc: label 4 is out of range for 4 classes .* index \(1, 0\)"):
        L.CTC()(np.array([[1, 0], [4, 0]], np.int32), np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        L.CategoricalCrossentropy()(INPUTS["labels"], INPUTS["probs"])
    with pytest.raises(ValueError, match="binary_crossentropy: label nan"):
        L.BinaryCrossentropy()(np.array([[np.nan, 1.0]], np.float32), np.full((1, 2), 0.5, np.float32))
    with pytest.warns(SyntaxWarning, match="binary_crossentropy"):
        L.categorical_crossentropy(np.ones((3, 1), np.float32), np.full((3, 1), 0.5, np.float32))


# ---------------------------------------------------------------------------------------------
# compile(loss=...) and saving

_X = np.random.default_rng(1).standard_normal((16, 4)).astype(np.float32)
_Y = np.random.default_rng(2).integers(0, 3, 16).astype(np.int32)
_SPARSE = {"sparse_categorical_crossentropy", "SparseCategoricalCrossentropy"}
_SKIP_TRAIN = {"Loss", "LossFunctionWrapper", "CTC", "ctc", "Circle", "circle"}


@pytest.mark.parametrize("name", [n for n in NAMES if n not in _SKIP_TRAIN]
                         + ["logcosh", "CategoricalGeneralizedCrossEntropy"])
def test_compile_by_name_trains(name):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss=name)
    sparse = name in _SPARSE or name == "CategoricalGeneralizedCrossEntropy"
    y = _Y if sparse else np.eye(3, dtype=np.float32)[_Y]
    before = [np.array(w) for w in model.get_weights()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        history = model.fit(_X, y, epochs=2, batch_size=8, verbose=0)
    losses = history.history["loss"]
    assert all(np.isfinite(losses)), (name, losses)
    assert any(not np.array_equal(a, np.array(b)) for a, b in zip(before, model.get_weights())), name


def test_circle_and_ctc_train_in_a_model():
    emb = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    emb.compile(optimizer="sgd", loss=L.Circle(gamma=4.0))
    h = emb.fit(_X, _Y, epochs=2, batch_size=8, verbose=0)
    assert np.all(np.isfinite(h.history["loss"]))
    seq = keras.Sequential([keras.Input((5, 2)), keras.layers.Dense(4)])
    seq.compile(optimizer="sgd", loss="ctc")
    x = np.random.default_rng(3).standard_normal((6, 5, 2)).astype(np.float32)
    y = np.array([[1, 2, 0], [3, 0, 0], [1, 1, 2]] * 2, np.int32)
    h = seq.fit(x, y, epochs=2, batch_size=3, verbose=0)
    assert np.all(np.isfinite(h.history["loss"]))


@pytest.mark.parametrize("loss", [
    L.Huber(delta=2.0), L.BinaryFocalCrossentropy(gamma=3.0, from_logits=True),
    L.CategoricalFocalCrossentropy(alpha=0.5), L.Tversky(alpha=0.2, beta=0.8, axis=-1),
    L.CategoricalCrossentropy(label_smoothing=0.1, name="smooth"), "kld",
])
def test_compiled_loss_survives_save_and_load(tmp_path, loss):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss=loss)
    y = np.eye(3, dtype=np.float32)[_Y]
    model.fit(_X, y, epochs=1, batch_size=8, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    again = keras.models.load_model(path)
    if isinstance(loss, str):
        assert again.loss is L.get(loss)
    else:
        assert type(again.loss) is type(loss)
        assert again.loss.get_config() == loss.get_config()
    np.testing.assert_allclose(again.evaluate(_X, y, verbose=0), model.evaluate(_X, y, verbose=0),
                               rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# Both devices: the losses are composed of ops, so they run where their inputs live.


@pytest.mark.parametrize("case", sorted(CASES))
def test_loss_on_device_matches_keras(device, case):
    from tests.conftest import on_device

    cls_name, _, kwargs, yt, yp, weighted = CASES[case]
    cls = getattr(L, cls_name)
    y_true, y_pred = on_device(INPUTS[yt], device), on_device(INPUTS[yp], device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        per_sample = cls(reduction="none", **kwargs)(y_true, y_pred)
        value = cls(**kwargs)(y_true, y_pred, sample_weight=on_device(
            sample_weight_for(case), device) if weighted else None)
    assert per_sample.device == device and value.device == device, case
    # The gpu's transcendental functions are within a few float32 ulps of the CPU's.
    rtol = 1e-6 if device == "cpu" and case not in NOISY else 2e-5
    np.testing.assert_allclose(np.asarray(per_sample), FIXTURE[f"{case}/none"], rtol=rtol,
                               atol=2e-6, err_msg=f"{case} per sample on {device}")
    expected = FIXTURE[f"{case}/weighted" if weighted else f"{case}/value"]
    np.testing.assert_allclose(np.asarray(value), expected, rtol=rtol, atol=2e-6,
                               err_msg=f"{case} on {device}")


@pytest.mark.parametrize("case", sorted(CASES))
def test_gradient_matches_finite_differences(case):
    """Every loss is composed of differentiable ops: the tape's gradient of the reduced loss
    (float64) against central differences at three entries of `y_pred`."""
    cls_name, _, kwargs, yt, yp, _ = CASES[case]
    loss = getattr(L, cls_name)(dtype="float64", **kwargs)
    y_true, y_pred = INPUTS[yt], INPUTS[yp].astype(np.float64)
    x = keras.Variable(y_pred, dtype="float64")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        with keras.GradientTape() as tape:
            value = loss(y_true, x)
        grad = np.asarray(tape.gradient(value, x))
        assert grad.shape == y_pred.shape and np.all(np.isfinite(grad)), case
        flat = np.random.default_rng(len(case)).choice(y_pred.size, 3, replace=False)
        for i in flat:
            index = np.unravel_index(i, y_pred.shape)
            plus, minus = y_pred.copy(), y_pred.copy()
            plus[index] += 1e-6
            minus[index] -= 1e-6
            numeric = (float(loss(y_true, plus)) - float(loss(y_true, minus))) / 2e-6
            assert math.isclose(grad[index], numeric, rel_tol=1e-4, abs_tol=1e-6), (case, index)

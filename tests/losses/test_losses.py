"""Losses against the real Keras (values in tests/fixtures/keras_reference.npz): reduced value,
sample-weighted value, per-sample values (reduction="none") and reduction="sum"; labels with a
trailing axis or as floats, errors and configs."""

from __future__ import annotations

import numpy as np
import pytest
import rskeras as keras

from tests._reference import assert_matches, ref

L = keras.losses


def _inp(name):
    return ref(f"loss/in/{name}")


def _edge_onehot():
    return np.eye(4, dtype=np.float32)[_inp("edge_labels")]


# name: (class, kwargs, y_true, y_pred)
LOSS_CASES = {
    "scce_probs": (L.SparseCategoricalCrossentropy, {}, lambda: _inp("labels"), lambda: _inp("probs")),
    "scce_logits": (L.SparseCategoricalCrossentropy, {"from_logits": True}, lambda: _inp("labels"), lambda: _inp("logits")),
    "cce_probs": (L.CategoricalCrossentropy, {}, lambda: _inp("onehot"), lambda: _inp("probs")),
    "cce_logits": (L.CategoricalCrossentropy, {"from_logits": True}, lambda: _inp("onehot"), lambda: _inp("logits")),
    "cce_probs_ls": (L.CategoricalCrossentropy, {"label_smoothing": 0.1}, lambda: _inp("onehot"), lambda: _inp("probs")),
    "cce_logits_ls": (L.CategoricalCrossentropy, {"from_logits": True, "label_smoothing": 0.1},
                      lambda: _inp("onehot"), lambda: _inp("logits")),
    "bce_probs": (L.BinaryCrossentropy, {}, lambda: _inp("bin_true"), lambda: _inp("bin_probs")),
    "bce_logits": (L.BinaryCrossentropy, {"from_logits": True}, lambda: _inp("bin_true"), lambda: _inp("bin_logits")),
    "mse": (L.MeanSquaredError, {}, lambda: _inp("reg_true"), lambda: _inp("reg_pred")),
    "mae": (L.MeanAbsoluteError, {}, lambda: _inp("reg_true"), lambda: _inp("reg_pred")),
    "scce_edge": (L.SparseCategoricalCrossentropy, {}, lambda: _inp("edge_labels"), lambda: _inp("edge_probs")),
    "cce_edge": (L.CategoricalCrossentropy, {}, _edge_onehot, lambda: _inp("edge_probs")),
    "bce_edge": (L.BinaryCrossentropy, {}, lambda: _inp("edge_bin_true"), lambda: _inp("edge_bin_probs")),
}


@pytest.mark.parametrize("name", sorted(LOSS_CASES))
def test_loss_value_matches_keras(name):
    cls, kwargs, yt, yp = LOSS_CASES[name]
    value = cls(**kwargs)(yt(), yp())
    assert tuple(value.shape) == ()
    assert_matches(float(value), ref(f"loss/{name}/value"), what=name)


@pytest.mark.parametrize("name", sorted(LOSS_CASES))
def test_loss_with_sample_weight_matches_keras(name):
    cls, kwargs, yt, yp = LOSS_CASES[name]
    y_true = yt()
    sw = _inp("sw")[: len(y_true)]
    assert_matches(float(cls(**kwargs)(y_true, yp(), sample_weight=sw)), ref(f"loss/{name}/weighted"), what=name)


@pytest.mark.parametrize("name", sorted(LOSS_CASES))
def test_loss_reduction_none_and_sum_match_keras(name):
    cls, kwargs, yt, yp = LOSS_CASES[name]
    per_sample = cls(reduction="none", **kwargs)(yt(), yp())
    assert_matches(per_sample, ref(f"loss/{name}/per_sample"), what=f"{name} per sample")
    total = cls(reduction="sum", **kwargs)(yt(), yp())
    assert_matches(float(total), ref(f"loss/{name}/sum"), what=f"{name} sum")


@pytest.mark.parametrize("fn_name, case", [
    ("sparse_categorical_crossentropy", "scce_probs"),
    ("categorical_crossentropy", "cce_probs"),
    ("binary_crossentropy", "bce_probs"),
    ("mse", "mse"),
    ("mean_squared_error", "mse"),
    ("mae", "mae"),
    ("mean_absolute_error", "mae"),
])
def test_loss_functions_by_name_give_per_sample_values(fn_name, case):
    _, _, yt, yp = LOSS_CASES[case]
    fn = L.get(fn_name)
    assert_matches(fn(yt(), yp()), ref(f"loss/{case}/per_sample"), what=fn_name)


def test_sparse_labels_with_trailing_axis():
    y = _inp("labels").reshape(-1, 1)
    assert_matches(float(L.SparseCategoricalCrossentropy()(y, _inp("probs"))), ref("loss/scce_probs/value"))


def test_sparse_labels_as_float():
    y = _inp("labels").astype(np.float32)
    assert_matches(float(L.SparseCategoricalCrossentropy()(y, _inp("probs"))), ref("loss/scce_probs/value"))


def test_loss_shape_mismatch_raises():
    with pytest.raises(ValueError):
        L.MeanSquaredError()(np.zeros((6, 3), np.float32), np.zeros((6, 4), np.float32))


def test_unknown_loss_and_reduction_raise():
    with pytest.raises(ValueError):
        L.get("not_a_loss")
    with pytest.raises(ValueError):
        L.MeanSquaredError(reduction="average")


def test_loss_config_roundtrip():
    loss = L.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)
    again = L.CategoricalCrossentropy.from_config(loss.get_config())
    assert_matches(float(again(_inp("onehot"), _inp("logits"))), ref("loss/cce_logits_ls/value"))

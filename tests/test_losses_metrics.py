"""Losses and accuracy metrics against the real Keras (values in
tests/fixtures/keras_reference.npz): reduced value, sample-weighted value, per-sample values
(reduction="none") and reduction="sum"; metrics after two update_state calls."""

from __future__ import annotations

import numpy as np
import pytest

import rskeras as keras
from _reference import assert_matches, ref

L = keras.losses
M = keras.metrics


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


# ---------------------------------------------------------------------------------------------
# Metrics


def _m(name):
    return ref(f"metric/in/{name}")


def _onehot(labels):
    return np.eye(4, dtype=np.float32)[labels]


METRIC_CASES = {
    "sparse_categorical_accuracy": (M.SparseCategoricalAccuracy,
                                    lambda: (_m("labels1"), _m("probs1")), lambda: (_m("labels2"), _m("probs2"))),
    "categorical_accuracy": (M.CategoricalAccuracy,
                             lambda: (_onehot(_m("labels1")), _m("probs1")),
                             lambda: (_onehot(_m("labels2")), _m("probs2"))),
    "binary_accuracy": (M.BinaryAccuracy,
                        lambda: (_m("bin_true1"), _m("bin_pred1")), lambda: (_m("bin_true2"), _m("bin_pred2"))),
    "accuracy": (M.Accuracy,
                 lambda: (_m("acc_true1"), _m("acc_pred1")), lambda: (_m("acc_true2"), _m("acc_pred2"))),
}


@pytest.mark.parametrize("name", sorted(METRIC_CASES))
def test_metric_two_updates_match_keras(name):
    cls, first, second = METRIC_CASES[name]
    metric = cls()
    assert metric.name == name
    metric.update_state(*first())
    r1 = float(metric.result())
    metric.update_state(*second())
    r2 = float(metric.result())
    assert_matches([r1, r2], ref(f"metric/{name}/plain"), what=name)


@pytest.mark.parametrize("name", sorted(METRIC_CASES))
def test_metric_weighted_update_matches_keras(name):
    cls, first, second = METRIC_CASES[name]
    metric = cls()
    metric.update_state(*first())
    y2 = second()
    metric.update_state(*y2, sample_weight=_m("sw2")[: len(y2[0])])
    assert_matches(float(metric.result()), ref(f"metric/{name}/weighted"), what=name)


@pytest.mark.parametrize("name", sorted(METRIC_CASES))
def test_metric_reset_state(name):
    cls, first, second = METRIC_CASES[name]
    metric = cls()
    metric.update_state(*first())
    metric.reset_state()
    assert float(metric.result()) == 0.0
    metric.update_state(*first())
    assert_matches(float(metric.result()), ref(f"metric/{name}/plain")[0])


def test_sparse_categorical_accuracy_with_trailing_label_axis():
    metric = M.SparseCategoricalAccuracy()
    metric.update_state(_m("labels1").reshape(-1, 1), _m("probs1"))
    assert_matches(float(metric.result()), ref("metric/sparse_categorical_accuracy/plain")[0])


def test_binary_accuracy_threshold():
    metric = M.BinaryAccuracy(threshold=0.9)
    metric.update_state(np.array([[1.0], [1.0], [0.0]], np.float32), np.array([[0.95], [0.8], [0.5]], np.float32))
    assert float(metric.result()) == pytest.approx(2.0 / 3.0)


def test_mean_metric():
    m = M.Mean()
    m.update_state(np.array([1.0, 2.0, 3.0], np.float32))
    m.update_state(np.array([10.0], np.float32), sample_weight=np.array([3.0], np.float32))
    assert float(m.result()) == pytest.approx((1 + 2 + 3 + 30) / 6.0)

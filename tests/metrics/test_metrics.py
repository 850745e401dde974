"""Accuracy metrics and Mean against the real Keras (values in tests/fixtures/keras_reference.npz):
results after two update_state calls, sample weights, reset_state, thresholds."""

from __future__ import annotations

import numpy as np
import pytest
import rskeras as keras

from tests._reference import assert_matches, ref

M = keras.metrics


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
    cls, first, _second = METRIC_CASES[name]
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

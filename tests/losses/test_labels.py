"""Bad labels: every loss and metric refuses a non-finite `y_true`, and the sparse ones a class
id outside `[0, classes)`, with a ValueError naming the loss or metric, the first bad value and
its index (Keras trains on them silently; a NaN sparse label used to read as class 0).
The check is `rskeras.losses.labels.check_labels`."""

from __future__ import annotations

import re

import numpy as np
import pytest
import rskeras as keras
from rskeras import ops
from rskeras.losses import labels

L, M = keras.losses, keras.metrics

PROBS = np.full((4, 3), 1 / 3, np.float32)


def _nan_at(index, shape=(4,), dtype=np.float32, value=np.nan, fill=0):
    y = np.full(shape, fill, dtype)
    y[index] = value
    return y


# name shown in the message -> a callable(y_true, y_pred)
FLOAT_LOSSES = {
    "mean_squared_error": L.mean_squared_error,
    "mean_absolute_error": L.mean_absolute_error,
    "binary_crossentropy": L.binary_crossentropy,
    "categorical_crossentropy": L.categorical_crossentropy,
    "MeanSquaredError-object": L.MeanSquaredError(name="my_mse"),
    "BinaryCrossentropy-object": L.BinaryCrossentropy(),
    "CategoricalCrossentropy-object": L.CategoricalCrossentropy(),
    "MeanAbsoluteError-object": L.MeanAbsoluteError(),
}
FLOAT_METRICS = {
    "accuracy": M.Accuracy(),
    "binary_accuracy": M.BinaryAccuracy(),
    "categorical_accuracy": M.CategoricalAccuracy(),
    "mse-metric": M.get("mse"),
    "fn-accuracy": M.accuracy,
    "fn-binary_accuracy": M.binary_accuracy,
    "fn-categorical_accuracy": M.categorical_accuracy,
}
SPARSE = {
    "fn-loss": L.sparse_categorical_crossentropy,
    "loss-object": L.SparseCategoricalCrossentropy(),
    "loss-object-logits": L.SparseCategoricalCrossentropy(from_logits=True, name="scce_named"),
    "metric-object": M.SparseCategoricalAccuracy(),
    "metric-fn": M.sparse_categorical_accuracy,
    "metric-from-loss-name": M.get("sparse_categorical_crossentropy"),
}


def _name(fn):
    return getattr(fn, "name", None) or fn.__name__


def _message(name, value, index):
    return re.escape(name) + r": label " + re.escape(value) + r" .* at index " + \
        re.escape(str(index)) + " of y_true"


@pytest.mark.parametrize("as_tensor", [False, True])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("key", sorted(FLOAT_LOSSES) + sorted(FLOAT_METRICS))
def test_non_finite_labels_rejected_by_every_float_loss_and_metric(key, bad, as_tensor):
    fn = {**FLOAT_LOSSES, **FLOAT_METRICS}[key]
    y_true = _nan_at((2, 1), shape=(4, 3), value=bad)
    y_pred = np.full((4, 3), 0.25, np.float32)
    if as_tensor:
        y_true = ops.convert_to_tensor(y_true)
    with pytest.raises(ValueError, match=_message(_name(fn), repr(float(bad)), (2, 1))):
        fn(y_true, y_pred)


@pytest.mark.parametrize("key", sorted(FLOAT_LOSSES) + sorted(FLOAT_METRICS))
def test_finite_labels_still_accepted(key):
    fn = {**FLOAT_LOSSES, **FLOAT_METRICS}[key]
    y_true = np.eye(3, dtype=np.float32)[[0, 1, 2, 0]]
    value = np.asarray(fn(y_true, np.full((4, 3), 0.25, np.float32)))
    assert np.all(np.isfinite(value))


@pytest.mark.parametrize("key", sorted(SPARSE))
@pytest.mark.parametrize("label", [3, 7, -1])
@pytest.mark.parametrize("dtype", ["int32", "int64", "float32"])
def test_sparse_labels_out_of_range_rejected(key, label, dtype):
    fn = SPARSE[key]
    y_true = np.array([0, 1, label, 2], dtype)
    shown = repr(float(label)) if dtype == "float32" else str(label)
    with pytest.raises(ValueError, match=re.escape(f"{_name(fn)}: label {shown} is out of range for 3 "
                                                   f"classes (expected 0 <= label < 3), at index (2,)")):
        fn(y_true, PROBS)
    with pytest.raises(ValueError, match=_message(_name(fn), shown, (2,))):
        fn(ops.convert_to_tensor(y_true), ops.convert_to_tensor(PROBS))


@pytest.mark.parametrize("key", sorted(SPARSE))
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_sparse_labels_non_finite_rejected(key, bad):
    fn = SPARSE[key]
    y_true = ops.convert_to_tensor(_nan_at(1, value=bad))
    with pytest.raises(ValueError, match=_message(_name(fn), repr(float(bad)), (1,))):
        fn(y_true, PROBS)


@pytest.mark.parametrize("key", sorted(SPARSE))
def test_sparse_labels_multi_index_and_trailing_axis(key):
    fn = SPARSE[key]
    # (batch, 1) labels: the index names both axes.
    y = np.array([[0], [2], [5], [1]], np.int32)
    with pytest.raises(ValueError, match=_message(_name(fn), "5", (2, 0))):
        fn(y, PROBS)
    # (batch, steps) labels against (batch, steps, classes) predictions: the first bad one.
    y = np.array([[0, 1], [2, 9], [-4, 0]], np.int64)
    with pytest.raises(ValueError, match=_message(_name(fn), "9", (1, 1))):
        fn(y, np.full((3, 2, 3), 1 / 3, np.float32))


@pytest.mark.parametrize("key", sorted(SPARSE))
def test_sparse_labels_in_range_accepted(key):
    fn = SPARSE[key]
    for y_true in (np.array([0, 1, 2, 2]), np.array([0.0, 1.0, 2.0, 2.0], np.float32),
                   np.array([[0], [1], [2], [2]], np.int32)):
        assert np.all(np.isfinite(np.asarray(fn(y_true, PROBS))))


def test_integer_labels_for_float_losses_need_no_check():
    # Integers are always finite; binary labels as ints keep working.
    value = L.binary_crossentropy(np.array([[0, 1], [1, 0]], np.int32), np.full((2, 2), 0.5, np.float32))
    np.testing.assert_allclose(np.asarray(value), [np.log(2)] * 2, rtol=1e-5)


def test_plain_callable_loss_in_compile_is_checked_with_its_name():
    def my_loss(y_true, y_pred):
        return ops.mean(ops.square(y_true - y_pred), axis=-1)

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", my_loss)
    y = _nan_at(3, shape=(8, 1))
    with pytest.raises(ValueError, match=_message("my_loss", "nan", (3, 0))):
        model.fit(np.ones((8, 2), np.float32), y, batch_size=8, shuffle=False, verbose=0)


def _classifier():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile("sgd", L.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


@pytest.mark.parametrize("shuffle", [False, True])
def test_fit_with_nan_sparse_labels_raises_and_names_the_row(shuffle):
    model = _classifier()
    before = [w.copy() for w in model.get_weights()]
    y = np.zeros(40, np.float32)
    y[29] = np.nan
    with pytest.raises(ValueError, match=r"sparse_categorical_crossentropy: label nan is not "
                                         r"finite .* at index .* of y_true \(row 29 of"):
        model.fit(np.ones((40, 4), np.float32), y, batch_size=8, shuffle=shuffle, verbose=0)
    if not shuffle:  # the 4th batch holds the NaN: three steps ran
        assert model.optimizer.iterations == 3
    # Until today the NaN trained as class 0; now the step that holds it never updates.
    model2 = _classifier()
    y_all_nan = np.full(8, np.nan, np.float32)
    with pytest.raises(ValueError, match="label nan is not finite"):
        model2.fit(np.ones((8, 4), np.float32), y_all_nan, batch_size=8, verbose=0)
    assert model2.optimizer.iterations == 0
    assert len(before) == len(model2.get_weights())


def test_fit_evaluate_and_on_batch_reject_out_of_range_labels():
    model = _classifier()
    x = np.ones((16, 4), np.float32)
    y = np.zeros(16, np.int32)
    y[11] = 3
    with pytest.raises(ValueError, match=r"label 3 is out of range for 3 classes .*row 11 of"):
        model.fit(x, y, batch_size=4, verbose=0)
    with pytest.raises(ValueError, match=r"label 3 is out of range for 3 classes .*row 11 of"):
        model.evaluate(x, y, batch_size=4, verbose=0)
    with pytest.raises(ValueError, match=r"label 3 is out of range"):
        model.train_on_batch(x, y)
    with pytest.raises(ValueError, match=r"label -2 is out of range"):
        model.test_on_batch(x, -2 * np.ones(16, np.int32))
    # Validation data is checked too.
    with pytest.raises(ValueError, match=r"label 3 is out of range"):
        model.fit(x, np.zeros(16, np.int32), validation_data=(x, y), verbose=0)


def test_metric_names_the_metric():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile("sgd", loss=None, metrics=[M.SparseCategoricalAccuracy(name="my_acc")])
    with pytest.raises(ValueError, match=r"my_acc: label 4 is out of range"):
        model.compute_metrics(None, np.array([0, 4]), ops.convert_to_tensor(np.ones((2, 3), np.float32)))


def test_clean_fit_does_no_device_check(monkeypatch):
    """`fit` and `evaluate` on clean labels check them on the host once; no batch runs the
    device check (a GPU synchronization per step)."""
    calls = []
    original = labels._ok_mask
    monkeypatch.setattr(labels, "_ok_mask", lambda *a: calls.append(1) or original(*a))
    model = _classifier()
    x = np.random.default_rng(0).random((64, 4), dtype=np.float32)
    y = np.arange(64) % 3
    model.fit(x, y.astype(np.float32), batch_size=8, epochs=2, validation_split=0.25, verbose=0)
    model.evaluate(x, y, batch_size=8, verbose=0)
    assert calls == []
    # A direct call checks once per labels tensor, however many losses and metrics read it.
    y_t = ops.convert_to_tensor(y[:8].astype(np.float32))
    p_t = ops.convert_to_tensor(np.full((8, 3), 1 / 3, np.float32))
    L.SparseCategoricalCrossentropy()(y_t, p_t)
    M.SparseCategoricalAccuracy().update_state(y_t, p_t)
    assert len(calls) == 1


def test_check_labels_leaves_non_arrays_alone():
    labels.check_labels(None, "x")
    labels.check_labels("not numbers", "x")
    labels.check_labels([[1.0, 2.0], [3.0]], "x")  # ragged: the loss reports it
    labels.check_labels(np.array([], np.float32), "x", num_classes=3)
    with pytest.raises(ValueError, match=r"x: label nan is not finite .* at index \(\)"):
        labels.check_labels(float("nan"), "x")


def test_gpu_labels_are_checked_and_fit_skips_the_device_check(gpu, monkeypatch):
    from tests.conftest import to_gpu

    with pytest.raises(ValueError, match=_message("sparse_categorical_crossentropy", "nan", (1,))):
        L.sparse_categorical_crossentropy(to_gpu(_nan_at(1)), to_gpu(PROBS))
    with pytest.raises(ValueError, match=_message("mean_squared_error", "inf", (0, 2))):
        L.mean_squared_error(to_gpu(_nan_at((0, 2), shape=(4, 3), value=np.inf)), to_gpu(PROBS))
    calls = []
    original = labels._ok_mask
    monkeypatch.setattr(labels, "_ok_mask", lambda *a: calls.append(1) or original(*a))
    x = np.random.default_rng(0).random((16, 4), dtype=np.float32)
    with keras.device("gpu"):
        model = _classifier()
        model.fit(x, np.arange(16) % 3, batch_size=4, verbose=0)  # clean: no sync per step
        assert calls == []
        y = (np.arange(16) % 3).astype(np.float32)
        y[13] = np.nan
        with pytest.raises(ValueError, match=r"label nan is not finite.*\(row 13 of"):
            model.fit(x, y, batch_size=4, shuffle=True, verbose=0)

"""Training: full fit runs against the real Keras (tests/fixtures/keras_reference.npz), the
canonical Fashion-MNIST MLP end to end on real data, and the compile/fit/evaluate/predict API
behaviours of Keras 3 (validation split, callbacks, verbosity, errors, freezing, subclassing)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import rskeras as keras

from tests._reference import assert_matches, ref
from tests.fixtures._keras_cases import train_cases

TRAIN_RTOL = 1e-5
TRAIN_ATOL = 1e-5


def _mlp():
    """Dense(8, relu) -> Dense(3, softmax) on 4 features, with the fixture's initial weights."""
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    model.set_weights([ref(f"train/init{i}") for i in range(4)])
    return model


def _small_data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = rng.integers(0, 3, size=(n,)).astype(np.int32)
    return x, y


# ---------------------------------------------------------------------------------------------
# Fit runs against Keras

TRAIN_CASES = train_cases(keras)


@pytest.mark.parametrize("name", sorted(TRAIN_CASES))
def test_fit_matches_keras(name, device):
    make_opt, fit_kwargs, metrics = TRAIN_CASES[name]
    model = _mlp()
    model.compile(optimizer=make_opt(), loss="sparse_categorical_crossentropy", metrics=metrics)
    history = model.fit(ref("train/x"), ref("train/y"), shuffle=False, verbose=0, **fit_kwargs)
    assert all(w.device == device for w in model.weights + model.optimizer.variables)
    keys = sorted(history.history)
    assert keys == sorted(str(k) for k in ref(f"train/{name}/history_keys")), keys
    for key in keys:
        assert_matches(history.history[key], ref(f"train/{name}/history/{key}"), rtol=TRAIN_RTOL,
                       atol=TRAIN_ATOL, what=f"{name} history[{key!r}]")
    for i, w in enumerate(model.get_weights()):
        assert_matches(w, ref(f"train/{name}/final{i}"), rtol=TRAIN_RTOL, atol=TRAIN_ATOL,
                       what=f"{name} final weight {i}")
    ev = model.evaluate(ref("train/x"), ref("train/y"), verbose=0, return_dict=True)
    assert sorted(ev) == sorted(k for k in keys if not k.startswith("val_"))
    for key, value in ev.items():
        assert_matches(value, ref(f"train/{name}/evaluate/{key}"), rtol=TRAIN_RTOL, atol=TRAIN_ATOL,
                       what=f"{name} evaluate {key}")


def test_train_on_batch_steps_equal_fit_and_keras(device):
    """8 train_on_batch calls over the 4 batches twice == fit(batch_size=8, epochs=2,
    shuffle=False) == Keras; test_on_batch / predict_on_batch agree with evaluate / predict."""
    x, y = ref("train/x"), ref("train/y")
    model = _mlp()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    assert_matches(model.predict_on_batch(x), ref("train/predict_init"))
    first = None
    for epoch in range(2):
        for start in range(0, 32, 8):
            loss = model.train_on_batch(x[start:start + 8], y[start:start + 8])
            assert isinstance(loss, float)
            first = loss if first is None else first
    assert all(w.device == device for w in model.weights)
    # the first batch's loss is computed with the initial weights
    probs = ref("train/predict_init")[:8]
    expected_first = float(np.mean(-np.log(probs[np.arange(8), y[:8]])))
    assert first == pytest.approx(expected_first, rel=1e-5)
    for i, w in enumerate(model.get_weights()):
        assert_matches(w, ref(f"train/sgd/final{i}"), rtol=TRAIN_RTOL, atol=TRAIN_ATOL)
    assert model.test_on_batch(x, y) == pytest.approx(float(ref("train/sgd/evaluate/loss")), rel=1e-5)
    logs = model.test_on_batch(x, y, return_dict=True)
    assert list(logs) == ["loss"]
    np.testing.assert_allclose(model.predict_on_batch(x), model.predict(x, verbose=0), rtol=1e-6)


def test_train_on_batch_with_metrics_returns_list_and_dict():
    x, y = _small_data(16)
    model = _mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    out = model.train_on_batch(x, y)
    assert isinstance(out, list) and len(out) == 2
    logs = model.test_on_batch(x, y, return_dict=True)
    assert sorted(logs) == ["accuracy", "loss"]
    # accuracy of test_on_batch is the accuracy of predict on that batch
    acc = float(np.mean(np.argmax(model.predict_on_batch(x), axis=-1) == y))
    assert logs["accuracy"] == pytest.approx(acc)


# ---------------------------------------------------------------------------------------------
# "accuracy" resolution, against Keras

ACC_CASES = {
    "sparse": ("sparse_categorical_crossentropy", 3, "softmax", lambda: ref("acc/in/sparse")),
    "sparse_col": ("sparse_categorical_crossentropy", 3, "softmax", lambda: ref("acc/in/sparse").reshape(-1, 1)),
    "categorical": ("categorical_crossentropy", 3, "softmax",
                    lambda: np.eye(3, dtype=np.float32)[ref("acc/in/sparse")]),
    "binary_col": ("binary_crossentropy", 1, "sigmoid", lambda: ref("acc/in/binary").reshape(-1, 1)),
    "binary_flat": ("binary_crossentropy", 1, "sigmoid", lambda: ref("acc/in/binary")),
    "binary_multilabel": ("binary_crossentropy", 3, "sigmoid", lambda: ref("acc/in/multi")),
    "mse_col": ("mse", 1, "sigmoid", lambda: ref("acc/in/binary").reshape(-1, 1)),
}


@pytest.mark.parametrize("name", sorted(ACC_CASES))
def test_accuracy_string_resolves_like_keras(name):
    loss, units, activation, y = ACC_CASES[name]
    kernel = ref("acc/in/kernel3") if units == 3 else ref("acc/in/kernel1")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(units, activation=activation, use_bias=False)])
    model.set_weights([kernel])
    model.compile(optimizer="sgd", loss=loss, metrics=["accuracy"])
    ev = model.evaluate(ref("acc/in/x"), y(), verbose=0, return_dict=True, batch_size=12)
    assert sorted(ev) == ["accuracy", "loss"]
    assert_matches(ev["loss"], ref(f"acc/{name}/loss"), what="loss")
    compiled = [m for m in model.metrics if m.name == "accuracy"]
    assert len(compiled) == 1
    assert type(compiled[0]).__name__ == str(ref(f"acc/{name}/class"))
    assert_matches(ev["accuracy"], ref(f"acc/{name}/accuracy"), what="accuracy")


def test_accuracy_resolves_with_loss_objects():
    x, y = _small_data(16)
    model = _mlp()
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["acc"])
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert sorted(logs) == ["acc", "loss"]
    assert isinstance(model.metrics[1], keras.metrics.SparseCategoricalAccuracy)


# ---------------------------------------------------------------------------------------------
# Fashion-MNIST end to end


@pytest.fixture(scope="module")
def fashion():
    (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == np.uint8 and y_train.shape == (60000,)
    return ((x_train[:6000].astype("float32") / 255.0, y_train[:6000]),
            (x_test[:2000].astype("float32") / 255.0, y_test[:2000]))


def _canonical_mlp():
    return keras.Sequential([
        keras.layers.Flatten(input_shape=(28, 28)),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])


def test_fashion_mnist_canonical_mlp(fashion):
    (x, y), (x_test, y_test) = fashion
    keras.utils.set_random_seed(1)
    model = _canonical_mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=2, validation_split=0.1, verbose=0)
    h = history.history
    assert sorted(h) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert all(len(v) == 2 for v in h.values())
    assert history.epoch == [0, 1]
    assert h["loss"][1] < h["loss"][0]
    assert h["accuracy"][1] > h["accuracy"][0]
    assert all(np.isfinite(v).all() for v in h.values())
    test_loss, test_acc = model.evaluate(x_test, y_test, verbose=0)
    assert test_acc > 0.75, test_acc
    assert 0.0 < test_loss < 1.0, test_loss
    probs = model.predict(x_test[:5], verbose=0)
    assert isinstance(probs, np.ndarray) and probs.shape == (5, 10) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), np.ones(5), atol=1e-5)
    assert (probs >= 0).all()
    # predicted classes mostly agree with the labels
    assert np.mean(np.argmax(model.predict(x_test[:200], verbose=0), -1) == y_test[:200]) > 0.7


def test_summary_of_canonical_mlp(capsys):
    model = _canonical_mlp()
    model.summary()
    out = capsys.readouterr().out
    assert "Total params: 101,770" in out
    assert "Trainable params: 101,770" in out
    assert "Non-trainable params: 0" in out
    assert "(None, 784)" in out and "(None, 128)" in out and "(None, 10)" in out
    assert "100,480" in out and "1,290" in out
    # freezing moves parameters from trainable to non-trainable
    model.layers[1].trainable = False
    model.summary()
    out = capsys.readouterr().out
    assert "Trainable params: 1,290" in out and "Non-trainable params: 100,480" in out


def test_summary_print_fn():
    lines = []
    _canonical_mlp().summary(print_fn=lines.append)
    assert any("Total params: 101,770" in line for line in lines)


# ---------------------------------------------------------------------------------------------
# validation_split / validation_data


class _Recording:
    """Wraps a model's train_step/test_step to record the (x, y) of every batch."""

    def __init__(self, model):
        self.train, self.test = [], []
        train_step, test_step = model.train_step, model.test_step

        def rec_train(data):
            self.train.append((np.asarray(data[0]).copy(), np.asarray(data[1]).copy()))
            return train_step(data)

        def rec_test(data):
            self.test.append((np.asarray(data[0]).copy(), np.asarray(data[1]).copy()))
            return test_step(data)

        model.train_step, model.test_step = rec_train, rec_test


def _id_data(n, offset=0):
    """x whose first column is the sample id; y = id % 3."""
    x = np.zeros((n, 4), np.float32)
    x[:, 0] = np.arange(offset, offset + n)
    x[:, 1:] = np.random.default_rng(n).normal(size=(n, 3)) * 0.1
    y = (np.arange(offset, offset + n) % 3).astype(np.int32)
    return x, y


def _compiled_mlp(**compile_kwargs):
    model = _mlp()
    compile_kwargs.setdefault("optimizer", keras.optimizers.SGD(0.001))
    compile_kwargs.setdefault("loss", "sparse_categorical_crossentropy")
    model.compile(**compile_kwargs)
    return model


def test_validation_split_takes_last_samples_before_shuffling():
    x, y = _id_data(40)
    model = _compiled_mlp()
    rec = _Recording(model)
    model.fit(x, y, batch_size=7, epochs=3, validation_split=0.25, shuffle=True, verbose=0)
    train_ids = [int(i) for bx, _ in rec.train for i in bx[:, 0]]
    val_ids = [int(i) for bx, _ in rec.test for i in bx[:, 0]]
    # validation: the last 10 samples, in order, once per epoch
    assert val_ids == list(range(30, 40)) * 3
    # training: the first 30, each exactly once per epoch, reshuffled
    per_epoch = [train_ids[i * 30:(i + 1) * 30] for i in range(3)]
    for ids in per_epoch:
        assert sorted(ids) == list(range(30))
    assert any(ids != list(range(30)) for ids in per_epoch), "shuffle=True did not shuffle"
    assert len({tuple(ids) for ids in per_epoch}) > 1, "every epoch used the same order"
    # labels stay aligned with their samples after shuffling
    for bx, by in rec.train + rec.test:
        np.testing.assert_array_equal(by, bx[:, 0].astype(int) % 3)


def test_shuffle_false_keeps_order():
    x, y = _id_data(20)
    model = _compiled_mlp()
    rec = _Recording(model)
    model.fit(x, y, batch_size=6, epochs=2, shuffle=False, verbose=0)
    assert [len(bx) for bx, _ in rec.train] == [6, 6, 6, 2] * 2
    ids = [int(i) for bx, _ in rec.train for i in bx[:, 0]]
    assert ids == list(range(20)) * 2


def test_validation_data_overrides_validation_split():
    x, y = _id_data(40)
    xv, yv = _id_data(10, offset=100)
    model = _compiled_mlp(metrics=["accuracy"])
    rec = _Recording(model)
    history = model.fit(x, y, batch_size=8, epochs=2, validation_split=0.5, validation_data=(xv, yv), verbose=0)
    train_ids = sorted(int(i) for bx, _ in rec.train for i in bx[:, 0])
    val_ids = [int(i) for bx, _ in rec.test for i in bx[:, 0]]
    assert train_ids == sorted(list(range(40)) * 2)
    assert val_ids == list(range(100, 110)) * 2
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]


def test_validation_metrics_use_inference_mode_and_final_weights():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(48, 4)).astype(np.float32)
    y = rng.integers(0, 3, size=48)
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dropout(0.5), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=8, epochs=2, validation_split=0.25, verbose=0)
    loss, acc = model.evaluate(x[36:], y[36:], verbose=0)
    assert history.history["val_loss"][-1] == pytest.approx(loss, rel=1e-5)
    assert history.history["val_accuracy"][-1] == pytest.approx(acc, rel=1e-6)


def test_validation_split_out_of_range_raises():
    x, y = _small_data(10)
    model = _compiled_mlp()
    with pytest.raises(ValueError):
        model.fit(x, y, validation_split=1.5, verbose=0)


# ---------------------------------------------------------------------------------------------
# evaluate / predict return values


def test_evaluate_return_types():
    x, y = _small_data(20)
    plain = _compiled_mlp()
    loss = plain.evaluate(x, y, verbose=0)
    assert isinstance(loss, float)
    probs = plain.predict(x, verbose=0)
    expected = float(np.mean(-np.log(probs[np.arange(20), y])))
    assert loss == pytest.approx(expected, rel=1e-5)
    assert plain.evaluate(x, y, verbose=0, return_dict=True) == {"loss": pytest.approx(loss)}

    with_acc = _compiled_mlp(metrics=["accuracy"])
    values = with_acc.evaluate(x, y, verbose=0)
    assert isinstance(values, list) and len(values) == 2
    assert values[0] == pytest.approx(expected, rel=1e-5)
    assert values[1] == pytest.approx(float(np.mean(np.argmax(probs, -1) == y)))
    logs = with_acc.evaluate(x, y, verbose=0, return_dict=True)
    assert isinstance(logs, dict) and sorted(logs) == ["accuracy", "loss"]
    assert logs["loss"] == pytest.approx(values[0]) and logs["accuracy"] == pytest.approx(values[1])


def test_evaluate_loss_is_weighted_by_batch_size():
    # 20 samples in batches of 6, 6, 6, 2: the result is the mean over samples, not batches
    x, y = _small_data(20)
    model = _compiled_mlp()
    whole = model.evaluate(x, y, batch_size=20, verbose=0)
    assert model.evaluate(x, y, batch_size=6, verbose=0) == pytest.approx(whole, rel=1e-5)


def test_evaluate_with_sample_weight():
    x, y = _small_data(20)
    model = _compiled_mlp()
    sw = np.linspace(0.0, 2.0, 20).astype(np.float32)
    probs = model.predict(x, verbose=0)
    per_sample = -np.log(probs[np.arange(20), y])
    got = model.evaluate(x, y, sample_weight=sw, batch_size=20, verbose=0)
    assert got == pytest.approx(float(np.mean(per_sample * sw)), rel=1e-5)


def test_predict_batches_and_works_without_compile():
    model = _mlp()
    x = ref("train/x")
    out = model.predict(x, batch_size=5, verbose=0)
    assert out.shape == (32, 3)
    assert_matches(out, ref("train/predict_init"))
    np.testing.assert_allclose(np.asarray(model(x)), out, rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# Verbosity


def test_verbose_0_prints_nothing(capsys):
    x, y = _small_data(32)
    model = _compiled_mlp(metrics=["accuracy"])
    model.fit(x, y, batch_size=8, epochs=2, validation_split=0.25, verbose=0)
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_verbose_2_prints_one_line_per_epoch(capsys):
    x, y = _small_data(32)
    model = _compiled_mlp(metrics=["accuracy"])
    history = model.fit(x, y, batch_size=8, epochs=3, validation_split=0.25, verbose=2)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    headers = [line for line in lines if re.fullmatch(r"Epoch \d+/3", line)]
    summaries = [line for line in lines if not line.startswith("Epoch ")]
    assert headers == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    assert len(summaries) == 3, lines
    for epoch, line in enumerate(summaries):
        assert line.startswith("3/3 - "), line
        for key in ("accuracy", "loss", "val_accuracy", "val_loss"):
            m = re.search(rf"(?:^| ){key}: ([0-9.]+)", line)
            assert m, f"{key} missing from {line!r}"
            assert float(m.group(1)) == pytest.approx(history.history[key][epoch], abs=6e-5)
        assert "\r" not in line and "\x1b" not in line


def test_verbose_2_single_epoch_has_no_epoch_header(capsys):
    x, y = _small_data(16)
    model = _compiled_mlp()
    model.fit(x, y, batch_size=8, epochs=1, verbose=2)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("2/2 - "), lines


def test_evaluate_verbose_2_prints_one_line(capsys):
    x, y = _small_data(32)
    model = _compiled_mlp()
    model.evaluate(x, y, batch_size=8, verbose=2)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("4/4 - ") and "loss: " in lines[0]


# ---------------------------------------------------------------------------------------------
# Errors


def test_fit_evaluate_before_compile_raise_value_error_like_keras():
    x, y = _small_data(8)
    model = _mlp()
    with pytest.raises(ValueError, match="compile"):
        model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match="compile"):
        model.evaluate(x, y, verbose=0)
    with pytest.raises(ValueError, match="compile"):
        model.train_on_batch(x, y)


def test_wrong_input_shape_names_layer_axis_and_shape():
    (x, y) = (np.zeros((8, 27, 27), np.float32), np.zeros(8, np.int32))
    model = _canonical_mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError) as info:
        model.fit(x, y, batch_size=8, verbose=0)
    msg = str(info.value)
    assert re.search(r'"dense(_\d+)?"', msg), msg
    assert "784" in msg, msg
    assert "(8, 729)" in msg, msg
    with pytest.raises(ValueError) as info:
        model.predict(np.zeros((3, 27, 27), np.float32), verbose=0)
    assert "784" in str(info.value) and "(3, 729)" in str(info.value)


def test_wrong_input_shape_on_first_dense():
    model = _compiled_mlp()
    with pytest.raises(ValueError) as info:
        model.fit(np.zeros((8, 5), np.float32), np.zeros(8, np.int32), verbose=0)
    msg = str(info.value)
    assert re.search(r'"dense(_\d+)?"', msg) and "value 4" in msg and "(8, 5)" in msg, msg


def test_mismatched_x_y_lengths_raise():
    x, y = _small_data(20)
    model = _compiled_mlp()
    with pytest.raises(ValueError) as info:
        model.fit(x, y[:15], verbose=0)
    assert "20" in str(info.value) and "15" in str(info.value)
    with pytest.raises(ValueError):
        model.evaluate(x[:10], y, verbose=0)
    with pytest.raises(ValueError):
        model.fit(x, y, sample_weight=np.ones(7, np.float32), verbose=0)


def test_compile_unknown_names_raise():
    model = _mlp()
    with pytest.raises(ValueError):
        model.compile(optimizer="not_an_optimizer", loss="mse")
    with pytest.raises(ValueError):
        model.compile(optimizer="sgd", loss="not_a_loss")


# ---------------------------------------------------------------------------------------------
# Callbacks


class _Recorder(keras.callbacks.Callback):
    def __init__(self, stop_at_epoch=None, stop_at_batch=None):
        super().__init__()
        self.events, self.epoch_logs, self.batches = [], [], 0
        self.stop_at_epoch, self.stop_at_batch = stop_at_epoch, stop_at_batch

    def on_train_begin(self, logs=None):
        self.events.append("train_begin")

    def on_train_end(self, logs=None):
        self.events.append("train_end")

    def on_epoch_begin(self, epoch, logs=None):
        self.events.append(f"epoch_begin_{epoch}")

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(f"epoch_end_{epoch}")
        self.epoch_logs.append(dict(logs))
        if epoch == self.stop_at_epoch:
            self.model.stop_training = True

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1
        if self.batches == self.stop_at_batch:
            self.model.stop_training = True


def test_callbacks_receive_epoch_logs_and_params():
    x, y = _small_data(32)
    model = _compiled_mlp(metrics=["accuracy"])
    rec = _Recorder()
    history = model.fit(x, y, batch_size=8, epochs=3, validation_split=0.25, verbose=0, callbacks=[rec])
    assert rec.model is model
    assert rec.params["epochs"] == 3 and rec.params["steps"] == 3 and rec.params["verbose"] == 0
    assert rec.events == ["train_begin", "epoch_begin_0", "epoch_end_0", "epoch_begin_1", "epoch_end_1",
                          "epoch_begin_2", "epoch_end_2", "train_end"]
    assert rec.batches == 9
    assert len(rec.epoch_logs) == 3
    for epoch, logs in enumerate(rec.epoch_logs):
        assert sorted(logs) == ["accuracy", "loss", "val_accuracy", "val_loss"]
        for key, value in logs.items():
            assert value == pytest.approx(history.history[key][epoch])
    assert model.history is history


def test_stop_training_in_on_epoch_end_stops():
    x, y = _small_data(32)
    model = _compiled_mlp()
    rec = _Recorder(stop_at_epoch=1)
    history = model.fit(x, y, batch_size=8, epochs=10, verbose=0, callbacks=[rec])
    assert len(history.history["loss"]) == 2
    assert rec.events[-1] == "train_end" and rec.batches == 8


def test_stop_training_in_on_train_batch_end_stops_after_that_batch():
    x, y = _small_data(32)
    model = _compiled_mlp()
    rec = _Recorder(stop_at_batch=2)
    history = model.fit(x, y, batch_size=8, epochs=5, verbose=0, callbacks=[rec])
    assert len(history.history["loss"]) == 1
    assert rec.batches == 2


def test_lambda_callback():
    x, y = _small_data(16)
    model = _compiled_mlp()
    seen = []
    cb = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append((epoch, logs["loss"])))
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[cb])
    assert [e for e, _ in seen] == [0, 1]
    assert [v for _, v in seen] == pytest.approx(history.history["loss"])


def test_early_stopping_on_flat_loss():
    # lr = 0: the loss never improves after epoch 0, so patience=2 stops after epoch index 2
    x, y = _small_data(16)
    model = _compiled_mlp(optimizer=keras.optimizers.SGD(0.0))
    es = keras.callbacks.EarlyStopping(monitor="loss", patience=2)
    history = model.fit(x, y, batch_size=8, epochs=20, verbose=0, callbacks=[es])
    assert len(history.history["loss"]) == 3
    assert es.stopped_epoch == 2


def test_early_stopping_min_delta_and_restore_best_weights():
    x, y = _small_data(32)
    model = _compiled_mlp(optimizer=keras.optimizers.SGD(0.05))
    es = keras.callbacks.EarlyStopping(monitor="loss", min_delta=10.0, patience=1, restore_best_weights=True)
    history = model.fit(x, y, batch_size=8, epochs=20, shuffle=False, verbose=0, callbacks=[es])
    assert len(history.history["loss"]) == 2
    assert history.history["loss"][1] < history.history["loss"][0]  # it did train
    assert es.best_epoch == 0 and es.stopped_epoch == 1
    # the best epoch is epoch 0: its weights are restored, i.e. those after one epoch
    one_epoch = _compiled_mlp(optimizer=keras.optimizers.SGD(0.05))
    one_epoch.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for got, want in zip(model.get_weights(), one_epoch.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_early_stopping_monitors_val_accuracy_in_max_mode():
    es = keras.callbacks.EarlyStopping(monitor="val_accuracy")
    es.on_train_begin()
    es.model = _mlp()
    for epoch, acc in enumerate([0.5, 0.6, 0.55]):
        es.on_epoch_end(epoch, {"val_accuracy": acc})
    assert es.model.stop_training is True and es.stopped_epoch == 2 and es.best == 0.6


# ---------------------------------------------------------------------------------------------
# class_weight and sample_weight


def test_class_weight_equals_sample_weight():
    x, y = ref("train/x"), ref("train/y")
    class_weight = {0: 1.0, 1: 2.0, 2: 0.5}
    a = _compiled_mlp(optimizer=keras.optimizers.SGD(0.1))
    ha = a.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, class_weight=class_weight)
    b = _compiled_mlp(optimizer=keras.optimizers.SGD(0.1))
    sw = np.array([class_weight[int(c)] for c in y], np.float32)
    hb = b.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, sample_weight=sw)
    np.testing.assert_allclose(ha.history["loss"], hb.history["loss"], rtol=1e-6)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6, atol=1e-7)
    # and it changes training compared with no weighting (compare with Keras's unweighted run)
    assert not np.allclose(a.get_weights()[0], ref("train/sgd/final0"), atol=1e-4)


def test_class_weight_with_one_hot_labels():
    x, y = ref("train/x"), ref("train/y")
    class_weight = {0: 1.0, 1: 2.0, 2: 0.5}
    model = _compiled_mlp(optimizer=keras.optimizers.SGD(0.1), loss="categorical_crossentropy")
    history = model.fit(x, np.eye(3, dtype=np.float32)[y], batch_size=8, epochs=2, shuffle=False, verbose=0,
                        class_weight=class_weight)
    assert_matches(history.history["loss"], ref("train/sgd_class_weight/history/loss"), rtol=TRAIN_RTOL,
                   atol=TRAIN_ATOL)
    for i, w in enumerate(model.get_weights()):
        assert_matches(w, ref(f"train/sgd_class_weight/final{i}"), rtol=TRAIN_RTOL, atol=TRAIN_ATOL)


# ---------------------------------------------------------------------------------------------
# Reproducibility and memory


def _seeded_run(seed):
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6)).astype(np.float32)
    y = rng.integers(0, 4, size=64)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dropout(0.3), keras.layers.Dense(4, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=16, epochs=3, shuffle=True, verbose=0)
    return history.history, model.get_weights()


def test_set_random_seed_makes_runs_identical():
    h1, w1 = _seeded_run(123)
    h2, w2 = _seeded_run(123)
    assert h1 == h2
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)
    h3, w3 = _seeded_run(124)
    assert not np.array_equal(w1[0], w3[0])


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise AssertionError("no VmRSS in /proc/self/status")


def test_memory_stable_across_epochs():
    rng = np.random.default_rng(0)
    x = rng.random((2000, 784), dtype=np.float32)
    y = rng.integers(0, 10, 2000)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(128, activation="relu"),
                              keras.layers.Dropout(0.2), keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rss = []
    cb = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: rss.append(_rss_mb()))
    model.fit(x, y, batch_size=32, epochs=5, validation_split=0.1, verbose=0, callbacks=[cb])
    # 57 steps per epoch; a leak of one batch's activations per step (~0.1 MB) would add
    # ~6 MB per epoch. Allow allocator noise.
    growth = max(rss[2:]) - rss[0]
    assert growth < 8.0, f"RSS grew by {growth:.1f} MB from epoch 1 to epochs 3-5: {rss}"


# ---------------------------------------------------------------------------------------------
# Subclassed models, custom train_step, freezing


class _Classifier(keras.Model):
    def __init__(self):
        super().__init__()
        self.hidden = keras.layers.Dense(16, activation="relu")
        self.out = keras.layers.Dense(3)

    def call(self, inputs, training=None):
        return self.out(self.hidden(inputs))


class _CustomStep(_Classifier):
    def __init__(self):
        super().__init__()
        self.loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        self.tracker = keras.metrics.Mean(name="loss")
        self.steps = 0

    def train_step(self, data):
        x, y = data[0], data[1]
        with keras.GradientTape() as tape:
            logits = self(x, training=True)
            loss = self.loss_fn(y, logits)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        self.tracker.update_state(float(loss))
        self.steps += 1
        return {"loss": self.tracker.result()}

    @property
    def metrics(self):
        return [self.tracker]


def _separable_data(n=96, seed=5):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n).astype(np.int32)
    centers = np.array([[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0]], np.float32)
    x = (centers[y] + 0.5 * rng.normal(size=(n, 4))).astype(np.float32)
    return x, y


def test_subclassed_model_tracks_layers():
    model = _Classifier()
    assert model.layers == [model.hidden, model.out]
    model(np.zeros((2, 4), np.float32))
    assert [tuple(w.shape) for w in model.trainable_variables] == [(4, 16), (16,), (16, 3), (3,)]


def test_subclassed_model_custom_train_step_learns():
    keras.utils.set_random_seed(7)
    x, y = _separable_data()
    model = _CustomStep()
    model.compile(optimizer=keras.optimizers.Adam(0.01))
    history = model.fit(x, y, batch_size=16, epochs=8, verbose=0)
    losses = history.history["loss"]
    assert len(losses) == 8 and model.steps == 8 * 6
    assert losses[-1] < 0.6 * losses[0], losses
    acc = np.mean(np.argmax(model.predict(x, verbose=0), axis=-1) == y)
    assert acc > 0.9, acc


@pytest.mark.parametrize("build_first", [False, True], ids=["learns", "after_build"])
def test_subclassed_model_default_train_step(build_first):
    keras.utils.set_random_seed(7)
    x, y = _separable_data()
    model = _Classifier()
    if build_first:
        model(x[:1])
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    history = model.fit(x, y, batch_size=16, epochs=8, verbose=0)
    assert history.history["loss"][-1] < 0.6 * history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.9


def test_frozen_layer_is_not_updated():
    x, y = ref("train/x"), ref("train/y")
    model = _mlp()
    model.layers[0].trainable = False
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 2
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    w = model.get_weights()
    np.testing.assert_array_equal(w[0], ref("train/init0"))
    np.testing.assert_array_equal(w[1], ref("train/init1"))
    assert not np.allclose(w[2], ref("train/init2"))
    assert not np.allclose(w[3], ref("train/init3"))


def test_freezing_second_layer_keeps_its_weights():
    x, y = ref("train/x"), ref("train/y")
    model = _mlp()
    model.layers[1].trainable = False
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    w = model.get_weights()
    np.testing.assert_array_equal(w[2], ref("train/init2"))
    np.testing.assert_array_equal(w[3], ref("train/init3"))
    assert not np.allclose(w[0], ref("train/init0"))


@pytest.mark.parametrize("spelling", ["Accuracy", "ACC"])
def test_accuracy_string_resolves_in_any_case(spelling):
    """Keras lower-cases the name before resolving it, and logs it as written."""
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=[spelling])
    x = np.zeros((6, 4), "float32")
    ev = model.evaluate(x, np.array([0, 1, 2, 0, 1, 2]), verbose=0, return_dict=True)
    assert sorted(ev) == [spelling, "loss"]
    compiled = [m for m in model.metrics if m.name == spelling]
    assert type(compiled[0]).__name__ == "SparseCategoricalAccuracy"

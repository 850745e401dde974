"""`keras.callbacks.ModelCheckpoint` against Keras 3's behaviour (keras/src/callbacks/
model_checkpoint.py): which epochs save, file names, the argument checks and messages, and
that a saved file holds the model of the epoch it was saved at.

Where a test needs a precise sequence of monitored values, a `Script` callback placed before
the checkpoint overwrites that log at each epoch end (callbacks run in list order and share the
logs dict), so the save decisions are checked exactly; the tests on real training check the
files themselves.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest
import rskeras as keras

N_FEATURES, N_CLASSES = 8, 3


def make_data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, N_FEATURES)).astype("float32")
    y = rng.integers(0, N_CLASSES, n).astype("int32")
    return x, y


def make_model(seed=0, learning_rate=0.01):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((N_FEATURES,)),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dense(N_CLASSES, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class Script(keras.callbacks.Callback):
    """Sets `logs[key]` to `values[epoch]` at each epoch end (before the checkpoint reads it)
    and remembers the running epoch, for the save spy."""

    def __init__(self, key=None, values=()):
        super().__init__()
        self.key, self.values, self.epoch = key, list(values), None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.key is not None:
            logs[self.key] = self.values[epoch]


def spy(monkeypatch, model, script, method="save"):
    """Wrap `model.<method>` so that each call records `(epoch, path)`; returns the list."""
    calls = []
    real = getattr(model, method)

    def recording(filepath, *args, **kwargs):
        calls.append((script.epoch, os.fspath(filepath)))
        return real(filepath, *args, **kwargs)

    monkeypatch.setattr(model, method, recording)
    return calls


def fit_scripted(monkeypatch, tmp_path, key, values, method="save", **checkpoint_kwargs):
    """Fit len(values) epochs with `key` scripted; return (saved epochs, checkpoint, path)."""
    x, y = make_data(32)
    model = make_model()
    script = Script(key, values)
    suffix = ".weights.h5" if checkpoint_kwargs.get("save_weights_only") else ".keras"
    path = str(tmp_path / f"ckpt{suffix}")
    checkpoint = keras.callbacks.ModelCheckpoint(path, **checkpoint_kwargs)
    calls = spy(monkeypatch, model, script, method)
    model.fit(x, y, epochs=len(values), batch_size=16, validation_split=0.25, verbose=0,
              callbacks=[script, checkpoint])
    return [epoch for epoch, _ in calls], checkpoint, path


# ------------------------------------------------------------------------------ which epochs save


def test_save_best_only_saves_exactly_on_improving_epochs(monkeypatch, tmp_path):
    # An equal value is not an improvement (Keras compares with a strict less).
    values = [1.0, 0.8, 0.8, 0.9, 0.5, 0.7]
    saved, checkpoint, path = fit_scripted(monkeypatch, tmp_path, "val_loss", values,
                                           save_best_only=True)
    assert saved == [0, 1, 4]
    assert checkpoint.best == 0.5
    assert os.path.isfile(path)


def test_without_save_best_only_every_epoch_saves(monkeypatch, tmp_path):
    saved, _, _ = fit_scripted(monkeypatch, tmp_path, "val_loss", [1.0, 2.0, 3.0])
    assert saved == [0, 1, 2]


@pytest.mark.parametrize("monitor, mode, values, expected", [
    ("val_accuracy", "auto", [0.5, 0.4, 0.6, 0.6, 0.7], [0, 2, 4]),  # auto: max for accuracy
    ("accuracy", "auto", [0.5, 0.4, 0.6, 0.6, 0.7], [0, 2, 4]),
    ("val_loss", "auto", [0.5, 0.4, 0.6, 0.6, 0.3], [0, 1, 4]),  # auto: min otherwise
    ("loss", "auto", [0.5, 0.4, 0.6, 0.6, 0.3], [0, 1, 4]),
    ("val_accuracy", "min", [0.5, 0.4, 0.6, 0.6, 0.3], [0, 1, 4]),
    ("val_loss", "max", [0.5, 0.4, 0.6, 0.6, 0.7], [0, 2, 4]),
])
def test_monitor_and_mode(monkeypatch, tmp_path, monitor, mode, values, expected):
    saved, _, _ = fit_scripted(monkeypatch, tmp_path, monitor, values, monitor=monitor,
                               mode=mode, save_best_only=True)
    assert saved == expected


@pytest.mark.parametrize("monitor, threshold, values, expected", [
    ("val_loss", 1.0, [1.2, 1.1, 1.0, 0.95, 1.0, 0.9], [3, 5]),
    ("val_accuracy", 0.8, [0.5, 0.8, 0.85, 0.7, 0.9], [2, 4]),
])
def test_initial_value_threshold_prevents_saving_until_beaten(monkeypatch, tmp_path, monitor,
                                                               threshold, values, expected):
    saved, _, _ = fit_scripted(monkeypatch, tmp_path, monitor, values, monitor=monitor,
                               save_best_only=True, initial_value_threshold=threshold)
    assert saved == expected


def test_initial_value_threshold_never_beaten_writes_no_file(monkeypatch, tmp_path):
    saved, _, path = fit_scripted(monkeypatch, tmp_path, "val_loss", [1.2, 1.1],
                                  save_best_only=True, initial_value_threshold=1.0)
    assert saved == [] and not os.path.exists(path)


def test_nan_is_never_an_improvement(monkeypatch, tmp_path, capsys):
    # A NaN first value left `best` at None, which the verbose message used to format with
    # `:.5f` (TypeError).
    saved, _, _ = fit_scripted(monkeypatch, tmp_path, "val_loss", [math.nan, 1.0, math.nan],
                               save_best_only=True, verbose=1)
    assert saved == [1]
    out = capsys.readouterr().out
    assert "Epoch 1: val_loss did not improve from None" in out
    assert "Epoch 3: val_loss did not improve from 1.00000" in out


def test_missing_monitor_warns_and_saves(monkeypatch, tmp_path):
    x, y = make_data(32)
    model = make_model()
    script = Script()
    calls = spy(monkeypatch, model, script)
    checkpoint = keras.callbacks.ModelCheckpoint(str(tmp_path / "m.keras"), save_best_only=True)
    with pytest.warns(UserWarning, match="Can save best model only with val_loss available"):
        model.fit(x, y, epochs=2, verbose=0, callbacks=[script, checkpoint])  # no validation
    assert [epoch for epoch, _ in calls] == [0, 1]


def test_save_weights_only_calls_save_weights(monkeypatch, tmp_path):
    saved, _, path = fit_scripted(monkeypatch, tmp_path, "val_loss", [1.0, 2.0, 0.5],
                                  method="save_weights", save_weights_only=True,
                                  save_best_only=True)
    assert saved == [0, 2]
    assert path.endswith(".weights.h5") and os.path.isfile(path)


# ------------------------------------------------------------------------------ the saved files


def test_best_model_file_reproduces_the_best_epoch(monkeypatch, tmp_path):
    """Real training, with a learning rate high enough that val_loss goes up and down: the
    saves land exactly on the epochs that beat every earlier val_loss, and the file left is the
    model of the epoch with the lowest one."""
    x, y = make_data(160)
    x_val, y_val = x[128:], y[128:]  # validation_split=0.2 takes the last 20%
    model = make_model(learning_rate=0.1)
    script = Script()
    calls = spy(monkeypatch, model, script)
    path = str(tmp_path / "best.keras")
    history = model.fit(x, y, epochs=8, batch_size=16, validation_split=0.2, shuffle=False,
                        verbose=0, callbacks=[script, keras.callbacks.ModelCheckpoint(
                            path, save_best_only=True)])
    val_losses = history.history["val_loss"]
    improving = [e for e, v in enumerate(val_losses) if v < min(val_losses[:e], default=math.inf)]
    assert len(improving) < len(val_losses), "every epoch improved: the test checks nothing"
    assert [epoch for epoch, _ in calls] == improving
    best = keras.models.load_model(path)
    loss, accuracy = best.evaluate(x_val, y_val, batch_size=16, verbose=0)
    best_epoch = int(np.argmin(val_losses))
    assert abs(loss - min(val_losses)) <= 1e-6
    assert accuracy == pytest.approx(history.history["val_accuracy"][best_epoch], abs=1e-6)


def test_best_weights_file_reproduces_the_best_epoch(tmp_path):
    x, y = make_data(160)
    model = make_model(learning_rate=0.1)
    path = str(tmp_path / "best.weights.h5")
    history = model.fit(x, y, epochs=6, batch_size=16, validation_split=0.2, shuffle=False,
                        verbose=0, callbacks=[keras.callbacks.ModelCheckpoint(
                            path, save_best_only=True, save_weights_only=True)])
    fresh = make_model(seed=1)
    fresh.load_weights(path)
    loss, _ = fresh.evaluate(x[128:], y[128:], batch_size=16, verbose=0)
    assert abs(loss - min(history.history["val_loss"])) <= 1e-6


def test_epoch_and_metric_fields_give_one_file_per_epoch(tmp_path):
    x, y = make_data(64)
    model = make_model()
    pattern = str(tmp_path / "ckpt" / "model-{epoch:02d}-{val_loss:.2f}.keras")
    history = model.fit(x, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0,
                        callbacks=[keras.callbacks.ModelCheckpoint(pattern)])
    expected = [f"model-{e + 1:02d}-{v:.2f}.keras"
                for e, v in enumerate(history.history["val_loss"])]
    assert sorted(os.listdir(tmp_path / "ckpt")) == sorted(expected)
    assert expected[0].startswith("model-01-") and expected[2].startswith("model-03-")
    last = keras.models.load_model(tmp_path / "ckpt" / expected[-1])
    np.testing.assert_array_equal(last.predict(x, verbose=0), model.predict(x, verbose=0))


def test_a_missing_key_in_the_path_raises_key_error_naming_it(tmp_path):
    x, y = make_data(32)
    model = make_model()
    pattern = str(tmp_path / "m-{epoch}-{val_acc:.2f}.keras")  # the log is "val_accuracy"
    checkpoint = keras.callbacks.ModelCheckpoint(pattern)
    with pytest.raises(KeyError, match="val_acc") as info:
        model.fit(x, y, epochs=1, validation_split=0.25, verbose=0, callbacks=[checkpoint])
    assert "Failed to format this callback filepath" in str(info.value)
    assert os.listdir(tmp_path) == []


def test_save_freq_int_saves_every_n_batches(tmp_path):
    # 100 samples, batch 10: 10 batches per epoch, 30 in all; the count runs across epochs, so
    # save_freq=4 saves after global batches 4, 8, ..., 28 and never at an epoch end.
    x, y = make_data(100)
    model = make_model()
    pattern = str(tmp_path / "e{epoch}-b{batch:02d}.weights.h5")
    model.fit(x, y, epochs=3, batch_size=10, verbose=0, callbacks=[
        keras.callbacks.ModelCheckpoint(pattern, save_weights_only=True, save_freq=4)])
    expected = [(1, 4), (1, 8), (2, 2), (2, 6), (2, 10), (3, 4), (3, 8)]  # 1-based, as Keras
    assert sorted(os.listdir(tmp_path)) == sorted(f"e{e}-b{b:02d}.weights.h5" for e, b in expected)


def test_the_folder_is_created(tmp_path):
    x, y = make_data(32)
    path = tmp_path / "a" / "b" / "c" / "model.keras"
    make_model().fit(x, y, epochs=1, verbose=0,
                     callbacks=[keras.callbacks.ModelCheckpoint(path, monitor="loss")])
    assert path.is_file()
    keras.models.load_model(path)


def test_verbose_prints_keras_lines(monkeypatch, tmp_path, capsys):
    _, _, path = fit_scripted(monkeypatch, tmp_path, "val_loss", [1.0, 2.0, 0.25],
                              save_best_only=True, verbose=1)
    lines = [line for line in capsys.readouterr().out.splitlines() if line]
    assert lines == [
        f"Epoch 1: val_loss improved from None to 1.00000, saving model to {path}",
        f"Epoch 1: finished saving model to {path}",
        "Epoch 2: val_loss did not improve from 1.00000",
        f"Epoch 3: val_loss improved from 1.00000 to 0.25000, saving model to {path}",
        f"Epoch 3: finished saving model to {path}",
    ]
    _, _, path = fit_scripted(monkeypatch, tmp_path, "val_loss", [1.0], verbose=1)
    lines = [line for line in capsys.readouterr().out.splitlines() if line]
    assert lines == [f"Epoch 1: saving model to {path}", f"Epoch 1: finished saving model to {path}"]


# ------------------------------------------------------------------------------ argument checks


@pytest.mark.parametrize("name", ["w.h5", "w.keras", "w.weights", "w.weights.hdf5", "w"])
def test_save_weights_only_requires_weights_h5(tmp_path, name):
    with pytest.raises(ValueError, match=r"When using `save_weights_only=True` in "
                                         r"`ModelCheckpoint`, the filepath provided must end in "
                                         r"`\.weights\.h5` \(Keras weights format\)\. Received"):
        keras.callbacks.ModelCheckpoint(str(tmp_path / name), save_weights_only=True)


@pytest.mark.parametrize("name", ["m.keras", "m.h5", "ckpt-{epoch:02d}.keras"])
def test_full_model_paths_accepted(tmp_path, name):
    for path in (str(tmp_path / name), tmp_path / name):  # a str and a PathLike
        assert keras.callbacks.ModelCheckpoint(path).filepath == str(tmp_path / name)


@pytest.mark.parametrize("name", ["m", "m.ckpt", "m.pt", "m.json", "m.keras.zip", "m.tf"])
def test_other_full_model_paths_refused(tmp_path, name):
    with pytest.raises(ValueError, match=r"The filepath provided must end in `\.keras`"):
        keras.callbacks.ModelCheckpoint(str(tmp_path / name))


@pytest.mark.parametrize("save_freq", ["batch", 0, -3, 2.5, None])
def test_bad_save_freq_refused(tmp_path, save_freq):
    with pytest.raises(ValueError, match="save_freq"):
        keras.callbacks.ModelCheckpoint(str(tmp_path / "m.keras"), save_freq=save_freq)


# ------------------------------------------------------------------------------ the issue's program


def test_the_issue_program(tmp_path, monkeypatch):
    """The program from the issue, on random data shaped like Fashion-MNIST (examples/
    save_and_load.py runs it on the real images)."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    x = rng.random((500, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, 500)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.layers.Flatten(input_shape=(28, 28)),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=5, validation_split=0.2, verbose=0, callbacks=[
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=3),
        keras.callbacks.ModelCheckpoint("best_model.h5", save_best_only=True),
    ])
    with pytest.warns(UserWarning, match="legacy"):
        model.save("my_model.h5")
    model.save("my_model.keras")

    probe = x[:64]
    expected = model.predict(probe, verbose=0)
    for name in ("my_model.keras", "my_model.h5"):
        np.testing.assert_array_equal(keras.models.load_model(name).predict(probe, verbose=0),
                                      expected, err_msg=name)
    best = keras.models.load_model("best_model.h5")
    loss, _ = best.evaluate(x[400:], y[400:], verbose=0)  # the validation split: last 20%
    assert abs(loss - min(history.history["val_loss"])) <= 1e-6


FASHION_DIR = "/usr/share/datasets/fashion-mnist"  # Debian's dataset-fashion-mnist
EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "save_and_load.py")


@pytest.mark.skipif(not os.path.isdir(FASHION_DIR), reason=f"{FASHION_DIR} absent (dataset-fashion-mnist)")
def test_the_issue_program_on_fashion_mnist(tmp_path):
    """examples/save_and_load.py: the same program on the real 60,000 images (about 8 s)."""
    proc = subprocess.run([sys.executable, EXAMPLE, str(tmp_path)], capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert out.count("[ok]") == 3 and "[FAILED]" not in out and "all checks passed" in out
    assert sorted(os.listdir(tmp_path)) == ["best_model.h5", "my_model.h5", "my_model.keras"]

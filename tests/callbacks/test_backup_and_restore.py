"""`keras.callbacks.BackupAndRestore` against Keras 3's behaviour (keras/src/callbacks/
backup_and_restore.py): a `fit` interrupted by an exception or by `kill -9` and started again
with the same backup folder resumes at the epoch after the last backup, with the weights and
the optimizer state of that moment, and ends where an uninterrupted run ends.

Every run here uses `shuffle=False` and a model without dropout, so two runs from the same
initial weights do the same arithmetic in the same order: "equal" below means bit-for-bit.
"""

from __future__ import annotations

import inspect
import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import rskeras as keras

EPOCHS, BATCH, SAMPLES = 6, 16, 96  # 6 batches per epoch


def make_data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((SAMPLES, 8)).astype("float32")
    y = rng.integers(0, 3, SAMPLES).astype("int32")
    return x, y


def make_model(seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((8,)),
        keras.layers.Dense(16, activation="relu"),  # no dropout: the runs are deterministic
        keras.layers.Dense(3, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def fit(model, callbacks, epochs=EPOCHS):
    x, y = make_data()
    return model.fit(x, y, epochs=epochs, batch_size=BATCH, shuffle=False, verbose=0,
                     callbacks=callbacks)


# A child process that trains with the same model, data and fit (their source, copied), and
# SIGKILLs itself after batch `kill_batch` of epoch `kill_epoch`; a child that gets no kill
# point trains to the end and saves its weights with np.savez.
CHILD = "\n\n".join([
    "import json, os, signal, sys\nimport numpy as np\nimport rskeras as keras",
    f"EPOCHS, BATCH, SAMPLES = {EPOCHS}, {BATCH}, {SAMPLES}",
    *(inspect.getsource(f) for f in (make_data, make_model, fit)),
    textwrap.dedent("""
    backup_dir, out, seed, kill_epoch, kill_batch = sys.argv[1:]
    kill_at = (int(kill_epoch), int(kill_batch))

    class KillNine(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
            self.begun = getattr(self, "begun", []) + [epoch]

        def on_train_batch_end(self, batch, logs=None):
            if (self.epoch, batch) == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

    model = make_model(int(seed))
    watcher = KillNine()
    history = fit(model, [keras.callbacks.BackupAndRestore(backup_dir), watcher])
    np.savez(out, *model.get_weights())
    with open(out + ".json", "w") as f:
        json.dump({"begun": watcher.begun, "history_epochs": history.epoch,
                   "iterations": model.optimizer.iterations}, f)
    """),
])


def snapshot(model):
    """Weights, optimizer.iterations and the optimizer's state arrays, as NumPy copies."""
    return ([np.array(w) for w in model.get_weights()], model.optimizer.iterations,
            [np.array(v) for _, v in model.optimizer.get_state_arrays()])


def assert_same_state(got, want):
    weights, iterations, state = got
    assert iterations == want[1]
    assert len(weights) == len(want[0]) and len(state) == len(want[2])
    for i, (a, b) in enumerate(zip(weights, want[0], strict=True)):
        np.testing.assert_array_equal(a, b, err_msg=f"weight {i}")
    for i, (a, b) in enumerate(zip(state, want[2], strict=True)):
        np.testing.assert_array_equal(a, b, err_msg=f"optimizer state array {i}")


class Watch(keras.callbacks.Callback):
    """Records the epochs begun, and the full state when epoch `at` begins."""

    def __init__(self, at=None):
        super().__init__()
        self.at, self.begun, self.state = at, [], None

    def on_epoch_begin(self, epoch, logs=None):
        self.begun.append(epoch)
        if epoch == self.at:
            self.state = snapshot(self.model)


class RaiseAt(keras.callbacks.Callback):
    def __init__(self, epoch, batch=None):
        super().__init__()
        self.epoch_at, self.batch_at, self.epoch = epoch, batch, None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        if self.batch_at is None and epoch == self.epoch_at:
            raise RuntimeError(f"interrupted at epoch {epoch}")

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == (self.epoch_at, self.batch_at):
            raise RuntimeError(f"interrupted at epoch {self.epoch}, batch {batch}")


def files(backup_dir):
    return sorted(os.listdir(backup_dir)) if os.path.isdir(backup_dir) else []


def read_metadata(backup_dir):
    with open(os.path.join(backup_dir, "training_metadata.json")) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def uninterrupted():
    """The reference: 6 epochs in one go; its state when epoch 3 begins, its history, its end."""
    model = make_model(0)
    watch = Watch(at=3)
    history = fit(model, [watch])
    return {"at_3": watch.state, "history": history.history, "final": snapshot(model)}


# ------------------------------------------------------------------------------ an exception


def test_resume_after_an_exception(tmp_path, uninterrupted):
    backup = str(tmp_path / "backup")
    with pytest.raises(RuntimeError, match="interrupted at epoch 3"):
        fit(make_model(0), [keras.callbacks.BackupAndRestore(backup), RaiseAt(3)])
    assert files(backup) == ["latest.weights.h5", "training_metadata.json"]
    assert read_metadata(backup) == {"epoch": 3, "batch": 0}  # Keras's layout: next epoch

    # A new process would build and compile a new model (other initial weights) and a new
    # callback on the same folder.
    model = make_model(seed=1)
    assert not np.array_equal(model.get_weights()[0], uninterrupted["final"][0][0])
    watch = Watch(at=3)
    history = fit(model, [keras.callbacks.BackupAndRestore(backup), watch])

    assert watch.begun == [3, 4, 5]
    assert history.epoch == [3, 4, 5] and len(history.history["loss"]) == 3
    assert_same_state(watch.state, uninterrupted["at_3"])
    assert watch.state[1] == 3 * (SAMPLES // BATCH)
    for key, values in history.history.items():
        assert values == uninterrupted["history"][key][3:], key
    assert_same_state(snapshot(model), uninterrupted["final"])
    assert files(backup) == []  # delete_checkpoint=True after a normal end


def test_resume_in_the_same_model_object(tmp_path, uninterrupted):
    """Keras's docstring example: the same model and callback, fit called again."""
    backup = str(tmp_path / "backup")
    model = make_model(0)
    callback = keras.callbacks.BackupAndRestore(backup)
    with pytest.raises(RuntimeError):
        fit(model, [callback, RaiseAt(4, batch=2)])  # mid-epoch: epoch 4 is redone
    history = fit(model, [callback])
    assert history.epoch == [4, 5]
    assert_same_state(snapshot(model), uninterrupted["final"])


# ------------------------------------------------------------------------------ kill -9


def run_child(script, backup, out, seed, kill_at=(-1, -1)):
    return subprocess.run([sys.executable, str(script), backup, out, str(seed), *map(str, kill_at)],
                          capture_output=True, text=True, timeout=120, check=False)


def test_resume_after_kill_minus_nine(tmp_path, uninterrupted):
    script = tmp_path / "train_child.py"
    script.write_text(CHILD)
    backup, out = str(tmp_path / "backup"), str(tmp_path / "weights.npz")

    killed = run_child(script, backup, out, seed=0, kill_at=(3, 2))  # mid-epoch 3
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not os.path.exists(out)
    assert read_metadata(backup) == {"epoch": 3, "batch": 0}

    resumed = run_child(script, backup, out, seed=1)  # other initial weights, restored over
    assert resumed.returncode == 0, resumed.stderr
    with open(out + ".json") as f:
        report = json.load(f)
    assert report["begun"] == [3, 4, 5] and report["history_epochs"] == [3, 4, 5]
    assert report["iterations"] == uninterrupted["final"][1] == EPOCHS * (SAMPLES // BATCH)
    with np.load(out) as saved:
        weights = [saved[f"arr_{i}"] for i in range(len(saved.files))]
    assert len(weights) == len(uninterrupted["final"][0])
    for i, (got, want) in enumerate(zip(weights, uninterrupted["final"][0], strict=True)):
        np.testing.assert_array_equal(got, want, err_msg=f"weight {i}")
    assert files(backup) == []


# ------------------------------------------------------------------------------ options


def test_delete_checkpoint_false_keeps_the_backup(tmp_path, uninterrupted):
    backup = str(tmp_path / "backup")
    model = make_model(0)
    fit(model, [keras.callbacks.BackupAndRestore(backup, delete_checkpoint=False)])
    assert files(backup) == ["latest.weights.h5", "training_metadata.json"]
    assert read_metadata(backup) == {"epoch": EPOCHS, "batch": 0}
    fresh = make_model(seed=2)
    fresh.load_weights(os.path.join(backup, "latest.weights.h5"))
    assert_same_state(snapshot(fresh), uninterrupted["final"])
    # As in Keras, a later fit on that folder resumes after the last epoch: nothing left to do.
    watch = Watch()
    history = make_model(0).fit(*make_data(), epochs=EPOCHS, batch_size=BATCH, verbose=0,
                                callbacks=[keras.callbacks.BackupAndRestore(backup), watch])
    assert watch.begun == [] and history.epoch == []


def test_the_backup_is_kept_after_an_exception_and_deleted_after_a_normal_end(tmp_path):
    backup = str(tmp_path / "backup")
    with pytest.raises(RuntimeError):
        fit(make_model(0), [keras.callbacks.BackupAndRestore(backup), RaiseAt(1)])
    assert files(backup) == ["latest.weights.h5", "training_metadata.json"]
    fit(make_model(0), [keras.callbacks.BackupAndRestore(backup)])
    assert files(backup) == []


def test_save_freq_int(tmp_path, monkeypatch):
    """save_freq=4 backs up after every 4th batch, counted across epochs (36 batches: 9
    backups, none at epoch ends); a resume redoes the interrupted epoch from its start with the
    state of the last backup, as Keras does."""
    backup = str(tmp_path / "backup")
    model = make_model(0)
    saves = []
    real = model.save_weights

    def counting(filepath, *args, **kwargs):
        saves.append(model.optimizer.iterations)
        return real(filepath, *args, **kwargs)

    monkeypatch.setattr(model, "save_weights", counting)
    fit(model, [keras.callbacks.BackupAndRestore(backup, save_freq=4, delete_checkpoint=False)])
    assert saves == [4, 8, 12, 16, 20, 24, 28, 32, 36]
    assert read_metadata(backup) == {"epoch": 5, "batch": 5}  # epoch 5's last batch

    # Interrupted in epoch 3 (batches 18-23 overall) after its batch 2: the last backup was
    # after overall batch 20, i.e. epoch 3 batch 1.
    backup = str(tmp_path / "backup2")
    with pytest.raises(RuntimeError):
        fit(make_model(0), [keras.callbacks.BackupAndRestore(backup, save_freq=4),
                            RaiseAt(3, batch=2)])
    assert read_metadata(backup) == {"epoch": 3, "batch": 1}
    watch = Watch(at=3)
    model = make_model(seed=1)
    history = fit(model, [keras.callbacks.BackupAndRestore(backup, save_freq=4), watch])
    assert watch.begun == [3, 4, 5] and history.epoch == [3, 4, 5]
    assert watch.state[1] == 20  # optimizer.iterations restored from the mid-epoch backup
    assert model.optimizer.iterations == 20 + 3 * (SAMPLES // BATCH)


def test_an_unbuilt_model_cannot_resume(tmp_path):
    backup = str(tmp_path / "backup")
    with pytest.raises(RuntimeError):
        fit(make_model(0), [keras.callbacks.BackupAndRestore(backup), RaiseAt(1)])
    model = keras.Sequential([keras.layers.Dense(16, activation="relu"), keras.layers.Dense(3)])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="built"):
        fit(model, [keras.callbacks.BackupAndRestore(backup)])


@pytest.mark.parametrize("kwargs", [{"backup_dir": ""}, {"backup_dir": None},
                                    {"backup_dir": "b", "save_freq": "batch"},
                                    {"backup_dir": "b", "save_freq": 0}])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        keras.callbacks.BackupAndRestore(**kwargs)

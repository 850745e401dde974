"""What crosses between the host and the GPU during `fit`: each array once per fit, and the
logs at most once per step (only when a callback reads them); kernel metadata and constants
are cached on the device by content."""

from __future__ import annotations

import numpy as np
import pytest
import rskeras as keras
from rskeras.trainers.data_adapter import ArrayBatches

STEPS, BATCH, EPOCHS = 6, 16, 2


def _data(n=STEPS * BATCH, features=12, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, features)).astype(np.float32), rng.integers(0, 4, size=n)


def _model():
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((12,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(4)])
    model.compile(optimizer="adam", metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


class _ReadsBatchLogs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.logs = []

    def on_train_batch_end(self, batch, logs=None):
        self.logs.append(dict(logs))


def test_fit_reads_back_once_per_epoch_when_no_callback_reads_batch_logs(gpu):
    x, y = _data()
    with keras.device("gpu"):
        model = _model()
        model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)  # builds; caches constants
        downloads, uploaded = gpu.downloads, gpu.uploaded_bytes
        history = model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, verbose=0)
    # One read-back per epoch: all the epoch's logs together.
    assert gpu.downloads - downloads == EPOCHS
    assert set(history.history) == {"loss", "accuracy"}
    # The data went up once (4 bytes an element), plus one permutation per epoch; a step
    # sends at most a few bytes (the gradient's seed), never a batch.
    data = 4 * (x.size + y.size) + EPOCHS * 4 * len(x)
    assert data <= gpu.uploaded_bytes - uploaded <= data + 16 * EPOCHS * STEPS


def test_a_callback_reading_batch_logs_costs_one_read_back_per_step(gpu):
    x, y = _data()
    reader = _ReadsBatchLogs()
    with keras.device("gpu"):
        model = _model()
        model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
        downloads = gpu.downloads
        model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, verbose=0, callbacks=[reader])
    assert gpu.downloads - downloads == EPOCHS * (STEPS + 1)
    assert len(reader.logs) == EPOCHS * STEPS
    assert all(isinstance(v, float) for logs in reader.logs for v in logs.values())
    assert set(reader.logs[-1]) == {"loss", "accuracy"}


def test_validation_and_evaluate_read_back_once(gpu):
    x, y = _data()
    with keras.device("gpu"):
        model = _model()
        model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, validation_split=0.25)
        downloads = gpu.downloads
        history = model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, verbose=0, validation_split=0.25)
        after_fit = gpu.downloads
        result = model.evaluate(x, y, batch_size=BATCH, verbose=0, return_dict=True)
    assert after_fit - downloads == 2 * EPOCHS  # train logs + validation logs, per epoch
    assert gpu.downloads - after_fit == 1
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(isinstance(v, float) for v in result.values())


@pytest.mark.parametrize("shuffle", [False, True])
def test_batches_on_the_gpu_match_the_host_batches(gpu, shuffle):
    x, y = _data(n=37)
    sw = np.linspace(0.5, 1.5, 37)  # float64: kept as float32 on the device
    batches = ArrayBatches([x, y, sw], 8, shuffle=shuffle)
    np.random.seed(5)
    host = [[np.asarray(a) for a in b] for b in batches]
    np.random.seed(5)
    with keras.device("gpu"):
        dev = list(batches)
    assert len(dev) == len(host) == 5
    for got, want in zip(dev, host):
        assert all(t.device == "gpu" for t in got)
        np.testing.assert_array_equal(got[0].numpy(), want[0])
        np.testing.assert_array_equal(got[1].numpy(), want[1])
        np.testing.assert_allclose(got[2].numpy(), want[2], rtol=1e-7)
        assert got[2].dtype == "float32"


def test_an_array_over_the_buffer_limit_is_sent_a_batch_at_a_time(gpu, monkeypatch):
    x, y = _data(n=20)
    monkeypatch.setitem(gpu.ctx.limits, "max-storage-buffer-binding-size", x[:8].nbytes)
    batches = ArrayBatches([x, y, None], 8)
    with keras.device("gpu"):
        uploaded = gpu.uploaded_bytes
        dev = list(batches)
    assert batches._resident[0] is None and batches._resident[1] is not None
    # y once, x a batch at a time (so also once), and a few bytes of slice metadata.
    assert 0 <= gpu.uploaded_bytes - uploaded - (x.nbytes + 4 * y.size) <= 256
    np.testing.assert_array_equal(np.concatenate([b[0].numpy() for b in dev]), x)
    assert dev[0][2] is None


def test_constants_are_cached_by_content_and_never_become_storage(gpu):
    a = gpu.constant(np.array([1, 2, 3], np.int32))
    assert gpu.constant(np.array([1, 2, 3], np.int32)) is a
    assert gpu.constant(np.array([1, 2, 4], np.int32)) is not a
    assert gpu.constant(np.array([1, 2, 3], np.int64)) is not a  # dtype is part of the key
    assert a.readonly
    big = np.zeros(1024, np.float32)  # over CONSTANT_BYTES: uploaded, not cached
    assert gpu.constant(big) is not gpu.constant(big)
    # A launcher that hands back its (cached) input gives the core a copy.
    x = keras.ops.convert_to_tensor(np.array([5.0, 6.0], np.float32)).to("gpu")
    v = keras.Variable(np.zeros(2, np.float32))
    with keras.device("gpu"):
        w = keras.Variable(np.zeros(2, np.float32))
    w.assign_add(x * 1.0)
    w.assign_add(keras.ops.convert_to_tensor(np.array([1.0, 1.0], np.float32)).to("gpu"))
    np.testing.assert_array_equal(w.numpy(), [6.0, 7.0])
    np.testing.assert_array_equal(v.numpy(), [0.0, 0.0])
    # The weak scalar 1.0 sent with `x * 1.0` is still 1.0 for the next op.
    np.testing.assert_array_equal((x * 1.0).numpy(), [5.0, 6.0])

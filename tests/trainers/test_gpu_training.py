"""Training on the gpu device: the MLP and CNN of the examples (small), fit on the GPU and
on the CPU from the same seed, give the same losses and weights (float32 tolerance), and the
model state stays on the GPU."""

from __future__ import annotations

import numpy as np
import pytest
import rskeras as keras


def _data(shape, n=96, classes=10, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, *shape)).astype(np.float32)
    y = rng.integers(0, classes, size=n)
    return x, y


def _fit(make_model, x, y, device, optimizer, shuffle=False):
    keras.utils.set_random_seed(1)
    with keras.device(device):
        model = make_model()
        model.compile(optimizer=optimizer(), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        history = model.fit(x, y, batch_size=32, epochs=2, verbose=0, shuffle=shuffle)
        loss, acc = model.evaluate(x, y, verbose=0)
        pred = model.predict(x[:8], verbose=0)
    return model, history.history["loss"], loss, pred


def _mlp():
    return keras.Sequential([keras.Input((20,)), keras.layers.Dense(32, activation="relu"),
                             keras.layers.Dropout(0.2), keras.layers.Dense(10, activation="softmax")])


def _cnn():
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(8, 3, activation="relu", padding="same"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(10, activation="softmax"),
    ])


@pytest.mark.parametrize("make_model,shape", [(_mlp, (20,)), (_cnn, (8, 8, 1))], ids=["mlp", "cnn"])
@pytest.mark.parametrize("optimizer", [keras.optimizers.Adam, lambda: keras.optimizers.SGD(0.05, momentum=0.9)],
                         ids=["adam", "sgd"])
def test_fit_on_gpu_matches_cpu(gpu, make_model, shape, optimizer):
    x, y = _data(shape)
    cpu_model, cpu_hist, cpu_loss, cpu_pred = _fit(make_model, x, y, "cpu", optimizer)
    before = gpu.dispatches
    gpu_model, gpu_hist, gpu_loss, gpu_pred = _fit(make_model, x, y, "gpu", optimizer)
    assert gpu.dispatches > before
    assert all(w.device == "gpu" for w in gpu_model.weights)
    assert all(v.device == "gpu" for v in gpu_model.optimizer.variables)
    np.testing.assert_allclose(gpu_hist, cpu_hist, rtol=1e-4)
    np.testing.assert_allclose(gpu_loss, cpu_loss, rtol=1e-4)
    np.testing.assert_allclose(gpu_pred, cpu_pred, rtol=1e-3, atol=1e-5)
    for wg, wc in zip(gpu_model.get_weights(), cpu_model.get_weights()):
        np.testing.assert_allclose(wg, wc, rtol=1e-3, atol=1e-5)


def test_shuffled_fit_on_gpu_matches_cpu(gpu):
    """With shuffling the GPU gathers each batch from the resident arrays; the same NumPy
    permutation gives the CPU's batches."""
    x, y = _data((20,))
    cpu = _fit(_mlp, x, y, "cpu", keras.optimizers.Adam, shuffle=True)
    got = _fit(_mlp, x, y, "gpu", keras.optimizers.Adam, shuffle=True)
    np.testing.assert_allclose(got[1], cpu[1], rtol=1e-4)
    for wg, wc in zip(got[0].get_weights(), cpu[0].get_weights()):
        np.testing.assert_allclose(wg, wc, rtol=1e-3, atol=1e-5)

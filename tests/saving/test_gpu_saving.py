"""Saving and loading on the gpu device: a model trained on the GPU saves in every format,
loads back onto the GPU (weights and optimizer state on the device) and onto the CPU, and
predicts the same; training continues from the loaded optimizer state."""

from __future__ import annotations

import numpy as np
import pytest
import rskeras as keras


def _model():
    return keras.Sequential([keras.Input((12,)), keras.layers.Dense(16, activation="relu"),
                             keras.layers.BatchNormalization(),
                             keras.layers.Dense(3, activation="softmax")])


@pytest.mark.parametrize("ext", [".keras", ".h5", ".weights.h5"])
def test_gpu_model_saves_and_loads_on_both_devices(gpu, tmp_path, ext):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 12)).astype(np.float32)
    y = rng.integers(0, 3, size=64)
    keras.utils.set_random_seed(0)
    with keras.device("gpu"):
        model = _model()
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(x, y, epochs=2, batch_size=16, verbose=0)
        expected = model.predict(x, verbose=0)
        path = str(tmp_path / f"m{ext}")
        if ext == ".weights.h5":
            model.save_weights(path)
        else:
            model.save(path)
    for device in ("gpu", "cpu"):
        with keras.device(device):
            if ext == ".weights.h5":
                loaded = _model()
                loaded.compile("adam", "sparse_categorical_crossentropy")
                loaded.optimizer.build(loaded.trainable_variables)
                loaded.load_weights(path)
            else:
                loaded = keras.models.load_model(path)
            assert all(w.device == device for w in loaded.weights)
            np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
            assert loaded.optimizer.iterations == model.optimizer.iterations
            for (name, a), (_, b) in zip(loaded.optimizer.get_state_arrays(),
                                         model.optimizer.get_state_arrays()):
                np.testing.assert_array_equal(a, b, err_msg=name)
            loaded.fit(x, y, epochs=1, batch_size=16, verbose=0)
            assert loaded.optimizer.iterations == model.optimizer.iterations + 4

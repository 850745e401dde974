"""The gpu device used from several Python threads at once: the executor serializes its entry
points, so concurrent predict, fit and raw ops never interleave their recording."""

from __future__ import annotations

import threading

import numpy as np
import rskeras as keras
from rskeras import ops


def test_predict_fit_and_ops_from_four_threads_on_the_gpu(gpu):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 20)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    a = rng.normal(size=(48, 48)).astype(np.float32)
    errors: list[BaseException] = []
    with keras.device("gpu"):
        keras.utils.set_random_seed(3)
        model = keras.Sequential([keras.Input((20,)), keras.layers.Dense(32, activation="relu"),
                                  keras.layers.Dense(10, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy")

        def predictor():
            for _ in range(40):
                p = model.predict(x[:16], verbose=0)
                assert p.shape == (16, 10) and np.all(np.isfinite(p))

        def trainer():
            for _ in range(10):
                model.fit(x, y, batch_size=16, epochs=1, verbose=0)

        def raw_ops():
            t = ops.convert_to_tensor(a).to("gpu")
            for _ in range(40):
                got = np.asarray(ops.matmul(t, t))
                np.testing.assert_allclose(got, a @ a, rtol=1e-4, atol=1e-4)

        def run(fn):
            try:
                fn()
            except BaseException as e:  # noqa: BLE001 - reported by the main thread
                errors.append(e)

        threads = [threading.Thread(target=run, args=(f,))
                   for f in (predictor, predictor, trainer, raw_ops)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        assert not any(t.is_alive() for t in threads), "a thread hung on the gpu device"
        assert not errors, errors
        w1, b1, w2, b2 = model.get_weights()
        h = np.maximum(x @ w1 + b1, 0) @ w2 + b2
        e = np.exp(h - h.max(-1, keepdims=True))
        np.testing.assert_allclose(model.predict(x, verbose=0), e / e.sum(-1, keepdims=True),
                                   rtol=1e-4, atol=1e-5)

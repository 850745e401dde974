"""One model used from several Python threads at once, as Keras on TensorFlow allows:
`predict` in some threads while others run `fit` (and evaluate, train_on_batch) on the same
model. Each predict batch must see the weights of a whole number of optimizer steps (the
model's lock, `rskeras.utils.locks`), nothing may raise, and the model must still work
afterwards."""

from __future__ import annotations

import pickle
import threading
import time
import traceback

import numpy as np
import pytest
import rskeras as keras
from rskeras import ops

TOTAL_CALLS = 10_000
THREADS = 4


def _run_threads(workers, timeout=240):
    """Start one thread per worker (after a barrier, so they overlap), join them, and return
    the formatted exceptions they raised."""
    errors, barrier = [], threading.Barrier(len(workers))

    def wrap(fn):
        def run():
            try:
                barrier.wait()
                fn()
            except BaseException:  # noqa: BLE001 - reported by the test
                errors.append(traceback.format_exc())
        return run

    threads = [threading.Thread(target=wrap(w), daemon=True) for w in workers]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    hung = [t for t in threads if t.is_alive()]
    assert not hung, f"{len(hung)} thread(s) still running after {timeout} s (deadlock?)"
    return errors


def _forward(weights, x):
    w1, b1, w2, b2 = weights
    return np.maximum(x @ w1 + b1, 0) @ w2 + b2


def test_predict_and_fit_from_four_threads():
    """10,000 calls from 4 threads: two predict, one fits, one mixes fit, evaluate,
    train_on_batch and predict_on_batch. No call raises, every prediction is finite, and
    after the threads join the model predicts deterministically (what the weights give).

    The hidden kernel has 64 * 256 = 16384 weights, enough for the core to release the GIL
    in its kernels (the forward matmul, the optimizer update), so two threads really run in
    the core at once: one thread's forward pass reads the weights while another thread's
    update writes them (two `fit`s do not exclude each other)."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(256, activation="relu"),
                              keras.layers.Dense(3)])
    model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(
        from_logits=True), metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 64)).astype(np.float32)
    y = rng.integers(0, 3, 8)
    per_thread = TOTAL_CALLS // THREADS
    bad_outputs = []

    def check(out):
        if out.shape != (len(out), 3) or not np.all(np.isfinite(out)):
            bad_outputs.append(out)

    def predictor():
        for i in range(per_thread):
            n = 1 + i % 8
            check(model.predict(x[:n], batch_size=4, verbose=0))

    def trainer():
        for _ in range(per_thread):
            model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)

    def mixed():
        for i in range(per_thread):
            kind = i % 4
            if kind == 0:
                model.fit(x, y, batch_size=8, verbose=0)
            elif kind == 1:
                loss, acc = model.evaluate(x, y, batch_size=4, verbose=0)
                if not (np.isfinite(loss) and 0 <= acc <= 1):
                    bad_outputs.append((loss, acc))
            elif kind == 2:
                model.train_on_batch(x, y)
            else:
                check(model.predict_on_batch(x))

    errors = _run_threads([predictor, predictor, trainer, mixed])
    assert not errors, f"{len(errors)} thread(s) raised; the first:\n{errors[0]}"
    assert not bad_outputs, f"{len(bad_outputs)} non-finite or misshaped outputs, e.g. {bad_outputs[0]}"
    assert model.optimizer.iterations == per_thread * 2 + (per_thread // 4) * 2
    first = model.predict(x, verbose=0)
    again = model.predict(x, batch_size=3, verbose=0)
    np.testing.assert_array_equal(first, model.predict(x, verbose=0))
    np.testing.assert_allclose(again, first, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(first, _forward(model.get_weights(), x), rtol=1e-4, atol=1e-5)


class _SetAll(keras.optimizers.Optimizer):
    """A "training" update that sets every weight to the step number, one variable at a time
    with a pause between them (so an unlocked reader would catch a half-made update). The
    variables are float64, which the base class updates one by one through `update_step`."""

    def __init__(self):
        super().__init__(learning_rate=0.0)

    def update_step(self, gradient, variable, slots, learning_rate, step):
        time.sleep(0.0002)  # let other threads run in the middle of the update
        variable.assign(ops.full(tuple(variable.shape), float(step), dtype=variable.dtype))


def test_predict_sees_whole_optimizer_steps_only():
    """Each update sets every weight of a 3-layer model to the step number `k`; every
    prediction made meanwhile must show one `k` in all layers (never layer 1 at `k + 1` and
    layer 3 at `k`)."""
    width, units = 4, (3, 5, 2)
    inp = keras.Input((width,), dtype="float64")
    h, outs = inp, []
    for n in units:
        h = keras.layers.Dense(n, use_bias=False, kernel_initializer="ones", dtype="float64")(h)
        outs.append(h)
    model = keras.Model(inp, outs)
    model.compile(_SetAll(), loss="mse")
    x = np.ones((1, width), np.float64)
    ys = [np.zeros((16, n)) for n in units]
    seen, mixed = [], []
    stop = threading.Event()

    def predictor():
        while not stop.is_set():
            outs = model.predict(x, verbose=0)
            c1 = outs[0][0, 0] / width
            c2 = outs[1][0, 0] / (outs[0][0, 0] * units[0])
            c3 = outs[2][0, 0] / (outs[1][0, 0] * units[1])
            same = all(np.all(o == o[0, 0]) for o in outs)
            if not (same and c1 == c2 == c3):
                mixed.append((c1, c2, c3))
            seen.append(c1)

    def trainer():
        try:
            for _ in range(15):
                model.fit(np.ones((16, width)), ys, batch_size=1, verbose=0)
        finally:
            stop.set()

    errors = _run_threads([predictor, predictor, predictor, trainer])
    assert not errors, f"{len(errors)} thread(s) raised; the first:\n{errors[0]}"
    assert not mixed, f"{len(mixed)} predictions mixed weights of different steps, e.g. {mixed[:3]}"
    assert model.optimizer.iterations == 15 * 16
    assert len(set(seen)) > 3, "the predictions should have seen several steps"
    assert all(float(c).is_integer() for c in seen)
    outs = model.predict(x, verbose=0)
    assert outs[0][0, 0] / width == 15 * 16


def test_first_batches_from_several_threads_build_once():
    """A subclassed model's first call creates its weights, and the first batch builds the
    compiled loss and metrics: threads starting at once must not do either twice."""

    class SlowDense(keras.layers.Dense):
        def build(self, input_shape):
            time.sleep(0.01)  # widen the window in which a second thread could build too
            super().build(input_shape)

    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = SlowDense(5, activation="relu")
            self.out = keras.layers.Dense(2)

        def call(self, x):
            return self.out(self.hidden(x))

    model = Net()
    model.compile("sgd", "mse", metrics=["mae"])
    x = np.ones((4, 3), np.float32)
    y = np.zeros((4, 2), np.float32)
    errors = _run_threads([lambda: model.fit(x, y, verbose=0)] * THREADS)
    assert not errors, errors[0]
    assert len(model.weights) == 4
    assert model.metrics_names == ["loss", "mae"]
    assert model.optimizer.iterations == THREADS


def test_lock_is_shared_with_the_optimizer_and_left_out_of_pickles():
    from rskeras.utils import locks

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    optimizer = keras.optimizers.SGD()
    model.compile(optimizer, "mse")
    assert model._step_lock is optimizer.__dict__[locks.ATTR]
    # An optimizer shared by a second model: both models take its lock.
    other = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    other.compile(optimizer, "mse")
    assert other._step_lock is model._step_lock
    clone = pickle.loads(pickle.dumps(optimizer))
    assert locks.ATTR not in clone.__dict__
    assert locks.object_lock(clone) is not model._step_lock
    assert "lock" not in str(model.get_config()).lower()
    assert "lock" not in str(model.get_compile_config()).lower()


@pytest.mark.parametrize("save_format", ["keras", "weights.h5"])
def test_a_model_used_from_threads_still_saves(tmp_path, save_format):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    model.predict(np.ones((1, 2), np.float32), verbose=0)  # the lock exists now
    path = str(tmp_path / f"m.{save_format}")
    if save_format == "keras":
        model.save(path)
        loaded = keras.models.load_model(path)
    else:
        model.save_weights(path)
        loaded = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        loaded.load_weights(path)
    x = np.ones((3, 2), np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))

"""Traced steps (`compile(jit_compile=True)`, issue 15 part 1): fit/evaluate/predict record a
step once per input signature and replay it in the core. The replayed steps must give the
eager step's numbers (weights after N steps, logs, evaluate and predict results), run no
Python per op, and fall back to eager with a warning naming the reason when a step cannot
be traced."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest
import rskeras as keras
from rskeras import _core, ops
from rskeras.trainers import traced


def _data(n=100, shape=(12,), classes=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, *shape)).astype("float32")
    y = rng.integers(0, classes, size=n)
    return x, y


def _twins(build, **compile_kwargs):
    """The same model twice (same weights): eager, and traced."""
    eager, jit = build(), build()
    jit.set_weights(eager.get_weights())
    kwargs = dict(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    kwargs.update(compile_kwargs)
    eager.compile(jit_compile=False, **{k: _fresh(v) for k, v in kwargs.items()})
    jit.compile(jit_compile=True, **{k: _fresh(v) for k, v in kwargs.items()})
    return eager, jit


def _fresh(value):
    """A new instance of an optimizer/metric object for the second twin."""
    if isinstance(value, keras.optimizers.Optimizer):
        return type(value).from_config(value.get_config())
    if isinstance(value, list):
        return [type(v).from_config(v.get_config()) if isinstance(v, keras.metrics.Metric)
                else v for v in value]
    return value


def _assert_same_weights(a, b, atol=0.0):
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        if atol == 0.0:
            np.testing.assert_array_equal(wa, wb)
        else:
            np.testing.assert_allclose(wa, wb, rtol=0, atol=atol)


def _assert_same_history(ha, hb, atol=0.0):
    assert ha.history.keys() == hb.history.keys()
    for k in ha.history:
        np.testing.assert_allclose(ha.history[k], hb.history[k], rtol=0, atol=atol, err_msg=k)


def _fit_both(eager, jit, x, y, atol=0.0, **kwargs):
    kwargs = {"batch_size": 16, "epochs": 3, "verbose": 0, "shuffle": False, **kwargs}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback warning on a traceable model
        hb = jit.fit(x, y, **kwargs)
    ha = eager.fit(x, y, **kwargs)
    _assert_same_history(ha, hb, atol)
    _assert_same_weights(eager, jit, atol)
    tracer = jit._step_tracer
    assert tracer.traces >= 1 and tracer.replays >= 1
    return tracer


def mlp():
    return keras.Sequential([keras.Input((12,)), keras.layers.Dense(16, activation="relu"),
                             keras.layers.Dense(4, activation="softmax")])


def test_mlp_fit_evaluate_predict_are_bit_identical():
    x, y = _data()  # 100 samples, batches of 16: the last batch (4) is a second signature
    eager, jit = _twins(mlp)
    tracer = _fit_both(eager, jit, x, y)
    # Two signatures traced (16 and 4) once each; every later batch replayed.
    assert tracer.traces == 2
    assert tracer.replays == 3 * 7 - 2 - 2 - 1  # less two warm-ups, two traces (4: epoch 3)
    assert eager.optimizer.iterations == jit.optimizer.iterations == 21
    assert eager.evaluate(x, y, verbose=0) == jit.evaluate(x, y, verbose=0)
    np.testing.assert_array_equal(eager.predict(x, verbose=0), jit.predict(x, verbose=0))
    # Training continues from the same state, with graphs reused.
    _fit_both(eager, jit, x, y, epochs=1)


def test_small_cnn_matches_eager():
    def cnn():
        return keras.Sequential([
            keras.Input((10, 10, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax"),
        ])

    x, y = _data(40, (10, 10, 1), 3)
    eager, jit = _twins(cnn)
    _fit_both(eager, jit, x, y, atol=1e-6, batch_size=8)


def test_functional_two_inputs_sample_weights_and_several_metrics():
    def two_inputs():
        a, b = keras.Input((5,), name="a"), keras.Input((3,), name="b")
        h = keras.layers.Concatenate()([keras.layers.Dense(6, activation="tanh")(a), b])
        return keras.Model([a, b], keras.layers.Dense(3, activation="softmax")(h))

    rng = np.random.default_rng(1)
    xa = rng.normal(size=(50, 5)).astype("float32")
    xb = rng.normal(size=(50, 3)).astype("float32")
    y = rng.integers(0, 3, size=50)
    sw = rng.random(50).astype("float32")
    eager, jit = _twins(two_inputs, optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                        metrics=["accuracy", keras.metrics.SparseTopKCategoricalAccuracy(k=2)],
                        weighted_metrics=["accuracy"])
    _fit_both(eager, jit, [xa, xb], y, atol=1e-6, sample_weight=sw, batch_size=8)
    np.testing.assert_allclose(eager.evaluate([xa, xb], y, sample_weight=sw, verbose=0),
                               jit.evaluate([xa, xb], y, sample_weight=sw, verbose=0),
                               rtol=0, atol=1e-6)


class CustomStep(keras.Model):
    """A subclassed model whose train_step is written with ops."""

    def __init__(self):
        super().__init__()
        self.hidden = keras.layers.Dense(8, activation="relu")
        self.out = keras.layers.Dense(1)

    def call(self, x, training=False):
        return self.out(self.hidden(x))

    def train_step(self, data):
        x, y = data[0], data[1]
        with keras.GradientTape() as tape:
            pred = self(x, training=True)
            loss = ops.mean(ops.square(pred - ops.reshape(y, (-1, 1)))) * 0.5
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        return {"half_mse": loss, "pred_mean": ops.mean(pred)}


def test_subclassed_model_with_custom_train_step():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(48, 6)).astype("float32")
    y = rng.normal(size=(48,)).astype("float32")
    eager, jit = CustomStep(), CustomStep()
    eager(x[:1]), jit(x[:1])
    jit.set_weights(eager.get_weights())
    eager.compile(optimizer="rmsprop", jit_compile=False)
    jit.compile(optimizer="rmsprop", jit_compile=True)
    _fit_both(eager, jit, x, y, batch_size=12)


def test_learning_rate_schedule_is_refreshed_per_step():
    x, y = _data()
    schedule = keras.optimizers.schedules.ExponentialDecay(0.05, decay_steps=3, decay_rate=0.5)
    eager, jit = _twins(mlp, optimizer=keras.optimizers.Adam(schedule))
    _fit_both(eager, jit, x, y)


def test_replay_runs_no_python():
    x, y = _data()
    model = mlp()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"],
                  jit_compile=True)
    model.fit(x, y, batch_size=20, epochs=1, verbose=0)  # warm-up, trace, replays
    calls = []
    dense = model.layers[0]
    original = type(dense).call
    type(dense).call = lambda self, *a, **k: calls.append(1) or original(self, *a, **k)
    try:
        model.fit(x, y, batch_size=20, epochs=2, verbose=0)
    finally:
        type(dense).call = original
    assert calls == []  # every batch replayed: no layer ran in Python

    graph = next(g[0] for g in model._step_tracer.graphs.values() if isinstance(g, tuple))
    assert graph.num_kernels > 10 and graph.num_updates == 1
    assert "adam" in graph.op_names() and "matmul" in graph.op_names()
    # The replay itself is one call into the core: no Python frame runs inside it.
    from rskeras.trainers.traced import _metric_states, _state_tensors

    batch = [ops.convert_to_tensor(x[:20]), ops.convert_to_tensor(y[:20]), None]
    inputs = batch + _state_tensors(_metric_states(model))
    events, step = [], model.optimizer.iterations + 1
    sys.setprofile(lambda frame, event, arg: events.append(frame.f_code.co_qualname)
                   if event == "call" else None)
    try:
        graph.run(inputs, 0.001, step)
    finally:
        sys.setprofile(None)
    assert events == []


def test_run_eagerly_and_jit_false_keep_the_eager_path():
    x, y = _data()
    for kwargs in ({"jit_compile": True, "run_eagerly": True}, {"jit_compile": False}):
        model = mlp()
        model.compile("adam", "sparse_categorical_crossentropy", **kwargs)
        model.fit(x, y, epochs=2, verbose=0)
        assert "_step_tracer" not in model.__dict__


def test_auto_traces_and_falls_back_silently():
    x, y = _data()
    model = mlp()
    model.compile("adam", "sparse_categorical_crossentropy")
    assert model.jit_compile == "auto"
    model.fit(x, y, epochs=2, verbose=0)
    assert model._step_tracer.replays > 0
    model = mlp()
    model.compile(keras.optimizers.Nadam(), "sparse_categorical_crossentropy")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(x, y, epochs=2, verbose=0)
    assert model._step_tracer.replays == 0


def _fallback(eager, jit, x, y, match, atol=0.0, **kwargs):
    with pytest.warns(UserWarning, match=match):
        hb = jit.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False, **kwargs)
    ha = eager.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False, **kwargs)
    _assert_same_history(ha, hb, atol)
    _assert_same_weights(eager, jit, atol)
    assert jit._step_tracer.replays == 0


class ReadsValue(CustomStep):
    def train_step(self, data):
        logs = super().train_step(data)
        if float(logs["half_mse"]) > 1e9:  # Python control flow on a value
            raise RuntimeError("diverged")
        return logs


def test_fallback_when_a_value_is_read_into_python():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(32, 6)).astype("float32")
    y = rng.normal(size=(32,)).astype("float32")
    eager, jit = ReadsValue(), ReadsValue()
    eager(x[:1]), jit(x[:1])
    jit.set_weights(eager.get_weights())
    eager.compile(optimizer="sgd", jit_compile=False)
    jit.compile(optimizer="sgd", jit_compile=True)
    _fallback(eager, jit, x, y, r"cannot be traced.*value was read into Python.*float\(\)")


def test_dropout_masks_match_the_eager_steps():
    def dropout():
        return keras.Sequential([keras.Input((12,)), keras.layers.Dense(8),
                                 keras.layers.Dropout(0.5), keras.layers.Dense(4)])

    x, y = _data()
    models = []
    for jit in (False, True):
        keras.utils.set_random_seed(7)  # the same Dropout seed generator in both
        model = dropout()
        model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      jit_compile=jit)
        models.append(model)
    eager, jit = models
    jit.set_weights(eager.get_weights())
    tracer = _fit_both(eager, jit, x, y)
    graph = next(g[0] for g in tracer.graphs.values() if isinstance(g, tuple))
    assert graph.num_random == 1
    assert eager.layers[1].seed_generator.counter == jit.layers[1].seed_generator.counter


@pytest.mark.parametrize("optimizer, match", [
    (lambda: keras.optimizers.Nadam(), "overrides `_before_update`"),
    (lambda: keras.optimizers.Adam(gradient_accumulation_steps=2), "gradient accumulation"),
])
def test_fallback_on_optimizers_with_python_state(optimizer, match):
    x, y = _data()
    eager, jit = _twins(mlp, optimizer=optimizer())
    _fallback(eager, jit, x, y, match)


def test_fallback_on_the_gpu_device(monkeypatch):
    x, y = _data()
    eager, jit = _twins(mlp)
    monkeypatch.setattr(traced, "_device", lambda: "gpu")
    _fallback(eager, jit, x, y, "the gpu device")


def test_graphs_stay_out_of_the_state_and_compile_drops_them():
    x, y = _data()
    model = mlp()
    model.compile("adam", "sparse_categorical_crossentropy", jit_compile=True)
    model.fit(x, y, epochs=2, verbose=0)
    assert model._step_tracer.graphs
    assert "_step_tracer" not in model.__getstate__()
    model.compile("adam", "sparse_categorical_crossentropy", jit_compile=True)
    assert not model._step_tracer.graphs


def test_trace_errors_are_python_exceptions():
    with pytest.raises(_core.TraceError):
        _core.trace_end([])
    _core.trace_begin([], [])
    try:
        with pytest.raises(_core.TraceError, match="already being traced"):
            _core.trace_begin([], [])
    finally:
        _core.trace_abort()
    assert not _core.trace_active()
    # A replay with inputs of another shape is refused before any kernel runs.
    x, y = _data()
    model = mlp()
    model.compile("adam", "sparse_categorical_crossentropy", jit_compile=True)
    model.fit(x, y, batch_size=20, epochs=1, verbose=0)
    graph = next(g[0] for g in model._step_tracer.graphs.values() if isinstance(g, tuple))
    states = traced._state_tensors(traced._metric_states(model))
    with pytest.raises(ValueError, match="traced for"):
        graph.run([ops.ones((3, 12)), ops.ones((3,), "int32"), None] + states, 0.1, 1)
    with pytest.raises(ValueError, match="expected 5 inputs, got 3"):
        graph.run([ops.ones((20, 12)), ops.ones((20,), "int64"), None], 0.1, 1)
    with pytest.raises(ValueError, match="learning_rate and step"):
        graph.run([ops.ones((20, 12)), ops.ones((20,), "int64"), None] + states)


def test_batch_normalization_moving_statistics_and_regularizers():
    def bn():
        return keras.Sequential([
            keras.Input((12,)),
            keras.layers.Dense(8, kernel_regularizer=keras.regularizers.L2(0.01)),
            keras.layers.BatchNormalization(),
            keras.layers.Activation("relu"),
            keras.layers.Dense(4, activation="softmax"),
        ])

    x, y = _data()
    eager, jit = _twins(bn, optimizer=keras.optimizers.AdamW(0.01, weight_decay=0.01))
    _fit_both(eager, jit, x, y, atol=1e-6, validation_data=(x[:30], y[:30]))
    names = [w.name for w in jit.weights]
    assert "moving_mean" in names  # compared by _fit_both with the other weights


def test_learning_rate_changed_by_a_callback_is_used():
    x, y = _data()
    eager, jit = _twins(mlp, optimizer=keras.optimizers.SGD(0.1))
    halve = keras.callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))
    _fit_both(eager, jit, x, y, callbacks=[halve])
    assert eager.optimizer.learning_rate == jit.optimizer.learning_rate == pytest.approx(0.1 / 3)


def test_traced_fit_and_predict_from_two_threads():
    """A replayed step holds the variables for its whole run: a predict in another thread
    sees the weights of whole steps (finite outputs, no error), and the model is sound after."""
    import threading

    x, y = _data(400)
    model = mlp()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"],
                  jit_compile=True)
    errors, done = [], threading.Event()

    def predict():
        try:
            while not done.is_set():
                assert np.isfinite(model.predict(x[:64], batch_size=16, verbose=0)).all()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    t = threading.Thread(target=predict)
    t.start()
    try:
        model.fit(x, y, batch_size=8, epochs=3, verbose=0)
    finally:
        done.set()
        t.join(60)
    assert not errors and not t.is_alive()
    assert model._step_tracer.replays > 100
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))


_OUTSIDE = {}


class UpdatesAnOutsideMetric(CustomStep):
    def train_step(self, data):
        logs = super().train_step(data)
        _OUTSIDE["mean"].update_state(logs["half_mse"])  # not one of model.metrics
        return logs


def test_fallback_when_a_metric_outside_model_metrics_is_updated():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(32, 6)).astype("float32")
    y = rng.normal(size=(32,)).astype("float32")
    results = []
    for jit in (False, True):
        _OUTSIDE["mean"] = keras.metrics.Mean(name="outside")
        model = UpdatesAnOutsideMetric()
        model(x[:1])
        if results:
            model.set_weights(results[0][1])
        weights = model.get_weights()
        model.compile(optimizer="sgd", jit_compile=jit)
        if jit:
            with pytest.warns(UserWarning, match="'outside' is updated but is not in"):
                model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
        else:
            model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
        results.append((float(_OUTSIDE["mean"].result()), weights, model.get_weights()))
    assert results[0][0] == results[1][0]
    for a, b in zip(results[0][2], results[1][2]):
        np.testing.assert_array_equal(a, b)


class TwoOptimizers(CustomStep):
    """A GAN-like step: a second optimizer updates the output layer."""

    def train_step(self, data):
        logs = super().train_step(data)
        x, y = data[0], data[1]
        with keras.GradientTape() as tape:
            loss = ops.mean(ops.square(self(x) - ops.reshape(y, (-1, 1))))
        weights = self.out.trainable_variables
        self.second.apply(tape.gradient(loss, weights), weights)
        return logs


def test_fallback_with_a_second_optimizer():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(32, 6)).astype("float32")
    y = rng.normal(size=(32,)).astype("float32")
    models = []
    for jit in (False, True):
        model = TwoOptimizers()
        model(x[:1])
        model.second = keras.optimizers.SGD(0.01)
        model.compile(optimizer="adam", jit_compile=jit)
        models.append(model)
    eager, jit = models
    jit.set_weights(eager.get_weights())
    _fallback(eager, jit, x, y, "2 optimizer updates in one step")
    assert eager.second.iterations == jit.second.iterations


_STEPS = {}


class CountsInAVariable(CustomStep):
    def train_step(self, data):
        _STEPS["count"].assign_add(1.0)  # a Variable the model does not track
        return super().train_step(data)


def test_fallback_when_an_untracked_variable_is_assigned():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(32, 6)).astype("float32")
    y = rng.normal(size=(32,)).astype("float32")
    models = []
    for jit in (False, True):
        model = CountsInAVariable()
        model(x[:1])
        model.compile(optimizer="sgd", jit_compile=jit)
        models.append(model)
    eager, jit = models
    jit.set_weights(eager.get_weights())
    _STEPS["count"] = keras.Variable(0.0, trainable=False)
    with pytest.warns(UserWarning, match="not one of the model's, optimizer's or metrics'"):
        jit.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    assert float(_STEPS["count"].numpy()) == 8.0  # every step ran, eagerly
    eager.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    _assert_same_weights(eager, jit)


def test_the_graph_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(traced, "_MAX_GRAPHS", 3)
    x, y = _data()
    model = mlp()
    model.compile("adam", "sparse_categorical_crossentropy", jit_compile=True)
    for batch_size in (10, 20, 25, 50):
        model.fit(x, y, batch_size=batch_size, epochs=2, verbose=0)
        assert len(model._step_tracer.graphs) <= 3


def _batches(x, y, size):
    def gen():
        while True:
            for i in range(0, len(x), size):
                yield x[i:i + size], y[i:i + size]
    return gen()


def test_generator_data_is_traced_and_its_labels_checked_before_each_replay():
    """Labels from a generator have no precomputed bounds: the losses' exact label check
    reads values, so it runs outside the recording and again before each replay."""
    x, y = _data(96)
    eager, jit = _twins(mlp)
    kwargs = {"steps_per_epoch": 6, "epochs": 3, "verbose": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hb = jit.fit(_batches(x, y, 16), **kwargs)
    ha = eager.fit(_batches(x, y, 16), **kwargs)
    _assert_same_history(ha, hb)
    _assert_same_weights(eager, jit)
    # Eager: the first batch (it builds the metrics, which changes the signature's metric
    # state) and the second (the new signature's warm-up); then one trace and 15 replays.
    assert jit._step_tracer.replays == 3 * 6 - 3
    # A bad label in a replayed batch raises before that batch updates anything.
    bad = y.copy()
    bad[70] = 9  # 4 classes
    before = [w.copy() for w in jit.get_weights()]
    with pytest.raises(ValueError, match="label 9"):
        jit.fit(_batches(x, bad, 16), steps_per_epoch=6, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="label 9"):
        eager.fit(_batches(x, bad, 16), steps_per_epoch=6, epochs=1, verbose=0)
    _assert_same_weights(eager, jit)
    assert any((a != b).any() for a, b in zip(before, jit.get_weights()))  # 4 steps ran

"""compile's `weighted_metrics`, `steps_per_execution` and `jit_compile` (issue 14, part 6):
names as Keras gives them, values weighted by the sample weights, and the compile config
round trip."""

from __future__ import annotations

import numpy as np
import pytest
import rskeras as keras

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 5)).astype("float32")
LABELS = RNG.integers(0, 3, 40)
Y = np.eye(3, dtype="float32")[LABELS]  # one-hot, so that "mae" applies too
SW = np.where(np.arange(40) < 20, 2.0, 0.0).astype("float32")


def _model(**compile_kwargs):
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, activation="softmax")])
    model.compile("sgd", "categorical_crossentropy", **compile_kwargs)
    return model


@pytest.mark.parametrize("metrics, weighted, names", [
    (["accuracy"], ["accuracy"], {"loss", "accuracy", "weighted_accuracy"}),
    (None, ["accuracy"], {"loss", "accuracy"}),
    (["mae"], ["accuracy", "mae"], {"loss", "mae", "accuracy", "weighted_mae"}),
    (["mae", "mae"], None, {"loss", "mae", "mae_1"}),
])
def test_weighted_metric_names_follow_keras(metrics, weighted, names):
    model = _model(metrics=metrics, weighted_metrics=weighted)
    logs = model.evaluate(X, Y, sample_weight=SW, return_dict=True, verbose=0)
    assert set(logs) == names


def test_weighted_metrics_see_the_sample_weights_and_metrics_do_not():
    model = _model(metrics=["accuracy"], weighted_metrics=["accuracy"])
    logs = model.evaluate(X, Y, sample_weight=SW, return_dict=True, verbose=0)
    hits = model.predict(X, verbose=0).argmax(-1) == LABELS
    assert logs["accuracy"] == pytest.approx(hits.mean())
    assert logs["weighted_accuracy"] == pytest.approx(hits[:20].mean())
    history = model.fit(X, Y, sample_weight=SW, batch_size=40, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "weighted_accuracy"}


def test_weighted_metrics_per_output():
    keras.utils.set_random_seed(2)
    inp = keras.Input((5,))
    model = keras.Model(inp, [keras.layers.Dense(1, name="a")(inp),
                              keras.layers.Dense(1, name="b")(inp)])
    model.compile("sgd", "mse", metrics={"a": "mae"}, weighted_metrics={"a": "mae", "b": "mae"})
    y = [X[:, :1], X[:, 1:2]]
    logs = model.evaluate(X, y, sample_weight=[SW, np.ones(40, "float32")], return_dict=True,
                          verbose=0)
    assert {"a_mae", "a_weighted_mae", "b_mae"} <= set(logs)
    pa = model.predict(X, verbose=0)[0]
    err = np.abs(pa - y[0])[:, 0]
    assert logs["a_mae"] == pytest.approx(err.mean(), rel=1e-5)
    assert logs["a_weighted_mae"] == pytest.approx(err[:20].mean(), rel=1e-5)


def test_compile_config_round_trips_the_new_arguments():
    model = _model(metrics=["mae"], weighted_metrics=["accuracy"], steps_per_execution=3,
                   jit_compile=False)
    config = model.get_compile_config()
    assert config["weighted_metrics"] == ["accuracy"]
    assert config["steps_per_execution"] == 3 and config["jit_compile"] is False
    other = _model()
    other.compile_from_config(config)
    assert other.steps_per_execution == 3 and other.jit_compile is False
    assert other.get_compile_config() == config
    logs = other.evaluate(X, Y, sample_weight=SW, return_dict=True, verbose=0)
    assert set(logs) == {"loss", "mae", "accuracy"}
    assert _model().jit_compile == "auto" and _model().steps_per_execution == 1


@pytest.mark.parametrize("kwargs, match", [
    ({"steps_per_execution": 0}, "`steps_per_execution` must be a positive int"),
    ({"steps_per_execution": 1.5}, "`steps_per_execution` must be a positive int"),
    ({"jit_compile": "xla"}, "`jit_compile` must be True, False or \"auto\""),
    ({"weighted_metrics": "accuracy"}, "Expected `weighted_metrics` argument to be a list"),
    ({"metrics": "accuracy"}, "Expected `metrics` argument to be a list"),
])
def test_bad_compile_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _model(**kwargs)


def test_steps_per_execution_groups_test_and_predict_batches():
    calls = []

    class Record(keras.callbacks.Callback):
        def on_test_batch_end(self, batch, logs=None):
            calls.append(("test", batch))

        def on_predict_batch_end(self, batch, logs=None):
            calls.append(("predict", batch))

    model = _model(steps_per_execution=2)
    model.evaluate(X, Y, batch_size=8, verbose=0, callbacks=[Record()])
    model.predict(X, batch_size=8, verbose=0, callbacks=[Record()])
    assert calls == [("test", 1), ("test", 3), ("test", 4),
                     ("predict", 1), ("predict", 3), ("predict", 4)]

"""Every kind of input and argument fit/evaluate/predict take (issue 14, part 6): arrays,
lists/dicts of arrays, generators, sample weights, steps, initial_epoch, validation options,
stop_training, and the errors for what they refuse."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rskeras as keras

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 5)).astype("float32")
Y = RNG.integers(0, 3, 40)


def _model(metrics=None, weighted_metrics=None, lr=0.1, steps_per_execution=1):
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(keras.optimizers.SGD(lr), "sparse_categorical_crossentropy", metrics=metrics,
                  weighted_metrics=weighted_metrics, steps_per_execution=steps_per_execution)
    return model


def _same_weights(a, b, atol=1e-6):
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=atol)


def _batches(x=X, y=Y, sw=None, bs=8):
    for i in range(0, len(x), bs):
        yield (x[i:i + bs], y[i:i + bs]) if sw is None else (x[i:i + bs], y[i:i + bs], sw[i:i + bs])


class Events(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def on_epoch_begin(self, epoch, logs=None):
        self.events.append(("epoch", epoch))

    def on_train_batch_begin(self, batch, logs=None):
        self.events.append(("begin", batch))

    def on_train_batch_end(self, batch, logs=None):
        self.events.append(("end", batch))

    def on_test_begin(self, logs=None):
        self.events.append("test")

    def per_epoch(self):
        counts = []
        for e in self.events:
            if isinstance(e, tuple) and e[0] == "epoch":
                counts.append(0)
            elif isinstance(e, tuple) and e[0] == "end":
                counts[-1] += 1
        return counts


# ---------------------------------------------------------------------------------------------
# Each input kind gives the weights of the equivalent array fit


def test_generator_of_x_y_equals_arrays():
    a, b = _model(), _model()
    a.fit(X, Y, batch_size=8, shuffle=False, verbose=0)
    b.fit(_batches(), verbose=0)
    _same_weights(a, b)


def test_generator_of_x_y_sample_weight_equals_arrays():
    sw = np.linspace(0.1, 2.0, 40).astype("float32")
    a, b = _model(), _model()
    a.fit(X, Y, sample_weight=sw, batch_size=8, shuffle=False, verbose=0)
    b.fit(_batches(sw=sw), verbose=0)
    _same_weights(a, b)


def test_infinite_generator_with_steps_per_epoch_continues_across_epochs():
    def forever():
        while True:
            yield from _batches()

    a, b = _model(), _model()
    ha = a.fit(X, Y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    hb = b.fit(forever(), steps_per_epoch=5, epochs=3, verbose=0)
    _same_weights(a, b)
    np.testing.assert_allclose(ha.history["loss"], hb.history["loss"], rtol=1e-5)


def test_iterator_and_lists_of_batches_are_read_as_generators():
    a, b = _model(), _model()
    a.fit(X, Y, batch_size=8, shuffle=False, verbose=0)
    b.fit(iter([list(batch) for batch in _batches()]), verbose=0)
    _same_weights(a, b)


def _two_input_model():
    keras.utils.set_random_seed(2)
    left, right = keras.Input((3,), name="left"), keras.Input((2,), name="right")
    merged = keras.layers.Concatenate()([left, right])
    model = keras.Model([left, right], keras.layers.Dense(1)(merged))
    model.compile(keras.optimizers.SGD(0.05), "mse")
    return model


def test_multi_input_lists_tuples_dicts_and_generators_agree():
    xl, xr = X[:, :3], X[:, 3:]
    y = X.sum(axis=1, keepdims=True)
    runs = {
        "list": lambda m: m.fit([xl, xr], y, batch_size=10, shuffle=False, verbose=0),
        "tuple": lambda m: m.fit((xl, xr), y, batch_size=10, shuffle=False, verbose=0),
        "dict": lambda m: m.fit({"right": xr, "left": xl}, y, batch_size=10, shuffle=False,
                                verbose=0),
        "generator": lambda m: m.fit(
            (({"left": xl[i:i + 10], "right": xr[i:i + 10]}, y[i:i + 10])
             for i in range(0, 40, 10)), verbose=0),
    }
    models = {}
    for name, run in runs.items():
        models[name] = _two_input_model()
        run(models[name])
    for name in ("tuple", "dict", "generator"):
        _same_weights(models["list"], models[name])
    pred = models["list"].predict({"left": xl, "right": xr}, verbose=0)
    np.testing.assert_allclose(pred, models["list"].predict([xl, xr], verbose=0), rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# sample_weight and class_weight


def test_zero_sample_weight_on_half_equals_fitting_on_the_other_half():
    # Keras divides a weighted loss by the batch size: weights 2/0 on a whole batch give the
    # mean over the kept half, the loss of a fit on that half alone.
    keep = np.arange(40) % 2 == 0
    sw = np.where(keep, 2.0, 0.0).astype("float32")
    a, b = _model(), _model()
    ha = a.fit(X, Y, sample_weight=sw, batch_size=40, epochs=3, shuffle=False, verbose=0)
    hb = b.fit(X[keep], Y[keep], batch_size=20, epochs=3, shuffle=False, verbose=0)
    _same_weights(a, b)
    np.testing.assert_allclose(ha.history["loss"], hb.history["loss"], rtol=1e-5)


def test_per_output_sample_weight_dict():
    keras.utils.set_random_seed(3)
    inp = keras.Input((5,))
    model = keras.Model(inp, {"a": keras.layers.Dense(1, name="a")(inp),
                              "b": keras.layers.Dense(1, name="b")(inp)})
    model.compile(keras.optimizers.SGD(0.1), "mse")
    before = {layer.name: layer.get_weights() for layer in model.layers[1:]}
    y = {"a": X[:, :1], "b": X[:, 1:2]}
    model.fit(X, y, sample_weight={"a": np.ones(40, "float32"), "b": np.zeros(40, "float32")},
              batch_size=8, verbose=0)
    # output "b" weighs nothing: its layer gets no gradient; "a" learns
    for w0, w1 in zip(before["b"], model.get_layer("b").get_weights()):
        np.testing.assert_array_equal(w0, w1)
    assert not np.allclose(before["a"][0], model.get_layer("a").get_weights()[0])
    with pytest.raises(ValueError, match="one `sample_weight` array per output"):
        model.fit(X, y, sample_weight=[np.ones(40, "float32")] * 3, verbose=0)


def test_class_weight_missing_class_weighs_one_and_refuses_sample_weight():
    a, b = _model(), _model()
    a.fit(X, Y, class_weight={0: 3.0}, batch_size=8, shuffle=False, verbose=0)
    sw = np.where(Y == 0, 3.0, 1.0).astype("float32")
    b.fit(X, Y, sample_weight=sw, batch_size=8, shuffle=False, verbose=0)
    _same_weights(a, b)
    with pytest.raises(ValueError, match="class_weight` and `sample_weight"):
        a.fit(X, Y, class_weight={0: 1.0}, sample_weight=sw, verbose=0)


# ---------------------------------------------------------------------------------------------
# steps, epochs, validation: counted with a callback


def test_steps_per_epoch_on_arrays_continues_then_runs_out_like_keras():
    events = Events()
    model = _model()
    with pytest.warns(UserWarning, match="ran out of data"):
        model.fit(X, Y, batch_size=4, epochs=3, steps_per_epoch=4, verbose=0,
                  callbacks=[events])
    # 10 batches: 4, 4, then the 2 left (Keras 3 does the same)
    assert events.per_epoch() == [4, 4, 2]


def test_initial_epoch_counts_epochs_from_it():
    events = Events()
    history = _model().fit(X, Y, epochs=5, initial_epoch=2, verbose=0, callbacks=[events])
    assert [e[1] for e in events.events if e[0] == "epoch"] == [2, 3, 4]
    assert history.epoch == [2, 3, 4]
    assert len(history.history["loss"]) == 3


@pytest.mark.parametrize("freq, validated", [(1, [0, 1, 2, 3]), (2, [1, 3]), ([1, 4], [0, 3]),
                                             (3, [2])])
def test_validation_freq(freq, validated):
    events = Events()
    history = _model().fit(X, Y, epochs=4, validation_data=(X, Y), validation_freq=freq,
                           verbose=0, callbacks=[events])
    epoch = -1
    seen = []
    for e in events.events:
        if isinstance(e, tuple) and e[0] == "epoch":
            epoch = e[1]
        elif e == "test":
            seen.append(epoch)
    assert seen == validated
    assert len(history.history["val_loss"]) == len(validated)


def test_validation_data_with_sample_weights_and_batch_size():
    sw = np.linspace(0.0, 1.0, 40).astype("float32")
    model = _model()
    history = model.fit(X, Y, epochs=1, validation_data=(X, Y, sw), validation_batch_size=7,
                        verbose=0)
    expected = model.evaluate(X, Y, sample_weight=sw, verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(expected, rel=1e-5)


def test_validation_data_as_generator_with_validation_steps():
    def forever():
        while True:
            yield from _batches()

    model = _model()
    history = model.fit(X, Y, epochs=2, validation_data=forever(), validation_steps=5,
                        verbose=0)
    assert history.history["val_loss"][-1] == pytest.approx(model.evaluate(X, Y, verbose=0),
                                                            rel=1e-5)


def test_validation_data_as_a_one_shot_generator_validates_once():
    model = _model()
    with pytest.warns(UserWarning, match="ran out of data"):
        history = model.fit(X, Y, epochs=2, validation_data=_batches(), verbose=0)
    assert len(history.history["val_loss"]) == 1
    assert len(history.history["loss"]) == 2


def test_steps_per_execution_calls_batch_callbacks_per_group_and_trains_the_same():
    events = Events()
    a = _model(steps_per_execution=4)
    a.fit(X, Y, batch_size=4, shuffle=False, verbose=0, callbacks=[events])
    assert [e for e in events.events if isinstance(e, tuple) and e[0] != "epoch"] == [
        ("begin", 0), ("end", 3), ("begin", 4), ("end", 7), ("begin", 8), ("end", 9)]
    b = _model()
    b.fit(X, Y, batch_size=4, shuffle=False, verbose=0)
    _same_weights(a, b)
    assert a.steps_per_execution == 4


# ---------------------------------------------------------------------------------------------
# stop_training, evaluate, predict


def test_stop_training_at_batch_end_stops_after_that_batch():
    class StopAt(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                self.model.stop_training = True

    events = Events()
    history = _model().fit(X, Y, batch_size=4, epochs=3, verbose=0,
                           callbacks=[StopAt(), events])
    assert events.per_epoch() == [3]
    assert len(history.history["loss"]) == 1


def test_stop_training_at_epoch_end_with_a_generator():
    class StopAt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.model.stop_training = True

    def forever():
        while True:
            yield from _batches()

    history = _model().fit(forever(), steps_per_epoch=2, epochs=5, verbose=0,
                           callbacks=[StopAt()])
    assert history.epoch == [0, 1]


def test_evaluate_return_dict_steps_and_sample_weight():
    model = _model(metrics=["accuracy"])
    logs = model.evaluate(X, Y, return_dict=True, verbose=0)
    assert set(logs) == {"loss", "accuracy"}
    assert model.evaluate(X, Y, verbose=0) == [logs["loss"], logs["accuracy"]]
    # steps with arrays and no batch_size: batches of ceil(40 / 3) = 14, all samples seen
    assert model.evaluate(X, Y, steps=3, verbose=0)[0] == pytest.approx(logs["loss"], rel=1e-5)
    # steps with a batch size: only the first steps * batch_size samples
    first = model.evaluate(X[:16], Y[:16], verbose=0)[0]
    assert model.evaluate(X, Y, batch_size=8, steps=2, verbose=0)[0] == pytest.approx(first,
                                                                                      rel=1e-5)
    sw = np.where(np.arange(40) < 20, 2.0, 0.0).astype("float32")
    half = model.evaluate(X[:20], Y[:20], return_dict=True, verbose=0)
    weighted = model.evaluate(X, Y, sample_weight=sw, return_dict=True, verbose=0)
    assert weighted["loss"] == pytest.approx(half["loss"], rel=1e-5)
    assert weighted["accuracy"] == pytest.approx(logs["accuracy"])  # metrics ignore weights


def test_evaluate_and_predict_generators():
    model = _model()
    expected = model.evaluate(X, Y, verbose=0)
    assert model.evaluate(_batches(), verbose=0) == pytest.approx(expected, rel=1e-5)
    pred = model.predict(X, verbose=0)
    np.testing.assert_allclose(model.predict((b[0] for b in _batches()), verbose=0), pred,
                               rtol=1e-6)
    np.testing.assert_allclose(model.predict(_batches(), verbose=0), pred, rtol=1e-6)

    def forever():
        while True:
            yield (X[:8],)

    assert model.predict(forever(), steps=3, verbose=0).shape == (24, 3)


# ---------------------------------------------------------------------------------------------
# Generators that run out


def test_finite_generator_trains_one_epoch_then_stops_with_a_warning():
    a, b = _model(), _model()
    a.fit(X, Y, batch_size=8, shuffle=False, verbose=0)
    with pytest.warns(UserWarning, match="ran out of data"):
        history = b.fit(_batches(), epochs=3, verbose=0)
    assert history.epoch == [0]
    _same_weights(a, b)


def test_generator_running_out_within_steps_ends_that_epoch_and_training():
    events = Events()
    with pytest.warns(UserWarning, match="ran out of data"):
        history = _model().fit(_batches(), steps_per_epoch=2, epochs=5, verbose=0,
                               callbacks=[events])
    assert events.per_epoch() == [2, 2, 1]
    assert history.epoch == [0, 1, 2]


# ---------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize("call, match", [
    (lambda m: m.fit(_batches(), Y, verbose=0), "`y` should not be passed"),
    (lambda m: m.fit(_batches(), sample_weight=np.ones(40), verbose=0),
     "`sample_weights` should not be passed"),
    (lambda m: m.fit(_batches(), class_weight={0: 1.0}, verbose=0),
     "`class_weight` is not supported for Python generator"),
    (lambda m: m.fit(iter([]), verbose=0), "must yield at least one batch"),
    (lambda m: m.fit(iter([(X, Y, Y, Y)]), verbose=0), "must return a tuple"),
    (lambda m: m.fit(_batches(), validation_split=0.2, verbose=0),
     "`validation_split` is only supported for tensors or NumPy arrays"),
    (lambda m: m.fit(X, Y[:30], verbose=0), r"x: \[40\], y: \[30\]"),
    (lambda m: m.fit(X, Y, steps_per_epoch=0, verbose=0), "`steps_per_epoch` must be a positive"),
    (lambda m: m.fit(X, Y, validation_steps=-1, verbose=0), "`validation_steps` must be a"),
    (lambda m: m.fit(X, Y, validation_freq=0, verbose=0), "`validation_freq` must be"),
    (lambda m: m.fit(X, Y, initial_epoch=-1, verbose=0), "`initial_epoch` must be"),
    (lambda m: m.evaluate(X, Y, steps=0, verbose=0), "`steps` must be a positive"),
    (lambda m: m.predict(X, steps=1.5, verbose=0), "`steps` must be a positive"),
    (lambda m: m.fit(X, {"a": Y}, class_weight={0: 1.0}, verbose=0),
     "only supported for Models with a single output"),
])
def test_refused_arguments_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call(_model())


def test_batch_size_with_a_generator_is_ignored_with_a_warning():
    # Keras 3 ignores it silently; a warning says so
    a, b = _model(), _model()
    a.fit(_batches(), verbose=0)
    with pytest.warns(UserWarning, match="batch_size=16` is ignored"):
        b.fit(_batches(), batch_size=16, verbose=0)
    _same_weights(a, b)


def test_generator_batch_of_the_wrong_kind_later_raises():
    def gen():
        yield X[:8], Y[:8]
        yield "not a batch"

    with pytest.raises(ValueError, match="must return a tuple"):
        _model().fit(gen(), verbose=0)


def test_no_warning_for_an_ordinary_generator_fit():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _model().fit(_batches(), verbose=0)


def test_generators_and_py_datasets_on_each_device(device):
    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 5

        def __getitem__(self, index):
            return X[index * 8:index * 8 + 8], Y[index * 8:index * 8 + 8]

    a, b, c = _model(), _model(), _model()
    a.fit(X, Y, batch_size=8, shuffle=False, verbose=0)
    b.fit(_batches(), verbose=0)
    c.fit(Batches(workers=2), shuffle=False, verbose=0)
    _same_weights(a, b, atol=1e-5)
    _same_weights(a, c, atol=1e-5)
    assert all(w.device == device for w in b.trainable_variables) or device == "cpu"
    np.testing.assert_allclose(b.predict(_batches(), verbose=0), a.predict(X, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_pack_and_unpack_x_y_sample_weight_as_keras():
    unpack, pack = keras.utils.unpack_x_y_sample_weight, keras.utils.pack_x_y_sample_weight
    assert unpack(X) == (X, None, None)
    assert unpack((X,))[1:] == (None, None)
    assert unpack([X, Y])[1] is Y
    assert unpack((X, Y, X))[2] is X
    with pytest.raises(ValueError, match="found a tuple of 4 items"):
        unpack((X, Y, X, X))
    assert pack(X) is X and pack([X, X]) == ([X, X],)
    assert len(pack(X, Y)) == 2 and len(pack(X, Y, X)) == 3


def test_custom_train_step_receives_generator_batches_with_sample_weights():
    seen = []

    class Custom(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(3, activation="softmax")

        def call(self, x):
            return self.dense(x)

        def train_step(self, data):
            _, _, sw = keras.utils.unpack_x_y_sample_weight(data)
            seen.append(None if sw is None else tuple(sw.shape))
            return super().train_step(data)

    model = Custom()
    # Eagerly: a traced step (the default) runs its Python only when traced, as in Keras.
    model.compile("sgd", "sparse_categorical_crossentropy", run_eagerly=True)
    model.fit(_batches(sw=np.ones(40, "float32")), verbose=0)
    assert seen == [(8,)] * 5

"""`keras.utils.PyDataset` (alias `Sequence`) in fit/evaluate/predict: read in order, in
threads (`workers=2`) or processes (`use_multiprocessing=True`), with the same weights as
the equivalent array fit; epoch hooks, shuffling, infinite datasets, class weights, errors."""

from __future__ import annotations

import multiprocessing
import threading
import time

import numpy as np
import pytest
import rskeras as keras

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 5)).astype("float32")
Y = RNG.integers(0, 3, 40)


def _model():
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _same_weights(a, b):
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-6)


class Batches(keras.utils.PyDataset):
    """Batches of 8 of X, Y; `delay` makes early indices slow, so that threads finish out
    of order."""

    def __init__(self, delay=0.0, sample_weight=None, **kwargs):
        super().__init__(**kwargs)
        self.delay, self.sample_weight = delay, sample_weight
        self.epochs_begun = self.epochs_ended = 0
        self.requested = []

    def __len__(self):
        return 5

    def __getitem__(self, index):
        if index >= len(self):
            raise IndexError(index)
        self.requested.append(index)
        if self.delay:
            time.sleep(self.delay * (len(self) - index))
        s = slice(index * 8, index * 8 + 8)
        if self.sample_weight is not None:
            return X[s], Y[s], self.sample_weight[s]
        return X[s], Y[s]

    def on_epoch_begin(self):
        self.epochs_begun += 1

    def on_epoch_end(self):
        self.epochs_ended += 1


class Endless(keras.utils.PyDataset):
    @property
    def num_batches(self):
        return None

    def __getitem__(self, index):
        s = slice((index % 5) * 8, (index % 5) * 8 + 8)
        return X[s], Y[s]


def _in_time(fn, seconds=60):
    """Run `fn` in a thread; fail (rather than hang) if it takes longer than `seconds`."""
    out = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the test
            out["error"] = e

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"did not finish within {seconds} s"
    if "error" in out:
        raise out["error"]
    return out.get("value")


def _array_fit(epochs=2, **kwargs):
    model = _model()
    history = model.fit(X, Y, batch_size=8, epochs=epochs, shuffle=False, verbose=0, **kwargs)
    return model, history


@pytest.mark.parametrize("kwargs", [{}, {"workers": 2}, {"workers": 3, "max_queue_size": 1}],
                         ids=["main-thread", "threads", "threads-queue-1"])
def test_py_dataset_equals_arrays(kwargs):
    a, ha = _array_fit()
    b = _model()
    ds = Batches(delay=0.002 if kwargs else 0.0, **kwargs)
    hb = _in_time(lambda: b.fit(ds, epochs=2, shuffle=False, verbose=0))
    _same_weights(a, b)
    np.testing.assert_allclose(ha.history["loss"], hb.history["loss"], rtol=1e-5)
    assert ds.epochs_begun == ds.epochs_ended == 2


def test_py_dataset_in_worker_processes_equals_arrays():
    a, _ = _array_fit()
    b = _model()
    ds = Batches(workers=2, use_multiprocessing=True)
    _in_time(lambda: b.fit(ds, epochs=2, shuffle=False, verbose=0,
                           validation_data=Batches(workers=2, use_multiprocessing=True)))
    _same_weights(a, b)
    assert ds.epochs_ended == 2  # the hooks run in the main process
    assert multiprocessing.active_children() == []  # each pass's pool is shut down


def test_stopping_mid_epoch_shuts_the_worker_pool_down():
    class StopAt(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            self.model.stop_training = batch == 1

    before = threading.active_count()
    for kwargs in ({"workers": 3}, {"workers": 2, "use_multiprocessing": True}):
        history = _in_time(lambda kwargs=kwargs: _model().fit(
            Batches(**kwargs), epochs=3, verbose=0, callbacks=[StopAt()]))
        assert history.epoch == [0]
    assert multiprocessing.active_children() == []
    assert threading.active_count() <= before


def test_evaluate_and_predict_a_py_dataset():
    model = _model()
    expected = model.evaluate(X, Y, return_dict=True, verbose=0)
    got = _in_time(lambda: model.evaluate(Batches(workers=2), return_dict=True, verbose=0))
    assert got == pytest.approx(expected, rel=1e-5)
    pred = _in_time(lambda: model.predict(Batches(workers=2), verbose=0))
    np.testing.assert_allclose(pred, model.predict(X, verbose=0), rtol=1e-6)


def test_sample_weights_from_the_batches_and_class_weight():
    sw = np.where(Y == 1, 2.5, 1.0).astype("float32")
    a, _ = _array_fit(epochs=1, sample_weight=sw)
    b, c = _model(), _model()
    b.fit(Batches(sample_weight=sw), shuffle=False, verbose=0)
    c.fit(Batches(), class_weight={1: 2.5}, shuffle=False, verbose=0)
    _same_weights(a, b)
    _same_weights(a, c)


def test_shuffle_visits_every_batch_once_per_epoch_in_a_new_order():
    ds = Batches()
    keras.utils.set_random_seed(0)
    _model().fit(ds, epochs=4, shuffle=True, verbose=0)
    orders = [ds.requested[i:i + 5] for i in range(0, 20, 5)]
    assert all(sorted(o) == list(range(5)) for o in orders)
    assert any(o != list(range(5)) for o in orders)


def test_infinite_py_dataset_needs_steps():
    model = _model()
    history = model.fit(Endless(), steps_per_epoch=5, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert model.predict(Endless(workers=2), steps=2, verbose=0).shape == (16, 3)
    with pytest.raises(ValueError, match="infinite .* `steps_per_epoch`"):
        model.fit(Endless(), verbose=0)
    with pytest.raises(ValueError, match="infinite .* `steps`"):
        model.evaluate(Endless(), verbose=0)


def test_worker_errors_reach_the_caller():
    class Broken(Batches):
        def __getitem__(self, index):
            if index == 3:
                raise RuntimeError("bad batch 3")
            return super().__getitem__(index)

    for kwargs in ({}, {"workers": 2}, {"workers": 2, "use_multiprocessing": True}):
        with pytest.raises(RuntimeError, match="bad batch 3"):
            _in_time(lambda kwargs=kwargs: _model().fit(Broken(**kwargs), verbose=0))


def test_y_and_sample_weight_are_refused_with_a_py_dataset():
    with pytest.raises(ValueError, match="`y` should not be passed"):
        _model().fit(Batches(), Y, verbose=0)
    with pytest.raises(ValueError, match="`sample_weights` should not be passed"):
        _model().fit(Batches(), sample_weight=np.ones(40), verbose=0)


def test_sequence_alias_iteration_and_missing_super_init():
    assert keras.utils.Sequence is keras.utils.PyDataset
    batches = list(Batches())
    assert len(batches) == 5 and batches[0][0].shape == (8, 5)

    class NoSuper(keras.utils.Sequence):
        def __init__(self):
            pass

        def __len__(self):
            return 5

        def __getitem__(self, index):
            return X[index * 8:index * 8 + 8], Y[index * 8:index * 8 + 8]

    with pytest.warns(UserWarning, match="should call `super\\(\\).__init__"):
        _model().fit(NoSuper(), verbose=0)

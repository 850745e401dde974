"""`keras.callbacks.TerminateOnNaN` against Keras 3 (keras/src/callbacks/terminate_on_nan.py):
a real fit stops at the batch whose loss is NaN (or inf), `on_train_end` still runs, and
`raise_error=True` raises at once."""

from __future__ import annotations

import numpy as np
import pytest
import rskeras as keras

from tests.callbacks._helpers import make_data


class Batches(keras.callbacks.Callback):
    """The (epoch, batch) pairs seen, and whether training ended normally."""

    def __init__(self):
        super().__init__()
        self.seen, self.ended, self.epoch = [], False, None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_batch_end(self, batch, logs=None):  # Keras's older name, reached from on_train_batch_end
        self.seen.append((self.epoch, batch, logs["loss"]))

    def on_train_end(self, logs=None):
        self.ended = True


def regression(nan_at=None, inf_at=None):
    x, _ = make_data(40)
    y = x.sum(axis=1, keepdims=True)
    if nan_at is not None:
        x[nan_at, 0] = np.nan
    if inf_at is not None:
        x[inf_at] = 1e30  # the squared error overflows float32 (labels themselves must be finite)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    return model, x, y


def test_stops_at_the_nan_batch(capsys):
    model, x, y = regression(nan_at=13)  # batch_size 4: sample 13 is in batch 3 of epoch 0
    spy = Batches()
    history = model.fit(x, y, batch_size=4, epochs=5, shuffle=False, verbose=0,
                        callbacks=[keras.callbacks.TerminateOnNaN(), spy])
    assert [b for _, b, _ in spy.seen] == [0, 1, 2, 3]
    assert all(np.isfinite(loss) for _, _, loss in spy.seen[:3]) and np.isnan(spy.seen[3][2])
    assert model.stop_training is True and spy.ended
    assert len(history.history["loss"]) == 1
    assert "Batch 3: Invalid loss, terminating training" in capsys.readouterr().out


def test_stops_on_inf():
    model, x, y = regression(inf_at=5)
    spy = Batches()
    model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0,
              callbacks=[keras.callbacks.TerminateOnNaN(), spy])
    assert [b for _, b, _ in spy.seen] == [0, 1] and np.isinf(spy.seen[1][2])


def test_finite_training_runs_to_the_end():
    model, x, y = regression()
    history = model.fit(x, y, batch_size=4, epochs=3, verbose=0, callbacks=[keras.callbacks.TerminateOnNaN()])
    assert len(history.history["loss"]) == 3


def test_raise_error_skips_on_train_end():
    model, x, y = regression(nan_at=13)
    spy = Batches()
    with pytest.raises(RuntimeError, match=r"NaN or Inf loss encountered at batch 3\. Loss value: nan\. "
                                           "Terminating training immediately."):
        model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0,
                  callbacks=[keras.callbacks.TerminateOnNaN(raise_error=True), spy])
    assert not spy.ended

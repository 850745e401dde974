"""`keras.callbacks.EarlyStopping` against Keras 3's decisions (keras/src/callbacks/
early_stopping.py): the epoch at which a real fit stops under patience, min_delta, baseline and
start_from_epoch, and restore_best_weights putting back exactly the best epoch's weights."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rskeras as keras

from tests.callbacks._helpers import Recorder, Script, assert_weights_equal, make_data, make_model


def fit_scripted(values, epochs=None, **es_args):
    """A real fit whose monitored `loss` is replaced by `values`; returns (history, es, recorder)."""
    x, y = make_data()
    model = make_model()
    es = keras.callbacks.EarlyStopping(monitor="loss", **es_args)
    rec = Recorder()
    history = model.fit(x, y, batch_size=16, epochs=epochs or len(values), verbose=0,
                        callbacks=[Script("loss", values), rec, es])
    return model, history, es, rec


@pytest.mark.parametrize("values, args, stopped, ran", [
    # best at epoch 1; 2 epochs without improvement -> stop at the end of epoch 3
    ([5.0, 4.0, 4.5, 4.2, 4.1, 3.0], dict(patience=2), 3, 4),
    ([5.0, 4.0, 4.5, 4.2, 4.1, 3.0], dict(patience=0), 2, 3),
    # min_delta: 0.05 steps are not improvements of more than 0.1, but are of more than 0.01
    ([1.0, 0.95, 0.9, 0.85, 0.8], dict(min_delta=0.1, patience=1), 1, 2),
    ([1.0, 0.95, 0.9, 0.85, 0.8], dict(min_delta=0.01, patience=1), 0, 5),
    # baseline 0.5 never beaten: improvements do not reset the count, so the first epoch
    # without one stops (patience 2: epoch 3); without the baseline, epoch 4
    ([1.0, 0.9, 0.8, 0.8, 0.8, 0.8], dict(patience=2, baseline=0.5), 3, 4),
    ([1.0, 0.9, 0.8, 0.8, 0.8, 0.8], dict(patience=2), 4, 5),
    ([1.0, 1.0, 1.0, 1.0], dict(patience=2, baseline=0.5), 1, 2),
    ([0.4, 0.4, 0.4, 0.4], dict(patience=2, baseline=0.5), 2, 3),
    # start_from_epoch: epochs 0-2 are not watched
    ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], dict(patience=1), 1, 2),
    ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], dict(patience=1, start_from_epoch=3), 4, 5),
])
def test_stopping_epoch(values, args, stopped, ran):
    """`stopped` is `stopped_epoch` (0: not stopped, Keras's convention); `ran` the epochs run."""
    _, history, es, _ = fit_scripted(values, **args)
    assert es.stopped_epoch == stopped
    assert len(history.history["loss"]) == ran


def test_restore_best_weights_when_stopped():
    model, history, es, rec = fit_scripted([3.0, 1.0, 2.0, 2.5, 2.7, 0.5, 0.4],
                                           patience=3, restore_best_weights=True)
    assert es.stopped_epoch == 4 and es.best_epoch == 1 and es.best == 1.0
    assert len(rec.weights) == 5
    assert_weights_equal(model.get_weights(), rec.weights[1])
    # the weights did change after the best epoch: the restore is not a no-op
    assert not np.array_equal(rec.weights[1][0], rec.weights[4][0])


def test_restore_best_weights_at_the_end_without_stopping():
    # Keras restores in on_train_end whenever best weights were kept, stopped or not
    model, history, es, rec = fit_scripted([3.0, 1.0, 2.0, 2.5], patience=10, restore_best_weights=True)
    assert es.stopped_epoch == 0 and len(history.history["loss"]) == 4
    assert_weights_equal(model.get_weights(), rec.weights[1])


def test_without_restore_the_last_weights_stay():
    model, _, es, rec = fit_scripted([3.0, 1.0, 2.0, 2.5, 2.7], patience=3)
    assert es.stopped_epoch == 4 and es.best_weights is None
    assert_weights_equal(model.get_weights(), rec.weights[4])


def test_restore_with_baseline_never_beaten_restores_the_best_seen():
    model, _, es, rec = fit_scripted([1.0, 0.9, 1.1, 1.2], patience=2, baseline=0.5,
                                     restore_best_weights=True)
    # epoch 0: wait 1; epoch 1 improves (wait stays 2); epoch 2: wait 3 >= 2 -> stop
    assert es.stopped_epoch == 2 and es.best_epoch == 1
    assert_weights_equal(model.get_weights(), rec.weights[1])


def test_restore_from_start_epoch_keeps_the_first_watched_epoch():
    model, _, es, rec = fit_scripted([0.1, 0.2, 5.0, 6.0, 7.0], patience=1, start_from_epoch=2,
                                     restore_best_weights=True)
    assert es.stopped_epoch == 3 and es.best_epoch == 2
    assert_weights_equal(model.get_weights(), rec.weights[2])


def test_real_val_loss_patience():
    # no script: a real val_loss on noise labels rises once the MLP overfits; the stop epoch
    # follows the rule on the recorded values
    x, y = make_data(64, seed=1)
    vx, vy = make_data(32, seed=2)
    model = make_model(keras.optimizers.Adam(0.05))
    es = keras.callbacks.EarlyStopping(patience=2, restore_best_weights=True)
    rec = Recorder()
    history = model.fit(x, y, batch_size=16, epochs=40, validation_data=(vx, vy), verbose=0,
                        shuffle=False, callbacks=[rec, es])
    val = history.history["val_loss"]
    best = int(np.argmin(val))
    assert es.stopped_epoch == len(val) - 1 == best + 2
    assert es.best_epoch == best
    assert_weights_equal(model.get_weights(), rec.weights[best])


def test_mode_max_and_auto():
    _, _, es, _ = fit_scripted([0.5, 0.6, 0.55, 0.5], patience=1, mode="max")
    assert es.stopped_epoch == 2
    x, y = make_data()
    model = make_model()
    es = keras.callbacks.EarlyStopping(monitor="accuracy", patience=1)
    model.fit(x, y, batch_size=16, epochs=4, verbose=0,
              callbacks=[Script("accuracy", [0.5, 0.6, 0.55, 0.5]), es])
    assert es.mode == "max" and es.stopped_epoch == 2


def test_unknown_mode_warns_and_means_auto():
    with pytest.warns(UserWarning, match="mode 'bogus' is unknown"):
        es = keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="bogus")
    assert es.mode == "max"


def test_missing_monitor_warns_and_never_stops():
    x, y = make_data()
    model = make_model()
    es = keras.callbacks.EarlyStopping(monitor="val_loss", patience=0)
    with pytest.warns(UserWarning, match="`val_loss` which is not available. Available metrics are: "):
        history = model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[es])
    assert len(history.history["loss"]) == 3 and es.stopped_epoch == 0


def test_verbose_messages(capsys):
    fit_scripted([3.0, 1.0, 2.0, 2.5], patience=2, restore_best_weights=True, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 4: early stopping" in out
    assert "Restoring model weights from the end of the best epoch: 2." in out


def test_reused_across_fits():
    x, y = make_data()
    model = make_model()
    es = keras.callbacks.EarlyStopping(monitor="loss", patience=1)
    model.fit(x, y, batch_size=16, epochs=5, verbose=0, callbacks=[Script("loss", [1, 2, 3, 4, 5]), es])
    assert es.stopped_epoch == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = model.fit(x, y, batch_size=16, epochs=3, verbose=0,
                            callbacks=[Script("loss", [3, 2, 1]), es])
    assert es.stopped_epoch == 0 and es.best == 1 and len(history.history["loss"]) == 3

"""`keras.callbacks.ReduceLROnPlateau` against Keras 3's decisions (keras/src/callbacks/
reduce_lr_on_plateau.py): the epoch at which a real fit's learning rate drops, to what, the
cooldown, min_lr, and `logs["learning_rate"]`."""

from __future__ import annotations

import pytest
import rskeras as keras

from tests.callbacks._helpers import Recorder, Script, make_data, make_model


def fit_scripted(values, lr=0.1, monitor="val_loss", **args):
    x, y = make_data()
    model = make_model(keras.optimizers.SGD(lr))
    rlr = keras.callbacks.ReduceLROnPlateau(monitor=monitor, **args)
    rec = Recorder()
    history = model.fit(x, y, batch_size=16, epochs=len(values), verbose=0,
                        callbacks=[rec, Script(monitor, values), rlr])
    return model, history, rlr, rec


def test_drops_after_patience_epochs_without_improvement():
    values = [1.0, 0.9, 0.95, 0.92, 0.91, 0.8, 0.85, 0.86]
    model, history, rlr, rec = fit_scripted(values, factor=0.5, patience=2)
    # logs["learning_rate"] is the rate of the epoch that ends (read before any change)
    assert history.history["learning_rate"] == pytest.approx([0.1] * 4 + [0.05] * 4)
    # the epochs really ran at those rates: dropped after epoch 3, again after epoch 7
    assert rec.lrs == pytest.approx([0.1] * 4 + [0.05] * 4)
    assert model.optimizer.learning_rate == pytest.approx(0.025)


def test_min_delta_counts_small_gains_as_no_improvement():
    values = [1.0, 0.99995, 0.9999, 0.9998]
    _, history, _, rec = fit_scripted(values, factor=0.5, patience=2, min_delta=1e-4)
    # 1.0 -> 0.99995 is within 1e-4: epochs 1 and 2 do not improve, the rate drops after epoch 2
    assert rec.lrs == pytest.approx([0.1, 0.1, 0.1, 0.05])
    _, _, _, rec = fit_scripted(values, factor=0.5, patience=2, min_delta=0.0)
    assert rec.lrs == pytest.approx([0.1] * 4)


def test_cooldown():
    # flat metric, patience 1, cooldown 2: drops after epochs 1, 3 and 5 (the counter is held
    # at 0 for the cooldown epochs, as Keras)
    _, history, _, rec = fit_scripted([1.0] * 7, factor=0.5, patience=1, cooldown=2)
    assert rec.lrs == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.0125])


def test_min_lr_bounds_the_rate():
    _, history, _, rec = fit_scripted([1.0] * 5, factor=0.1, patience=1, min_lr=0.005)
    assert rec.lrs == pytest.approx([0.1, 0.1, 0.01, 0.005, 0.005])
    assert history.history["learning_rate"][-1] == pytest.approx(0.005)


def test_mode_max():
    values = [0.5, 0.6, 0.6, 0.6, 0.7]
    _, _, rlr, rec = fit_scripted(values, monitor="val_accuracy", factor=0.5, patience=2)
    assert rlr.mode == "max"
    assert rec.lrs == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.05])


def test_real_plateau_without_script():
    # lr 1e-9: the training loss moves by far less than min_delta, so it is a plateau:
    # patience 2 drops the rate after epochs 2, 4 and 6
    x, y = make_data()
    model = make_model(keras.optimizers.SGD(1e-9))
    rlr = keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2)
    history = model.fit(x, y, batch_size=16, epochs=7, verbose=0, callbacks=[rlr])
    expected = [1e-9] * 3 + [5e-10] * 2 + [2.5e-10] * 2
    assert history.history["learning_rate"] == pytest.approx(expected, rel=1e-6)
    assert model.optimizer.learning_rate == pytest.approx(1.25e-10, rel=1e-6)


def test_verbose_message(capsys):
    fit_scripted([1.0, 1.0], factor=0.5, patience=1, verbose=1)
    # the rate is read back as the optimizer holds it (float32, as Keras): 0.05 up to rounding
    assert "Epoch 2: ReduceLROnPlateau reducing learning rate to 0.05" in capsys.readouterr().out


def test_missing_monitor_warns():
    x, y = make_data()
    model = make_model()
    rlr = keras.callbacks.ReduceLROnPlateau(patience=0)
    with pytest.warns(UserWarning, match="conditioned on metric `val_loss` which is not available"):
        model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[rlr])
    assert model.optimizer.learning_rate == pytest.approx(0.1)


def test_factor_must_be_below_one():
    with pytest.raises(ValueError, match="does not support a factor >= 1.0. Received factor=1.0"):
        keras.callbacks.ReduceLROnPlateau(factor=1.0)


def test_defaults():
    rlr = keras.callbacks.ReduceLROnPlateau()
    assert (rlr.monitor, rlr.factor, rlr.patience, rlr.verbose, rlr.min_delta, rlr.cooldown, rlr.min_lr) == (
        "val_loss", 0.1, 10, 0, 1e-4, 0, 0.0)
    assert rlr.mode == "min"

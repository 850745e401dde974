"""`keras.callbacks.LearningRateScheduler` against Keras 3 (keras/src/callbacks/
learning_rate_scheduler.py): the rate each epoch of a real fit runs at, `logs["learning_rate"]`,
both schedule signatures, and the checks."""

from __future__ import annotations

import numpy as np
import pytest
import rskeras as keras

from tests.callbacks._helpers import Recorder, assert_weights_equal, make_data, make_model


def test_two_argument_schedule_sets_each_epoch():
    x, y = make_data()
    model = make_model(keras.optimizers.SGD(0.1))
    seen = []

    def schedule(epoch, lr):
        seen.append((epoch, lr))
        return lr if epoch == 0 else lr * 0.5

    rec = Recorder()
    history = model.fit(x, y, batch_size=16, epochs=4, verbose=0,
                        callbacks=[keras.callbacks.LearningRateScheduler(schedule), rec])
    assert [e for e, _ in seen] == [0, 1, 2, 3]
    assert [lr for _, lr in seen] == pytest.approx([0.1, 0.1, 0.05, 0.025])
    assert rec.lrs == pytest.approx([0.1, 0.05, 0.025, 0.0125])
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.025, 0.0125])


def test_one_argument_schedule_and_training_uses_it():
    x, y = make_data()
    rates = [0.2, 0.1, 0.05]
    model = make_model(keras.optimizers.SGD(0.9))
    model.fit(x, y, batch_size=16, epochs=3, verbose=0, shuffle=False,
              callbacks=[keras.callbacks.LearningRateScheduler(lambda epoch: rates[epoch])])
    # the same epochs run one at a time with the rate set by hand give the same weights
    manual = make_model(keras.optimizers.SGD(0.9))
    for rate in rates:
        manual.optimizer.learning_rate = rate
        manual.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    assert_weights_equal(model.get_weights(), manual.get_weights())


def test_numpy_float_accepted_int_rejected():
    x, y = make_data()
    model = make_model()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0,
              callbacks=[keras.callbacks.LearningRateScheduler(lambda e: np.float32(0.01))])
    assert model.optimizer.learning_rate == pytest.approx(0.01)
    with pytest.raises(ValueError, match="The output of the `schedule` function should be a float. Got: 1"):
        model.fit(x, y, batch_size=16, epochs=1, verbose=0,
                  callbacks=[keras.callbacks.LearningRateScheduler(lambda e: 1)])


def test_verbose_message(capsys):
    x, y = make_data()
    model = make_model()
    model.fit(x, y, batch_size=16, epochs=2, verbose=0,
              callbacks=[keras.callbacks.LearningRateScheduler(lambda e, lr: 0.5 / (e + 1), verbose=1)])
    out = capsys.readouterr().out
    assert "Epoch 1: LearningRateScheduler setting learning rate to 0.5." in out
    assert "Epoch 2: LearningRateScheduler setting learning rate to 0.25." in out


def test_reduce_lr_on_plateau_and_tensorboard_see_the_scheduled_rate():
    # logs["learning_rate"] is set at epoch end, so later callbacks (and History) see it
    x, y = make_data()
    model = make_model()
    seen = []
    cb = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(logs["learning_rate"]))
    model.fit(x, y, batch_size=16, epochs=2, verbose=0,
              callbacks=[keras.callbacks.LearningRateScheduler(lambda e: 0.01 * (e + 1)), cb])
    assert seen == pytest.approx([0.01, 0.02])

"""`keras.callbacks.SwapEMAWeights` against Keras 3 (keras/src/callbacks/swap_ema_weights.py):
the model holds the optimizer's moving averages during evaluation and prediction and its
trained weights again afterwards; with `swap_on_epoch`, between epochs too, and the averages
in the model after the last epoch.

Most tests give the callback a stand-in EMA optimizer through `optimizer.inner_optimizer`
(which the callback unwraps, as Keras unwraps a LossScaleOptimizer), with averages of known
values, so each swap is checked exactly while the fit itself is real; the last test uses the
optimizer's own `use_ema`."""

from __future__ import annotations

import numpy as np
import pytest
import rskeras as keras

from tests.callbacks._helpers import assert_weights_equal, make_data, make_model


class StandInEMA:
    """`use_ema`, `_model_variables_moving_average` and `_get_variable_index` as an EMA
    optimizer has them, with averages `variable + 1` for every trainable variable."""

    def __init__(self, model):
        self.use_ema = True
        self._index = {id(v): i for i, v in enumerate(model.trainable_variables)}
        self._model_variables_moving_average = [keras.Variable(np.asarray(v) + 1.0)
                                                for v in model.trainable_variables]

    def _get_variable_index(self, variable):
        return self._index[id(variable)]

    def values(self):
        return [np.array(a) for a in self._model_variables_moving_average]


class Spy(keras.callbacks.Callback):
    """The model's weights at chosen hooks, as {hook: [weights, ...]}."""

    HOOKS = ("on_epoch_begin", "on_epoch_end", "on_test_begin", "on_test_end")

    def __init__(self):
        super().__init__()
        self.seen = {h: [] for h in self.HOOKS}
        for hook in self.HOOKS:
            setattr(self, hook, self._recorder(hook))

    def _recorder(self, hook):
        def record(*args, **kwargs):
            self.seen[hook].append(self.model.get_weights())
        return record


def ema_model(lr=0.1):
    model = make_model(keras.optimizers.SGD(lr))
    ema = StandInEMA(model)
    model.optimizer.inner_optimizer = ema
    return model, ema


def test_validation_runs_on_the_averages():
    x, y = make_data()
    vx, vy = make_data(16, seed=5)
    model, ema = ema_model()
    averages = ema.values()
    before, after = Spy(), Spy()
    history = model.fit(x, y, batch_size=16, epochs=2, validation_data=(vx, vy), verbose=0,
                        callbacks=[before, keras.callbacks.SwapEMAWeights(), after])
    for epoch in range(2):
        trained = before.seen["on_test_begin"][epoch]
        # while validating, the model holds the averages and the averages the trained weights
        assert_weights_equal(after.seen["on_test_begin"][epoch], averages)
        # afterwards the trained weights are back (the averages, being a stand-in, stay put)
        assert_weights_equal(after.seen["on_epoch_end"][epoch], trained)
        assert_weights_equal(ema.values(), averages)
    # the validation loss is that of the averaged weights
    reference = make_model()
    reference.set_weights(averages)
    assert history.history["val_loss"][-1] == pytest.approx(
        reference.evaluate(vx, vy, batch_size=16, verbose=0, return_dict=True)["loss"], rel=1e-6)
    assert not np.array_equal(model.get_weights()[0], averages[0])


def test_swap_on_epoch():
    x, y = make_data()
    model, ema = ema_model()
    averages = ema.values()
    after = Spy()
    model.fit(x, y, batch_size=16, epochs=3, verbose=0,
              callbacks=[keras.callbacks.SwapEMAWeights(swap_on_epoch=True), after])
    # after each epoch (for ModelCheckpoint and the like) the model holds the averages ...
    for weights in after.seen["on_epoch_end"]:
        assert_weights_equal(weights, averages)
    # ... and each next epoch trains from the trained weights, not from the averages
    for weights in after.seen["on_epoch_begin"][1:]:
        assert not np.array_equal(weights[0], averages[0])
    # after the last epoch the averages stay in the model and are kept as the averages
    assert_weights_equal(model.get_weights(), averages)
    assert_weights_equal(ema.values(), averages)


def test_evaluate_and_predict_swap_back():
    x, y = make_data()
    model, ema = ema_model()
    trained, averages = model.get_weights(), ema.values()
    cb = keras.callbacks.SwapEMAWeights()
    reference = make_model()
    reference.set_weights(averages)
    got = model.evaluate(x, y, batch_size=16, verbose=0, callbacks=[cb], return_dict=True)
    assert got["loss"] == pytest.approx(reference.evaluate(x, y, batch_size=16, verbose=0,
                                                           return_dict=True)["loss"], rel=1e-6)
    assert_weights_equal(model.get_weights(), trained)
    np.testing.assert_allclose(model.predict(x, verbose=0, callbacks=[cb]),
                               reference.predict(x, verbose=0), rtol=1e-6)
    assert_weights_equal(model.get_weights(), trained)
    assert_weights_equal(ema.values(), averages)


def test_needs_use_ema():
    x, y = make_data()
    model = make_model()
    with pytest.raises(ValueError, match="SwapEMAWeights must be used when `use_ema=True` is set on "
                                         "the optimizer. Received: use_ema="):
        model.evaluate(x, y, verbose=0, callbacks=[keras.callbacks.SwapEMAWeights()])


def test_with_the_optimizers_own_ema():
    x, y = make_data()
    vx, vy = make_data(16, seed=5)
    optimizer = keras.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5)
    model = make_model(optimizer)
    opt = model.optimizer

    class Averages(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seen = []

        def on_test_begin(self, logs=None):
            self.seen.append([np.array(opt._model_variables_moving_average[opt._get_variable_index(v)])
                              for v in model.trainable_variables])

    before, after = Averages(), Spy()
    trained = Spy()
    model.fit(x, y, batch_size=16, epochs=2, validation_data=(vx, vy), verbose=0,
              callbacks=[before, trained, keras.callbacks.SwapEMAWeights(), after])
    for epoch in range(2):
        assert_weights_equal(after.seen["on_test_begin"][epoch], before.seen[epoch])
        assert_weights_equal(after.seen["on_epoch_end"][epoch], trained.seen["on_test_begin"][epoch])
        assert not np.array_equal(before.seen[epoch][0], trained.seen["on_test_begin"][epoch][0])

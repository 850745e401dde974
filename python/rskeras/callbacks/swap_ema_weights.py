"""`SwapEMAWeights`: evaluate (and optionally checkpoint) with the optimizer's EMA weights."""

from __future__ import annotations

from rskeras.backend.lazy_numpy import np

from rskeras.callbacks.callback import Callback


class SwapEMAWeights(Callback):
    """Swap the model's trainable weights with the optimizer's exponential moving averages
    (Polyak averaging) around evaluation, and back afterwards (Keras 3's
    `keras.callbacks.SwapEMAWeights`). Use it with an optimizer built with `use_ema=True`.

    The weights are swapped in `on_test_begin`/`on_test_end` and `on_predict_begin`/
    `on_predict_end`, so validation metrics (and `evaluate`, `predict` given this callback)
    use the EMA weights while training goes on with the trained ones. The swap is in place:
    each average and its variable trade values.

    Args:
        swap_on_epoch: also hold the EMA weights in the model between `on_epoch_end` and the
            next `on_epoch_begin`, so that callbacks placed after this one (such as
            `ModelCheckpoint`) see them (default False). After the last epoch the averages
            are set equal to the model's weights, which then hold the EMA values, as Keras.

    Raises:
        ValueError: when the optimizer (or none of a multi-optimizer's) has `use_ema=True`.

    Unlike Keras 3.15, whose `on_predict_end` tests the wrong flag and leaves the EMA weights
    in the model after `predict`, the trained weights come back after prediction too.
    """

    def __init__(self, swap_on_epoch=False):
        super().__init__()
        self.swap_on_epoch = swap_on_epoch
        self._ema_weights_in_model = False

    def _ema_optimizers(self) -> list:
        optimizer = self.model.optimizer
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)
        if hasattr(optimizer, "optimizers"):
            chosen = [opt for opt in optimizer.optimizers if getattr(opt, "use_ema", False)]
            if not chosen:
                raise ValueError("SwapEMAWeights must be used when at least one inner optimizer has "
                                 "`use_ema=True` set. Received a MultiOptimizer with all inner "
                                 "optimizers having `use_ema=False`.")
        else:
            chosen = [optimizer]
        for opt in chosen:
            if not getattr(opt, "use_ema", False) or not hasattr(opt, "_model_variables_moving_average"):
                raise ValueError("SwapEMAWeights must be used when `use_ema=True` is set on the "
                                 f"optimizer. Received: use_ema={getattr(opt, 'use_ema', None)}")
        return chosen

    def _pairs(self):
        """`(model variable, its average)` for every trainable variable the optimizers track."""
        for opt in self._ema_optimizers():
            averages = opt._model_variables_moving_average
            for var in self.model.trainable_variables:
                try:
                    index = opt._get_variable_index(var)
                except (KeyError, ValueError):
                    continue  # a variable this (inner) optimizer does not update
                yield var, averages[index]

    def _swap_variables(self):
        for var, average in self._pairs():
            trained = np.array(var, copy=True)
            var.assign(np.array(average, copy=True))
            average.assign(trained)

    def _finalize_ema_values(self):
        for var, average in self._pairs():
            average.assign(np.array(var, copy=True))

    def on_epoch_begin(self, epoch, logs=None):
        if self.swap_on_epoch and self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = False

    def on_epoch_end(self, epoch, logs=None):
        if self.swap_on_epoch and not self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = True
            # After the last epoch `fit` may copy the averages into the model (the optimizer's
            # `finalize_variable_values`): the averages must then hold the EMA values, which
            # the model holds now.
            if epoch == self.params.get("epochs", 0) - 1:
                self._finalize_ema_values()

    def on_test_begin(self, logs=None):
        if not self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = True

    def on_test_end(self, logs=None):
        if self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = False

    on_predict_begin = on_test_begin
    on_predict_end = on_test_end

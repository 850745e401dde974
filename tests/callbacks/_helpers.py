"""Small models, data and spy callbacks shared by the callback tests."""

from __future__ import annotations

import numpy as np
import rskeras as keras

N_FEATURES, N_CLASSES = 6, 3


def make_data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, N_FEATURES)).astype("float32")
    y = rng.integers(0, N_CLASSES, n).astype("int32")
    return x, y


def make_model(optimizer=None, seed=0, metrics=("accuracy",)):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((N_FEATURES,)),
        keras.layers.Dense(8, activation="relu"),
        keras.layers.Dense(N_CLASSES, activation="softmax"),
    ])
    model.compile(optimizer=optimizer if optimizer is not None else keras.optimizers.SGD(0.1),
                  loss="sparse_categorical_crossentropy", metrics=list(metrics))
    return model


class Script(keras.callbacks.Callback):
    """Overwrites `logs[key]` with `values[epoch]` at each epoch end. Callbacks run in list
    order and share the logs dict, so a callback placed after this one sees the scripted
    value: the decisions of a monitoring callback are then checked on an exact sequence
    while the fit itself is real."""

    def __init__(self, key, values):
        super().__init__()
        self.key, self.values = key, list(values)

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


class Recorder(keras.callbacks.Callback):
    """Keeps the model's weights at each epoch end, and the learning rate each epoch ran at
    (read at its first batch)."""

    def __init__(self):
        super().__init__()
        self.weights, self.lrs = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self._first = True

    def on_train_batch_begin(self, batch, logs=None):
        if self._first:
            self.lrs.append(float(self.model.optimizer.learning_rate))
            self._first = False

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())


def assert_weights_equal(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)

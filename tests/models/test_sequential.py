"""Sequential models: built from the input shape with weights in Keras order, and predicting as
the real Keras does with the fixture weights (tests/fixtures/keras_reference.npz)."""

from __future__ import annotations

import numpy as np
import rskeras as keras

from tests._reference import assert_matches, ref


# ---------------------------------------------------------------------------------------------
# Sequential building and weight order


def test_sequential_builds_from_input_shape_and_orders_weights():
    model = keras.Sequential([keras.layers.Dense(8, activation="relu", input_shape=(4,)),
                              keras.layers.Dense(3, activation="softmax")])
    assert model.built
    assert model.output_shape == (None, 3)
    assert [tuple(w.shape) for w in model.weights] == [(4, 8), (8,), (8, 3), (3,)]
    assert model.count_params() == 4 * 8 + 8 + 8 * 3 + 3


def test_sequential_forward_with_fixture_weights_matches_keras_predict():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    model.set_weights([ref(f"train/init{i}") for i in range(4)])
    out = model.predict(ref("train/x"), verbose=0)
    assert isinstance(out, np.ndarray) and out.shape == (32, 3)
    assert_matches(out, ref("train/predict_init"))

"""Layers against the real Keras (values in tests/fixtures/keras_reference.npz): Dense with
each activation, Flatten, Activation, Dropout; plus weight bookkeeping and the Glorot
initializer's statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest

import rskeras as keras
from _reference import assert_matches, ref

ACTIVATIONS = ["relu", "softmax", "sigmoid", "tanh", "linear"]


def _dense(units, input_shape, weights, **kwargs):
    layer = keras.layers.Dense(units, **kwargs)
    layer.build(input_shape)
    layer.set_weights(weights)
    return layer


# ---------------------------------------------------------------------------------------------
# Dense


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_dense_forward_matches_keras(activation):
    layer = _dense(3, (None, 5), [ref("dense/kernel"), ref("dense/bias")], activation=activation)
    out = layer(ref("dense/x"))
    assert tuple(out.shape) == (4, 3)
    assert out.dtype == "float32"
    assert_matches(out, ref(f"dense/{activation}/out"), what=f"Dense({activation})")


def test_dense_activation_callable_equals_name():
    x = ref("dense/x")
    weights = [ref("dense/kernel"), ref("dense/bias")]
    by_fn = _dense(3, (None, 5), weights, activation=keras.activations.tanh)
    assert_matches(by_fn(x), ref("dense/tanh/out"))


def test_dense_rank3_input_matches_keras():
    layer = _dense(3, (None, 3, 5), [ref("dense/kernel"), ref("dense/bias")], activation="tanh")
    out = layer(ref("dense3d/x"))
    assert tuple(out.shape) == (2, 3, 3)
    assert_matches(out, ref("dense3d/out"))
    assert layer.compute_output_shape((None, 3, 5)) == (None, 3, 3)


def test_dense_without_bias_matches_keras():
    layer = _dense(3, (None, 5), [ref("dense/kernel")], use_bias=False)
    assert len(layer.weights) == 1
    assert_matches(layer(ref("dense/x")), ref("dense_nobias/out"))


def test_dense_lazy_build_on_first_call():
    layer = keras.layers.Dense(3, name="lazy_dense")
    assert not layer.built and layer.weights == []
    layer(np.zeros((2, 5), np.float32))
    assert layer.built
    shapes = [tuple(w.shape) for w in layer.weights]
    assert shapes == [(5, 3), (3,)]
    assert [w.path for w in layer.weights] == ["lazy_dense/kernel", "lazy_dense/bias"]
    assert layer.count_params() == 18
    # default bias initializer: zeros
    np.testing.assert_array_equal(layer.get_weights()[1], np.zeros(3, np.float32))


def test_dense_get_set_weights_roundtrip():
    k, b = ref("dense/kernel"), ref("dense/bias")
    layer = _dense(3, (None, 5), [k, b])
    got = layer.get_weights()
    np.testing.assert_array_equal(got[0], k)
    np.testing.assert_array_equal(got[1], b)
    # get_weights returns copies: mutating them does not touch the layer
    got[0][:] = 0.0
    np.testing.assert_array_equal(layer.get_weights()[0], k)


def test_dense_set_weights_rejects_bad_shape_and_count():
    layer = _dense(3, (None, 5), [ref("dense/kernel"), ref("dense/bias")])
    with pytest.raises(ValueError, match="kernel"):
        layer.set_weights([np.zeros((3, 5), np.float32), np.zeros(3, np.float32)])
    with pytest.raises(ValueError):
        layer.set_weights([np.zeros((5, 3), np.float32)])


def test_dense_rejects_bad_units():
    with pytest.raises(ValueError):
        keras.layers.Dense(0)
    with pytest.raises(ValueError):
        keras.layers.Dense(-2)


def test_dense_input_spec_checks_last_axis():
    layer = _dense(3, (None, 5), [ref("dense/kernel"), ref("dense/bias")], name="spec_dense")
    with pytest.raises(ValueError) as info:
        layer(np.zeros((2, 4), np.float32))
    msg = str(info.value)
    assert "spec_dense" in msg and "5" in msg and "(2, 4)" in msg


def test_unbuilt_count_params_raises():
    with pytest.raises(ValueError):
        keras.layers.Dense(2).count_params()


# ---------------------------------------------------------------------------------------------
# Flatten, Activation, Dropout


def test_flatten_matches_keras():
    out = keras.layers.Flatten()(ref("flatten/x"))
    assert tuple(out.shape) == (2, 24)
    assert_matches(out, ref("flatten/out"))
    assert keras.layers.Flatten().compute_output_shape((None, 3, 4, 2)) == (None, 24)


def test_flatten_keeps_batch_axis_of_rank2_and_rank1():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(np.asarray(keras.layers.Flatten()(x)), x)
    v = np.arange(4, dtype=np.float32)
    assert tuple(keras.layers.Flatten()(v).shape) == (4, 1)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "softmax", "linear", "exponential"])
def test_activation_layer_matches_keras(activation):
    out = keras.layers.Activation(activation)(ref("activation/x"))
    assert_matches(out, ref(f"activation/{activation}/out"), what=activation)


def test_activation_unknown_name_raises():
    with pytest.raises(ValueError):
        keras.layers.Activation("not_an_activation")


def test_dropout_inference_is_identity():
    x = ref("dropout/x")
    layer = keras.layers.Dropout(0.5)
    assert_matches(layer(x), ref("dropout/out"))
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)


def test_dropout_training_drops_and_rescales():
    x = np.ones((100, 200), np.float32)
    out = np.asarray(keras.layers.Dropout(0.3, seed=7)(x, training=True))
    zero_frac = float(np.mean(out == 0.0))
    assert 0.27 < zero_frac < 0.33, zero_frac
    kept = out[out != 0.0]
    np.testing.assert_allclose(kept, 1.0 / 0.7, rtol=1e-6)


def test_dropout_seeded_masks_repeat_and_advance():
    x = np.ones((20, 30), np.float32)
    a, b = keras.layers.Dropout(0.5, seed=3), keras.layers.Dropout(0.5, seed=3)
    first_a, first_b = np.asarray(a(x, training=True)), np.asarray(b(x, training=True))
    np.testing.assert_array_equal(first_a, first_b)
    second_a = np.asarray(a(x, training=True))
    assert not np.array_equal(first_a, second_a), "successive training calls reused the same mask"


def test_dropout_rejects_bad_rate():
    with pytest.raises(ValueError):
        keras.layers.Dropout(1.0)
    with pytest.raises(ValueError):
        keras.layers.Dropout(-0.1)


# ---------------------------------------------------------------------------------------------
# Initializers (random: check bounds and moments, not values)


def test_glorot_uniform_bounds_and_variance():
    fan_in, fan_out = 200, 300
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    w = np.asarray(keras.initializers.GlorotUniform(seed=11)((fan_in, fan_out)), np.float64)
    assert w.shape == (fan_in, fan_out)
    assert w.min() >= -limit and w.max() <= limit
    # Uniform(-l, l): mean 0, variance l^2 / 3 = 2 / (fan_in + fan_out); 60000 samples.
    assert abs(w.mean()) < 0.01 * limit
    np.testing.assert_allclose(w.var(), limit ** 2 / 3.0, rtol=0.03)
    # spread over the whole interval (not e.g. [0, l) or a narrower range)
    assert w.min() < -0.98 * limit and w.max() > 0.98 * limit


def test_glorot_uniform_seed_reproducible():
    a = np.asarray(keras.initializers.GlorotUniform(seed=5)((30, 20)))
    b = np.asarray(keras.initializers.GlorotUniform(seed=5)((30, 20)))
    c = np.asarray(keras.initializers.GlorotUniform(seed=6)((30, 20)))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_dense_default_kernel_is_glorot_uniform():
    layer = keras.layers.Dense(64)
    layer.build((None, 256))
    kernel = layer.get_weights()[0]
    limit = math.sqrt(6.0 / (256 + 64))
    assert np.abs(kernel).max() <= limit
    np.testing.assert_allclose(kernel.var(), limit ** 2 / 3.0, rtol=0.06)


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

"""Initializers: the variance each Keras formula promises, orthogonality, seeds and configs; the
Glorot uniform bounds and variance, and Dense's default kernel."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rskeras as keras

SHAPE = (3, 3, 64, 128)  # a conv kernel: fan_in = 3*3*64, fan_out = 3*3*128
FAN_IN, FAN_OUT = 9 * 64, 9 * 128


@pytest.mark.parametrize("name, variance, bound", [
    ("glorot_uniform", 2 / (FAN_IN + FAN_OUT), math.sqrt(6 / (FAN_IN + FAN_OUT))),
    ("glorot_normal", 2 / (FAN_IN + FAN_OUT), None),
    ("he_uniform", 2 / FAN_IN, math.sqrt(6 / FAN_IN)),
    ("he_normal", 2 / FAN_IN, None),
    ("lecun_uniform", 1 / FAN_IN, math.sqrt(3 / FAN_IN)),
    ("lecun_normal", 1 / FAN_IN, None),
])
def test_variance_scaling_presets(name, variance, bound):
    init = keras.initializers.get(name)
    t = init(SHAPE)
    assert tuple(t.shape) == SHAPE and t.dtype == "float32"
    w = np.asarray(t, np.float64)
    assert abs(w.var() / variance - 1) < 0.03
    assert abs(w.mean()) < 0.02 * math.sqrt(variance)
    if bound is not None:
        assert np.abs(w).max() <= bound
    else:  # truncated normal: nothing beyond two (untruncated) standard deviations
        assert np.abs(w).max() <= 2 * math.sqrt(variance) / 0.87962566103423978 + 1e-6


def test_truncated_normal_initializer():
    w = np.asarray(keras.initializers.TruncatedNormal(mean=1.0, stddev=0.5, seed=1)((20000,)))
    assert np.abs(w - 1.0).max() <= 1.0
    assert abs(w.mean() - 1.0) < 0.01


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (2, 3, 8)])
def test_orthogonal(shape):
    w = np.asarray(keras.initializers.Orthogonal(gain=2.0, seed=0)(shape), np.float64)
    flat = w.reshape(-1, shape[-1])
    gram = flat.T @ flat if flat.shape[0] >= flat.shape[1] else flat @ flat.T
    np.testing.assert_allclose(gram, 4.0 * np.eye(gram.shape[0]), atol=1e-5)
    with pytest.raises(ValueError, match="Orthogonal.*rank"):
        keras.initializers.Orthogonal()((3,))


def test_identity():
    np.testing.assert_array_equal(np.asarray(keras.initializers.Identity(gain=3.0)((2, 3))),
                                  3.0 * np.eye(2, 3))
    with pytest.raises(ValueError, match="Identity.*2-D"):
        keras.initializers.Identity()((2, 2, 2))


@pytest.mark.parametrize("name", ["glorot_normal", "he_normal", "lecun_normal", "truncated_normal",
                                  "orthogonal", "identity"])
def test_seeded_and_serializable(name):
    cls = type(keras.initializers.get(name))
    init = cls(seed=5) if name != "identity" else cls()
    again = keras.initializers.deserialize(keras.initializers.serialize(init))
    assert type(again) is cls
    np.testing.assert_array_equal(np.asarray(init((4, 4))), np.asarray(again((4, 4))))


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

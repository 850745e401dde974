"""Regularization layers: Dropout (inference identity, training rescale, seeded masks), the
spatial dropouts, GaussianNoise, GaussianDropout (statistics) and ActivityRegularization."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rskeras as keras

from tests._reference import assert_matches, ref
from tests.conftest import assert_close


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


L = keras.layers


def rand(*shape, seed=0, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Regularization layers


@pytest.mark.parametrize("layer_fn,shape,map_axes", [
    (lambda seed: L.SpatialDropout1D(0.3, seed=seed), (64, 5, 64), (1,)),
    (lambda seed: L.SpatialDropout2D(0.3, seed=seed), (64, 3, 4, 64), (1, 2)),
    (lambda seed: L.SpatialDropout2D(0.3, seed=seed, data_format="channels_first"), (64, 64, 3, 4), (2, 3)),
])
def test_spatial_dropout_drops_whole_feature_maps(layer_fn, shape, map_axes):
    x = rand(*shape, low=1.0, high=2.0)  # no zeros in the input
    layer = layer_fn(7)
    assert_close(layer(x), x, rtol=0, atol=0)
    assert_close(layer(x, training=False), x, rtol=0, atol=0)
    out = np.asarray(layer(x, training=True))
    kept = out != 0
    # each feature map is all kept or all dropped, and kept values are scaled by 1 / (1 - rate)
    assert np.all(kept.all(axis=map_axes) | (~kept).all(axis=map_axes))
    np.testing.assert_allclose(out[kept], x[kept] / 0.7, rtol=1e-6)
    dropped = 1 - kept.all(axis=map_axes).mean()
    assert abs(dropped - 0.3) < 0.04, dropped  # 4096 maps: the std of the rate is 0.007
    # a fresh layer with the same seed draws the same masks; the next call draws new ones
    np.testing.assert_array_equal(np.asarray(layer_fn(7)(x, training=True)), out)
    assert not np.array_equal(np.asarray(layer(x, training=True)), out)


def test_spatial_dropout_errors():
    with pytest.raises(ValueError, match="ndim=3"):
        L.SpatialDropout1D(0.5)(rand(2, 3))
    with pytest.raises(ValueError, match="ndim=4"):
        L.SpatialDropout2D(0.5)(rand(2, 3, 4))
    with pytest.raises(ValueError, match="rate"):
        L.SpatialDropout1D(1.5)
    with pytest.raises(ValueError, match="data_format"):
        L.SpatialDropout2D(0.5, data_format="nhwc")


def test_gaussian_noise_statistics():
    x = rand(100, 200)
    layer = L.GaussianNoise(0.4, seed=3)
    assert_close(layer(x), x, rtol=0, atol=0)
    assert_close(layer(x, training=False), x, rtol=0, atol=0)
    noise = np.asarray(layer(x, training=True)) - x
    assert abs(noise.mean()) < 0.01  # 20000 draws: the std of the mean is 0.003
    assert abs(noise.std() - 0.4) < 0.01
    np.testing.assert_array_equal(np.asarray(L.GaussianNoise(0.4, seed=3)(x, training=True)) - x, noise)
    assert_close(L.GaussianNoise(0.0)(x, training=True), x, rtol=0, atol=0)
    for bad in [-0.1, 1.5, "0.1"]:
        with pytest.raises(ValueError, match="stddev"):
            L.GaussianNoise(bad)


def test_gaussian_dropout_statistics():
    x = rand(100, 200, low=1.0, high=2.0)
    rate = 0.2
    layer = L.GaussianDropout(rate, seed=4)
    assert_close(layer(x), x, rtol=0, atol=0)
    factor = np.asarray(layer(x, training=True)) / x
    assert abs(factor.mean() - 1.0) < 0.015
    assert abs(factor.std() - math.sqrt(rate / (1 - rate))) < 0.015
    np.testing.assert_allclose(np.asarray(L.GaussianDropout(rate, seed=4)(x, training=True)) / x, factor)
    for bad in [-0.1, 1.0, 2.0]:
        with pytest.raises(ValueError, match="rate"):
            L.GaussianDropout(bad)


def test_noise_layers_are_identity_in_predict_and_active_in_training():
    x = rand(32, 4, 6, low=1.0, high=2.0)
    model = keras.Sequential([L.GaussianNoise(0.5, seed=1), L.GaussianDropout(0.5, seed=2),
                              L.SpatialDropout1D(0.5, seed=3)])
    assert_close(model.predict(x, verbose=0), x, rtol=0, atol=0)
    noisy = np.asarray(model(x, training=True))
    assert noisy.shape == x.shape and not np.allclose(noisy, x)


def test_activity_regularization_adds_loss():
    x = rand(4, 3)
    layer = L.ActivityRegularization(l1=0.1, l2=0.2)
    out = layer(x)
    assert_close(out, x, rtol=0, atol=0)
    assert len(layer.losses) == 1
    expected = 0.1 * np.abs(x).sum() + 0.2 * np.square(x).sum()
    assert_close(layer.losses[0], expected, rtol=1e-5)
    layer(2 * x)  # the latest call's penalty replaces the previous one
    assert len(layer.losses) == 1
    assert_close(layer.losses[0], 0.2 * np.abs(x).sum() + 0.8 * np.square(x).sum(), rtol=1e-5)
    assert_close(L.ActivityRegularization()(x), x)
    for kwargs in [{"l1": -1.0}, {"l2": -0.5}, {"l1": "0.1"}]:
        with pytest.raises(ValueError):
            L.ActivityRegularization(**kwargs)


def test_activity_regularization_enters_the_model_loss():
    x = rand(8, 3)
    model = keras.Sequential([L.ActivityRegularization(l2=0.5)])
    model.compile(loss="mse")
    # y == x: the compiled mse is 0, so the loss is the penalty alone
    loss = model.evaluate(x, x, batch_size=8, verbose=0)
    assert loss == pytest.approx(0.5 * np.square(x).sum(), rel=1e-5)
    assert loss == pytest.approx(model.evaluate(x, x, batch_size=8, verbose=0), rel=1e-6)

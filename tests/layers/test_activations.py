"""Activation layers: Activation against the real Keras (tests/fixtures/keras_reference.npz);
ReLU, LeakyReLU, ELU, PReLU and Softmax against NumPy formulas, masks, gradients and errors."""

from __future__ import annotations

import numpy as np
import pytest
import rskeras as keras
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp
from rskeras import ops

from tests._reference import assert_matches, ref
from tests.conftest import assert_close, float_arrays, random_cotangent
from tests.fuzz._references import relu_layer
from tests.layer_conformance import check_layer


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "softmax", "linear", "exponential"])
def test_activation_layer_matches_keras(activation):
    out = keras.layers.Activation(activation)(ref("activation/x"))
    assert_matches(out, ref(f"activation/{activation}/out"), what=activation)


def test_activation_unknown_name_raises():
    with pytest.raises(ValueError):
        keras.layers.Activation("not_an_activation")


L = keras.layers


def rand(*shape, seed=0, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Activation layers


@given(float_arrays(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), -4, 4),
       st.one_of(st.none(), st.floats(0, 3)), st.floats(0, 1), st.floats(0, 2))
def test_relu_matches_keras_formula(x, max_value, slope, threshold):
    layer = L.ReLU(max_value=max_value, negative_slope=slope, threshold=threshold)
    out = check_layer(layer, x, supports_gradient=False).output
    assert_close(out, relu_layer(x, max_value, slope, threshold), rtol=1e-5, atol=1e-5)


def test_relu_special_cases_and_errors():
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 1.0, 3.0]], np.float32)
    assert_close(L.ReLU()(x), np.maximum(x, 0), rtol=0, atol=0)
    assert_close(L.ReLU(max_value=6.0)(x * 3), np.clip(x * 3, 0, 6), rtol=0, atol=0)
    assert_close(L.ReLU(negative_slope=0.5)(x), np.where(x >= 0, x, 0.5 * x), rtol=0, atol=0)
    assert_close(L.ReLU(threshold=1.0)(x), [[0, 0, 0, 0, 0, 3.0]], rtol=0, atol=0)
    for kwargs in [{"max_value": -1.0}, {"negative_slope": -0.1}, {"threshold": -1.0},
                   {"negative_slope": None}, {"max_value": "6"}]:
        with pytest.raises(ValueError):
            L.ReLU(**kwargs)


@given(float_arrays(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), -5, 5),
       st.floats(0, 1))
def test_leaky_relu_and_elu_match_numpy(x, slope):
    assert_close(L.LeakyReLU(slope)(x), np.where(x >= 0, x, slope * x), rtol=1e-6, atol=1e-6)
    alpha = slope * 2
    assert_close(L.ELU(alpha)(x), np.where(x > 0, x, alpha * np.expm1(x)), rtol=1e-5, atol=1e-6)


def test_leaky_relu_default_alias_and_errors():
    x = np.array([[-1.0, 2.0]], np.float32)
    assert_close(L.LeakyReLU()(x), [[-0.3, 2.0]], rtol=1e-6)
    with pytest.warns(UserWarning, match="deprecated"):
        layer = L.LeakyReLU(alpha=0.1)
    assert layer.negative_slope == pytest.approx(0.1)
    for bad in [-0.1, None, "0.2"]:
        with pytest.raises(ValueError, match="negative_slope"):
            L.LeakyReLU(bad)
    with pytest.raises(ValueError, match="alpha"):
        L.ELU("1")


@pytest.mark.parametrize("shared_axes,alpha_shape", [
    (None, (4, 5, 3)), ([1, 2], (1, 1, 3)), (1, (1, 5, 3)), ([3], (4, 5, 1)), ((1, 2, 3), (1, 1, 1)),
])
def test_prelu_alpha_shape_values_and_gradient(shared_axes, alpha_shape):
    x = rand(2, 4, 5, 3)
    layer = L.PReLU(shared_axes=shared_axes)
    layer.build(x.shape)
    assert [w.name for w in layer.weights] == ["alpha"]
    assert tuple(layer.alpha.shape) == alpha_shape
    assert layer.trainable_weights == layer.weights
    assert_close(layer.alpha, np.zeros(alpha_shape))  # default "Zeros": a ReLU at first
    alpha = rand(*alpha_shape, seed=5, low=0.0, high=1.0)
    layer.set_weights([alpha])
    out = check_layer(layer, x).output
    assert_close(out, np.where(x >= 0, x, alpha * x), rtol=1e-6, atol=1e-6)
    w = random_cotangent(x.shape, seed=2)
    with keras.GradientTape() as tape:
        y = ops.sum(layer(x) * w)
    (grad,) = tape.gradient(y, layer.trainable_weights)
    reduce_axes = tuple(i for i in range(4) if i == 0 or alpha_shape[i - 1] == 1)
    expected = (w * np.minimum(x, 0)).sum(axis=reduce_axes, keepdims=True).reshape(alpha_shape)
    assert_close(grad, expected, rtol=1e-5, atol=1e-5)


def test_prelu_errors_and_training():
    with pytest.raises(ValueError, match="shared_axes"):
        L.PReLU(shared_axes=[0])
    with pytest.raises(ValueError, match="shared_axes"):
        L.PReLU(shared_axes=[3]).build((None, 4, 5))
    layer = L.PReLU(name="prelu_in")
    layer(rand(2, 4))
    with pytest.raises(ValueError, match="prelu_in"):
        layer(rand(2, 5))
    # fit moves alpha (the gradient reaches the optimizer)
    model = keras.Sequential([L.PReLU(alpha_initializer="zeros")])
    model.compile(optimizer="sgd", loss="mse")
    x = -np.abs(rand(16, 3)) - 0.1
    model.fit(x, 0.5 * x, epochs=2, batch_size=16, verbose=0)
    assert np.all(model.layers[0].get_weights()[0] > 0)


@given(float_arrays(hnp.array_shapes(min_dims=2, max_dims=4, min_side=1, max_side=4), -5, 5),
       st.data())
def test_softmax_matches_numpy(x, data):
    axis = data.draw(st.one_of(st.integers(-x.ndim, x.ndim - 1),
                               st.lists(st.integers(0, x.ndim - 1), min_size=1, max_size=2,
                                        unique=True).map(tuple)))
    out = check_layer(L.Softmax(axis=axis), x, supports_gradient=False).output
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    assert_close(out, e / e.sum(axis=axis, keepdims=True), rtol=1e-5, atol=1e-6)


def test_softmax_mask_and_errors():
    x = rand(2, 4)
    mask = np.array([[True, True, False, True], [False, True, True, True]])
    out = np.asarray(L.Softmax()(x, mask=mask))
    e = np.where(mask, np.exp(x - x.max(-1, keepdims=True)), 0.0)
    assert_close(out, e / e.sum(-1, keepdims=True), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="axis"):
        L.Softmax(axis=1.0)
    with pytest.raises(ValueError, match=r"softmax_layer.*axis=3"):
        L.Softmax(axis=3, name="softmax_layer")(x)

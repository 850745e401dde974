"""Preprocessing layers: Rescaling and Normalization (adapt, invert) against NumPy and the
Keras documentation examples."""

from __future__ import annotations

import numpy as np
import pytest
import rskeras as keras
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from tests.conftest import assert_close, float_arrays
from tests.layer_conformance import check_layer

L = keras.layers


def rand(*shape, seed=0, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Preprocessing layers


def test_rescaling_values_dtypes_and_per_channel():
    x = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    out = L.Rescaling(1 / 127.5, offset=-1.0)(x)
    assert out.dtype == "float32"
    assert_close(out, x.astype(np.float64) / 127.5 - 1.0, rtol=1e-6, atol=1e-6)
    scale, offset = [1.0, 2.0, 3.0, 4.0], [0.0, 0.5, 1.0, 1.5]
    layer = L.Rescaling(scale, offset)
    assert_close(layer(x), x * np.array(scale) + np.array(offset), rtol=1e-6)
    assert layer.get_config()["scale"] == scale
    check_layer(layer, x.astype(np.float32), expected_output=x * np.array(scale) + np.array(offset),
                expected_input_grad=lambda w, x: w * np.array(scale))
    for bad in ["a", None, float("nan")]:
        with pytest.raises(ValueError, match="scale"):
            L.Rescaling(bad)


@st.composite
def normalization_case(draw):
    shape = draw(hnp.array_shapes(min_dims=2, max_dims=4, min_side=2, max_side=4))
    ndim = len(shape)
    axis = draw(st.one_of(st.none(), st.integers(-ndim + 1, ndim - 1).filter(lambda a: a % ndim != 0),
                          st.lists(st.integers(1, ndim - 1), min_size=1, unique=True).map(tuple)))
    x = draw(float_arrays(shape, -5, 5))
    return x, axis


@given(normalization_case(), st.booleans())
def test_normalization_adapt_matches_numpy(case, invert):
    x, axis = case
    layer = L.Normalization(axis=axis, invert=invert)
    layer.adapt(x)
    keep = () if axis is None else tuple(sorted(a % x.ndim for a in ((axis,) if isinstance(axis, int) else axis)))
    reduce = tuple(i for i in range(x.ndim) if i not in keep)
    x64 = x.astype(np.float64)
    mean, var = x64.mean(axis=reduce, keepdims=True), x64.var(axis=reduce, keepdims=True)
    assert [w.name for w in layer.weights] == ["mean", "variance", "count"]
    assert layer.trainable_weights == []
    assert_close(layer.weights[0], mean.reshape([x.shape[i] for i in keep]), rtol=1e-5, atol=1e-5)
    assert_close(layer.weights[1], var.reshape([x.shape[i] for i in keep]), rtol=1e-4, atol=1e-4)
    std = np.maximum(np.sqrt(var.astype(np.float32)), 1e-7)
    expected = mean + x64 * std if invert else (x64 - mean) / std
    out = check_layer(layer, x, supports_gradient=False).output
    assert_close(out, expected, rtol=1e-4, atol=1e-3)


def test_normalization_keras_examples():
    layer = L.Normalization(axis=None)
    layer.adapt(np.array([1.0, 2.0, 3.0, 4.0, 5.0], np.float32))
    assert_close(layer(np.array([1.0, 2.0, 3.0], np.float32)), [-1.4142135, -0.70710677, 0.0], rtol=1e-5)
    data = np.array([[0.0, 7.0, 4.0], [2.0, 9.0, 6.0], [0.0, 7.0, 4.0], [2.0, 9.0, 6.0]], np.float32)
    layer = L.Normalization(axis=-1)
    layer.adapt(data)
    assert_close(layer(np.array([[0.0, 7.0, 4.0]], np.float32)), [[-1.0, -1.0, -1.0]], rtol=1e-5)
    inverse = L.Normalization(axis=-1, invert=True)
    inverse.adapt(data)
    assert_close(inverse(np.array([[1.0, 2.0, 3.0]], np.float32)), [[2.0, 10.0, 8.0]], rtol=1e-5)
    given = L.Normalization(mean=3.0, variance=2.0)
    assert_close(given(np.array([[1.0], [2.0], [3.0]], np.float32)),
                 [[-1.4142135], [-0.70710677], [0.0]], rtol=1e-5)
    assert given.weights == []


def test_normalization_adapt_batches_equals_whole():
    data = rand(50, 4, seed=9, low=-3, high=5)
    whole, batched = L.Normalization(), L.Normalization()
    whole.adapt(data)
    batched.adapt([data[:7], data[7:30], data[30:]])
    for a, b in zip(whole.get_weights(), batched.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert int(whole.get_weights()[2]) == 50


def test_normalization_errors_and_roundtrip():
    with pytest.raises(ValueError, match="both `mean` and `variance`"):
        L.Normalization(mean=1.0)
    with pytest.raises(ValueError, match="same shape"):
        L.Normalization(mean=[1.0, 2.0], variance=[1.0])
    with pytest.raises(ValueError, match="rank of `mean`"):
        L.Normalization(axis=-1, mean=[[1.0]], variance=[[1.0]])
    with pytest.raises(ValueError, match=r"norm_axis.*axis=\(3,\)"):
        L.Normalization(axis=3, name="norm_axis")(rand(2, 3))
    layer = L.Normalization(name="norm_adapt")
    layer.adapt(rand(10, 3))
    with pytest.raises(ValueError, match="norm_adapt"):
        layer.adapt(rand(10, 4))
    with pytest.raises(ValueError, match="do not broadcast"):
        L.Normalization(mean=[1.0, 2.0], variance=[1.0, 1.0])(rand(2, 3))
    with pytest.raises(ValueError, match="adapt"):
        L.Normalization(mean=1.0, variance=1.0).adapt(rand(4, 3))
    # an adapted layer: config round trip plus set_weights reproduces it
    check_layer(layer, rand(5, 3, seed=2))
    given = L.Normalization(mean=[1.0, 2.0, 3.0], variance=[1.0, 4.0, 9.0])
    assert given.get_config()["mean"] == [1.0, 2.0, 3.0]
    x = rand(5, 3, seed=2)
    check_layer(given, x, expected_output=(x - [1.0, 2.0, 3.0]) / [1.0, 2.0, 3.0])

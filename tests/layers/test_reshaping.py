"""Reshaping layers: Flatten against the real Keras (tests/fixtures/keras_reference.npz);
Reshape, Permute, RepeatVector, UpSampling, ZeroPadding and Cropping against NumPy, with their
gradients and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rskeras as keras
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp
from rskeras import ops

from tests._reference import assert_matches, ref
from tests.conftest import assert_close, float_arrays, random_cotangent
from tests.layer_conformance import check_layer


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


L = keras.layers


def rand(*shape, seed=0, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Reshaping


@st.composite
def reshape_case(draw):
    sample = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    total = math.prod(sample)
    target = draw(st.sampled_from([(total,), (-1,), tuple(reversed(sample)), (1, total),
                                   (-1, sample[-1]), (sample[0], -1, 1)]))
    x = draw(float_arrays((draw(st.integers(1, 3)),) + sample))
    return x, target


@given(reshape_case())
def test_reshape_matches_numpy(case):
    x, target = case
    layer = L.Reshape(target)
    out = check_layer(layer, x, supports_gradient=False).output
    assert_close(out, x.reshape((x.shape[0],) + target), rtol=0, atol=0)


def test_reshape_unknown_sizes_and_errors():
    assert L.Reshape((-1, 3)).compute_output_shape((None, None, 3)) == (None, None, 3)
    assert L.Reshape((2, 6)).compute_output_shape((None, 3, 4)) == (None, 2, 6)
    for bad in [(-1, -1), (0, 3), (2.5,), "ab", 3]:
        with pytest.raises(ValueError, match="target_shape"):
            L.Reshape(bad)
    layer = L.Reshape((5, 5), name="bad_reshape")
    with pytest.raises(ValueError, match=r'bad_reshape.*\(3, 4\).*\(5, 5\)'):
        layer(rand(2, 3, 4))
    with pytest.raises(ValueError, match="bad_reshape"):
        L.Reshape((-1, 5), name="bad_reshape").compute_output_shape((None, 3, 4))


@given(st.data())
def test_permute_matches_numpy(data):
    sample = data.draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4))
    dims = tuple(data.draw(st.permutations(range(1, len(sample) + 1))))
    x = data.draw(float_arrays((2,) + sample))
    out = check_layer(L.Permute(dims), x, supports_gradient=False).output
    assert_close(out, np.transpose(x, (0,) + dims), rtol=0, atol=0)


def test_permute_errors():
    for bad in [(0, 1), (1, 1), (2, 3), (1, 3)]:
        with pytest.raises(ValueError, match="dims"):
            L.Permute(bad)
    with pytest.raises(ValueError, match="ndim=3"):
        L.Permute((2, 1))(rand(2, 3))


def test_repeat_vector():
    x = rand(3, 4)
    out = check_layer(L.RepeatVector(5), x, supports_gradient=False).output
    assert_close(out, np.repeat(x[:, None, :], 5, axis=1), rtol=0, atol=0)
    for bad in [-1, 2.0, "3"]:
        with pytest.raises(ValueError, match="`n`"):
            L.RepeatVector(bad)
    with pytest.raises(ValueError, match="expected ndim=2, found ndim=3"):
        L.RepeatVector(2)(rand(2, 3, 4))


@given(float_arrays(hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=4)),
       st.integers(1, 3))
def test_upsampling1d_matches_numpy(x, size):
    out = check_layer(L.UpSampling1D(size), x, supports_gradient=False).output
    assert_close(out, np.repeat(x, size, axis=1), rtol=0, atol=0)


@given(float_arrays(hnp.array_shapes(min_dims=4, max_dims=4, min_side=1, max_side=3)),
       st.tuples(st.integers(1, 3), st.integers(1, 3)),
       st.sampled_from(["channels_last", "channels_first"]))
def test_upsampling2d_matches_numpy(x, size, data_format):
    rows, cols = (2, 3) if data_format == "channels_first" else (1, 2)
    out = check_layer(L.UpSampling2D(size, data_format=data_format), x, supports_gradient=False).output
    assert_close(out, np.repeat(np.repeat(x, size[0], axis=rows), size[1], axis=cols), rtol=0, atol=0)


def test_upsampling_errors():
    with pytest.raises(ValueError, match="nearest"):
        L.UpSampling2D(interpolation="bilinear")
    for bad in [0, -1, (2, 0), (1, 2, 3), 1.5]:
        with pytest.raises(ValueError, match="size"):
            L.UpSampling2D(bad)
    with pytest.raises(ValueError, match="size"):
        L.UpSampling1D(0)
    with pytest.raises(ValueError, match="data_format"):
        L.UpSampling2D(data_format="channels_middle")
    with pytest.raises(ValueError, match="expected ndim=4"):
        L.UpSampling2D()(rand(2, 3, 4))


@given(float_arrays(hnp.array_shapes(min_dims=3, max_dims=3, min_side=0, max_side=4)),
       st.tuples(st.integers(0, 3), st.integers(0, 3)))
def test_zero_padding1d_matches_numpy(x, padding):
    out = check_layer(L.ZeroPadding1D(padding), x, supports_gradient=False).output
    assert_close(out, np.pad(x, ((0, 0), padding, (0, 0))), rtol=0, atol=0)


@given(float_arrays(hnp.array_shapes(min_dims=4, max_dims=4, min_side=1, max_side=3)),
       st.tuples(st.tuples(st.integers(0, 2), st.integers(0, 2)),
                 st.tuples(st.integers(0, 2), st.integers(0, 2))),
       st.sampled_from(["channels_last", "channels_first"]))
def test_zero_padding2d_matches_numpy(x, padding, data_format):
    widths = [(0, 0)] * 4
    axes = (2, 3) if data_format == "channels_first" else (1, 2)
    widths[axes[0]], widths[axes[1]] = padding
    out = check_layer(L.ZeroPadding2D(padding, data_format=data_format), x, supports_gradient=False).output
    assert_close(out, np.pad(x, widths), rtol=0, atol=0)


def test_padding_argument_forms():
    assert L.ZeroPadding1D(2).padding == (2, 2)
    assert L.ZeroPadding2D(2).padding == ((2, 2), (2, 2))
    assert L.ZeroPadding2D((1, 2)).padding == ((1, 1), (2, 2))
    assert L.Cropping2D((1, 2)).cropping == ((1, 1), (2, 2))
    for bad in [-1, (1, -1), (1, 2, 3), "a"]:
        with pytest.raises(ValueError, match="padding"):
            L.ZeroPadding2D(bad)
        with pytest.raises(ValueError, match="padding"):
            L.ZeroPadding1D(bad)
        with pytest.raises(ValueError, match="cropping"):
            L.Cropping2D(bad)
        with pytest.raises(ValueError, match="cropping"):
            L.Cropping1D(bad)


@given(float_arrays(hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=6)),
       st.tuples(st.integers(0, 3), st.integers(0, 3)))
def test_cropping1d_matches_numpy(x, cropping):
    layer = L.Cropping1D(cropping, name="crop1")
    if sum(cropping) >= x.shape[1]:
        with pytest.raises(ValueError, match="crop1"):
            layer(x)
        return
    out = check_layer(layer, x, supports_gradient=False).output
    assert_close(out, x[:, cropping[0]:x.shape[1] - cropping[1]], rtol=0, atol=0)


@given(float_arrays(hnp.array_shapes(min_dims=4, max_dims=4, min_side=1, max_side=5)),
       st.tuples(st.tuples(st.integers(0, 2), st.integers(0, 2)),
                 st.tuples(st.integers(0, 2), st.integers(0, 2))),
       st.sampled_from(["channels_last", "channels_first"]))
def test_cropping2d_matches_numpy(x, cropping, data_format):
    layer = L.Cropping2D(cropping, data_format=data_format, name="crop2")
    (t, b), (left, r) = cropping
    h_axis, w_axis = (2, 3) if data_format == "channels_first" else (1, 2)
    if t + b >= x.shape[h_axis] or left + r >= x.shape[w_axis]:
        with pytest.raises(ValueError, match="crop2"):
            layer(x)
        return
    out = check_layer(layer, x, supports_gradient=False).output
    index = [slice(None)] * 4
    index[h_axis] = slice(t, x.shape[h_axis] - b)
    index[w_axis] = slice(left, x.shape[w_axis] - r)
    assert_close(out, x[tuple(index)], rtol=0, atol=0)


def test_padding_and_cropping_pass_gradients_to_inputs():
    x = ops.convert_to_tensor(rand(2, 3, 4, 2))
    pad, crop = L.ZeroPadding2D(((1, 2), (0, 1))), L.Cropping2D(((1, 2), (0, 1)))
    w = random_cotangent((2, 6, 5, 2))
    with keras.GradientTape() as tape:
        tape.watch(x)
        y = ops.sum(pad(x) * w)
    grad = np.asarray(tape.gradient(y, x))
    assert_close(grad, w[:, 1:4, 0:4, :], rtol=0, atol=0)
    assert_close(crop(pad(x)), np.asarray(x), rtol=0, atol=0)

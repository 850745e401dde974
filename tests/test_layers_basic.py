"""Core, reshaping, merging, activation, regularization and preprocessing layers: each through
the shared conformance checks (tests/layer_conformance.py) with NumPy or real-Keras values for
the forward and backward pass; property tests of values and shapes against NumPy; errors, masks,
statistics of the random layers, and use inside `keras.Sequential`."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import rskeras as keras
from _layer_cases import CASES as KERAS_CASES
from _reference import ref
from conftest import assert_close, float_arrays, random_cotangent
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from layer_conformance import check_layer
from rskeras import ops

L = keras.layers


def rand(*shape, seed=0, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Conformance: every layer through the shared checks (tests/layer_conformance.py), with NumPy
# (or real-Keras, tests/fixtures/keras_reference.npz) values for the forward and backward pass.
# The convolution, pooling and normalization layers, and a few others, have their cases with
# real-Keras numbers in tests/test_layers_conv.py.


def _double(x):
    return x * 2.0


def _adapted_normalization():
    layer = L.Normalization(axis=-1)
    layer.adapt(rand(50, 5, seed=3))
    return layer


def _pad_grad(w, widths):
    """The gradient of zero padding: the cotangent without the padding."""
    return w[tuple(slice(lo, w.shape[i] - hi) for i, (lo, hi) in enumerate(widths))]


def _embedding_grad(w, idx, input_dim):
    """The gradient of a lookup: each row gets the sum of the cotangents of its lookups."""
    g = np.zeros((input_dim, w.shape[-1]))
    np.add.at(g, idx.ravel(), w.reshape(-1, w.shape[-1]))
    return g


def _softmax(x, axis):
    e = np.exp(x.astype(np.float64) - x.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def _relu_grad(x, max_value, slope, threshold):
    above = (x > threshold) & (x < max_value)
    return np.where(above, 1.0, np.where(x < threshold, slope, 0.0))


def _conformance_cases():
    x2, x3, x4 = rand(3, 4), rand(3, 4, 5), rand(2, 4, 6, 3)
    a, b, c, d = rand(3, 4, seed=1), rand(3, 4, seed=2), rand(3, 1, seed=3), rand(3, 2, seed=4)
    p, q = rand(2, 4, 3, seed=5), rand(2, 2, 4, seed=6)
    idx = np.array([[0, 3, 7], [9, 0, 1]], np.int32)
    table = rand(10, 4, seed=7)
    alpha = rand(1, 5, seed=8, low=0.1, high=0.5)
    masked = np.concatenate([x3[:, :2], np.zeros((3, 2, 5), np.float32)], 1)
    keep = np.any(masked != 0, axis=-1, keepdims=True)
    mean, var = np.array([1.0, 2.0, 3.0, 4.0, 5.0]), np.array([1.0, 4.0, 9.0, 0.25, 2.0])
    adapt = rand(50, 5, seed=3).astype(np.float64)
    kernel, bias = ref("dense/kernel"), ref("dense/bias")
    noisy = {"training_differs": True, "expected_output": lambda x: x}
    cases = [
        # core
        ("Dense", lambda: L.Dense(3), ref("dense/x"), {
            "weights": [kernel, bias], "expected_output": ref("dense/linear/out"),
            "expected_input_grad": lambda w, x: w @ kernel.T,
            "expected_weight_grads": lambda w, x: [x.T @ w, w.sum(0)]}),
        ("Activation", lambda: L.Activation("tanh"), ref("activation/x"), {
            "expected_output": ref("activation/tanh/out"),
            "expected_input_grad": lambda w, x: w * (1 - np.tanh(x.astype(np.float64)) ** 2)}),
        ("Identity", L.Identity, x3, {"expected_output": x3, "expected_input_grad": lambda w, x: w}),
        ("Lambda", lambda: L.Lambda(_double, output_shape=(4, 5)), x3, {
            "from_config_kwargs": {"custom_objects": {"_double": _double}},
            "expected_output": 2 * x3, "expected_input_grad": lambda w, x: 2 * w}),
        ("Embedding", lambda: L.Embedding(10, 4), idx, {
            "weights": [table], "expected_output": table[idx],
            "expected_weight_grads": lambda w, i: [_embedding_grad(w, i, 10)]}),
        ("Masking", lambda: L.Masking(0.0), masked, {
            "expected_output": masked * keep, "expected_input_grad": lambda w, x: w * keep}),
        # reshaping
        ("Flatten", L.Flatten, ref("flatten/x"), {
            "expected_output": ref("flatten/out"), "expected_input_grad": lambda w, x: w.reshape(x.shape)}),
        ("Reshape", lambda: L.Reshape((5, -1)), x3, {
            "expected_output": x3.reshape(3, 5, 4), "expected_input_grad": lambda w, x: w.reshape(x.shape)}),
        ("Permute", lambda: L.Permute((2, 1)), x3, {
            "expected_output": x3.transpose(0, 2, 1), "expected_input_grad": lambda w, x: w.transpose(0, 2, 1)}),
        ("RepeatVector", lambda: L.RepeatVector(3), x2, {
            "expected_output": np.repeat(x2[:, None], 3, 1), "expected_input_grad": lambda w, x: w.sum(1)}),
        ("UpSampling1D", lambda: L.UpSampling1D(3), x3, {
            "expected_output": np.repeat(x3, 3, 1),
            "expected_input_grad": lambda w, x: w.reshape(3, 4, 3, 5).sum(2)}),
        ("UpSampling2D", lambda: L.UpSampling2D((2, 3)), x4, {
            "expected_output": np.repeat(np.repeat(x4, 2, 1), 3, 2),
            "expected_input_grad": lambda w, x: w.reshape(2, 4, 2, 6, 3, 3).sum((2, 4))}),
        ("ZeroPadding1D", lambda: L.ZeroPadding1D((1, 2)), x3, {
            "expected_output": np.pad(x3, ((0, 0), (1, 2), (0, 0))),
            "expected_input_grad": lambda w, x: _pad_grad(w, ((0, 0), (1, 2), (0, 0)))}),
        ("ZeroPadding2D", lambda: L.ZeroPadding2D(((1, 0), (2, 3))), x4, {
            "expected_output": np.pad(x4, ((0, 0), (1, 0), (2, 3), (0, 0))),
            "expected_input_grad": lambda w, x: _pad_grad(w, ((0, 0), (1, 0), (2, 3), (0, 0)))}),
        ("Cropping1D", lambda: L.Cropping1D((1, 2)), x3, {
            "expected_output": x3[:, 1:-2], "expected_input_grad": lambda w, x: np.pad(w, ((0, 0), (1, 2), (0, 0)))}),
        ("Cropping2D", lambda: L.Cropping2D(((1, 0), (2, 3))), x4, {
            "expected_output": x4[:, 1:, 2:3],
            "expected_input_grad": lambda w, x: np.pad(w, ((0, 0), (1, 0), (2, 3), (0, 0)))}),
        # merging
        ("Add", L.Add, [a, b, c], {
            "expected_output": a + b + c, "expected_input_grad": lambda w, *xs: [w, w, w.sum(1, keepdims=True)]}),
        ("Subtract", L.Subtract, [a, b], {"expected_output": a - b, "expected_input_grad": lambda w, *xs: [w, -w]}),
        ("Multiply", L.Multiply, [a, c], {
            "expected_output": a * c, "expected_input_grad": lambda w, a, c: [w * c, (w * a).sum(1, keepdims=True)]}),
        ("Average", L.Average, [a, b], {
            "expected_output": (a + b) / 2, "expected_input_grad": lambda w, *xs: [w / 2, w / 2]}),
        ("Maximum", L.Maximum, [a, b], {
            "expected_output": np.maximum(a, b), "expected_input_grad": lambda w, a, b: [w * (a > b), w * (b > a)]}),
        ("Minimum", L.Minimum, [a, b], {
            "expected_output": np.minimum(a, b), "expected_input_grad": lambda w, a, b: [w * (a < b), w * (b < a)]}),
        ("Concatenate", lambda: L.Concatenate(axis=1), [a, d], {
            "expected_output": np.concatenate([a, d], 1), "expected_input_grad": lambda w, *xs: [w[:, :4], w[:, 4:]]}),
        ("Dot", lambda: L.Dot(axes=(1, 2)), [p, q], {
            "expected_output": np.einsum("bki,bjk->bij", p, q),
            "expected_input_grad": lambda w, p, q: [np.einsum("bij,bjk->bki", w, q), np.einsum("bij,bki->bjk", w, p)]}),
        # activations
        ("ReLU", lambda: L.ReLU(max_value=1.5, negative_slope=0.1, threshold=0.5), x3, {
            "expected_output": lambda x: np_relu(x, 1.5, 0.1, 0.5),
            "expected_input_grad": lambda w, x: w * _relu_grad(x, 1.5, 0.1, 0.5)}),
        ("LeakyReLU", lambda: L.LeakyReLU(0.2), x3, {
            "expected_output": np.where(x3 >= 0, x3, 0.2 * x3),
            "expected_input_grad": lambda w, x: w * np.where(x >= 0, 1.0, 0.2)}),
        ("PReLU", lambda: L.PReLU(shared_axes=[1]), x3, {
            "weights": [alpha], "expected_output": np.where(x3 >= 0, x3, alpha * x3),
            "expected_input_grad": lambda w, x: w * np.where(x >= 0, 1.0, alpha),
            "expected_weight_grads": lambda w, x: [(w * np.minimum(x, 0)).sum((0, 1)).reshape(1, 5)]}),
        ("ELU", lambda: L.ELU(0.7), x3, {
            "expected_output": np.where(x3 > 0, x3, 0.7 * np.expm1(x3.astype(np.float64))),
            "expected_input_grad": lambda w, x: w * np.where(x > 0, 1.0, 0.7 * np.exp(x.astype(np.float64)))}),
        ("Softmax", lambda: L.Softmax(axis=1), x3, {
            "expected_output": _softmax(x3, 1),
            "expected_input_grad": lambda w, x: _softmax(x, 1) * (w - (w * _softmax(x, 1)).sum(1, keepdims=True))}),
        # regularization
        ("Dropout", lambda: L.Dropout(0.5, seed=1), ref("dropout/x"), dict(noisy, expected_output=ref("dropout/out"))),
        ("SpatialDropout1D", lambda: L.SpatialDropout1D(0.5, seed=1), x3, noisy),
        ("SpatialDropout2D", lambda: L.SpatialDropout2D(0.5, seed=1), rand(2, 3, 3, 8), noisy),
        ("GaussianNoise", lambda: L.GaussianNoise(0.5, seed=1), x3, noisy),
        ("GaussianDropout", lambda: L.GaussianDropout(0.4, seed=1), x3, noisy),
        ("ActivityRegularization", lambda: L.ActivityRegularization(0.01, 0.02), x3, {
            "expected_output": x3, "expected_input_grad": lambda w, x: w}),
        # preprocessing
        ("Rescaling", lambda: L.Rescaling(1 / 255.0, offset=-0.5), x3, {
            "expected_output": x3 / 255.0 - 0.5, "expected_input_grad": lambda w, x: w / 255.0}),
        ("Normalization", lambda: L.Normalization(mean=list(mean), variance=list(var)), x3, {
            "expected_output": (x3 - mean) / np.sqrt(var), "expected_input_grad": lambda w, x: w / np.sqrt(var)}),
        ("Normalization-adapted", _adapted_normalization, x3, {
            "expected_output": (x3 - adapt.mean(0)) / adapt.std(0), "rtol": 1e-4, "atol": 1e-5,
            "expected_input_grad": lambda w, x: w / adapt.std(0)}),
    ]
    return [pytest.param(factory, x, kwargs, id=name) for name, factory, x, kwargs in cases]


CONFORMANCE = _conformance_cases()


@pytest.mark.parametrize("factory,x,kwargs", CONFORMANCE)
def test_conformance(factory, x, kwargs):
    check_layer(factory, x, **kwargs)


def test_every_layer_has_a_conformance_case():
    """The layers of issue 4, item 6: each has a case here or in test_layers_conv.py (real-Keras
    fixtures), which also compare values and gradients."""
    required = [
        "Conv1D", "Conv2D", "Conv2DTranspose", "DepthwiseConv2D", "SeparableConv2D",
        "MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D", "GlobalMaxPooling1D",
        "GlobalMaxPooling2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
        "BatchNormalization", "LayerNormalization", "Dropout", "SpatialDropout1D", "SpatialDropout2D",
        "GaussianNoise", "GaussianDropout", "ActivityRegularization", "Flatten", "Reshape", "Permute",
        "RepeatVector", "UpSampling1D", "UpSampling2D", "ZeroPadding1D", "ZeroPadding2D", "Cropping1D",
        "Cropping2D", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate",
        "Dot", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "Embedding", "Masking", "Lambda",
        "Identity", "Rescaling", "Normalization", "Dense", "Activation"]
    covered = {case.id.split("-")[0] for case in CONFORMANCE} | {cls for cls, _, _ in KERAS_CASES.values()}
    assert sorted(set(required) - covered) == []


@pytest.mark.parametrize("factory,x,kwargs", [c for c in CONFORMANCE if isinstance(c.values[1], np.ndarray)])
def test_sequential_predict_equals_inference_call(factory, x, kwargs):
    layer = factory()
    if "weights" in kwargs:
        layer.build(x.shape)
        layer.set_weights(kwargs["weights"])
    expected = layer(x, training=False)
    model = keras.Sequential([factory()])
    model.build((None,) + x.shape[1:])
    if layer.weights:
        model.layers[0].set_weights(layer.get_weights())
    assert model.output_shape == (None,) + tuple(expected.shape[1:])
    assert_close(model.predict(x, verbose=0), expected, rtol=1e-6, atol=1e-6)


def test_layers_are_exported_with_keras_names():
    for name in ["Reshape", "Permute", "RepeatVector", "UpSampling1D", "UpSampling2D",
                 "ZeroPadding1D", "ZeroPadding2D", "Cropping1D", "Cropping2D", "Add", "Subtract",
                 "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot", "add",
                 "subtract", "multiply", "average", "maximum", "minimum", "concatenate", "dot",
                 "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "Identity", "Lambda", "Embedding",
                 "Masking", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise",
                 "GaussianDropout", "ActivityRegularization", "Rescaling", "Normalization"]:
        assert hasattr(L, name) and name in L.__all__, name


def test_default_configs_match_keras():
    """Constructor defaults, as they appear in Keras 3 configs."""
    def own(layer):
        config = layer.get_config()
        return {k: v for k, v in config.items() if k not in ("name", "trainable", "dtype")}

    assert own(L.ReLU()) == {"max_value": None, "negative_slope": 0.0, "threshold": 0.0}
    assert own(L.LeakyReLU()) == {"negative_slope": 0.3}
    assert own(L.ELU()) == {"alpha": 1.0}
    assert own(L.Softmax()) == {"axis": -1}
    prelu = own(L.PReLU())
    assert prelu["alpha_initializer"]["class_name"] == "Zeros" and prelu["shared_axes"] is None
    assert own(L.UpSampling1D()) == {"size": 2}
    assert own(L.UpSampling2D()) == {"size": (2, 2), "data_format": "channels_last",
                                     "interpolation": "nearest"}
    assert own(L.ZeroPadding1D()) == {"padding": (1, 1)}
    assert own(L.ZeroPadding2D()) == {"padding": ((1, 1), (1, 1)), "data_format": "channels_last"}
    assert own(L.Cropping1D()) == {"cropping": (1, 1)}
    assert own(L.Cropping2D()) == {"cropping": ((0, 0), (0, 0)), "data_format": "channels_last"}
    assert own(L.Concatenate()) == {"axis": -1}
    assert own(L.Dot(axes=1)) == {"axes": 1, "normalize": False}
    emb = own(L.Embedding(5, 3))
    assert emb["embeddings_initializer"]["class_name"] == "RandomUniform"
    assert emb["embeddings_initializer"]["config"]["minval"] == -0.05
    assert emb["mask_zero"] is False and emb["input_dim"] == 5 and emb["output_dim"] == 3
    assert own(L.Masking()) == {"mask_value": 0.0}
    assert own(L.GaussianNoise(0.1)) == {"stddev": 0.1, "seed": None}
    assert own(L.GaussianDropout(0.1)) == {"rate": 0.1, "seed": None}
    assert own(L.SpatialDropout1D(0.1)) == {"rate": 0.1, "seed": None}
    assert own(L.SpatialDropout2D(0.1)) == {"rate": 0.1, "seed": None, "data_format": "channels_last"}
    assert own(L.ActivityRegularization()) == {"l1": 0.0, "l2": 0.0}
    assert own(L.Rescaling(0.5)) == {"scale": 0.5, "offset": 0.0}
    assert own(L.Normalization()) == {"axis": (-1,), "invert": False, "mean": None, "variance": None}


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


# ---------------------------------------------------------------------------------------------
# Merging


def _np_merge(arrays):
    """Arrays expanded after the batch axis to a common rank (Keras's rule)."""
    top = max(a.ndim for a in arrays)
    return [a.reshape((a.shape[0],) + (1,) * (top - a.ndim) + a.shape[1:]) for a in arrays]


NP_MERGES = {
    "Add": (L.Add, L.add, lambda xs: sum(xs[1:], xs[0])),
    "Multiply": (L.Multiply, L.multiply, lambda xs: np.prod(np.broadcast_arrays(*xs), axis=0)),
    "Average": (L.Average, L.average, lambda xs: sum(xs[1:], xs[0]) / len(xs)),
    "Maximum": (L.Maximum, L.maximum, lambda xs: np.max(np.broadcast_arrays(*xs), axis=0)),
    "Minimum": (L.Minimum, L.minimum, lambda xs: np.min(np.broadcast_arrays(*xs), axis=0)),
    "Subtract": (L.Subtract, L.subtract, lambda xs: xs[0] - xs[1]),
}


@st.composite
def merge_inputs(draw, num):
    batch = draw(st.integers(1, 3))
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=num, min_dims=0, max_dims=3,
                                                    min_side=1, max_side=4))
    return [draw(float_arrays((batch,) + s)) for s in shapes.input_shapes]


@pytest.mark.parametrize("name", sorted(NP_MERGES))
@given(data=st.data())
def test_merge_layers_match_numpy(name, data):
    cls, fn, reference = NP_MERGES[name]
    num = 2 if name == "Subtract" else data.draw(st.integers(1, 4))
    xs = data.draw(merge_inputs(num))
    expected = reference(_np_merge(xs))
    check_layer(cls, xs, expected_output=expected, supports_gradient=False, rtol=1e-6, atol=1e-6)
    assert_close(fn(xs), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", sorted(NP_MERGES))
def test_merge_layer_errors(name):
    cls = NP_MERGES[name][0]
    layer = cls(name=f"my_{name.lower()}")
    with pytest.raises(ValueError, match=rf'my_{name.lower()}.*\(2, 3\).*\(2, 4\)'):
        layer([rand(2, 3), rand(2, 4)])
    with pytest.raises(ValueError, match="batch sizes"):
        cls()([rand(2, 3), rand(3, 3)])
    with pytest.raises(ValueError, match="list"):
        cls()(rand(2, 3))
    with pytest.raises(ValueError, match="incompatible"):
        cls().compute_output_shape([(None, 3), (None, 5)])
    if name == "Subtract":
        with pytest.raises(ValueError, match="exactly 2"):
            cls()([rand(2, 3)] * 3)


class _MergeWithAffine(keras.Layer):
    """`merge([x, 2x + 1])`: puts a merge layer into a single-input model."""

    def __init__(self, merge, **kwargs):
        super().__init__(**kwargs)
        self.merge = merge

    def call(self, inputs):
        return self.merge([inputs, inputs * 2.0 + 1.0])

    def compute_output_shape(self, input_shape):
        return self.merge.compute_output_shape([input_shape, input_shape])


@pytest.mark.parametrize("name", sorted(NP_MERGES))
def test_merge_layers_config_and_sequential(name):
    cls, _, reference = NP_MERGES[name]
    layer = cls(name=f"merge_{name.lower()}")
    config = layer.get_config()
    assert cls.from_config(config).get_config() == config
    # Inside a Sequential (whose layers take one tensor, as in Keras): a layer that merges
    # its input with 2x + 1.
    model = keras.Sequential([_MergeWithAffine(cls())])
    model.build((None, 3))
    assert model.output_shape == (None, 3)
    x = rand(4, 3)
    assert_close(model.predict(x, verbose=0), reference([x, 2 * x + 1]), rtol=1e-6, atol=1e-6)


def test_merge_gradients_flow_to_every_input():
    a, b = ops.convert_to_tensor(rand(2, 3)), ops.convert_to_tensor(rand(2, 1, seed=1))
    with keras.GradientTape() as tape:
        tape.watch([a, b])
        y = ops.sum(L.multiply([a, b]))
    ga, gb = tape.gradient(y, [a, b])
    assert_close(ga, np.broadcast_to(np.asarray(b), (2, 3)), rtol=1e-6)
    assert_close(gb, np.asarray(a).sum(axis=1, keepdims=True), rtol=1e-6)


def test_merge_compute_mask_is_or():
    m1 = np.array([[True, False, False]])
    m2 = np.array([[False, False, True]])
    xs = [rand(1, 3, 2), rand(1, 3, 2)]
    assert_close(L.Add().compute_mask(xs, [m1, m2]), m1 | m2)
    assert L.Add().compute_mask(xs, [m1, None]) is None
    assert L.Add().compute_mask(xs, None) is None


@st.composite
def concat_case(draw):
    rank = draw(st.integers(2, 4))
    base = list(draw(hnp.array_shapes(min_dims=rank, max_dims=rank, min_side=1, max_side=3)))
    axis = draw(st.integers(-rank, rank - 1))
    n = draw(st.integers(1, 3))
    arrays = []
    for _ in range(n):
        shape = list(base)
        shape[axis] = draw(st.integers(0 if axis % rank else 1, 3))
        arrays.append(draw(float_arrays(tuple(shape))))
    return arrays, axis


@given(concat_case())
def test_concatenate_matches_numpy(case):
    arrays, axis = case
    expected = np.concatenate(arrays, axis=axis)
    check_layer(L.Concatenate(axis=axis), arrays, expected_output=expected, supports_gradient=False,
                rtol=0, atol=0)
    assert_close(L.concatenate(arrays, axis=axis), expected, rtol=0, atol=0)


def test_concatenate_errors_and_unknown_sizes():
    layer = L.Concatenate(name="cat")
    with pytest.raises(ValueError, match=r"cat.*\(2, 3, 4\).*\(2, 5, 4\)"):
        layer([rand(2, 3, 4), rand(2, 5, 4)])
    with pytest.raises(ValueError, match="same rank"):
        L.Concatenate()([rand(2, 3), rand(2, 3, 1)])
    with pytest.raises(ValueError, match=r"every axis but.*\(2, 3\).*\(3, 3\)"):
        L.Concatenate(axis=1)([rand(2, 3), rand(3, 3)])
    assert tuple(L.Concatenate(axis=0)([rand(2, 3), rand(1, 3)]).shape) == (3, 3)
    with pytest.raises(ValueError, match="axis"):
        L.Concatenate(axis=1.5)
    with pytest.raises(ValueError, match="out of range"):
        L.Concatenate(axis=3)([rand(2, 3), rand(2, 3)])
    assert L.Concatenate().compute_output_shape([(None, 3), (None, 4)]) == (None, 7)
    assert L.Concatenate(axis=1).compute_output_shape([(None, None, 2), (None, 4, 2)]) == (None, None, 2)


def test_concatenate_compute_mask():
    xs = [rand(1, 2, 3), rand(1, 2, 3)]
    m1 = np.array([[True, False]])
    out = L.Concatenate(axis=1).compute_mask(xs, [m1, None])
    expected = np.concatenate([np.broadcast_to(m1[..., None], (1, 2, 3)), np.ones((1, 2, 3), bool)], 1).any(-1)
    assert_close(out, expected)
    assert L.Concatenate().compute_mask(xs, [None, None]) is None


def _np_batch_dot(x, y, a0, a1):
    out = np.stack([np.tensordot(x[i], y[i], axes=([a0 - 1], [a1 - 1])) for i in range(len(x))])
    return out.reshape(len(x), 1) if out.ndim == 1 else out


@st.composite
def dot_case(draw):
    batch = draw(st.integers(1, 3))
    k = draw(st.integers(1, 4))
    sx = list(draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=3)))
    sy = list(draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=3)))
    a0 = draw(st.integers(1, len(sx) + 1))
    a1 = draw(st.integers(1, len(sy) + 1))
    sx.insert(a0 - 1, k)
    sy.insert(a1 - 1, k)
    x = draw(float_arrays((batch, *sx)))
    y = draw(float_arrays((batch, *sy)))
    axes = draw(st.sampled_from([(a0, a1), (a0 - x.ndim, a1 - y.ndim)]))
    return x, y, a0, a1, axes


@given(dot_case(), st.booleans())
def test_dot_matches_numpy(case, normalize):
    x, y, a0, a1, axes = case
    xn, yn = x.astype(np.float64), y.astype(np.float64)
    if normalize:
        xn = xn / np.maximum(np.linalg.norm(xn, axis=a0, keepdims=True), 1e-7)
        yn = yn / np.maximum(np.linalg.norm(yn, axis=a1, keepdims=True), 1e-7)
    expected = _np_batch_dot(xn, yn, a0, a1)
    check_layer(L.Dot(axes=axes, normalize=normalize), [x, y], expected_output=expected,
                supports_gradient=False, rtol=1e-4, atol=1e-4)


def test_dot_keras_examples_and_errors():
    x = np.arange(10, dtype=np.float32).reshape(1, 5, 2)
    y = np.arange(10, 20, dtype=np.float32).reshape(1, 2, 5)
    out = L.Dot(axes=(1, 2))([x, y])
    assert_close(out, np.matmul(x[0].T, y[0].T)[None], rtol=0, atol=0)
    a, b = rand(4, 3), rand(4, 3, seed=1)
    assert_close(L.dot([a, b], axes=1), (a * b).sum(1, keepdims=True), rtol=1e-6, atol=1e-6)
    assert L.Dot(axes=-1).compute_output_shape([(None, 3), (None, 3)]) == (None, 1)
    with pytest.raises(ValueError, match=r"dot_layer.*\(4, 3\).*\(4, 5\)"):
        L.Dot(axes=1, name="dot_layer")([a, rand(4, 5)])
    with pytest.raises(ValueError, match="batch axis 0"):
        L.Dot(axes=0)([a, b])
    with pytest.raises(ValueError, match="exactly 2"):
        L.Dot(axes=1)([a, b, a])
    with pytest.raises(ValueError, match="rank >= 2"):
        L.Dot(axes=1)([rand(4), rand(4)])
    for bad in [(1, 2, 3), "x", (1.0, 2)]:
        with pytest.raises(ValueError, match="axes"):
            L.Dot(axes=bad)
    layer = L.Dot(axes=(1, 2), normalize=True)
    assert L.Dot.from_config(layer.get_config()).get_config() == layer.get_config()
    assert L.Dot(axes=1).compute_mask([a, b], [None, None]) is None


# ---------------------------------------------------------------------------------------------
# Activation layers


def np_relu(x, max_value, slope, threshold):
    """Keras's `relu(x, negative_slope, max_value, threshold)`; comparisons in float32 as the
    layer makes them, arithmetic in float64."""
    above, below = x > np.float32(threshold), x < np.float32(threshold)
    x = x.astype(np.float64)
    pos = np.where(above, x, 0.0)
    if max_value is not None:
        pos = np.minimum(pos, max_value)
    return pos + np.where(below, slope * (x - threshold), 0.0)


@given(float_arrays(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), -4, 4),
       st.one_of(st.none(), st.floats(0, 3)), st.floats(0, 1), st.floats(0, 2))
def test_relu_matches_keras_formula(x, max_value, slope, threshold):
    layer = L.ReLU(max_value=max_value, negative_slope=slope, threshold=threshold)
    out = check_layer(layer, x, supports_gradient=False).output
    assert_close(out, np_relu(x, max_value, slope, threshold), rtol=1e-5, atol=1e-5)


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


# ---------------------------------------------------------------------------------------------
# Core layers


def test_identity_returns_input():
    x = rand(2, 3)
    out = L.Identity()(x)
    assert_close(out, x, rtol=0, atol=0)
    assert L.Identity().compute_output_shape((None, 7)) == (None, 7)


def _add_one(x, amount=1.0):
    return x + amount


def test_lambda_shapes_and_arguments():
    x = rand(2, 3, 4)
    layer = L.Lambda(_add_one, arguments={"amount": 3.0})
    assert_close(layer(x), x + 3.0, rtol=0, atol=0)
    assert L.Lambda(lambda t: ops.sum(t, axis=-1)).compute_output_shape((None, 3, 4)) == (None, 3)
    assert L.Lambda(lambda t: t[:, 0], output_shape=(4,)).compute_output_shape((None, 3, 4)) == (None, 4)
    assert L.Lambda(lambda t: t, output_shape=lambda s: s[:2]).compute_output_shape((None, 3, 4)) == (None, 3)
    assert L.Lambda(lambda t: [t, t]).compute_output_shape((None, 3)) == [(None, 3), (None, 3)]
    assert L.Lambda(lambda t: t, mask=lambda x, m: "mask!").compute_mask(x) == "mask!"
    seen = {}

    def fn(t, training=None):
        seen["training"] = training
        return t

    model = keras.Sequential([L.Lambda(fn)])
    model.predict(x, verbose=0)
    assert seen["training"] is False
    with pytest.raises(ValueError, match="callable"):
        L.Lambda(3)


def test_lambda_config_stores_code_as_keras_and_safe_mode_refuses_it():
    layer = L.Lambda(lambda t: t * 2.0, name="lam")
    config = json.loads(json.dumps(layer.get_config()))
    assert config["function"]["class_name"] == "__lambda__"  # Keras's record: marshalled code
    assert set(config["function"]["config"]) == {"code", "defaults", "closure"}
    with pytest.raises(ValueError, match="safe_mode=False"):
        L.Lambda.from_config(config)
    clone = L.Lambda.from_config(config, safe_mode=False)
    x = rand(2, 3)
    assert_close(clone(x), x * 2.0, rtol=0, atol=0)

    named = L.Lambda(_add_one, arguments={"amount": 2.0}, name="named_lambda")
    config = named.get_config()
    assert config["function"]["config"] == "_add_one"
    with pytest.raises(ValueError, match="safe mode"):
        L.Lambda.from_config(config)
    x = rand(2, 3)
    for clone in (L.Lambda.from_config(config, safe_mode=False),
                  L.Lambda.from_config(config, custom_objects={"_add_one": _add_one})):
        assert clone.get_config() == config
        assert_close(clone(x), x + 2.0, rtol=0, atol=0)
    missing = dict(config, function=dict(config["function"], config="no_such_function"))
    with pytest.raises(ValueError, match="no_such_function"):
        L.Lambda.from_config(missing, safe_mode=False)


def test_embedding_values_weights_and_mask():
    layer = L.Embedding(10, 4, mask_zero=True, name="emb")
    idx = np.array([[0, 3, 9], [2, 0, 1]], np.int32)
    out = check_layer(layer, idx).output
    assert [(w.name, tuple(w.shape)) for w in layer.weights] == [("embeddings", (10, 4))]
    table = layer.get_weights()[0]
    assert np.all(np.abs(table) <= 0.05) and np.std(table) > 0  # RandomUniform(-0.05, 0.05)
    assert_close(out, table[idx], rtol=0, atol=0)
    assert_close(layer.compute_mask(idx), idx != 0)
    assert L.Embedding(10, 4).compute_mask(idx) is None
    assert_close(layer(idx.astype(np.float32)), table[idx], rtol=0, atol=0)  # integral floats
    assert_close(layer(idx.astype(np.int64)), table[idx], rtol=0, atol=0)
    fixed = np.arange(12, dtype=np.float32).reshape(6, 2)
    assert_close(L.Embedding(6, 2, weights=[fixed])(np.array([[5, 1]])), fixed[[[5, 1]]])


@given(st.integers(1, 8), st.integers(1, 5), st.data())
def test_embedding_gradient_scatters_into_rows(input_dim, output_dim, data):
    idx = data.draw(hnp.arrays(np.int32, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
                               elements=st.integers(0, input_dim - 1)))
    layer = L.Embedding(input_dim, output_dim)
    w = random_cotangent(idx.shape + (output_dim,), seed=1)
    with keras.GradientTape() as tape:
        y = ops.sum(layer(idx) * w)
    (grad,) = tape.gradient(y, layer.trainable_weights)
    expected = np.zeros((input_dim, output_dim))
    np.add.at(expected, idx.reshape(-1), w.reshape(-1, output_dim))
    assert_close(grad, expected, rtol=1e-5, atol=1e-6)


def test_embedding_errors():
    layer = L.Embedding(5, 2, name="emb_range")
    for bad in ([[5]], [[0, -1]], [[100, 2]]):
        with pytest.raises(ValueError, match=r"emb_range.*\[0, 5\)"):
            layer(np.array(bad, np.int32))
    for args in [(0, 2), (5, 0), (5.0, 2), (-1, 3)]:
        with pytest.raises(ValueError, match="_dim"):
            L.Embedding(*args)


def test_embedding_trains_in_sequential():
    model = keras.Sequential([L.Embedding(6, 3), L.Flatten(), L.Dense(1)])
    model.build((None, 2))
    model.compile(optimizer="sgd", loss="mse")
    idx = np.array([[1, 2], [3, 4]], np.int32)
    before = model.layers[0].get_weights()[0].copy()
    model.fit(idx, np.ones((2, 1), np.float32), epochs=1, batch_size=2, verbose=0)
    after = model.layers[0].get_weights()[0]
    assert not np.allclose(before[1:5], after[1:5])  # used rows moved
    np.testing.assert_array_equal(before[[0, 5]], after[[0, 5]])  # unused rows did not


def test_masking_values_and_mask():
    x = rand(3, 5, 2)
    x[0, 1] = 0.0
    x[2, 4] = 0.0
    x[1, 2, 0] = 0.0  # one zero feature only: not masked
    layer = L.Masking()
    keep = np.any(x != 0.0, axis=-1)
    assert_close(layer(x), x * keep[..., None], rtol=0, atol=0)
    assert_close(layer.compute_mask(x), keep)
    y = x.copy()
    y[1, 3] = -1.0
    assert_close(L.Masking(mask_value=-1.0)(y), y * np.any(y != -1.0, -1)[..., None], rtol=0, atol=0)
    with pytest.raises(ValueError, match="mask_value"):
        L.Masking("0")


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

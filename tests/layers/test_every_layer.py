"""Every layer through the shared conformance checks (tests/layer_conformance.py) with NumPy or
real-Keras values for the forward and backward pass; Sequential predict equals the inference
call; layers are exported with their Keras names and their default configs match Keras."""

from __future__ import annotations

import numpy as np
import pytest
import rskeras as keras

from tests._layer_cases import CASES as KERAS_CASES
from tests._reference import ref
from tests.conftest import T, assert_close
from tests.fuzz._references import relu_layer
from tests.layer_conformance import check_layer

L = keras.layers


def rand(*shape, seed=0, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Conformance: every layer through the shared checks (tests/layer_conformance.py), with NumPy
# (or real-Keras, tests/fixtures/keras_reference.npz) values for the forward and backward pass.
# The convolution, pooling and normalization layers, and a few others, have their cases with
# real-Keras numbers in tests/layers/test_keras_cases.py.


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
            "expected_output": lambda x: relu_layer(x, 1.5, 0.1, 0.5),
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
def test_conformance(factory, x, kwargs, device):
    check_layer(factory, x, **kwargs)


def test_every_layer_has_a_conformance_case():
    """The layers of issue 4, item 6: each has a case here or in tests/layers/test_keras_cases.py (real-Keras
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
def test_sequential_predict_equals_inference_call(factory, x, kwargs, device):
    layer = factory()
    if "weights" in kwargs:
        layer.build(x.shape)
        layer.set_weights(kwargs["weights"])
    expected = layer(T(x), training=False)
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

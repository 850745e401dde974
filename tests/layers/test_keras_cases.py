"""Layers against numbers from the real Keras 3 (tests/fixtures/keras_layers.npz, made by
tests/fixtures/make_layer_fixtures.py from the table in tests/_layer_cases.py): convolution,
pooling and normalization layers, and a few others with no obvious NumPy reference. Each case
goes through the shared conformance checks (tests/layer_conformance.py) with the Keras outputs
and gradients as expected values; plus the checks specific to these layers."""

from __future__ import annotations

import os

import numpy as np
import pytest
import rskeras as keras

from tests._layer_cases import CASES
from tests.conftest import T
from tests.layer_conformance import check_layer

FIXTURES = np.load(os.path.join(os.path.dirname(__file__), "..", "fixtures", "keras_layers.npz"))
# Layers whose training call differs from the inference call (deterministically here).
TRAINING_DIFFERS = {"BatchNormalization"}


def _inputs(name):
    """The fixture input of case `name`: an array, or a list of them."""
    shape = CASES[name][2]
    if isinstance(shape, list):
        return [FIXTURES[f"{name}/x{i}"] for i in range(len(shape))]
    return FIXTURES[f"{name}/x"]


def _fixture_weights(name):
    """The fixture weights of case `name`, in `layer.weights` order."""
    return [FIXTURES[key] for key in sorted((k for k in FIXTURES.files if k.startswith(f"{name}/w")),
                                            key=lambda k: int(k.rsplit("/w", 1)[1]))]


def _case(name):
    """(layer built and given the fixture weights, input: an array, or a list of them)."""
    cls, kwargs, _ = CASES[name]
    x = _inputs(name)
    layer = getattr(keras.layers, cls)(**kwargs)
    layer.build([a.shape for a in x] if isinstance(x, list) else x.shape)
    weights = _fixture_weights(name)
    assert [w.shape for w in weights] == [tuple(w.shape) for w in layer.weights]
    layer.set_weights(weights)
    return layer, x


@pytest.mark.parametrize("name", list(CASES))
def test_conformance_against_keras(name, device):
    cls, kwargs, _ = CASES[name]
    x = _inputs(name)
    layer, _ = _case(name)
    y = layer([T(a) for a in x] if isinstance(x, list) else T(x))
    assert y.device == device
    dx = [FIXTURES[f"{name}/dx{i}"] for i in range(len(x))] if isinstance(x, list) else FIXTURES[f"{name}/dx"]
    n_trainable = len([k for k in FIXTURES.files if k.startswith(f"{name}/dw")])
    dw = [FIXTURES[f"{name}/dw{i}"] for i in range(n_trainable)]
    # The class with its constructor arguments: check_layer also checks that get_config keeps them.
    check_layer(getattr(keras.layers, cls), x, init_kwargs=kwargs, weights=_fixture_weights(name),
                expected_output=FIXTURES[f"{name}/infer"],
                expected_training_output=FIXTURES[f"{name}/train"],
                cotangent=FIXTURES[f"{name}/cot"], expected_input_grad=dx, expected_weight_grads=dw,
                training_differs=cls in TRAINING_DIFFERS,
                rtol=1e-4, atol=1e-5, grad_rtol=1e-3, grad_atol=1e-4)


@pytest.mark.parametrize("name", [n for n in CASES if CASES[n][0] == "BatchNormalization"])
def test_batchnorm_moving_statistics_match_keras(name, device):
    layer, x = _case(name)
    assert layer(T(x), training=True).device == device  # one training call, as in the fixture
    moving = np.stack([np.asarray(layer.moving_mean), np.asarray(layer.moving_variance)])
    np.testing.assert_allclose(moving, FIXTURES[f"{name}/moving"], rtol=1e-5, atol=1e-6)


def test_batchnorm_training_versus_inference_and_moving_statistics():
    bn = keras.layers.BatchNormalization(momentum=0.5, epsilon=0.0)
    x = np.array([[1.0, 10.0], [3.0, 30.0]], "float32")
    np.testing.assert_allclose(np.asarray(bn(x, training=True)), [[-1, -1], [1, 1]], atol=1e-5)
    np.testing.assert_allclose(np.asarray(bn.moving_mean), [1.0, 10.0])  # 0.5 * 0 + 0.5 * mean
    np.testing.assert_allclose(np.asarray(bn.moving_variance), [1.0, 50.5])  # 0.5 * 1 + 0.5 * var
    np.testing.assert_allclose(np.asarray(bn(x, training=False)),
                               (x - [1.0, 10.0]) / np.sqrt([1.0, 50.5]), rtol=1e-5)
    assert [w.name for w in bn.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert len(bn.trainable_weights) == 2


def test_wrong_input_shapes_name_the_layer():
    conv = keras.layers.Conv2D(4, 3)
    conv(np.zeros((1, 5, 5, 3), "float32"))
    with pytest.raises(ValueError, match=r'conv2d.*expected axis -1 of input shape to have value 3'):
        conv(np.zeros((1, 5, 5, 2), "float32"))
    with pytest.raises(ValueError, match=r"max_pooling2d.*expected ndim=4, found ndim=3"):
        keras.layers.MaxPooling2D()(np.zeros((5, 5, 3), "float32"))
    with pytest.raises(ValueError, match=r"conv2d.*found ndim=5.*included the batch size, leave it out"):
        keras.layers.Conv2D(4, 3)(np.zeros((2, 64, 28, 28, 1), "float32"))
    with pytest.raises(ValueError, match=r"found ndim=3.*single sample without its batch axis"):
        conv(np.zeros((5, 5, 3), "float32"))
    with pytest.raises(ValueError, match="Conv2D: `padding`"):
        keras.layers.Conv2D(4, 3, padding="causal")
    with pytest.raises(ValueError, match="Conv2D: `kernel_size`"):
        keras.layers.Conv2D(4, (3, 3, 3))


def test_cnn_trains_in_sequential():
    keras.utils.set_random_seed(0)  # the initial weights must not depend on the tests run before
    rng = np.random.default_rng(0)
    x = rng.random((64, 8, 8, 1)).astype("float32")
    y = (x[:, :4].mean(axis=(1, 2, 3)) > x[:, 4:].mean(axis=(1, 2, 3))).astype("int32")
    model = keras.Sequential([
        keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation="relu", padding="same"),
        keras.layers.BatchNormalization(), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(8, 3, activation="relu"), keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=8, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.8 * history.history["loss"][0]

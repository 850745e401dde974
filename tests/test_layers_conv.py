"""Convolution, pooling and normalization layers against numbers from the real Keras 3
(tests/fixtures/keras_layers.npz, made by tests/fixtures/make_layer_fixtures.py), plus the
conformance checks every layer owes: output shape = compute_output_shape, config round trip,
gradient flow to every trainable weight, training vs inference."""

from __future__ import annotations

import os

import numpy as np
import pytest
import rskeras as keras
from rskeras import ops

FIXTURES = np.load(os.path.join(os.path.dirname(__file__), "fixtures", "keras_layers.npz"))
# The same table as the generation script: name -> (class, kwargs, input shape).
CASES = {
    "conv2d_valid": ("Conv2D", {"filters": 4, "kernel_size": 3}),
    "conv2d_same_s2": ("Conv2D", {"filters": 5, "kernel_size": (3, 2), "strides": 2, "padding": "same"}),
    "conv2d_dilated": ("Conv2D", {"filters": 2, "kernel_size": 2, "dilation_rate": 2, "activation": "relu"}),
    "conv2d_groups": ("Conv2D", {"filters": 4, "kernel_size": 3, "groups": 2, "padding": "same"}),
    "conv1d_causal": ("Conv1D", {"filters": 3, "kernel_size": 3, "padding": "causal", "dilation_rate": 2}),
    "conv1d_same_s2": ("Conv1D", {"filters": 3, "kernel_size": 4, "strides": 2, "padding": "same"}),
    "conv2d_transpose_s2": ("Conv2DTranspose", {"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same"}),
    "conv2d_transpose_valid": ("Conv2DTranspose", {"filters": 2, "kernel_size": 2, "strides": 3}),
    "depthwise": ("DepthwiseConv2D", {"kernel_size": 3, "depth_multiplier": 2, "padding": "same"}),
    "separable": ("SeparableConv2D", {"filters": 4, "kernel_size": 3, "depth_multiplier": 2}),
    "maxpool2d_same": ("MaxPooling2D", {"pool_size": 3, "strides": 2, "padding": "same"}),
    "avgpool2d_same": ("AveragePooling2D", {"pool_size": 3, "strides": 2, "padding": "same"}),
    "maxpool1d": ("MaxPooling1D", {"pool_size": 2}),
    "avgpool1d_same": ("AveragePooling1D", {"pool_size": 3, "strides": 1, "padding": "same"}),
    "gap2d": ("GlobalAveragePooling2D", {}),
    "gmp1d_keepdims": ("GlobalMaxPooling1D", {"keepdims": True}),
    "batchnorm": ("BatchNormalization", {"momentum": 0.9}),
    "batchnorm_axis1": ("BatchNormalization", {"axis": 1, "center": False}),
    "layernorm": ("LayerNormalization", {}),
    "layernorm_axes": ("LayerNormalization", {"axis": (1, 2), "epsilon": 1e-5}),
    "layernorm_rms": ("LayerNormalization", {"rms_scaling": True}),
}


def _layer(name):
    cls, kwargs = CASES[name]
    layer = getattr(keras.layers, cls)(**kwargs)
    x = FIXTURES[f"{name}/x"]
    layer.build(x.shape)
    weights = [FIXTURES[f"{name}/w{i}"] for i in range(len(layer.weights))]
    assert [w.shape for w in weights] == [tuple(w.shape) for w in layer.weights]
    layer.set_weights(weights)
    return layer, x


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_keras_forward_backward_and_statistics(name):
    layer, x = _layer(name)
    np.testing.assert_allclose(np.asarray(layer(x, training=False)), FIXTURES[f"{name}/infer"],
                               rtol=1e-4, atol=1e-5)
    xt = ops.convert_to_tensor(x)
    with keras.GradientTape() as tape:
        tape.watch(xt)
        y = layer(xt, training=True)
        loss = ops.sum(y * FIXTURES[f"{name}/cot"])
    np.testing.assert_allclose(np.asarray(y), FIXTURES[f"{name}/train"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(tape.gradient(loss, xt)), FIXTURES[f"{name}/dx"],
                               rtol=1e-3, atol=1e-4)
    if f"{name}/moving" in FIXTURES:
        moving = np.stack([np.asarray(layer.moving_mean), np.asarray(layer.moving_variance)])
        np.testing.assert_allclose(moving, FIXTURES[f"{name}/moving"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(CASES))
def test_conformance(name):
    layer, x = _layer(name)
    y = layer(x)
    assert tuple(y.shape) == tuple(layer.compute_output_shape(x.shape))
    unknown_batch = layer.compute_output_shape((None,) + x.shape[1:])
    assert unknown_batch[0] is None and tuple(unknown_batch[1:]) == tuple(y.shape[1:])
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    clone.build(x.shape)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(clone(x)), np.asarray(y), rtol=1e-6)
    # Every trainable weight receives a gradient.
    with keras.GradientTape() as tape:
        loss = ops.sum(ops.square(layer(x, training=True)))
    grads = tape.gradient(loss, layer.trainable_weights)
    assert all(g is not None and np.any(np.asarray(g) != 0) for g in grads), name


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

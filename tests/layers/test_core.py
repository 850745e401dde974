"""Core layers: Dense against the real Keras (values in tests/fixtures/keras_reference.npz) with
each activation, weight bookkeeping and errors; Identity, Lambda, Embedding and Masking against
NumPy, their gradients, configs and errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rskeras as keras
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp
from rskeras import ops

from tests._reference import assert_matches, ref
from tests.conftest import assert_close, random_cotangent
from tests.layer_conformance import check_layer

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


L = keras.layers


def rand(*shape, seed=0, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype(np.float32)


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

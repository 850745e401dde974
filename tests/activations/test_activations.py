"""`rskeras.activations` against the numbers real Keras 3 gives (tests/fixtures/
keras_activations.npz, written by tests/fixtures/make_activation_fixtures.py), by name in
layers, and through get/serialize/deserialize."""

from __future__ import annotations

import os

import numpy as np
import pytest

import rskeras as keras
from rskeras import activations

from tests.fixtures._activation_cases import X, case

FIXTURE = np.load(os.path.join(os.path.dirname(__file__), "..", "fixtures", "keras_activations.npz"))
KEYS = sorted(k for k in FIXTURE.files if k != "x")
NAMES = sorted({k.split(":")[0] for k in KEYS})


def test_every_keras_activation_name_is_known():
    np.testing.assert_array_equal(FIXTURE["x"], X)
    assert len(NAMES) == 32
    for name in NAMES:
        assert callable(activations.get(name)), name


def _sparsemax(x, axis):
    """The paper's sparsemax, row by row in NumPy (Martins and Astudillo, 2016, Algorithm 1)."""
    def row(v):
        z = np.sort(v)[::-1]
        k = np.arange(1, len(v) + 1)
        cums = np.cumsum(z)
        kz = k[1 + k * z > cums].max()
        return np.maximum(v - (cums[kz - 1] - 1) / kz, 0)
    return np.apply_along_axis(row, axis, x.astype(np.float64))


@pytest.mark.parametrize("axis", [-1, 0])
def test_sparsemax_is_the_projection_onto_the_simplex(axis):
    """Keras 3.15's JAX sparsemax does not project (its slices do not sum to 1): checked
    against the paper instead of the fixture."""
    got = np.asarray(activations.sparsemax(keras.ops.convert_to_tensor(X), axis=axis))
    np.testing.assert_allclose(got, _sparsemax(X, axis), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got.sum(axis=axis), 1.0, rtol=1e-6)


@pytest.mark.parametrize("key", [k for k in KEYS if not k.startswith("sparsemax")])
def test_activation_matches_keras(key):
    name, kwargs = case(key)
    got = np.asarray(activations.get(name)(keras.ops.convert_to_tensor(X), **kwargs))
    np.testing.assert_allclose(got, FIXTURE[key], rtol=2e-6, atol=2e-6, err_msg=key)


@pytest.mark.parametrize("name", [n for n in NAMES if n != "threshold"])  # it has no defaults
def test_activation_by_name_in_a_dense_layer_and_its_config(name):
    if name == "glu":  # halves the last axis
        layer = keras.layers.Dense(8, activation=name)
        assert layer(X).shape == (3, 4)
    else:
        layer = keras.layers.Dense(8, activation=name)
        out = np.asarray(layer(X))
        assert out.shape == (3, 8) and np.isfinite(out).all()
    config = layer.get_config()
    alias = {"swish": "silu", "hard_swish": "hard_silu"}
    assert config["activation"] == alias.get(name, name)
    assert keras.layers.Dense.from_config(config).activation is activations.get(name)


def test_serialize_and_deserialize_round_trip_and_errors():
    for name in NAMES:
        fn = activations.get(name)
        assert activations.deserialize(activations.serialize(fn)) is fn
    assert activations.get(None) is activations.linear
    with pytest.raises(ValueError, match="Unknown activation function: 'nope'"):
        activations.get("nope")
    with pytest.raises(ValueError, match="Cannot serialize"):
        activations.serialize(lambda x: x)
    with pytest.raises(ValueError, match="even size"):
        activations.glu(np.ones((2, 3), np.float32))


def test_activations_are_symbolic_and_differentiable():
    x = keras.Input((8,))
    for name in NAMES:
        kwargs = {"threshold": 0.0, "default_value": 0.0} if name == "threshold" else {}
        assert activations.get(name)(x, **kwargs).shape[0] is None, name
    v = keras.Variable(X)
    with keras.GradientTape() as tape:
        loss = keras.ops.sum(activations.mish(v)) + keras.ops.sum(activations.sparsemax(v))
    grad = np.asarray(tape.gradient(loss, v))
    assert grad.shape == X.shape and np.isfinite(grad).all()

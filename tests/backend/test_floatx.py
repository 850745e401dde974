"""`keras.config.set_floatx` and per-layer dtypes: weights, random draws, autocast, training
and optimizer updates in float16, bfloat16 and float64 (float32 is covered everywhere else)."""

from __future__ import annotations

import numpy as np
import pytest
import rskeras as keras
from rskeras import ops


@pytest.fixture
def floatx():
    saved = keras.config.floatx()
    yield keras.config.set_floatx
    keras.config.set_floatx(saved)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64"])
def test_floatx_sets_layer_weight_and_random_dtypes(floatx, dtype):
    floatx(dtype)
    layer = keras.layers.Dense(3)
    y = layer(np.ones((2, 4), "float32"))  # float32 input is autocast to the layer dtype
    assert layer.dtype == dtype and y.dtype == dtype
    assert all(w.dtype == dtype for w in layer.weights)
    assert keras.random.normal((2,), seed=1).dtype == dtype
    assert keras.Variable(np.zeros(2)).dtype == dtype
    assert keras.initializers.HeNormal(seed=0)((3, 3)).dtype == dtype


def test_random_draws_are_the_same_values_in_every_dtype():
    ref = np.asarray(keras.random.uniform((64,), seed=3))
    for dtype in ("float16", "bfloat16", "float64"):
        got = np.asarray(ops.cast(keras.random.uniform((64,), dtype=dtype, seed=3), "float64"))
        np.testing.assert_allclose(got, ref, rtol=1e-2 if dtype != "float64" else 0)
    with pytest.raises(ValueError, match="random.normal.*int32"):
        keras.random.normal((2,), dtype="int32")


def test_layer_dtype_argument_and_policy_config():
    layer = keras.layers.Dense(2, dtype="float64")
    assert layer(np.ones((1, 3), "float32")).dtype == "float64"
    assert layer.get_config()["dtype"]["config"]["name"] == "float64"
    again = keras.layers.Dense.from_config(layer.get_config())
    assert again.dtype == "float64"
    with pytest.raises(ValueError, match="dense.*dtype.*int32"):
        keras.layers.Dense(2, dtype="int32")


@pytest.mark.parametrize("opt", [
    lambda: keras.optimizers.SGD(0.1),
    lambda: keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    lambda: keras.optimizers.Adam(0.01, amsgrad=True),
    lambda: keras.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
])
def test_float64_update_step_matches_the_fused_float32_kernel(opt):
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((5, 3))
    grads = [rng.standard_normal((5, 3)) for _ in range(3)]
    v32, v64 = keras.Variable(w0.astype("float32")), keras.Variable(w0, dtype="float64")
    o32, o64 = opt(), opt()
    for g in grads:
        o32.apply_gradients([(ops.convert_to_tensor(g.astype("float32")), v32)])
        o64.apply_gradients([(ops.convert_to_tensor(g), v64)])
    assert v64.dtype == "float64" and all(s.dtype == "float64" for s in o64.variables)
    np.testing.assert_allclose(np.asarray(v64), np.asarray(v32), rtol=1e-5, atol=1e-5)
    assert not np.allclose(np.asarray(v64), w0)


def test_mixed_dtype_variables_in_one_optimizer():
    a = keras.Variable(np.ones(3, "float32"))
    b = keras.Variable(np.ones(3, "float16"), dtype="float16")
    opt = keras.optimizers.Adam(0.1)
    opt.apply_gradients([(ops.ones(3), a), (ops.ones(3, dtype="float16"), b)])
    assert b.dtype == "float16"
    # Keras's float32 Adam lands at 0.900001: `1 - beta_2` is rounded from the Python float,
    # `1 - beta_2^t` from float32 powers, so the two do not cancel exactly.
    np.testing.assert_allclose(np.asarray(a), 0.9, rtol=2e-6)
    np.testing.assert_allclose(np.asarray(b).astype("float32"), 0.9, rtol=1e-3)


@pytest.mark.parametrize("dtype", ["float64", "float16"])
def test_fit_in_floatx(floatx, dtype):
    floatx(dtype)
    keras.utils.set_random_seed(0)  # float16 training can stall on an unlucky initialisation
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4)).astype("float32")
    y = (x.sum(axis=1) > 0).astype("int32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, epochs=5, batch_size=16, verbose=0)
    assert all(w.dtype == dtype for w in model.weights)
    assert model.predict(x, verbose=0).dtype == dtype
    assert history.history["loss"][-1] < history.history["loss"][0]

"""float64 tensors: kernels compute in double precision, gradients check against float64
finite differences tightly, and layers autocast float64 inputs to their float32 dtype."""

import numpy as np
import pytest

import rskeras as keras
from rskeras import ops

RNG = np.random.default_rng(0)


def _fd_grad(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        g[i] = (f(x + d) - f(x - d)) / (2 * eps)
    return g


def _tape_grad(f, x):
    t = ops.convert_to_tensor(x)
    with keras.GradientTape() as tape:
        tape.watch(t)
        y = f(t)
    return np.asarray(tape.gradient(y, t))


CASES = [
    ("exp*sin", lambda t: ops.sum(ops.exp(t) * ops.sin(t)), lambda a: np.sum(np.exp(a) * np.sin(a))),
    ("softmax", lambda t: ops.sum(ops.softmax(t) * np.arange(4.0)), None),
    ("log_softmax", lambda t: ops.sum(ops.log_softmax(t) ** 2), None),
    ("matmul", lambda t: ops.sum(ops.matmul(t, ops.transpose(t)) ** 2), None),
    ("prod", lambda t: ops.sum(ops.prod(t, axis=1)), None),
    ("erf", lambda t: ops.sum(ops.erf(t)), None),
    ("mean/var", lambda t: ops.var(t) + ops.mean(t), None),
]


@pytest.mark.parametrize("name,f,_", CASES, ids=[c[0] for c in CASES])
def test_float64_gradients_match_finite_differences_tightly(name, f, _):
    x = RNG.normal(size=(3, 4))
    got = _tape_grad(f, x)
    want = _fd_grad(lambda a: float(f(ops.convert_to_tensor(a))), x)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def test_float64_kernels_keep_double_precision():
    a = RNG.normal(size=(64, 64))
    np.testing.assert_allclose(np.asarray(ops.matmul(a, a)), a @ a, rtol=1e-12, atol=1e-12)
    x = np.array([1e-10, 1.0 + 1e-12, 1e16], np.float64)
    np.testing.assert_array_equal(np.asarray(ops.add(x, 1.0)), x + 1.0)
    assert ops.sum(np.full(10_000, 0.1)).dtype == "float64"
    np.testing.assert_allclose(float(ops.sum(np.full(10_000, 0.1))), 1000.0, rtol=1e-13)
    e = np.asarray(ops.erf(np.array([0.1, 0.5, 1.0, 2.0, 3.0, -4.0])))
    from math import erf
    np.testing.assert_allclose(e, [erf(v) for v in [0.1, 0.5, 1.0, 2.0, 3.0, -4.0]], rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(np.asarray(ops.softmax(np.array([1000.0, 1000.0 - 1e-9]))), [0.5, 0.5], atol=1e-9)


def test_promotion_and_casts():
    f32 = ops.convert_to_tensor(np.ones(2, np.float32))
    f64 = ops.convert_to_tensor(np.ones(2, np.float64))
    assert (f32 + f64).dtype == "float64"
    assert (f64 + 1).dtype == "float64" and (f64 * 2.5).dtype == "float64"
    assert ops.cast(f64, "float32").dtype == "float32"
    assert ops.convert_to_tensor([0.5, 1.5]).dtype == "float32"  # Python floats: floatx


def test_layers_autocast_float64_inputs_and_train():
    x = RNG.normal(size=(64, 5))  # float64 data
    y = (x[:, 0] > 0).astype(np.int64)
    model = keras.Sequential([keras.layers.Dense(8, activation="relu", input_shape=(5,)),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    out = model(x)
    assert out.dtype == "float32"
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    assert all(v.dtype == "float32" for v in model.weights)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert keras.Variable(np.ones(3)).dtype == "float32"
    assert keras.Variable(np.ones(3), dtype="float64").dtype == "float64"

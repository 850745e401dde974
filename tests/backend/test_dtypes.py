"""Narrow storage dtypes (uint8, int8, int16, float16, bfloat16) and the promotion lattice."""

import numpy as np
import pytest
import rskeras as keras
from rskeras import backend, ops

PAIRS = [
    ("bool", "int8", "int8"), ("uint8", "int8", "int16"), ("uint8", "int16", "int16"),
    ("uint8", "int32", "int32"), ("int8", "int16", "int16"), ("int32", "int64", "int64"),
    ("int64", "float16", "float16"), ("int8", "bfloat16", "bfloat16"),
    ("float16", "bfloat16", "float32"), ("float16", "float32", "float32"),
    ("bfloat16", "float64", "float64"), ("float32", "float64", "float64"),
    ("int64", "float32", "float32"), ("bool", "bool", "bool"),
]



@pytest.mark.parametrize("a,b,want", PAIRS)
def test_binary_result_dtype_follows_the_lattice(a, b, want):
    x = ops.cast(np.ones(3), a)
    y = ops.cast(np.ones(3), b)
    assert ops.add(x, y).dtype == want if not (a == b == "bool") else ops.logical_and(x, y).dtype == "bool"
    assert backend.result_type(a, b) == want



def test_narrow_integers_wrap_like_numpy_and_reduce_in_int32():
    u = np.array([250, 3, 7], np.uint8)
    t = ops.convert_to_tensor(u)
    assert t.dtype == "uint8"
    np.testing.assert_array_equal(np.asarray(t + np.uint8(10)), u + np.uint8(10))  # wraps at 256
    assert ops.sum(t).dtype == "int32" and int(ops.sum(t)) == 260
    i8 = ops.convert_to_tensor(np.array([-128, 5, 127], np.int8))
    np.testing.assert_array_equal(np.asarray(ops.negative(i8)), -np.array([-128, 5, 127], np.int8))
    assert ops.max(i8).dtype == "int8" and int(ops.max(i8)) == 127
    assert ops.argmax(i8).dtype == "int32" and int(ops.argmax(i8)) == 2
    np.testing.assert_array_equal(np.asarray(ops.cumsum(i8)), np.cumsum(np.array([-128, 5, 127], np.int32)))



def test_float16_stores_half_and_computes_in_float32():
    h = np.array([0.1, 1.0, 1000.0, 65000.0], np.float16)
    t = ops.convert_to_tensor(h)
    assert t.dtype == "float16" and np.asarray(t).dtype == np.float16
    e = ops.exp(ops.cast(ops.convert_to_tensor(np.array([0.5, -1.0], np.float16)), "float16"))
    assert e.dtype == "float16"
    np.testing.assert_allclose(np.asarray(e, np.float32), np.exp(np.array([0.5, -1.0], np.float32)), rtol=1e-3)
    s = ops.sum(ops.convert_to_tensor(np.full(4096, 0.1, np.float16)))
    assert s.dtype == "float16"
    # summed in float32, rounded once: a float16 running sum would stall far below 409.6
    assert abs(float(s) - 409.6) < 0.5
    assert (t * 2.0).dtype == "float16"  # a Python float is weak



def test_bfloat16_round_trip_and_numpy_view_is_float32():
    x = np.array([1.0, 3.140625, -2.5e-3, 1e30], np.float32)
    b = ops.cast(x, "bfloat16")
    assert b.dtype == "bfloat16"
    back = np.asarray(b)
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, x, rtol=2 ** -8)
    assert ops.matmul(ops.reshape(b, (2, 2)), ops.reshape(b, (2, 2))).dtype == "bfloat16"



def test_gradients_flow_through_float16():
    import rskeras as keras

    x = ops.convert_to_tensor(np.array([0.5, 1.5], np.float16))
    with keras.GradientTape() as tape:
        tape.watch(x)
        y = ops.sum(ops.square(x))
    g = tape.gradient(y, x)
    assert g.dtype == "float16"
    np.testing.assert_allclose(np.asarray(g, np.float32), [1.0, 3.0])



def test_cast_names_and_errors():
    for name in ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16",
                 "float32", "float64"):
        assert ops.cast([1, 2], name).dtype == name
    with pytest.raises(TypeError, match="unsupported dtype"):
        ops.cast([1.0], "complex64")



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

"""GradientTape semantics: persistence, watching (explicit, Variables, watch_accessed_variables),
unconnected sources, stop_gradient, accumulation, output_gradients, nesting (higher order)."""

from __future__ import annotations

import numpy as np
import pytest
import rskeras as keras
from hypothesis import given
from rskeras import ops

from tests.conftest import T, assert_grad_matches, float_arrays, floats32, to_np


def f32(*v):
    return np.array(v, np.float32)


# ---------------------------------------------------------------------------------------------
# Persistence


def test_non_persistent_tape_second_gradient_call_raises_runtime_error():
    x = T(f32(1.0, 2.0))
    with keras.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    np.testing.assert_allclose(to_np(tape.gradient(y, x)), [2.0, 4.0])
    with pytest.raises(RuntimeError, match="persistent"):
        tape.gradient(y, x)


def test_persistent_tape_allows_repeated_gradients():
    x = T(f32(1.0, 2.0))
    with keras.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        z = ops.exp(x)
    for _ in range(3):
        np.testing.assert_allclose(to_np(tape.gradient(y, x)), [2.0, 4.0])
    np.testing.assert_allclose(to_np(tape.gradient(z, x)), np.exp([1.0, 2.0]), rtol=1e-6)
    gy, gz = tape.gradient(y, [x, x]), tape.gradient(z, (x,))
    assert isinstance(gy, list) and len(gy) == 2 and isinstance(gz, list)


def test_gradient_inside_the_with_block():
    x = T(f32(3.0))
    with keras.GradientTape() as tape:
        tape.watch(x)
        y = x * x
        g = tape.gradient(y, x)
    np.testing.assert_allclose(to_np(g), [6.0])


# ---------------------------------------------------------------------------------------------
# What is recorded


def test_unconnected_source_gives_none():
    x, z = T(f32(1.0)), T(f32(2.0))
    with keras.GradientTape(persistent=True) as tape:
        tape.watch([x, z])
        y = x * 3.0
    assert tape.gradient(y, z) is None
    gx, gz = tape.gradient(y, [x, z])
    np.testing.assert_allclose(to_np(gx), [3.0])
    assert gz is None


def test_unwatched_tensor_gives_none():
    x = T(f32(1.0))
    with keras.GradientTape() as tape:
        y = x * x
    assert tape.gradient(y, x) is None


def test_ops_before_and_after_the_with_block_are_not_recorded():
    x = T(f32(2.0))
    before = x * x
    with keras.GradientTape(persistent=True) as tape:
        tape.watch(x)
        inside = x * x
    after = inside * x
    assert tape.gradient(before, x) is None
    np.testing.assert_allclose(to_np(tape.gradient(inside, x)), [4.0])
    # `after` was computed once the tape stopped recording: only the path through `inside`
    # was taped, so there is no path from `after` to x.
    assert tape.gradient(after, x) is None


def test_stop_gradient_blocks():
    x = T(f32(3.0, -1.0))
    with keras.GradientTape() as tape:
        tape.watch(x)
        y = x * ops.stop_gradient(x)  # d/dx = stop(x) only
    np.testing.assert_allclose(to_np(tape.gradient(y, x)), [3.0, -1.0])
    with keras.GradientTape() as tape:
        tape.watch(x)
        y = ops.stop_gradient(x * x)
    assert tape.gradient(y, x) is None
    np.testing.assert_array_equal(to_np(ops.stop_gradient(x)), to_np(x))


def test_cast_to_int_cuts_the_gradient_and_int_target_raises():
    x = T(f32(1.5, 2.5))
    with keras.GradientTape(persistent=True) as tape:
        tape.watch(x)
        i = ops.cast(x, "int32")
        y = ops.cast(i, "float32") * x
    np.testing.assert_allclose(to_np(tape.gradient(y, x)), [1.0, 2.0])  # only the direct path
    with pytest.raises(TypeError):
        tape.gradient(i, x)


def test_gradient_target_must_be_a_tensor():
    x = T(f32(1.0))
    with keras.GradientTape() as tape:
        tape.watch(x)
    with pytest.raises((ValueError, TypeError)):
        tape.gradient([x], x)


def test_gradient_wrt_intermediate_and_itself():
    x = T(f32(1.0, 2.0))
    with keras.GradientTape(persistent=True) as tape:
        tape.watch(x)
        h = x * 2.0
        y = h * h
    np.testing.assert_allclose(to_np(tape.gradient(y, h)), 2 * to_np(h))
    np.testing.assert_allclose(to_np(tape.gradient(y, x)), 8 * to_np(x))
    np.testing.assert_array_equal(to_np(tape.gradient(y, y)), [1.0, 1.0])


# ---------------------------------------------------------------------------------------------
# Variables


def test_trainable_variables_are_watched_automatically():
    v = keras.Variable(f32(1.0, 2.0))
    with keras.GradientTape() as tape:
        y = ops.sum(v * v)
    np.testing.assert_allclose(to_np(tape.gradient(y, v)), [2.0, 4.0])


def test_non_trainable_variable_is_not_watched():
    v = keras.Variable(f32(1.0, 2.0), trainable=False)
    with keras.GradientTape() as tape:
        y = ops.sum(v * v)
    assert tape.gradient(y, v) is None


def test_watch_accessed_variables_false_requires_explicit_watch():
    v, w = keras.Variable(f32(1.0, 2.0)), keras.Variable(f32(3.0))
    with keras.GradientTape(watch_accessed_variables=False, persistent=True) as tape:
        tape.watch(w)
        y = ops.sum(v * w)
    assert tape.gradient(y, v) is None
    np.testing.assert_allclose(to_np(tape.gradient(y, w)), [3.0])


def test_variable_gradient_after_assign():
    v = keras.Variable(f32(1.0, 2.0))
    v.assign(f32(5.0, -1.0))
    with keras.GradientTape() as tape:
        y = ops.sum(ops.square(v))
    np.testing.assert_allclose(to_np(tape.gradient(y, v)), [10.0, -2.0])


# ---------------------------------------------------------------------------------------------
# Accumulation and output_gradients


def test_gradient_accumulates_when_a_tensor_is_used_twice():
    x = T(f32(3.0, -2.0))
    with keras.GradientTape() as tape:
        tape.watch(x)
        y = x * x + x  # dy/dx = 2x + 1
    np.testing.assert_allclose(to_np(tape.gradient(y, x)), [7.0, -3.0])


def test_gradient_accumulates_across_branches_with_broadcasting():
    x = T(np.arange(3, dtype=np.float32).reshape(3, 1))
    with keras.GradientTape() as tape:
        tape.watch(x)
        a = ops.broadcast_to(x, (3, 4))           # each element used 4 times
        b = ops.sum(x * x, axis=1, keepdims=True)  # and once more through x^2
        y = ops.sum(a) + ops.sum(b) + ops.sum(x[0:2] * 5.0)
    expected = 4.0 + 2 * to_np(x) + np.array([[5.0], [5.0], [0.0]])
    np.testing.assert_allclose(to_np(tape.gradient(y, x)), expected)


def test_output_gradients_weight_the_target():
    x = T(f32(1.0, 2.0, 3.0))
    with keras.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    g = tape.gradient(y, x, output_gradients=f32(1.0, 0.5, -1.0))
    np.testing.assert_allclose(to_np(g), [2.0, 2.0, -6.0])


def test_output_gradients_shape_mismatch_raises_value_error():
    x = T(f32(1.0, 2.0))
    with keras.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    with pytest.raises(ValueError, match="output_gradients"):
        tape.gradient(y, x, output_gradients=f32(1.0, 2.0, 3.0))


# ---------------------------------------------------------------------------------------------
# Higher order


@given(x=float_arrays(elements=floats32(-5, 5), max_side=4))
def test_nested_tapes_second_derivative_of_cube_is_6x(x):
    t = T(x)
    with keras.GradientTape() as outer:
        outer.watch(t)
        with keras.GradientTape() as inner:
            inner.watch(t)
            y = t * t * t
        dy = inner.gradient(y, t)
    d2y = outer.gradient(dy, t)
    np.testing.assert_allclose(to_np(dy), 3 * x.astype(np.float64) ** 2, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(to_np(d2y), 6 * x.astype(np.float64), rtol=1e-6, atol=1e-6)


def test_second_derivative_with_variable():
    v = keras.Variable(f32(2.0, -1.0))
    with keras.GradientTape() as outer:
        with keras.GradientTape() as inner:
            y = v * v * v
        dy = inner.gradient(y, v)
    np.testing.assert_allclose(to_np(outer.gradient(dy, v)), [12.0, -6.0])


def test_third_derivative_with_three_tapes():
    x = T(f32(1.5, -2.0))
    with keras.GradientTape() as t3:
        t3.watch(x)
        with keras.GradientTape() as t2:
            t2.watch(x)
            with keras.GradientTape() as t1:
                t1.watch(x)
                y = ops.square(ops.square(x))  # x^4
            d1 = t1.gradient(y, x)
        d2 = t2.gradient(d1, x)
    d3 = t3.gradient(d2, x)
    np.testing.assert_allclose(to_np(d1), 4 * to_np(x) ** 3, rtol=1e-6)
    np.testing.assert_allclose(to_np(d2), 12 * to_np(x) ** 2, rtol=1e-6)
    np.testing.assert_allclose(to_np(d3), 24 * to_np(x), rtol=1e-6)


# f: the function whose gradient is differentiated a second time (Hessian-vector products).
SECOND_ORDER = {
    "exp": lambda t: ops.exp(t),
    "log": lambda t: ops.log(t * t + 1.0),
    "tanh": lambda t: ops.tanh(t),
    "sigmoid": lambda t: ops.sigmoid(t),
    "sqrt": lambda t: ops.sqrt(t * t + 1.0),
    "divide": lambda t: 1.0 / (t * t + 1.0),
    "softmax": lambda t: ops.softmax(t, axis=-1) * T(np.linspace(-1, 1, t.shape[-1], dtype=np.float32)),
    "log_softmax": lambda t: ops.log_softmax(t, axis=0) * t,
    "matmul": lambda t: ops.matmul(t, ops.transpose(t)),
    "mean_max": lambda t: ops.mean(t * t, axis=0) * ops.max(t, axis=0),
    "shape_ops": lambda t: ops.square(ops.take(ops.reshape(ops.transpose(t), (-1,)), np.array([0, 0, 2]))),
    "getitem_broadcast": lambda t: ops.square(ops.broadcast_to(t[::-1, :1], (3, 2, 2))),
}


@pytest.mark.parametrize("name", sorted(SECOND_ORDER))
def test_second_order_hessian_vector_products_match_finite_differences(name):
    f = SECOND_ORDER[name]
    x = np.random.default_rng(5).uniform(-1.5, 1.5, size=(2, 2)).astype(np.float32)

    def grad_of_f(t):
        t = T(t)  # (finite differences call this with NumPy arrays; a tensor keeps its identity)
        with keras.GradientTape() as inner:
            inner.watch(t)
            y = f(t)
        return inner.gradient(y, t)

    assert_grad_matches(grad_of_f, x)

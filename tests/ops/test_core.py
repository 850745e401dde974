"""`rskeras.ops.core`: slice, unstack, scatter, scatter_update, slice_update and cond, forward
against NumPy, gradients and errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st
from rskeras import ops

from tests.conftest import (
    T,
    assert_close,
    assert_exact,
    assert_grad_matches,
    float_arrays,
    floats32,
    shapes,
    tape_grads,
    to_np,
)

F64 = np.float64


# ---------------------------------------------------------------------------------------------
# take


@given(x=float_arrays(min_dims=1), data=st.data())
def test_unstack_matches_numpy(x, data, device):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    got = ops.unstack(T(x), axis=axis)
    assert len(got) == x.shape[axis]
    for i, g in enumerate(got):
        assert_exact(g, np.take(x, i, axis=axis))


def test_unstack_grad_and_errors():
    x = np.random.default_rng(2).standard_normal((3, 2, 2)).astype(np.float32)
    assert_grad_matches(lambda t: ops.stack([u * (i + 1.0) for i, u in enumerate(ops.unstack(t, num=2, axis=-2))]),
                        x, expected=lambda x, w: [np.stack([w[0] * 1.0, w[1] * 2.0], axis=-2)], rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="unstack"):
        ops.unstack(np.float32(1.0))
    with pytest.raises(ValueError, match="unstack"):
        ops.unstack(x, axis=3)
    with pytest.raises(ValueError, match="unstack"):
        ops.unstack(x, num=2, axis=0)


# ---------------------------------------------------------------------------------------------
# slice / get_item / size / ndim


@st.composite
def slice_case(draw):
    x = draw(float_arrays(min_dims=1, max_dims=3, max_side=4))
    starts, sizes = [], []
    for d in x.shape:
        starts.append(draw(st.integers(-d - 1, d + 1)))
        sizes.append(draw(st.sampled_from([-1] + list(range(d + 1)))))
    return x, starts, sizes


def _slice_reference(x, starts, sizes):
    key = []
    for d, s, n in zip(x.shape, starts, sizes):
        s = s + d if s < 0 else s  # negative starts count from the end ...
        s = min(max(s, 0), d)
        n = d - s if n == -1 else n
        s = min(s, d - n)  # ... then the block is clamped inside the axis (jax.lax.dynamic_slice)
        key.append(slice(s, s + n))
    return x[tuple(key)]


@given(case=slice_case())
def test_slice_matches_dynamic_slice_semantics(case, device):
    x, starts, sizes = case
    assert_exact(ops.slice(T(x), starts, sizes), _slice_reference(x, starts, sizes))
    assert_exact(ops.slice(T(x), np.array(starts), tuple(sizes)), _slice_reference(x, starts, sizes))


def test_slice_known_values_grad_and_errors():
    x = np.arange(20, dtype=np.float32).reshape(4, 5)
    assert_exact(ops.slice(x, (3, -1), (2, 2)), [[13.0, 14.0], [18.0, 19.0]])  # values from keras (jax)
    assert_exact(ops.slice(x, (1, 1), (-1, 2)), [[6.0, 7.0], [11.0, 12.0], [16.0, 17.0]])
    assert_exact(ops.slice(np.arange(6, dtype=np.int32), [2], [3]), np.array([2, 3, 4], np.int32), dtype="int32")

    def expected(x, w):
        g = np.zeros_like(x, dtype=F64)
        g[1:3, 2:5] = w
        return [g]

    assert_grad_matches(lambda t: ops.slice(t, [1, 2], [2, -1]), x, expected=expected, rtol=0, atol=0)
    with pytest.raises(ValueError, match="slice"):
        ops.slice(x, [0], [1, 1])
    with pytest.raises(ValueError, match="slice"):
        ops.slice(x, [0, 0], [5, 1])
    with pytest.raises(ValueError, match="slice"):
        ops.slice(x, [0, 0], [1, -2])


F64 = np.float64
SMALL = {"max_dims": 3, "max_side": 3}


# ---------------------------------------------------------------------------------------------
# scatter / scatter_update / slice_update


@st.composite
def scatter_case(draw, **shape_kw):
    """indices (n, k) (repeats allowed), values (n, *shape[k:]), shape."""
    shape = draw(shapes(min_dims=1, min_side=1, **shape_kw))
    k = draw(st.integers(1, len(shape)))
    n = draw(st.integers(0, 6))
    idx = np.array([[draw(st.integers(0, shape[d] - 1)) for d in range(k)] for _ in range(n)],
                   dtype=draw(st.sampled_from([np.int32, np.int64]))).reshape(n, k)
    values = draw(float_arrays((n,) + tuple(shape[k:]), elements=floats32(-10, 10)))
    return idx, values, tuple(shape)


def _scatter_ref(idx, values, shape):
    out = np.zeros(shape, F64)
    np.add.at(out, tuple(idx.T), values.astype(F64))
    return out


@given(case=scatter_case(max_dims=3, max_side=4))
def test_scatter_matches_numpy_add_at(case, device):
    idx, values, shape = case
    out = ops.scatter(T(idx), T(values), shape)
    assert out.dtype == "float32" and tuple(out.shape) == shape
    assert_close(out, _scatter_ref(idx, values, shape), rtol=1e-6, atol=1e-5)


def test_scatter_repeated_indices_add_and_list_inputs():
    out = ops.scatter([[0, 1], [2, 2], [0, 1]], [1.0, 2.0, 10.0], (3, 3))
    np.testing.assert_array_equal(to_np(out), [[0, 11, 0], [0, 0, 0], [0, 0, 2]])
    out = ops.scatter(np.array([[1], [1]]), np.float32([[1, 2], [3, 4]]), (2, 2))  # row slices
    np.testing.assert_array_equal(to_np(out), [[0, 0], [4, 6]])


def test_scatter_batched_indices_rank3():
    idx = np.array([[[0], [3]], [[1], [2]]])
    vals = np.float32([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(to_np(ops.scatter(idx, vals, (4,))), [1.0, 3.0, 4.0, 2.0])


@given(case=scatter_case(**SMALL))
def test_scatter_gradient_wrt_values_gathers_cotangent(case, device):
    idx, values, shape = case

    def expected(values, w):
        return [w[tuple(idx.T)].reshape(values.shape)]

    assert_grad_matches(lambda v: ops.scatter(T(idx), v, shape), values, expected=expected, rtol=0, atol=0)
    assert_grad_matches(lambda v: ops.scatter(T(idx), v, shape), values)


def test_scatter_index_out_of_range_raises_index_error():
    with pytest.raises(IndexError, match="scatter"):
        ops.scatter(np.array([[4]]), np.float32([1.0]), (4,))
    with pytest.raises(IndexError, match="scatter"):
        ops.scatter(np.array([[0, 3]]), np.float32([1.0]), (2, 3))
    with pytest.raises(IndexError, match="scatter"):
        ops.scatter(np.array([[0, 0, 0]]), np.float32([1.0]), (2, 3))  # more index columns than axes
    with pytest.raises(IndexError, match="scatter_update"):
        ops.scatter_update(T(np.zeros((3, 2), np.float32)), np.array([[3]]), np.float32([[1.0, 2.0]]))


@st.composite
def scatter_update_case(draw, **shape_kw):
    """inputs, indices (n, k) without repeats, updates (n, *shape[k:])."""
    shape = draw(shapes(min_dims=1, min_side=1, **shape_kw))
    k = draw(st.integers(1, len(shape)))
    lead = shape[:k]
    flat = draw(st.lists(st.integers(0, int(np.prod(lead)) - 1), max_size=min(5, int(np.prod(lead))), unique=True))
    idx = np.array(np.unravel_index(np.array(flat, np.int64), lead)).T.reshape(len(flat), k)
    inputs = draw(float_arrays(tuple(shape), elements=floats32(-10, 10)))
    updates = draw(float_arrays((len(flat),) + tuple(shape[k:]), elements=floats32(-10, 10)))
    return inputs, idx, updates


@given(case=scatter_update_case(max_dims=3, max_side=4))
def test_scatter_update_matches_numpy_assignment(case, device):
    inputs, idx, updates = case
    out = ops.scatter_update(T(inputs), T(idx), T(updates))
    expected = inputs.copy()
    expected[tuple(idx.T)] = updates
    assert out.dtype == "float32"
    np.testing.assert_array_equal(to_np(out), expected)
    ints = np.round(inputs).astype(np.int32)
    out = ops.scatter_update(T(ints), T(idx), T(np.round(updates).astype(np.int32)))
    assert out.dtype == "int32"
    expected = ints.copy()
    expected[tuple(idx.T)] = np.round(updates).astype(np.int32)
    np.testing.assert_array_equal(to_np(out), expected)


@given(case=scatter_update_case(**SMALL))
def test_scatter_update_gradients_zero_at_replaced_positions(case, device):
    inputs, idx, updates = case

    def expected(inputs, updates, w):
        gi = w.copy()
        gi[tuple(idx.T)] = 0.0
        return [gi, w[tuple(idx.T)].reshape(updates.shape)]

    assert_grad_matches(lambda x, u: ops.scatter_update(x, T(idx), u), inputs, updates, expected=expected,
                        rtol=0, atol=0)


def test_scatter_update_exact_small_case(device):
    out = ops.scatter_update(T(np.zeros((2, 3), np.float32)), [[0, 1], [1, 2]], [5.0, 6.0])
    np.testing.assert_array_equal(to_np(out), [[0, 5, 0], [0, 0, 6]])
    y, (gi, gu) = tape_grads(lambda x, u: ops.scatter_update(x, np.array([[1]]), u),
                             [np.float32([1, 2, 3]), np.float32([5])], [0, 1], cotangent=np.float32([1, 2, 3]))
    np.testing.assert_array_equal(y, [1, 5, 3])
    np.testing.assert_array_equal(gi, [1, 0, 3])
    np.testing.assert_array_equal(gu, [2])


@st.composite
def slice_update_case(draw, **shape_kw):
    shape = draw(shapes(**shape_kw))
    ushape = tuple(draw(st.integers(1 if d else 0, d)) for d in shape)  # empty blocks: only where inputs are
    starts = [draw(st.integers(0, d - u)) for d, u in zip(shape, ushape)]
    inputs = draw(float_arrays(shape, elements=floats32(-10, 10)))
    updates = draw(float_arrays(ushape, elements=floats32(-10, 10)))
    return inputs, starts, updates


def _block(starts, ushape):
    return tuple(slice(s, s + u) for s, u in zip(starts, ushape))


@given(case=slice_update_case())
def test_slice_update_matches_numpy_assignment(case, device):
    inputs, starts, updates = case
    out = ops.slice_update(T(inputs), starts, T(updates))
    expected = inputs.copy()
    expected[_block(starts, updates.shape)] = updates
    assert out.dtype == "float32" and tuple(out.shape) == inputs.shape
    np.testing.assert_array_equal(to_np(out), expected)


@given(case=slice_update_case(**SMALL))
def test_slice_update_gradients_both_inputs(case, device):
    inputs, starts, updates = case

    def expected(inputs, updates, w):
        gi = w.copy()
        gi[_block(starts, updates.shape)] = 0.0
        return [gi, w[_block(starts, updates.shape)]]

    assert_grad_matches(lambda x, u: ops.slice_update(x, starts, u), inputs, updates, expected=expected,
                        rtol=0, atol=0)


def test_slice_update_integers_and_not_fitting_raises_value_error():
    out = ops.slice_update(T(np.zeros((2, 4), np.int32)), [1, 1], T(np.array([[7, 8]], np.int32)))
    assert out.dtype == "int32"
    np.testing.assert_array_equal(to_np(out), [[0, 0, 0, 0], [0, 7, 8, 0]])
    x = T(np.zeros((3, 3), np.float32))
    for starts, shape in [([2, 0], (2, 2)), ([0, 0], (4, 1)), ([-1, 0], (1, 1)), ([0], (1, 1)), ([0, 0, 0], (1, 1))]:
        with pytest.raises(ValueError, match="slice_update"):
            ops.slice_update(x, starts, T(np.ones(shape, np.float32)))
    with pytest.raises(ValueError, match="slice_update"):
        ops.slice_update(x, [0, 0], T(np.ones((1, 1, 1), np.float32)))


# ---------------------------------------------------------------------------------------------
# cond


def test_cond_runs_only_the_chosen_branch(device):
    calls = []

    def branch(name, value):
        def fn():
            calls.append(name)
            return value
        return fn

    def boom():
        raise AssertionError("the other branch must not run")

    assert ops.cond(T(np.array(True)), branch("t", 1), boom) == 1
    assert ops.cond(T(np.array(False)), boom, branch("f", 2)) == 2
    assert ops.cond(True, branch("t", 3), boom) == 3
    assert ops.cond(T(np.float32(0.0)), boom, branch("f", 4)) == 4
    assert calls == ["t", "f", "t", "f"]
    out = ops.cond(ops.greater(T(np.float32(2.0)), 1.0), lambda: T(np.float32([1, 2])), boom)
    np.testing.assert_array_equal(to_np(out), [1, 2])


def test_cond_is_differentiable_through_the_taken_branch(device):
    x = np.float32([1.0, 2.0])
    _, (g,) = tape_grads(lambda t: ops.cond(T(np.array(True)), lambda: ops.sin(t), lambda: t * 0.0), [x], [0])
    np.testing.assert_allclose(g, np.cos(x.astype(F64)), rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# float64 inputs keep their dtype, values and gradients

X64 = np.array([[0.1 + 1e-12, -2.0, 3.0, 0.1], [1.5, 1.5 + 1e-13, -0.25, 7.0]])


def test_scatter_update_float64_inputs_keep_dtype_and_gradients():
    x = X64
    out = ops.scatter_update(x, np.array([[0, 1], [1, 3]]), np.array([0.5, -4.0]))
    assert out.dtype == "float64"
    expected = x.copy()
    expected[0, 1], expected[1, 3] = 0.5, -4.0
    np.testing.assert_array_equal(to_np(out), expected)
    _, (g,) = tape_grads(lambda t: ops.scatter_update(t, np.array([[1]]), np.array([[1.0, 2.0, 3.0, 4.0]])), [x], [0],
                         cotangent=np.ones((2, 4)))
    assert g.dtype == np.float64
    np.testing.assert_array_equal(g, [[1.0] * 4, [0.0] * 4])


def test_scatter_update_float64_updates_are_not_rounded():
    out = ops.scatter_update(np.zeros(3), np.array([[0]]), np.array([1e-14]))
    assert out.dtype == "float64"
    np.testing.assert_array_equal(to_np(out), [1e-14, 0.0, 0.0])

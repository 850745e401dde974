"""The newer reduction / ordering / joining / gathering keras.ops: prod, any, all, cumsum,
cumprod, argsort, sort, concatenate, take_along_axis, pad, top_k, in_top_k, scatter,
scatter_update, slice_update and cond. Forward values against NumPy, NaN and tie handling,
empty reductions, gradients through GradientTape, and error types and messages.

Element-wise ops are in test_ops_extended.py."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import (
    T,
    array_and_axis,
    assert_close,
    assert_grad_matches,
    float_arrays,
    floats32,
    int_arrays,
    normalize_axes,
    shapes,
    tape_grads,
    to_np,
)
from hypothesis import assume, given
from hypothesis import strategies as st
import rskeras as keras
from rskeras import ops

F64 = np.float64


def shape_re(shape):
    """A regex for `shape` printed as a tuple `(2, 3)` / `(4,)` or a list `[2, 3]` / `[4]`."""
    inner = ", ".join(str(d) for d in shape)
    return r"[\(\[]" + re.escape(inner) + r",?[\)\]]"


def int_axis(x):
    """A strategy for a valid int axis of `x` (negative ones included)."""
    return st.integers(-x.ndim, x.ndim - 1)


# Few distinct values: many ties, exact zeros and NaN.
TIES = st.sampled_from([-2.0, -0.5, 0.0, 1.0, 3.0]).map(np.float32)
TIES_NAN = st.sampled_from([-2.0, -0.5, 0.0, -0.0, 1.0, 3.0, np.nan, np.inf, -np.inf]).map(np.float32)
# magnitudes in [0.5, 1.5] (both signs): products of up to 64 of them neither overflow nor vanish
UNITISH = st.one_of(floats32(0.5, 1.5), floats32(-1.5, -0.5))
SMALL = {"max_dims": 3, "max_side": 3}
FLOATS10 = floats32(-10, 10)


# ---------------------------------------------------------------------------------------------
# prod


@given(xa=array_and_axis(float_arrays(elements=st.one_of(UNITISH, st.just(np.float32(0.0))), max_dims=3, max_side=4)),
       keepdims=st.booleans())
def test_prod_matches_numpy(xa, keepdims):
    x, axis = xa
    out = ops.prod(T(x), axis=axis, keepdims=keepdims)
    assert out.dtype == "float32"
    expected = np.prod(x.astype(F64), axis=axis, keepdims=keepdims)
    assert_close(out, expected, rtol=1e-5, atol=1e-30)


@given(xa=array_and_axis(int_arrays(min_value=-3, max_value=3, max_dims=3, max_side=4)), keepdims=st.booleans())
def test_prod_integers_match_numpy(xa, keepdims):
    x, axis = xa
    out = ops.prod(T(x), axis=axis, keepdims=keepdims)
    assert out.dtype == "int32"
    # int32 arithmetic wraps on overflow, as NumPy's with dtype=int32 (and jax.numpy's)
    np.testing.assert_array_equal(to_np(out), np.prod(x, axis=axis, keepdims=keepdims, dtype=np.int32))


def test_prod_empty_is_one_and_nan_propagates():
    assert to_np(ops.prod(T(np.zeros((0,), np.float32)))) == 1.0
    out = ops.prod(T(np.zeros((0, 3), np.float32)), axis=0)
    np.testing.assert_array_equal(to_np(out), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(to_np(ops.prod(T(np.zeros((2, 0), np.float32)), axis=1, keepdims=True)), [[1.0], [1.0]])
    np.testing.assert_array_equal(to_np(ops.prod(T(np.zeros((0, 2), np.int32)))), 1)
    np.testing.assert_array_equal(to_np(ops.prod(T(np.float32([[2, np.nan], [0, np.inf]])), axis=1)), [np.nan, np.nan])
    b = ops.prod(T(np.array([[True, False], [True, True]])), axis=1)
    assert b.dtype == "int32"
    np.testing.assert_array_equal(to_np(b), [0, 1])
    np.testing.assert_array_equal(to_np(ops.prod(T(np.float32([1.5, 2.0])), dtype="int32")), 3)


@given(xa=array_and_axis(float_arrays(elements=UNITISH, **SMALL)), keepdims=st.booleans())
def test_prod_gradient_matches_finite_differences(xa, keepdims):
    x, axis = xa
    assert_grad_matches(lambda t: ops.prod(t, axis=axis, keepdims=keepdims), x)


def _prod_of_others(x, axis):
    """For each element, the product of the other elements of its reduction group (float64)."""
    axes = normalize_axes(axis, x.ndim)
    x = x.astype(F64)
    out = np.empty_like(x)
    for idx in np.ndindex(*x.shape):
        sel = tuple(slice(None) if d in axes else i for d, i in enumerate(idx))
        group = x[sel].copy()
        pos = tuple(i for d, i in enumerate(idx) if d in axes)
        group[pos] = 1.0
        out[idx] = np.prod(group)
    return out


@st.composite
def arrays_with_zeros(draw, zeros):
    """(x, axis) where every reduction group of x contains exactly `zeros` zeros."""
    x = draw(float_arrays(elements=UNITISH, min_dims=1, max_dims=3, min_side=1, max_side=3))
    x, axis = draw(array_and_axis(st.just(x), allow_none=True))
    axes = normalize_axes(axis, x.ndim)
    size = int(np.prod([x.shape[a] for a in axes]))
    assume(size >= zeros)
    moved = np.moveaxis(x, axes, list(range(x.ndim - len(axes), x.ndim))).copy()
    flat = moved.reshape(-1, size)
    for row in flat:
        row[draw(st.permutations(range(size)))[:zeros]] = 0.0
    moved = flat.reshape(moved.shape)
    return np.moveaxis(moved, list(range(x.ndim - len(axes), x.ndim)), axes).copy(), axis


@pytest.mark.parametrize("zeros", [1, 2])
@given(data=st.data())
def test_prod_gradient_with_zeros_is_product_of_others(zeros, data):
    x, axis = data.draw(arrays_with_zeros(zeros))
    # reference: w (broadcast back over the reduced axes) times the product of the other elements
    assert_grad_matches(lambda t: ops.prod(t, axis=axis, keepdims=True), x,
                        expected=lambda x, w: [w * _prod_of_others(x, axis)], rtol=1e-5, atol=1e-7)


def test_prod_gradient_with_zeros_exact_values():
    _, (g,) = tape_grads(ops.prod, [np.float32([2.0, 0.0, 3.0])], [0])
    np.testing.assert_array_equal(g, [0.0, 6.0, 0.0])
    _, (g,) = tape_grads(ops.prod, [np.float32([2.0, 0.0, 0.0])], [0])
    np.testing.assert_array_equal(g, [0.0, 0.0, 0.0])
    _, (g,) = tape_grads(lambda t: ops.prod(t, axis=0), [np.float32([[0.0, 2.0], [5.0, 0.0], [3.0, 4.0]])], [0])
    np.testing.assert_array_equal(g, [[15.0, 0.0], [0.0, 8.0], [0.0, 0.0]])


# ---------------------------------------------------------------------------------------------
# any / all

BOOLISH = st.sampled_from([0.0, -0.0, 1.0, -2.5, np.nan, np.inf]).map(np.float32)


@pytest.mark.parametrize("name", ["any", "all"])
@given(xa=array_and_axis(float_arrays(elements=BOOLISH)), keepdims=st.booleans())
def test_any_all_match_numpy_including_empty_and_nan(name, xa, keepdims):
    x, axis = xa
    out = getattr(ops, name)(T(x), axis=axis, keepdims=keepdims)
    assert out.dtype == "bool"
    expected = getattr(np, name)(x, axis=axis, keepdims=keepdims)
    assert to_np(out).shape == np.shape(expected)
    np.testing.assert_array_equal(to_np(out), expected)


@pytest.mark.parametrize("name", ["any", "all"])
@given(xa=array_and_axis(int_arrays(min_value=-1, max_value=1)), keepdims=st.booleans())
def test_any_all_integers_and_bools(name, xa, keepdims):
    x, axis = xa
    for v in (x, x.astype(bool), x.astype(np.int64)):
        out = getattr(ops, name)(T(v), axis=axis, keepdims=keepdims)
        assert out.dtype == "bool"
        np.testing.assert_array_equal(to_np(out), getattr(np, name)(v, axis=axis, keepdims=keepdims))


def test_any_of_empty_is_false_all_of_empty_is_true():
    for shape, axis, expected_shape in [((0,), None, ()), ((0, 3), 0, (3,)), ((2, 0), -1, (2,)), ((2, 0, 3), (0, 1), (3,))]:
        x = T(np.zeros(shape, np.float32))
        a, b = ops.any(x, axis=axis), ops.all(x, axis=axis)
        assert tuple(a.shape) == expected_shape and tuple(b.shape) == expected_shape
        assert not to_np(a).any()
        assert to_np(b).all()
    assert to_np(ops.any(T(np.zeros((2, 0))), axis=1, keepdims=True)).shape == (2, 1)
    # a non-empty reduction over a tensor that is empty along another axis gives an empty result
    assert to_np(ops.any(T(np.zeros((0, 3))), axis=1)).shape == (0,)


# ---------------------------------------------------------------------------------------------
# cumsum / cumprod


@st.composite
def array_and_cum_axis(draw, elements, **shape_kw):
    x = draw(float_arrays(elements=elements, **shape_kw))
    options = [st.none()] + ([int_axis(x)] if x.ndim else [])
    return x, draw(st.one_of(*options))


@given(xa=array_and_cum_axis(floats32(-10, 10)))
def test_cumsum_matches_numpy(xa):
    x, axis = xa
    out = ops.cumsum(T(x), axis=axis)
    assert out.dtype == "float32"
    expected = np.cumsum(x, axis=axis)  # float32 running sums, same order
    assert_close(out, expected, rtol=1e-6, atol=1e-5)


@given(xa=array_and_cum_axis(UNITISH, max_dims=3, max_side=4))
def test_cumprod_matches_numpy(xa):
    x, axis = xa
    out = ops.cumprod(T(x), axis=axis)
    assert out.dtype == "float32"
    assert_close(out, np.cumprod(x.astype(F64), axis=axis), rtol=1e-5, atol=1e-30)


@given(data=st.data())
def test_cumsum_cumprod_integers(data):
    x = data.draw(int_arrays(min_value=-3, max_value=3, min_dims=1, max_dims=3, max_side=4))
    axis = data.draw(int_axis(x))
    for name in ("cumsum", "cumprod"):
        out = getattr(ops, name)(T(x), axis=axis)
        assert out.dtype == "int32"
        np.testing.assert_array_equal(to_np(out), getattr(np, name)(x, axis=axis))
    b = ops.cumsum(T(x > 0), axis=axis)
    np.testing.assert_array_equal(to_np(b), np.cumsum(x > 0, axis=axis))


def test_cumsum_cumprod_nan_and_dtype_argument():
    x = np.float32([1.0, np.nan, 2.0])
    np.testing.assert_array_equal(to_np(ops.cumsum(T(x))), [1.0, np.nan, np.nan])
    np.testing.assert_array_equal(to_np(ops.cumprod(T(x))), [1.0, np.nan, np.nan])
    out = ops.cumsum(T(np.float32([[1.5, 2.5], [1.0, 1.0]])), axis=None, dtype="int32")
    assert out.dtype == "int32" and tuple(out.shape) == (4,)
    np.testing.assert_array_equal(to_np(out), [1, 4, 5, 6])
    with pytest.raises(ValueError, match="cumsum"):
        ops.cumsum(T(np.zeros((2, 3))), axis=2)
    with pytest.raises(ValueError, match="cumprod"):
        ops.cumprod(T(np.zeros((2, 3))), axis=-3)


@given(xa=array_and_cum_axis(floats32(-3, 3), **SMALL))
def test_cumsum_gradient(xa):
    x, axis = xa
    assert_grad_matches(lambda t: ops.cumsum(t, axis=axis), x)

    def expected(x, w):  # reversed running sums of the cotangent
        w = w.reshape(-1) if axis is None else w
        a = 0 if axis is None else axis
        return [np.flip(np.cumsum(np.flip(w, a), axis=a), a).reshape(x.shape)]

    assert_grad_matches(lambda t: ops.cumsum(t, axis=axis), x, expected=expected, rtol=1e-5, atol=1e-6)


@given(xa=array_and_cum_axis(UNITISH, **SMALL))
def test_cumprod_gradient_nonzero_inputs(xa):
    x, axis = xa
    assert_grad_matches(lambda t: ops.cumprod(t, axis=axis), x)


@given(xa=array_and_cum_axis(UNITISH, **SMALL), data=st.data())
def test_cumprod_gradient_exact_with_zeros(xa, data):
    x, axis = xa
    flat = x.reshape(-1)
    if flat.size:
        flat[data.draw(st.integers(0, flat.size - 1))] = 0.0  # one zero; maybe a second one
        flat[data.draw(st.integers(0, flat.size - 1))] = 0.0
    assert_grad_matches(lambda t: ops.cumprod(t, axis=axis), x)


@pytest.mark.parametrize("axis", [0, 1])
def test_prod_second_order_with_zeros(axis):
    # prod's gradient is built from exclusive running products in both directions, so its own
    # gradient exercises the exclusive and reversed cumprod rules, here across zeros.
    x = np.array([[0.5, 0.0, 2.0], [1.5, -1.0, 0.7], [0.0, 0.0, 3.0]], np.float32)

    def grad_of_prod(t):
        t = ops.convert_to_tensor(t)
        with keras.GradientTape() as tape:
            tape.watch(t)
            y = ops.sum(ops.prod(t, axis=axis) * np.array([0.3, -1.2, 0.8], np.float32))
        return tape.gradient(y, t)

    assert_grad_matches(grad_of_prod, x)


# ---------------------------------------------------------------------------------------------
# argsort / sort


@st.composite
def array_and_sort_axis(draw, elements, allow_none=True, **shape_kw):
    x = draw(float_arrays(elements=elements, min_dims=1, **shape_kw))
    options = [int_axis(x)] + ([st.none()] if allow_none else [])
    return x, draw(st.one_of(*options))


@given(xa=array_and_sort_axis(TIES_NAN))
def test_argsort_is_stable_with_nan_last_like_numpy(xa):
    x, axis = xa
    out = ops.argsort(T(x), axis=axis)
    assert out.dtype == "int32"
    np.testing.assert_array_equal(to_np(out), np.argsort(x, axis=axis, kind="stable"))


@given(xa=array_and_sort_axis(floats32(-1e6, 1e6)))
def test_argsort_distinct_floats_and_default_axis(xa):
    x, axis = xa
    np.testing.assert_array_equal(to_np(ops.argsort(T(x), axis=axis)), np.argsort(x, axis=axis, kind="stable"))
    np.testing.assert_array_equal(to_np(ops.argsort(T(x))), np.argsort(x, kind="stable"))


@given(data=st.data())
def test_argsort_and_sort_integers(data):
    x = data.draw(int_arrays(min_value=-3, max_value=3, min_dims=1, max_dims=3))
    axis = data.draw(int_axis(x))
    np.testing.assert_array_equal(to_np(ops.argsort(T(x), axis=axis)), np.argsort(x, axis=axis, kind="stable"))
    out = ops.sort(T(x), axis=axis)
    assert out.dtype == "int32"
    np.testing.assert_array_equal(to_np(out), np.sort(x, axis=axis))


@given(xa=array_and_sort_axis(st.one_of(TIES_NAN, floats32(-100, 100))))
def test_sort_matches_numpy_nan_last(xa):
    x, axis = xa
    out = ops.sort(T(x), axis=axis)
    assert out.dtype == "float32"
    np.testing.assert_array_equal(to_np(out), np.sort(x, axis=axis))


def test_sort_argsort_small_examples():
    x = np.float32([3.0, np.nan, 1.0, 3.0, -np.inf, 1.0])
    np.testing.assert_array_equal(to_np(ops.argsort(T(x))), [4, 2, 5, 0, 3, 1])
    np.testing.assert_array_equal(to_np(ops.sort(T(x))), [-np.inf, 1.0, 1.0, 3.0, 3.0, np.nan])
    m = np.float32([[2.0, 1.0], [0.0, 5.0]])
    np.testing.assert_array_equal(to_np(ops.argsort(T(m), axis=0)), [[1, 0], [0, 1]])
    np.testing.assert_array_equal(to_np(ops.sort(T(m), axis=None)), [0.0, 1.0, 2.0, 5.0])
    with pytest.raises(ValueError, match="argsort"):
        ops.argsort(T(m), axis=2)


@given(xa=array_and_sort_axis(st.one_of(TIES, floats32(-10, 10)), **SMALL))
def test_sort_gradient_routes_back_to_original_positions(xa):
    x, axis = xa

    def expected(x, w):
        perm = np.argsort(x, axis=axis, kind="stable")
        if axis is None:
            g = np.zeros(x.size)
            g[perm] = w
            return [g.reshape(x.shape)]
        g = np.zeros(x.shape)
        np.put_along_axis(g, perm, w, axis=axis)
        return [g]

    assert_grad_matches(lambda t: ops.sort(t, axis=axis), x, expected=expected, rtol=1e-6, atol=1e-7)


def test_sort_gradient_distinct_values_finite_differences():
    x = np.float32([[3.0, -1.0, 2.0, 0.5], [0.25, 7.0, -3.0, 1.0]])
    assert_grad_matches(lambda t: ops.sort(t, axis=-1), x)
    assert_grad_matches(lambda t: ops.sort(t, axis=0), x)


# ---------------------------------------------------------------------------------------------
# concatenate


@st.composite
def concat_case(draw, elements=FLOATS10, **shape_kw):
    base = draw(shapes(min_dims=1, **shape_kw))
    axis = draw(st.integers(-len(base), len(base) - 1))
    n = draw(st.integers(1, 3))
    xs = []
    for _ in range(n):
        shape = list(base)
        shape[axis] = draw(st.integers(0, 3))
        xs.append(draw(float_arrays(tuple(shape), elements=elements)))
    return xs, axis


@given(case=concat_case())
def test_concatenate_matches_numpy(case):
    xs, axis = case
    out = ops.concatenate([T(x) for x in xs], axis=axis)
    assert out.dtype == "float32"
    np.testing.assert_array_equal(to_np(out), np.concatenate(xs, axis=axis))
    np.testing.assert_array_equal(to_np(ops.concatenate(xs, axis=axis)), np.concatenate(xs, axis=axis))


@given(xs=st.lists(float_arrays(max_dims=3), min_size=1, max_size=3))
def test_concatenate_axis_none_flattens(xs):
    out = ops.concatenate([T(x) for x in xs], axis=None)
    np.testing.assert_array_equal(to_np(out), np.concatenate(xs, axis=None))


def test_concatenate_promotes_dtypes():
    i32 = np.array([[1, 2]], np.int32)
    f32 = np.array([[0.5, 1.5]], np.float32)
    b = np.array([[True, False]])
    i64 = np.array([[2 ** 40, 1]], np.int64)
    for parts, dtype in [((i32, f32), "float32"), ((b, i32), "int32"), ((i32, i64), "int64"), ((b, b), "bool"),
                         ((f32, b), "float32")]:
        out = ops.concatenate([T(p) for p in parts], axis=0)
        assert out.dtype == dtype
        np.testing.assert_array_equal(to_np(out), np.concatenate(parts, axis=0).astype(dtype))


@given(case=concat_case(**SMALL))
def test_concatenate_gradient_splits_cotangent(case):
    xs, axis = case

    def expected(*args):
        *parts, w = args
        cuts = np.cumsum([p.shape[axis] for p in parts])[:-1]
        return np.split(w, cuts, axis=axis)

    assert_grad_matches(lambda *ts: ops.concatenate(list(ts), axis=axis), *xs, expected=expected, rtol=0, atol=0)


def test_concatenate_gradient_mixed_with_non_float_input():
    x = np.float32([[1.0, 2.0]])
    ints = T(np.array([[3, 4]], np.int32))
    w = np.float32([[1.0, 2.0], [3.0, 4.0]])
    _, (g,) = tape_grads(lambda t: ops.concatenate([t, ints], axis=0), [x], [0], cotangent=w)
    np.testing.assert_array_equal(g, [[1.0, 2.0]])


def test_concatenate_mismatched_shapes_raise_value_error_naming_both_shapes():
    with pytest.raises(ValueError, match="concatenate") as e:
        ops.concatenate([T(np.zeros((2, 3))), T(np.zeros((2, 4)))], axis=0)
    assert re.search(shape_re((2, 3)), str(e.value)) and re.search(shape_re((2, 4)), str(e.value))
    with pytest.raises(ValueError, match="concatenate") as e:
        ops.concatenate([T(np.zeros((2, 3))), T(np.zeros((2, 3, 1)))], axis=1)
    assert re.search(shape_re((2, 3)), str(e.value)) and re.search(shape_re((2, 3, 1)), str(e.value))
    with pytest.raises(ValueError, match="concatenate"):
        ops.concatenate([T(np.zeros((2, 3)))], axis=2)
    with pytest.raises(ValueError, match="concatenate"):
        ops.concatenate([], axis=0)
    with pytest.raises(ValueError, match="concatenate"):
        ops.concatenate([T(np.float32(1.0)), T(np.float32(2.0))], axis=0)


# ---------------------------------------------------------------------------------------------
# take_along_axis


@st.composite
def take_along_case(draw, elements=FLOATS10, **shape_kw):
    """x, indices (same rank; size-1 axes of either broadcast against the other) and axis."""
    shape = draw(shapes(min_dims=1, **shape_kw))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    a = axis % len(shape)
    dim = shape[a]
    x_shape, i_shape = list(shape), list(shape)
    for d in range(len(shape)):
        if d != a:
            choice = draw(st.sampled_from(["same", "x1", "i1"]))
            if choice == "x1":
                x_shape[d] = 1
            elif choice == "i1":
                i_shape[d] = 1
    i_shape[a] = draw(st.integers(0, 4)) if dim > 0 else 0
    x = draw(float_arrays(tuple(x_shape), elements=elements))
    idx = draw(int_arrays(tuple(i_shape), -dim, max(dim - 1, 0), dtype=draw(st.sampled_from([np.int32, np.int64]))))
    return x, idx, axis


@given(case=take_along_case())
def test_take_along_axis_matches_numpy_with_broadcasting_and_negative_indices(case):
    x, idx, axis = case
    out = ops.take_along_axis(T(x), T(idx), axis=axis)
    assert out.dtype == "float32"
    np.testing.assert_array_equal(to_np(out), np.take_along_axis(x, idx, axis=axis))


@given(data=st.data())
def test_take_along_axis_none_and_integer_values(data):
    x = data.draw(int_arrays(min_dims=1, min_side=1, max_dims=3))
    idx = data.draw(int_arrays(shape=shapes(min_dims=1, max_dims=1), min_value=0, max_value=x.size - 1))
    out = ops.take_along_axis(T(x), T(idx), axis=None)
    assert out.dtype == "int32"
    np.testing.assert_array_equal(to_np(out), np.take_along_axis(x, idx, axis=None))


def _take_along_grad(x, idx, axis, w):
    """NumPy gradient of take_along_axis w.r.t. x: scatter-add of w at the indices, summed over
    the axes where x was broadcast."""
    out_shape = np.broadcast_shapes(*[tuple(1 if d == axis % x.ndim else s for d, s in enumerate(sh))
                                      for sh in (x.shape, idx.shape)])
    full_x = list(out_shape)
    full_x[axis % x.ndim] = x.shape[axis % x.ndim]
    full_i = list(out_shape)
    full_i[axis % x.ndim] = idx.shape[axis % x.ndim]
    ib = np.broadcast_to(idx, full_i) % max(x.shape[axis % x.ndim], 1)
    g = np.zeros(full_x)
    w = np.broadcast_to(w, full_i)
    for pos in np.ndindex(*full_i):
        tgt = list(pos)
        tgt[axis % x.ndim] = ib[pos]
        g[tuple(tgt)] += w[pos]
    for d, s in enumerate(x.shape):
        if s == 1 and g.shape[d] != 1:
            g = g.sum(axis=d, keepdims=True)
    return g


@given(case=take_along_case(**SMALL))
def test_take_along_axis_gradient_sums_repeated_indices(case):
    x, idx, axis = case
    assert_grad_matches(lambda t: ops.take_along_axis(t, T(idx), axis=axis), x,
                        expected=lambda x, w: [_take_along_grad(x, idx, axis, w)], rtol=1e-6, atol=1e-6)


def test_take_along_axis_gradient_repeated_indices_exact():
    x = np.float32([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    idx = np.array([[2, 2, 0, 2], [1, -2, 1, 0]], np.int32)
    w = np.float32([[1.0, 10.0, 100.0, 1000.0], [1.0, 2.0, 4.0, 8.0]])
    y, (g,) = tape_grads(lambda t: ops.take_along_axis(t, T(idx), axis=1), [x], [0], cotangent=w)
    np.testing.assert_array_equal(y, [[3.0, 3.0, 1.0, 3.0], [5.0, 5.0, 5.0, 4.0]])
    np.testing.assert_array_equal(g, [[100.0, 0.0, 1011.0], [8.0, 7.0, 0.0]])


def test_take_along_axis_broadcasts_x_and_indices_with_gradient():
    x = np.float32([[1.0, 2.0, 3.0]])  # (1, 3): broadcast over the 2 rows of indices
    idx = np.array([[0, 0], [2, 1]], np.int32)
    w = np.float32([[1.0, 2.0], [4.0, 8.0]])
    y, (g,) = tape_grads(lambda t: ops.take_along_axis(t, T(idx), axis=1), [x], [0], cotangent=w)
    np.testing.assert_array_equal(y, np.take_along_axis(np.broadcast_to(x, (2, 3)), idx, axis=1))
    np.testing.assert_array_equal(g, [[3.0, 8.0, 4.0]])
    # indices of size 1 along a non-axis dimension broadcast against x
    x2 = np.float32([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    idx2 = np.array([[1, 0, 1]], np.int64)  # (1, 3) along axis 0
    y2, (g2,) = tape_grads(lambda t: ops.take_along_axis(t, T(idx2), axis=1), [x2.T.copy()], [0],
                           cotangent=np.ones((2, 3), np.float32))
    np.testing.assert_array_equal(y2, np.take_along_axis(x2.T, np.broadcast_to(idx2, (2, 3)), axis=1))
    np.testing.assert_array_equal(g2, [[1.0, 2.0, 0.0], [1.0, 2.0, 0.0]])


def test_take_along_axis_errors():
    x = T(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="take_along_axis"):
        ops.take_along_axis(x, T(np.zeros((2,), np.int32)), axis=1)  # rank mismatch
    with pytest.raises(ValueError, match="take_along_axis"):
        ops.take_along_axis(x, T(np.zeros((2, 1, 1), np.int32)), axis=1)
    with pytest.raises(ValueError, match="take_along_axis"):
        ops.take_along_axis(x, T(np.zeros((3, 1), np.int32)), axis=1)  # 2 vs 3 do not broadcast
    with pytest.raises(IndexError, match="take_along_axis"):
        ops.take_along_axis(x, T(np.full((2, 1), 3, np.int32)), axis=1)
    with pytest.raises(IndexError, match="take_along_axis"):
        ops.take_along_axis(x, T(np.full((2, 1), -4, np.int32)), axis=1)
    with pytest.raises(TypeError, match="take_along_axis"):
        ops.take_along_axis(x, T(np.zeros((2, 1), np.float32)), axis=1)


# ---------------------------------------------------------------------------------------------
# pad


@st.composite
def pad_case(draw, elements=FLOATS10, **shape_kw):
    x = draw(float_arrays(elements=elements, **shape_kw))
    w = st.integers(0, 2)
    form = draw(st.sampled_from(["int", "pair", "per_axis"] if x.ndim else ["int", "pair"]))
    if form == "int":
        width = draw(w)
    elif form == "pair":
        width = (draw(w), draw(w))
    else:
        width = [(draw(w), draw(w)) for _ in range(x.ndim)]
    return x, width


@given(case=pad_case(), value=st.one_of(st.none(), floats32(-5, 5)))
def test_pad_constant_matches_numpy(case, value):
    x, width = case
    out = ops.pad(T(x), width) if value is None else ops.pad(T(x), width, constant_values=value)
    assert out.dtype == "float32"
    expected = np.pad(x, width, mode="constant", constant_values=0.0 if value is None else value)
    np.testing.assert_array_equal(to_np(out), expected)


@given(case=pad_case(max_dims=3))
def test_pad_integer_inputs_keep_dtype(case):
    x, width = case
    xi = np.round(x).astype(np.int32)
    out = ops.pad(T(xi), width, constant_values=7)
    assert out.dtype == "int32"
    np.testing.assert_array_equal(to_np(out), np.pad(xi, width, constant_values=7))


@given(case=pad_case(**SMALL))
def test_pad_gradient_is_the_inner_block(case):
    x, width = case
    widths = np.broadcast_to(np.asarray(width, np.int64), (x.ndim, 2)) if x.ndim else np.zeros((0, 2), np.int64)

    def expected(x, w):
        return [w[tuple(slice(b, b + d) for (b, _), d in zip(widths, x.shape))]]

    assert_grad_matches(lambda t: ops.pad(t, width), x, expected=expected, rtol=0, atol=0)


def test_pad_errors():
    x = T(np.zeros((3, 3), np.float32))
    for mode in ("reflect", "symmetric", "edge", "wrap"):
        with pytest.raises(ValueError, match="pad"):
            ops.pad(x, 1, mode=mode)
    with pytest.raises(ValueError, match="pad"):
        ops.pad(x, -1)
    with pytest.raises(ValueError, match="pad"):
        ops.pad(x, [(1, -1), (0, 0)])
    with pytest.raises(ValueError):
        ops.pad(x, [(1, 1), (1, 1), (1, 1)])  # one pair too many


# ---------------------------------------------------------------------------------------------
# top_k / in_top_k


@st.composite
def topk_case(draw, elements=TIES, **shape_kw):
    x = draw(float_arrays(elements=elements, min_dims=1, **shape_kw))
    k = draw(st.integers(min(1, x.shape[-1]), x.shape[-1]))  # k = 0: test_top_k_k_out_of_range...
    return x, k


@pytest.mark.parametrize("elements", [TIES, floats32(-10, 10)], ids=["ties", "floats"])
@given(data=st.data())
def test_top_k_matches_stable_descending_argsort(elements, data):
    x, k = data.draw(topk_case(elements))
    values, indices = ops.top_k(T(x), k)
    expected_idx = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    assert indices.dtype == "int32" and values.dtype == "float32"
    assert tuple(values.shape) == x.shape[:-1] + (k,)
    np.testing.assert_array_equal(to_np(indices), expected_idx)
    np.testing.assert_array_equal(to_np(values), np.take_along_axis(x, expected_idx, axis=-1))
    v2, _ = ops.top_k(T(x), k, sorted=False)  # unsorted output is allowed to be sorted
    np.testing.assert_array_equal(np.sort(to_np(v2), axis=-1), np.sort(to_np(values), axis=-1))


def test_top_k_integers_and_ties():
    x = np.array([[1, 3, 3, 2, 3], [5, 5, 5, 5, 5]], np.int32)
    values, indices = ops.top_k(T(x), 3)
    assert values.dtype == "int32"
    np.testing.assert_array_equal(to_np(values), [[3, 3, 3], [5, 5, 5]])
    np.testing.assert_array_equal(to_np(indices), [[1, 2, 4], [0, 1, 2]])  # ties: lower index first


def test_top_k_k_out_of_range_raises_value_error():
    x = T(np.zeros((2, 3), np.float32))
    for k in (4, -1, 100):
        with pytest.raises(ValueError, match="top_k"):
            ops.top_k(x, k)
    with pytest.raises(ValueError, match="top_k"):
        ops.top_k(T(np.zeros((2, 0), np.float32)), 1)
    with pytest.raises(ValueError, match="top_k"):
        ops.top_k(T(np.float32(1.0)), 1)
    v, i = ops.top_k(x, 0)
    assert tuple(v.shape) == (2, 0) and tuple(i.shape) == (2, 0)


@given(case=topk_case(**SMALL))
def test_top_k_values_gradient(case):
    x, k = case

    def expected(x, w):
        idx = np.argsort(-x, axis=-1, kind="stable")[..., :k]
        g = np.zeros(x.shape)
        np.put_along_axis(g, idx, w, axis=-1)
        return [g]

    assert_grad_matches(lambda t: ops.top_k(t, k)[0], x, expected=expected, rtol=1e-6, atol=1e-7)


def test_top_k_values_gradient_finite_differences_distinct():
    x = np.float32([[0.3, -2.0, 1.5, 0.9], [4.0, 2.0, -1.0, 3.0]])
    assert_grad_matches(lambda t: ops.top_k(t, 2)[0], x)


@st.composite
def in_top_k_case(draw):
    batch = draw(st.integers(0, 5))
    classes = draw(st.integers(1, 6))
    preds = draw(float_arrays((batch, classes), elements=draw(st.sampled_from([TIES, floats32(-5, 5)]))))
    targets = draw(int_arrays((batch,), 0, classes - 1, dtype=draw(st.sampled_from([np.int32, np.int64]))))
    k = draw(st.integers(0, classes))
    return targets, preds, k


@given(case=in_top_k_case())
def test_in_top_k_counts_strictly_higher_scores(case):
    targets, preds, k = case
    out = ops.in_top_k(T(targets), T(preds), k)
    assert out.dtype == "bool"
    target_score = np.take_along_axis(preds, targets[:, None].astype(np.int64), axis=1)
    expected = (preds > target_score).sum(axis=1) < k
    assert tuple(out.shape) == (len(targets),)
    np.testing.assert_array_equal(to_np(out), expected)


def test_in_top_k_ties_documented_semantics():
    preds = np.float32([[1.0, 3.0, 3.0, 2.0],
                        [1.0, 3.0, 3.0, 2.0],
                        [1.0, 3.0, 3.0, 2.0],
                        [1.0, 3.0, 3.0, 2.0],
                        [0.0, 0.0, 0.0, 0.0]])
    targets = np.array([1, 2, 3, 0, 3], np.int32)
    # k=1: both tied maxima count (no class is strictly higher); class 3 has two higher
    np.testing.assert_array_equal(to_np(ops.in_top_k(targets, preds, 1)), [True, True, False, False, True])
    np.testing.assert_array_equal(to_np(ops.in_top_k(targets, preds, 3)), [True, True, True, False, True])
    np.testing.assert_array_equal(to_np(ops.in_top_k(targets, preds, 4)), [True, True, True, True, True])
    np.testing.assert_array_equal(to_np(ops.in_top_k(targets, preds, 0)), [False] * 5)


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
def test_scatter_matches_numpy_add_at(case):
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
def test_scatter_gradient_wrt_values_gathers_cotangent(case):
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
def test_scatter_update_matches_numpy_assignment(case):
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
def test_scatter_update_gradients_zero_at_replaced_positions(case):
    inputs, idx, updates = case

    def expected(inputs, updates, w):
        gi = w.copy()
        gi[tuple(idx.T)] = 0.0
        return [gi, w[tuple(idx.T)].reshape(updates.shape)]

    assert_grad_matches(lambda x, u: ops.scatter_update(x, T(idx), u), inputs, updates, expected=expected,
                        rtol=0, atol=0)


def test_scatter_update_exact_small_case():
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
def test_slice_update_matches_numpy_assignment(case):
    inputs, starts, updates = case
    out = ops.slice_update(T(inputs), starts, T(updates))
    expected = inputs.copy()
    expected[_block(starts, updates.shape)] = updates
    assert out.dtype == "float32" and tuple(out.shape) == inputs.shape
    np.testing.assert_array_equal(to_np(out), expected)


@given(case=slice_update_case(**SMALL))
def test_slice_update_gradients_both_inputs(case):
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


def test_cond_runs_only_the_chosen_branch():
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


def test_cond_is_differentiable_through_the_taken_branch():
    x = np.float32([1.0, 2.0])
    _, (g,) = tape_grads(lambda t: ops.cond(T(np.array(True)), lambda: ops.sin(t), lambda: t * 0.0), [x], [0])
    np.testing.assert_allclose(g, np.cos(x.astype(F64)), rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# float64 inputs keep their dtype, values and gradients

X64 = np.array([[0.1 + 1e-12, -2.0, 3.0, 0.1], [1.5, 1.5 + 1e-13, -0.25, 7.0]])
XG64 = np.array([[0.3, -2.0, 3.0, 0.1], [1.5, 2.25, -0.25, 7.0]])  # well separated: finite differences


def test_reductions_and_orderings_float64_forward():
    x = X64
    cases = [
        (ops.prod(x, axis=1), np.prod(x, axis=1)),
        (ops.cumsum(x, axis=1), np.cumsum(x, axis=1)),
        (ops.cumprod(x, axis=0), np.cumprod(x, axis=0)),
        (ops.sort(x, axis=1), np.sort(x, axis=1)),
        (ops.top_k(x, 3)[0], -np.sort(-x, axis=1)[:, :3]),
        (ops.concatenate([x, x[:1]], axis=0), np.concatenate([x, x[:1]], axis=0)),
        (ops.concatenate([x, x.astype(np.float32)], axis=1), np.concatenate([x, x.astype(np.float32)], axis=1)),
        (ops.take_along_axis(x, np.array([[3, 0], [1, 1]]), axis=1), np.take_along_axis(x, np.array([[3, 0], [1, 1]]), 1)),
        (ops.pad(x, 1, constant_values=0.5), np.pad(x, 1, constant_values=0.5)),
        (ops.slice_update(x, [1, 2], np.array([[1e-15, 2.0]])), np.concatenate([x[:1], [[1.5, 1.5 + 1e-13, 1e-15, 2.0]]])),
    ]
    for got, expected in cases:
        assert got.dtype == "float64"
        np.testing.assert_array_equal(to_np(got), expected)
    np.testing.assert_array_equal(to_np(ops.argsort(x, axis=1)), np.argsort(x, axis=1, kind="stable"))
    np.testing.assert_array_equal(to_np(ops.top_k(x, 2)[1]), [[2, 0], [3, 1]])  # 0.1 + 1e-12 beats 0.1


@pytest.mark.parametrize("name,fn,grad", [
    ("prod", lambda t: ops.prod(t, axis=1), lambda x, w: np.prod(x, 1, keepdims=True) / x * w[:, None]),
    ("cumsum", lambda t: ops.cumsum(t, axis=1), lambda x, w: np.flip(np.cumsum(np.flip(w, 1), 1), 1)),
    ("sort", lambda t: ops.sort(t, axis=1), None),
    ("top_k", lambda t: ops.top_k(t, 2)[0], None),
    ("concatenate", lambda t: ops.concatenate([t, t], axis=0), lambda x, w: w[:2] + w[2:]),
    ("take_along_axis", lambda t: ops.take_along_axis(t, np.array([[3, 3], [0, 1]]), axis=1), None),
    ("pad", lambda t: ops.pad(t, [(0, 1), (2, 0)]), lambda x, w: w[:2, 2:]),
    ("slice_update", lambda t: ops.slice_update(t, [0, 1], np.ones((1, 2))), None),
    ("cumprod", lambda t: ops.cumprod(t, axis=1), None),
])
def test_float64_gradients_keep_dtype_and_match_finite_differences(name, fn, grad):
    x = XG64
    y = to_np(fn(T(x)))
    w = np.random.default_rng(1).uniform(-1, 1, y.shape)
    _, (g,) = tape_grads(fn, [x], [0], cotangent=w)
    assert g.dtype == np.float64, f"{name}: gradient dtype {g.dtype}"
    eps = 1e-7
    fd = np.zeros_like(x)
    for i in np.ndindex(*x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        fd[i] = (np.sum(w * to_np(fn(T(x + d)))) - np.sum(w * to_np(fn(T(x - d))))) / (2 * eps)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)
    if grad is not None:
        np.testing.assert_allclose(g, grad(x, w), rtol=1e-13, atol=1e-15)


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


def test_in_top_k_float64_predictions_are_not_rounded():
    preds = np.array([[1.0, 1.0 + 1e-12, 0.5]])
    np.testing.assert_array_equal(to_np(ops.in_top_k(np.array([0]), preds, 1)), [False])

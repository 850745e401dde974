"""Reductions: sum, mean, max, min (axis None / int / tuple, negative axes, keepdims), argmax and
argmin, against NumPy; gradients (ties of max/min share the gradient evenly); errors."""

from __future__ import annotations

import warnings

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
    to_np,
)
from hypothesis import given
from hypothesis import strategies as st
from rskeras import ops

F64 = np.float64
REDUCE = {"sum": (ops.sum, np.sum), "mean": (ops.mean, np.mean), "max": (ops.max, np.max), "min": (ops.min, np.min)}


def _np_axis(axis):
    return axis if axis is None or isinstance(axis, int) else tuple(axis)


def _empty_reduction(x, axis):
    return any(x.shape[a] == 0 for a in normalize_axes(axis, x.ndim))


# ---------------------------------------------------------------------------------------------
# Forward


@pytest.mark.parametrize("name", ["sum", "mean"])
@given(xa=array_and_axis(float_arrays(min_value=-100, max_value=100)), keepdims=st.booleans())
def test_sum_mean_match_numpy(name, xa, keepdims):
    x, axis = xa
    op, ref = REDUCE[name]
    out = op(T(x), axis=axis, keepdims=keepdims)
    assert out.dtype == "float32"
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy: "Mean of empty slice"
        expected = ref(x.astype(F64), axis=_np_axis(axis), keepdims=keepdims)
        # float32 accumulation error bound, relative to the magnitude that was summed
        scale = np.mean if name == "mean" else np.sum
        mag = scale(np.abs(x.astype(F64)), axis=_np_axis(axis), keepdims=keepdims)
    got = to_np(out)
    assert got.shape == np.shape(expected)
    if name == "mean" and _empty_reduction(x, axis):
        assert np.all(np.isnan(got)), "the mean of an empty reduction is NaN"
        return
    np.testing.assert_array_less(np.abs(got - expected), 1e-6 * mag + 1e-6)


@pytest.mark.parametrize("name", ["max", "min"])
@given(xa=array_and_axis(float_arrays(min_value=-1e6, max_value=1e6)), keepdims=st.booleans())
def test_max_min_match_numpy(name, xa, keepdims):
    x, axis = xa
    op, ref = REDUCE[name]
    if _empty_reduction(x, axis):
        with pytest.raises(ValueError, match=name):
            op(T(x), axis=axis, keepdims=keepdims)
        return
    out = op(T(x), axis=axis, keepdims=keepdims)
    assert out.dtype == "float32"
    expected = ref(x, axis=_np_axis(axis), keepdims=keepdims)
    assert to_np(out).shape == np.shape(expected)
    np.testing.assert_array_equal(to_np(out), expected)


def test_sum_of_many_elements_is_accurate():
    x = np.full(1_000_003, 0.1, np.float32)
    expected = np.sum(x.astype(F64))
    got = float(ops.sum(x))
    assert abs(got - expected) <= 1e-6 * expected  # a naive float32 loop is off by ~1e-3
    np.testing.assert_allclose(float(ops.mean(x)), np.mean(x.astype(F64)), rtol=1e-6)


def test_large_reduction_along_middle_axis():
    x = np.random.default_rng(0).standard_normal((7, 20_000, 3)).astype(np.float32)
    for op, ref in REDUCE.values():
        got = to_np(op(x, axis=1))
        exp = ref(x.astype(F64), axis=1)
        np.testing.assert_allclose(got, exp, rtol=1e-5, atol=1e-6 * np.sum(np.abs(x), axis=1).max())


@pytest.mark.parametrize("name", ["max", "min"])
@given(xa=array_and_axis(float_arrays(elements=st.sampled_from([np.nan, 1.0, -2.0, np.inf, -np.inf]).map(np.float32),
                                      min_side=1)),
       keepdims=st.booleans())
def test_max_min_propagate_nan_like_numpy(name, xa, keepdims):
    x, axis = xa
    op, ref = REDUCE[name]
    expected = ref(x, axis=_np_axis(axis), keepdims=keepdims)
    got = to_np(op(T(x), axis=axis, keepdims=keepdims))
    np.testing.assert_array_equal(got, expected)  # assert_array_equal treats NaN == NaN


def test_max_with_nan_gives_nan():
    x = np.array([[1.0, np.nan, 3.0], [np.nan, 0.0, -1.0], [4.0, 5.0, 6.0]], np.float32)
    assert np.isnan(float(ops.max(x)))
    assert np.isnan(float(ops.min(x)))
    np.testing.assert_array_equal(to_np(ops.max(x, axis=1)), [np.nan, np.nan, 6.0])
    np.testing.assert_array_equal(to_np(ops.min(x, axis=0)), [np.nan, np.nan, -1.0])


def test_sum_mean_inf_and_nan():
    x = np.array([[np.inf, 1.0], [np.inf, -np.inf], [np.nan, 2.0]], np.float32)
    np.testing.assert_array_equal(to_np(ops.sum(x, axis=1)), [np.inf, np.nan, np.nan])
    np.testing.assert_array_equal(to_np(ops.mean(x, axis=1)), [np.inf, np.nan, np.nan])


def test_empty_reductions():
    x = np.zeros((0, 3), np.float32)
    np.testing.assert_array_equal(to_np(ops.sum(x, axis=0)), [0, 0, 0])
    assert to_np(ops.sum(x, axis=1)).shape == (0,)
    assert float(ops.sum(x)) == 0.0
    assert np.isnan(to_np(ops.mean(x, axis=0))).all()
    assert to_np(ops.max(x, axis=1)).shape == (0,)  # nothing is reduced over an empty axis
    with pytest.raises(ValueError, match="max"):
        ops.max(x, axis=0)
    with pytest.raises(ValueError, match="min"):
        ops.min(x)


@pytest.mark.parametrize("name", ["max", "min"])
@given(xa=array_and_axis(float_arrays(min_side=1)), initial=floats32(-10, 10))
def test_max_min_initial(name, xa, initial):
    x, axis = xa
    op, ref = REDUCE[name]
    expected = ref(x, axis=_np_axis(axis), initial=np.float32(initial))
    np.testing.assert_array_equal(to_np(op(T(x), axis=axis, initial=initial)), expected)


def test_max_min_initial_on_empty_reduction():
    x = np.zeros((2, 0), np.float32)
    np.testing.assert_array_equal(to_np(ops.max(x, axis=1, initial=5.0)), np.max(x, axis=1, initial=5.0))
    np.testing.assert_array_equal(to_np(ops.min(x, initial=-1.0)), np.min(x, initial=-1.0))


@pytest.mark.parametrize("name", ["sum", "max", "min"])
@given(xa=array_and_axis(int_arrays(min_value=-1000, max_value=1000, min_side=1)), keepdims=st.booleans())
def test_int_reductions_keep_int32_and_are_exact(name, xa, keepdims):
    x, axis = xa
    op, ref = REDUCE[name]
    out = op(T(x), axis=axis, keepdims=keepdims)
    assert out.dtype == "int32"
    np.testing.assert_array_equal(to_np(out), ref(x, axis=_np_axis(axis), keepdims=keepdims))


@given(xa=array_and_axis(int_arrays(min_value=-1000, max_value=1000, min_side=1)))
def test_int_mean_gives_float32(xa):
    x, axis = xa
    out = ops.mean(T(x), axis=axis)
    assert out.dtype == "float32"
    assert_close(out, np.mean(x.astype(F64), axis=_np_axis(axis)), rtol=1e-6, atol=1e-6)


def test_bool_sum_counts_in_int32():
    x = np.array([[True, False, True], [True, True, True]])
    out = ops.sum(x, axis=1)
    assert out.dtype == "int32"
    np.testing.assert_array_equal(to_np(out), [2, 3])
    assert int(ops.sum(x)) == 5


def test_int64_sum_beyond_int32_range():
    x = np.array([2**40, 2**40, 5], np.int64)
    out = ops.sum(x)
    assert out.dtype == "int64"
    assert int(out) == 2**41 + 5


def test_reduce_accepts_list_axis_and_negative_axes():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    np.testing.assert_array_equal(to_np(ops.sum(x, axis=[0, -1])), np.sum(x, axis=(0, 2)))
    np.testing.assert_array_equal(to_np(ops.max(x, axis=(-2,), keepdims=True)), np.max(x, axis=1, keepdims=True))


# ---------------------------------------------------------------------------------------------
# argmax / argmin

TIES = st.sampled_from([0.0, 1.0, -1.0, 2.0]).map(np.float32)


@pytest.mark.parametrize("largest", [True, False])
@given(xa=array_and_axis(float_arrays(elements=TIES, min_side=1), allow_tuple=False), keepdims=st.booleans())
def test_argmax_argmin_first_occurrence_matches_numpy(largest, xa, keepdims):
    x, axis = xa
    if axis is None:
        keepdims = False  # see test_argmax_axis_none_keepdims_keeps_rank
    op, ref = (ops.argmax, np.argmax) if largest else (ops.argmin, np.argmin)
    out = op(T(x), axis=axis, keepdims=keepdims)
    assert out.dtype == "int32"
    expected = ref(x, axis=axis, keepdims=keepdims)
    assert to_np(out).shape == np.shape(expected)
    np.testing.assert_array_equal(to_np(out), expected)


@pytest.mark.parametrize("largest", [True, False])
@given(xa=array_and_axis(int_arrays(min_value=-2, max_value=2, min_side=1), allow_tuple=False, allow_none=False))
def test_argmax_argmin_on_integers(largest, xa):
    x, axis = xa
    op, ref = (ops.argmax, np.argmax) if largest else (ops.argmin, np.argmin)
    np.testing.assert_array_equal(to_np(op(x, axis=axis)), ref(x, axis=axis))


def test_argmax_argmin_nan_counts_as_extreme():
    x = np.array([[1.0, np.nan, 5.0, np.nan], [3.0, 2.0, 1.0, 0.0]], np.float32)
    np.testing.assert_array_equal(to_np(ops.argmax(x, axis=1)), np.argmax(x, axis=1))  # [1, 0]
    np.testing.assert_array_equal(to_np(ops.argmin(x, axis=1)), np.argmin(x, axis=1))  # [1, 3]
    assert int(ops.argmax(x)) == 1


@pytest.mark.parametrize("largest", [True, False])
def test_argmax_axis_none_keepdims_keeps_rank(largest):
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    op, ref = (ops.argmax, np.argmax) if largest else (ops.argmin, np.argmin)
    out = op(x, axis=None, keepdims=True)
    expected = ref(x, axis=None, keepdims=True)
    assert to_np(out).shape == expected.shape  # (1, 1)
    np.testing.assert_array_equal(to_np(out), expected)


def test_argmax_errors():
    with pytest.raises(ValueError, match="argmax"):
        ops.argmax(np.zeros((2, 0), np.float32), axis=1)
    with pytest.raises(ValueError, match="argmin"):
        ops.argmin(np.zeros((2, 3), np.float32), axis=2)


# ---------------------------------------------------------------------------------------------
# Gradients


def _bcast_back(w, x, axis, keepdims):
    """`w` (the output cotangent) broadcast back to `x`'s shape."""
    axes = normalize_axes(axis, x.ndim)
    if not keepdims:
        w = np.expand_dims(w, axes) if axes else w
    return np.broadcast_to(w, x.shape).astype(F64)


@given(xa=array_and_axis(float_arrays(max_side=4)), keepdims=st.booleans())
def test_sum_grad_broadcasts_cotangent(xa, keepdims):
    x, axis = xa
    assert_grad_matches(lambda t: ops.sum(t, axis=axis, keepdims=keepdims), x,
                        expected=lambda x, w: [_bcast_back(w, x, axis, keepdims)], rtol=0, atol=0)


@given(xa=array_and_axis(float_arrays(max_side=4)), keepdims=st.booleans())
def test_mean_grad_divides_by_count(xa, keepdims):
    x, axis = xa
    count = int(np.prod([x.shape[a] for a in normalize_axes(axis, x.ndim)]))
    assert_grad_matches(lambda t: ops.mean(t, axis=axis, keepdims=keepdims), x,
                        expected=lambda x, w: [_bcast_back(w, x, axis, keepdims) / max(count, 1)],
                        rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["sum", "mean"])
@given(xa=array_and_axis(float_arrays(max_side=3, max_dims=3)))
def test_sum_mean_grad_finite_differences(name, xa):
    x, axis = xa
    assert_grad_matches(lambda t: REDUCE[name][0](t, axis=axis), x)


@pytest.mark.parametrize("name", ["max", "min"])
@given(xa=array_and_axis(float_arrays(elements=TIES, min_side=1, max_side=4)), keepdims=st.booleans())
def test_max_min_grad_ties_share_gradient_evenly(name, xa, keepdims):
    x, axis = xa
    op, ref = REDUCE[name]

    def expected(x, w):
        m = ref(x, axis=_np_axis(axis), keepdims=True)
        hit = (x == m).astype(F64)
        count = np.sum(hit, axis=_np_axis(axis), keepdims=True)
        return [hit * _bcast_back(w, x, axis, keepdims) / count]

    assert_grad_matches(lambda t: op(t, axis=axis, keepdims=keepdims), x, expected=expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["max", "min"])
@given(xa=array_and_axis(float_arrays(min_side=1, max_side=3, max_dims=3)))
def test_max_min_grad_finite_differences_without_ties(name, xa):
    x, axis = xa
    # replace the values by their ranks (0.1 apart): the extremum is unique, FD is meaningful
    ranks = np.argsort(np.argsort(x, axis=None, kind="stable"), kind="stable").reshape(x.shape)
    x = (ranks * 0.1 - 0.05 * x.size).astype(np.float32)
    assert_grad_matches(lambda t: REDUCE[name][0](t, axis=axis), x)


def test_max_grad_ties_named_example():
    import rskeras as keras
    x = T(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], np.float32))
    with keras.GradientTape() as tape:
        tape.watch(x)
        y = ops.max(x, axis=1)
    np.testing.assert_allclose(to_np(tape.gradient(y, x)), [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-7)


# ---------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("axis", [2, -3, (0, 5)])
def test_reduce_axis_out_of_range_raises_value_error(name, axis):
    with pytest.raises(ValueError, match=name):
        REDUCE[name][0](np.ones((2, 3), np.float32), axis=axis)


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min"])
def test_reduce_repeated_axis_raises_value_error(name):
    with pytest.raises(ValueError, match="repeated"):
        REDUCE[name][0](np.ones((2, 3), np.float32), axis=(1, -1))


def test_reduce_scalar_axis_errors_and_none_works():
    s = T(3.5)
    assert float(ops.sum(s)) == 3.5
    assert float(ops.max(s)) == 3.5
    with pytest.raises(ValueError):
        ops.sum(s, axis=0)

"""`rskeras.ops.numpy` (the `keras.ops.numpy` vocabulary): element-wise arithmetic,
comparisons and unary math (rsqrt ... arctanh, rounding, predicates, nan_to_num, floor_divide,
mod, power, arctan2, divide_no_nan and the Tensor operators), reductions (sum, mean, max, min,
prod, any, all, argmax/argmin, cumsum/cumprod), orderings (sort, argsort), matmul, shape ops
(reshape, transpose, broadcast_to, __getitem__, take, take_along_axis, expand_dims, squeeze,
concatenate, pad) and the composites built from them (swapaxes ... einsum, var/std, average,
count_nonzero). Forward values against NumPy (float64 references), broadcasting, size-0 and
size-1 dims, dtypes, NaN/Inf propagation, gradients against analytic NumPy derivatives or
finite differences, and the errors."""

from __future__ import annotations

import itertools
import math
import re
import warnings

import numpy as np
import pytest
import rskeras as keras
from hypothesis import assume, given, settings, strategies as st
from hypothesis.extra import numpy as hnp
from rskeras import _core, ops

from tests.conftest import (
    T,
    array_and_axis,
    assert_close,
    assert_exact,
    assert_grad_matches,
    broadcast_float_pair,
    broadcastable_shapes,
    float_arrays,
    floats32,
    int_arrays,
    normalize_axes,
    numeric_grad,
    random_cotangent,
    shapes,
    tape_grads,
    to_np,
    unbroadcast,
)


def shape_re(shape):
    """A regex for `shape` printed as a tuple `(2, 3)` / `(4,)` or a list `[2, 3]` / `[4]`."""
    inner = ", ".join(str(d) for d in shape)
    return r"[\(\[]" + re.escape(inner) + r",?[\)\]]"


F64 = np.float64


def same_named(*names):
    """name -> (the rskeras op, the NumPy function of the same name: the float64 reference)."""
    return {name: (getattr(ops, name), getattr(np, name)) for name in names}


ARITH = same_named("add", "subtract", "multiply", "divide", "maximum", "minimum")
COMPARE = same_named("equal", "not_equal", "less", "less_equal", "greater", "greater_equal")
LOGICAL = same_named("logical_and", "logical_or")


def ref32(f, *xs):
    """float64 reference of `f` on the (exact) float32 inputs, rounded to float32."""
    with np.errstate(all="ignore"):
        return np.asarray(f(*[np.asarray(x, F64) for x in xs])).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Binary arithmetic: forward


@pytest.mark.parametrize("name", sorted(ARITH))
@given(pair=broadcast_float_pair())
def test_binary_arith_forward_matches_numpy_with_broadcasting(name, pair, device):
    op, ref = ARITH[name]
    a, b = pair
    out = op(T(a), T(b))
    # Correctly rounded float32 arithmetic: within half an ulp of the float64 result.
    assert_close(out, ref32(ref, a, b), rtol=2e-7, atol=0, dtype="float32")


@pytest.mark.parametrize("name", sorted(ARITH))
@given(pair=broadcast_float_pair(max_dims=2))
def test_binary_arith_accepts_numpy_and_operators(name, pair):
    op, ref = ARITH[name]
    a, b = pair
    # ndarray arguments straight into the op, and (for + - * /) the Python operators.
    assert_close(op(a, b), ref32(ref, a, b), rtol=2e-7, atol=0)
    symbol = {"add": "__add__", "subtract": "__sub__", "multiply": "__mul__", "divide": "__truediv__"}
    if name in symbol:
        assert_close(getattr(T(a), symbol[name])(T(b)), ref32(ref, a, b), rtol=2e-7, atol=0)
        # reflected form: ndarray (op) tensor goes through Tensor.__rxxx__
        reflected = {"add": a + T(b), "subtract": a - T(b), "multiply": a * T(b), "divide": a / T(b)}[name]
        assert isinstance(reflected, keras.Tensor)
        assert_close(reflected, ref32(ref, a, b), rtol=2e-7, atol=0)


SPECIALS = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -2.5, 3e38], np.float32)


@pytest.mark.parametrize("name", sorted(ARITH))
def test_binary_arith_nan_inf_propagation(name):
    op, ref = ARITH[name]
    a, b = (np.array(p, np.float32) for p in zip(*itertools.product(SPECIALS, SPECIALS)))
    with np.errstate(all="ignore"):
        expected = ref(a, b)  # float32 NumPy: NaN propagates through maximum/minimum
    got = to_np(op(a, b))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_array_equal(got[~np.isnan(got)], expected[~np.isnan(expected)])


@pytest.mark.parametrize("name", sorted(ARITH))
@pytest.mark.parametrize("sa,sb", [((300, 1, 70), (1, 400, 70)), ((300, 400, 1), (400, 70)), ((70_000,), ()),
                                   ((), (70_001,)), ((257, 300), (257, 300))])
def test_binary_arith_large_broadcast_parallel_paths(name, sa, sb):
    rng = np.random.default_rng(len(sa) * 10 + len(sb))
    a = rng.uniform(-2, 2, sa).astype(np.float32)
    b = rng.uniform(0.5, 2, sb).astype(np.float32)
    op, ref = ARITH[name]
    got = to_np(op(a, b))
    np.testing.assert_array_equal(got, ref(a, b))  # float32 NumPy: bit-identical element-wise results


def test_maximum_minimum_nan_in_either_operand_gives_nan():
    a = np.array([np.nan, 1.0, np.nan], np.float32)
    b = np.array([1.0, np.nan, np.nan], np.float32)
    assert np.isnan(to_np(ops.maximum(a, b))).all()
    assert np.isnan(to_np(ops.minimum(a, b))).all()


@pytest.mark.parametrize("name", ["add", "subtract", "multiply", "maximum", "minimum"])
@given(data=st.data())
def test_binary_int32_stays_int32(name, data, device):
    op, ref = ARITH[name]
    bs = data.draw(broadcastable_shapes(2, max_dims=3))
    a = data.draw(int_arrays(bs.input_shapes[0], -1000, 1000))
    b = data.draw(int_arrays(bs.input_shapes[1], -1000, 1000))
    out = op(T(a), T(b))
    assert out.dtype == "int32"
    np.testing.assert_array_equal(to_np(out), ref(a, b))


@given(data=st.data())
def test_int_divide_gives_float32(data, device):
    bs = data.draw(broadcastable_shapes(2, max_dims=3))
    a = data.draw(int_arrays(bs.input_shapes[0], -1000, 1000))
    b = data.draw(int_arrays(bs.input_shapes[1], 1, 1000))
    out = ops.divide(T(a), T(b))
    assert out.dtype == "float32"
    assert_close(out, ref32(np.divide, a, b), rtol=2e-7, atol=0)


def test_int64_arithmetic_is_exact_beyond_float32_precision(device):
    a = np.array([2**40 + 1, -(2**50) + 3], np.int64)
    b = np.array([2**40, 7], np.int64)
    out = ops.add(T(a), T(b))
    assert out.dtype == "int64"
    np.testing.assert_array_equal(to_np(out), a + b)
    np.testing.assert_array_equal(to_np(ops.subtract(a, b)), a - b)


def test_mixed_dtype_promotion_int32_int64_float32(device):
    i32 = T(np.array([1, 2], np.int32))
    i64 = T(np.array([3, 4], np.int64))
    f32 = T(np.array([0.5, 0.25], np.float32))
    assert ops.add(i32, i64).dtype == "int64"
    assert ops.add(i64, f32).dtype == "float32"
    np.testing.assert_array_equal(to_np(ops.multiply(i32, f32)), [0.5, 0.5])


def test_bool_arithmetic_counts_in_int32(device):
    b = T(np.array([True, True, False]))
    out = ops.add(b, b)
    assert out.dtype == "int32"
    np.testing.assert_array_equal(to_np(out), [2, 2, 0])
    m = ops.maximum(b, T(np.array([False, True, True])))
    assert m.dtype == "bool"
    np.testing.assert_array_equal(to_np(m), [True, True, True])


# ---------------------------------------------------------------------------------------------
# Comparisons and logic


@pytest.mark.parametrize("name", sorted(COMPARE))
@given(pair=broadcast_float_pair(elements=st.sampled_from([-1.5, 0.0, 2.0, np.nan, np.inf]).map(np.float32)))
def test_comparisons_match_numpy_including_nan(name, pair, device):
    op, ref = COMPARE[name]
    a, b = pair
    out = op(T(a), T(b))
    assert out.dtype == "bool"
    np.testing.assert_array_equal(to_np(out), ref(a, b))


@pytest.mark.parametrize("name", sorted(COMPARE))
@given(data=st.data())
def test_comparisons_int_and_bool(name, data, device):
    op, ref = COMPARE[name]
    bs = data.draw(broadcastable_shapes(2, max_dims=3))
    a = data.draw(int_arrays(bs.input_shapes[0], -3, 3))
    b = data.draw(int_arrays(bs.input_shapes[1], -3, 3, dtype=np.int64))
    np.testing.assert_array_equal(to_np(op(T(a), T(b))), ref(a, b))
    pa, pb = a > 0, b > 0
    np.testing.assert_array_equal(to_np(op(T(pa), T(pb))), ref(pa, pb))


@pytest.mark.parametrize("name", sorted(COMPARE))
def test_comparison_operators_on_tensors(name, device):
    a = np.array([1.0, 2.0, 3.0], np.float32)
    b = np.array([3.0, 2.0, 1.0], np.float32)
    op = {"equal": "__eq__", "not_equal": "__ne__", "less": "__lt__", "less_equal": "__le__",
          "greater": "__gt__", "greater_equal": "__ge__"}[name]
    out = getattr(T(a), op)(T(b))
    assert out.dtype == "bool"
    np.testing.assert_array_equal(to_np(out), COMPARE[name][1](a, b))
    # against a Python scalar
    np.testing.assert_array_equal(to_np(getattr(T(a), op)(2)), COMPARE[name][1](a, 2))


@pytest.mark.parametrize("name", sorted(LOGICAL))
@given(data=st.data())
def test_logical_binary_ops(name, data, device):
    op, ref = LOGICAL[name]
    bs = data.draw(broadcastable_shapes(2))
    a = data.draw(hnp.arrays(np.bool_, bs.input_shapes[0]))
    b = data.draw(hnp.arrays(np.bool_, bs.input_shapes[1]))
    out = op(T(a), T(b))
    assert out.dtype == "bool"
    np.testing.assert_array_equal(to_np(out), ref(a, b))
    # numeric inputs are truthy where non-zero
    fa = a.astype(np.float32) * 3.5
    np.testing.assert_array_equal(to_np(op(T(fa), T(b))), ref(fa, b))


@given(x=float_arrays(elements=st.sampled_from([0.0, -0.0, 1.0, np.nan]).map(np.float32)))
def test_logical_not(x, device):
    out = ops.logical_not(T(x))
    assert out.dtype == "bool"
    np.testing.assert_array_equal(to_np(out), np.logical_not(x))


# ---------------------------------------------------------------------------------------------
# Unary ops: forward

# name -> (op, float64 reference, elements strategy, rtol, atol)
UNARY = {
    "negative": (ops.negative, np.negative, floats32(-1e6, 1e6), 0, 0),
    "abs": (ops.abs, np.abs, floats32(-1e6, 1e6), 0, 0),
    "sign": (ops.sign, np.sign, floats32(-1e6, 1e6), 0, 0),
    "square": (ops.square, np.square, floats32(-1e4, 1e4), 2e-7, 0),
    "sqrt": (ops.sqrt, np.sqrt, floats32(0, 1e6), 2e-7, 0),
    "exp": (ops.exp, np.exp, floats32(-100, 100), 2e-6, 0),
    "log": (ops.log, np.log, floats32(0, 1e6), 2e-6, 1e-7),
    "tanh": (ops.tanh, np.tanh, floats32(-20, 20), 2e-6, 1e-7),
    "relu": (ops.relu, lambda x: np.maximum(x, 0), floats32(-1e6, 1e6), 0, 0),
    "sigmoid": (ops.sigmoid, lambda x: 1 / (1 + np.exp(-x)), floats32(-100, 100), 2e-6, 1e-37),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary_forward_matches_numpy(name, data, device):
    op, ref, elements, rtol, atol = UNARY[name]
    x = data.draw(float_arrays(elements=elements))
    out = op(T(x))
    assert out.dtype == "float32"
    assert_close(out, ref32(ref, x), rtol=rtol, atol=atol)


UNARY_SPECIAL_INPUTS = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, -1.0, 1.0], np.float32)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_nan_inf_propagation(name, device):
    """exp(inf)=inf, exp(-inf)=0, log(0)=-inf, log(-1)=nan, sqrt(-1)=nan, tanh(inf)=1,
    sigmoid(+-inf)=1/0, relu(nan)=nan, ... exactly as NumPy."""
    op, ref, *_ = UNARY[name]
    with np.errstate(all="ignore"):
        expected = ref(UNARY_SPECIAL_INPUTS.astype(F64)).astype(np.float32)
    got = to_np(op(T(UNARY_SPECIAL_INPUTS)))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected), err_msg=f"{got} vs {expected}")
    ok = ~np.isnan(expected)
    np.testing.assert_allclose(got[ok], expected[ok], rtol=1e-6)


def test_exp_of_inf_is_inf_and_large_overflows_to_inf():
    got = to_np(ops.exp(np.array([np.inf, 100.0, -np.inf, -200.0], np.float32)))
    np.testing.assert_array_equal(got, [np.inf, np.inf, 0.0, 0.0])


def test_sigmoid_does_not_overflow_for_large_negative_inputs():
    x = np.array([-1000.0, -88.0, 88.0, 1000.0], np.float32)
    got = to_np(ops.sigmoid(x))
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, ref32(lambda v: 1 / (1 + np.exp(-v)), x), rtol=1e-5, atol=1e-38)


@pytest.mark.parametrize("name", ["negative", "abs", "sign", "square"])
@given(x=int_arrays(min_value=-1000, max_value=1000))
def test_integer_preserving_unary_ops(name, x, device):
    op, ref, *_ = UNARY[name]
    out = op(T(x))
    assert out.dtype == "int32"
    np.testing.assert_array_equal(to_np(out), ref(x))


@pytest.mark.parametrize("name", ["sqrt", "exp", "log", "tanh", "sigmoid"])
@given(x=int_arrays(min_value=1, max_value=50))
def test_float_unary_ops_on_integers_compute_in_float32(name, x, device):
    op, ref, *_ = UNARY[name]
    out = op(T(x))
    assert out.dtype == "float32"
    assert_close(out, ref32(ref, x), rtol=2e-6, atol=1e-7)


def test_negative_operator_and_abs_builtin(device):
    x = np.array([[1.5, -2.0], [0.0, 3.0]], np.float32)
    np.testing.assert_array_equal(to_np(-T(x)), -x)
    np.testing.assert_array_equal(to_np(abs(T(x))), np.abs(x))


# ---------------------------------------------------------------------------------------------
# where and clip: forward


@given(data=st.data())
def test_where_three_way_broadcast(data, device):
    bs = data.draw(broadcastable_shapes(3))
    c = data.draw(hnp.arrays(np.bool_, bs.input_shapes[0]))
    x1 = data.draw(float_arrays(bs.input_shapes[1]))
    x2 = data.draw(float_arrays(bs.input_shapes[2]))
    out = ops.where(T(c), T(x1), T(x2))
    assert out.dtype == "float32"
    np.testing.assert_array_equal(to_np(out), np.where(c, x1, x2))


def test_where_scalars_and_numeric_condition():
    c = np.array([[1.0, 0.0, -2.0]], np.float32)  # non-zero is true
    np.testing.assert_array_equal(to_np(ops.where(c, 1.5, -1.5)), np.where(c, 1.5, -1.5))
    out = ops.where(np.array([True, False]), T(np.array([1, 2], np.int32)), T(np.array([3, 4], np.int32)))
    assert out.dtype == "int32"
    np.testing.assert_array_equal(to_np(out), [1, 4])


def test_where_requires_both_branches():
    with pytest.raises(ValueError, match="where"):
        ops.where(np.array([True]), np.array([1.0], np.float32))


@given(x=float_arrays(), bounds=st.tuples(floats32(-5, 5), floats32(-5, 5)).map(sorted))
def test_clip_matches_numpy(x, bounds, device):
    lo, hi = bounds
    out = ops.clip(T(x), lo, hi)
    assert out.dtype == "float32"
    np.testing.assert_array_equal(to_np(out), np.clip(x, np.float32(lo), np.float32(hi)))


def test_clip_propagates_nan_and_clamps_inf():
    got = to_np(ops.clip(np.array([np.nan, np.inf, -np.inf, 0.5], np.float32), 0.0, 1.0))
    assert np.isnan(got[0])
    np.testing.assert_array_equal(got[1:], [1.0, 0.0, 0.5])


# ---------------------------------------------------------------------------------------------
# Gradients: binary


def _away_from_zero(lo):
    return floats32(-4, 4).filter(lambda v: abs(v) >= lo)


BINARY_GRAD_REFS = {
    "add": lambda a, b, w: (w, w),
    "subtract": lambda a, b, w: (w, -w),
    "multiply": lambda a, b, w: (w * b, w * a),
    "divide": lambda a, b, w: (w / b, -w * a / b**2),
    # ties: the whole gradient goes to the first operand
    "maximum": lambda a, b, w: (w * (a >= b), w * (a < b)),
    "minimum": lambda a, b, w: (w * (a <= b), w * (a > b)),
}


@pytest.mark.parametrize("name", sorted(BINARY_GRAD_REFS))
@given(pair=broadcast_float_pair(max_side=3, elements=_away_from_zero(0.5)))
def test_binary_grad_matches_analytic_with_broadcasting(name, pair, device):
    op = ARITH[name][0]
    a, b = pair

    def expected(a, b, w):
        A, B = np.broadcast_arrays(a.astype(F64), b.astype(F64))
        ga, gb = BINARY_GRAD_REFS[name](A, B, w)
        return unbroadcast(ga, a.shape), unbroadcast(gb, b.shape)

    assert_grad_matches(op, a, b, expected=expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["add", "subtract", "multiply", "divide"])
@given(pair=broadcast_float_pair(max_side=3, max_dims=3, elements=_away_from_zero(0.5)))
def test_binary_grad_matches_finite_differences(name, pair, device):
    assert_grad_matches(ARITH[name][0], *pair)


@given(data=st.data())
def test_maximum_minimum_grad_finite_differences_away_from_ties(data, device):
    # a lies on the grid 0.25 k + 0.1 and b on 0.25 k, so |a - b| >= 0.1 > eps: no ties.
    bs = data.draw(broadcastable_shapes(2, max_dims=3, max_side=3))
    a = data.draw(float_arrays(bs.input_shapes[0], elements=st.integers(-12, 12).map(lambda k: k * 0.25 + 0.1)))
    b = data.draw(float_arrays(bs.input_shapes[1], elements=st.integers(-12, 12).map(lambda k: k * 0.25)))
    assert_grad_matches(ops.maximum, a, b)
    assert_grad_matches(ops.minimum, a, b)
    assert_grad_matches(ops.maximum, b, a)


def test_maximum_grad_ties_go_to_first_operand():
    a = np.array([1.0, 2.0, 3.0], np.float32)
    b = np.array([1.0, 5.0, 3.0], np.float32)
    _, (ga, gb) = _grads(ops.maximum, a, b)
    np.testing.assert_array_equal(ga, [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(gb, [0.0, 1.0, 0.0])


def test_minimum_grad_ties_go_to_first_operand():
    a = np.array([1.0, 2.0, 3.0], np.float32)
    b = np.array([1.0, 0.0, 3.0], np.float32)
    _, (ga, gb) = _grads(ops.minimum, a, b)
    np.testing.assert_array_equal(ga, [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(gb, [0.0, 1.0, 0.0])


def test_maximum_grad_ties_with_broadcast_scalar_second_operand():
    a = np.array([0.0, 1.0, 0.0, -1.0], np.float32)
    b = np.array(0.0, np.float32)
    _, (ga, gb) = _grads(ops.maximum, a, b)
    np.testing.assert_array_equal(ga, [1.0, 1.0, 1.0, 0.0])
    np.testing.assert_array_equal(gb, 1.0)


def test_binary_grad_with_python_scalar_operand(device):
    x = T(np.array([1.0, -2.0], np.float32))
    with keras.GradientTape() as tape:
        tape.watch(x)
        y = 3.0 * x - 1 + x / 2.0
    np.testing.assert_allclose(to_np(tape.gradient(y, x)), [3.5, 3.5])


def _grads(op, *inputs):
    ts = [T(a) for a in inputs]
    with keras.GradientTape() as tape:
        tape.watch(ts)
        y = op(*ts)
    return to_np(y), [to_np(g) for g in tape.gradient(y, ts)]


# ---------------------------------------------------------------------------------------------
# Gradients: unary

# name -> (analytic derivative in float64, elements strategy for the input)
UNARY_DERIVS = {
    "negative": (lambda x: -np.ones_like(x), floats32(-5, 5)),
    "abs": (np.sign, _away_from_zero(0.01)),
    "square": (lambda x: 2 * x, floats32(-5, 5)),
    "sqrt": (lambda x: 0.5 / np.sqrt(x), floats32(0.1, 10)),
    "exp": (np.exp, floats32(-5, 5)),
    "log": (lambda x: 1 / x, floats32(0.1, 10)),
    "tanh": (lambda x: 1 - np.tanh(x) ** 2, floats32(-4, 4)),
    "relu": (lambda x: (x > 0).astype(F64), _away_from_zero(0.01)),
    "sigmoid": (lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2, floats32(-6, 6)),
}


@pytest.mark.parametrize("name", sorted(UNARY_DERIVS))
@given(data=st.data())
def test_unary_grad_matches_analytic(name, data, device):
    deriv, elements = UNARY_DERIVS[name]
    x = data.draw(float_arrays(elements=elements, max_side=4))
    assert_grad_matches(UNARY[name][0], x, expected=lambda x, w: [w * deriv(x.astype(F64))], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(UNARY_DERIVS))
@given(data=st.data())
def test_unary_grad_matches_finite_differences(name, data, device):
    _, elements = UNARY_DERIVS[name]
    x = data.draw(float_arrays(elements=elements, max_side=3, max_dims=3))
    assert_grad_matches(UNARY[name][0], x)


def test_relu_grad_at_exactly_zero_is_zero():
    _, (g,) = _grads(ops.relu, np.array([-1.0, 0.0, -0.0, 1e-30, 2.0], np.float32))
    np.testing.assert_array_equal(g, [0.0, 0.0, 0.0, 1.0, 1.0])


def test_abs_grad_at_exactly_zero_is_zero():
    _, (g,) = _grads(ops.abs, np.array([-3.0, 0.0, 3.0], np.float32))
    np.testing.assert_array_equal(g, [-1.0, 0.0, 1.0])


def test_sign_has_zero_or_no_gradient(device):
    x = T(np.array([-1.0, 2.0], np.float32))
    with keras.GradientTape() as tape:
        tape.watch(x)
        y = ops.sign(x) * 1.0
    g = tape.gradient(y, x)
    assert g is None or np.array_equal(to_np(g), [0.0, 0.0])


# ---------------------------------------------------------------------------------------------
# Gradients: where and clip


@given(data=st.data())
def test_where_grad_routes_by_condition_with_broadcasting(data, device):
    bs = data.draw(broadcastable_shapes(3, max_side=3))
    c = data.draw(hnp.arrays(np.bool_, bs.input_shapes[0]))
    x1 = data.draw(float_arrays(bs.input_shapes[1]))
    x2 = data.draw(float_arrays(bs.input_shapes[2]))

    def expected(x1, x2, w):
        C = np.broadcast_to(c, w.shape)
        return unbroadcast(np.where(C, w, 0), x1.shape), unbroadcast(np.where(C, 0, w), x2.shape)

    assert_grad_matches(lambda a, b: ops.where(c, a, b), x1, x2, expected=expected, rtol=1e-6, atol=1e-6)


@given(x=float_arrays(max_side=4), bounds=st.tuples(floats32(-5, 5), floats32(-5, 5)).map(sorted))
def test_clip_grad_is_one_inside_inclusive_range_zero_outside(x, bounds, device):
    lo, hi = np.float32(bounds[0]), np.float32(bounds[1])
    inside = (x >= lo) & (x <= hi)
    assert_grad_matches(lambda t: ops.clip(t, lo, hi), x, expected=lambda x, w: [w * inside], rtol=0, atol=0)


def test_clip_grad_at_bounds_is_one():
    _, (g,) = _grads(lambda t: ops.clip(t, 0.0, 1.0), np.array([-0.5, 0.0, 0.5, 1.0, 1.5], np.float32))
    np.testing.assert_array_equal(g, [0.0, 1.0, 1.0, 1.0, 0.0])


@given(x=float_arrays(max_side=3, max_dims=3, elements=floats32(-3, 3).filter(lambda v: abs(abs(v) - 1) > 0.01)))
def test_clip_grad_finite_differences_away_from_bounds(x, device):
    assert_grad_matches(lambda t: ops.clip(t, -1.0, 1.0), x)


# ---------------------------------------------------------------------------------------------
# Errors


ALL_BINARY = {**ARITH, **COMPARE, **LOGICAL}


@pytest.mark.parametrize("name", sorted(ALL_BINARY))
@pytest.mark.parametrize("sa,sb", [((2, 3), (4,)), ((3, 1, 2), (3, 5, 3)), ((0,), (2,))])
def test_broadcast_mismatch_raises_value_error_naming_op_and_shapes(name, sa, sb):
    op = ALL_BINARY[name][0]
    a, b = np.ones(sa, np.float32), np.ones(sb, np.float32)
    with pytest.raises(ValueError) as e:
        op(T(a), T(b))
    msg = str(e.value)
    assert name in msg
    assert re.search(shape_re(sa), msg) and re.search(shape_re(sb), msg), msg


def test_operator_broadcast_mismatch_raises_value_error():
    with pytest.raises(ValueError, match="add"):
        T(np.ones((2, 3), np.float32)) + T(np.ones((3, 2), np.float32))


def test_where_broadcast_mismatch_raises_value_error():
    with pytest.raises(ValueError, match="where"):
        ops.where(np.ones((2,), bool), np.ones((3,), np.float32), np.ones((2,), np.float32))


def test_unary_rejects_strings():
    with pytest.raises(TypeError):
        ops.exp("abc")

def away_from_zero(lo, hi):
    """float32 elements with `lo <= |v| <= hi`, both signs."""
    return st.one_of(floats32(-hi, -lo), floats32(lo, hi))


_erf64 = np.vectorize(math.erf, otypes=[F64])


# name -> (op, float64 NumPy reference, forward elements, gradient elements).
# Forward domains span the valid inputs; gradient domains keep central differences (float32,
# step 1e-3) well conditioned: away from poles, branch points and domain edges.
UNARY_MATH = {
    "rsqrt": (ops.rsqrt, lambda x: 1.0 / np.sqrt(x), floats32(1e-3, 1e3), floats32(0.5, 5)),
    "reciprocal": (ops.reciprocal, lambda x: 1.0 / x, away_from_zero(1e-3, 1e3), away_from_zero(0.5, 5)),
    "expm1": (ops.expm1, np.expm1, floats32(-20, 20), floats32(-3, 3)),
    "log1p": (ops.log1p, np.log1p, floats32(-0.999, 1e3), floats32(-0.5, 5)),
    "log2": (ops.log2, np.log2, floats32(1e-3, 1e3), floats32(0.5, 10)),
    "log10": (ops.log10, np.log10, floats32(1e-3, 1e3), floats32(0.5, 10)),
    "sin": (ops.sin, np.sin, floats32(-10, 10), floats32(-5, 5)),
    "cos": (ops.cos, np.cos, floats32(-10, 10), floats32(-5, 5)),
    "tan": (ops.tan, np.tan, floats32(-1.5, 1.5), floats32(-1.2, 1.2)),
    "arcsin": (ops.arcsin, np.arcsin, floats32(-1, 1), floats32(-0.8, 0.8)),
    "arccos": (ops.arccos, np.arccos, floats32(-1, 1), floats32(-0.8, 0.8)),
    "arctan": (ops.arctan, np.arctan, floats32(-100, 100), floats32(-5, 5)),
    "sinh": (ops.sinh, np.sinh, floats32(-20, 20), floats32(-3, 3)),
    "cosh": (ops.cosh, np.cosh, floats32(-20, 20), floats32(-3, 3)),
    "arcsinh": (ops.arcsinh, np.arcsinh, floats32(-100, 100), floats32(-5, 5)),
    # accuracy just above 1 is checked by test_arccosh_accurate_just_above_one
    "arccosh": (ops.arccosh, np.arccosh, floats32(1.01, 1e3), floats32(1.5, 10)),
    "arctanh": (ops.arctanh, np.arctanh, floats32(-0.999, 0.999), floats32(-0.8, 0.8)),
    "erf": (ops.erf, _erf64, floats32(-6, 6), floats32(-3, 3)),
    "softplus": (ops.softplus, lambda x: np.logaddexp(0.0, x), floats32(-60, 60), floats32(-5, 5)),
}


# erf is computed in float64 and rounded; the others are float32 functions.
# accuracy of arctanh near -1 is checked by test_arctanh_is_odd_and_accurate_near_minus_one.
TOL = {"erf": {"rtol": 1e-6, "atol": 3e-7}, "arctanh": {"rtol": 2e-5, "atol": 1e-37}}


DEFAULT_TOL = {"rtol": 3e-6, "atol": 1e-37}
ROUNDING = same_named("floor", "ceil", "round")
PREDICATES = same_named("isnan", "isinf", "isfinite")


# ---------------------------------------------------------------------------------------------
# Unary math: forward


@pytest.mark.parametrize("name", sorted(UNARY_MATH))
@given(data=st.data())
def test_unary_math_forward_matches_numpy(name, data, device):
    op, ref, elements, _ = UNARY_MATH[name]
    x = data.draw(float_arrays(elements=elements))
    out = op(T(x))
    assert_close(out, ref32(ref, x), dtype="float32", **TOL.get(name, DEFAULT_TOL))


SPECIALS_MATH = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 100.0, -100.0,
                     1e-30, -1e-30, 3e38, -3e38], np.float32)


@pytest.mark.parametrize("name", sorted(UNARY_MATH))
def test_unary_nan_inf_and_domain_edges_match_numpy(name, device):
    op, ref, _, _ = UNARY_MATH[name]
    x = SPECIALS_MATH
    if name in ("arcsinh", "arccosh"):  # huge inputs: test_inverse_hyperbolic_stay_finite_for_huge_finite_inputs
        x = x[~(np.abs(x) > 1e38) | np.isinf(x)]
    got = to_np(op(T(x)))
    expected = ref32(ref, x)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected), err_msg=f"{name}: NaN positions")
    np.testing.assert_array_equal(np.isinf(got), np.isinf(expected), err_msg=f"{name}: inf positions")
    np.testing.assert_allclose(got.astype(F64), expected.astype(F64), equal_nan=True, err_msg=name,
                               **TOL.get(name, DEFAULT_TOL))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_arctanh_is_odd_and_accurate_near_minus_one(dtype):
    x = np.array([0.9, 0.99, 0.999, 0.9999], dtype)
    pos, neg = to_np(ops.arctanh(T(x))), to_np(ops.arctanh(T(-x)))
    np.testing.assert_array_equal(neg, -pos)
    expected = np.arctanh(-x.astype(F64)).astype(dtype)
    np.testing.assert_allclose(neg, expected, rtol=5e-7 if dtype == np.float32 else 1e-15, atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_arccosh_accurate_just_above_one(dtype):
    x = np.nextafter(np.ones(4, dtype), np.array(2, dtype))
    x = np.array([x[0], x[0] + (x[0] - 1), 1 + 1e-5, 1.001], dtype)
    expected = np.arccosh(x.astype(F64)).astype(dtype)
    np.testing.assert_allclose(to_np(ops.arccosh(T(x))), expected, rtol=2e-6 if dtype == np.float32 else 1e-14, atol=0)


@pytest.mark.parametrize("name", ["arcsinh", "arccosh"])
def test_inverse_hyperbolic_stay_finite_for_huge_finite_inputs(name, device):
    op, ref, _, _ = UNARY_MATH[name]
    x = np.float32([1e30, 1.72e38, 3e38, 3.4028235e38])
    np.testing.assert_allclose(to_np(op(T(x))), ref32(ref, x), rtol=1e-6)


def test_unary_selected_exact_values(device):
    np.testing.assert_array_equal(to_np(ops.rsqrt(T(np.float32([4.0, 0.0, -0.0])))), [0.5, np.inf, -np.inf])
    np.testing.assert_array_equal(to_np(ops.reciprocal(T(np.float32([4.0, -0.0])))), [0.25, -np.inf])
    np.testing.assert_array_equal(to_np(ops.log2(T(np.float32([8.0, 0.0, -1.0])))), [3.0, -np.inf, np.nan])
    np.testing.assert_array_equal(to_np(ops.log10(T(np.float32([1000.0, 1.0])))), [3.0, 0.0])
    np.testing.assert_array_equal(to_np(ops.erf(T(np.float32([0.0, np.inf, -np.inf, np.nan])))),
                                  [0.0, 1.0, -1.0, np.nan])
    # expm1 / log1p keep their precision near zero (exp(x) - 1 would give 0 here)
    assert to_np(ops.expm1(T(np.float32(1e-10)))) == pytest.approx(1e-10, rel=1e-6)
    assert to_np(ops.log1p(T(np.float32(1e-10)))) == pytest.approx(1e-10, rel=1e-6)
    # softplus neither overflows nor loses small values
    np.testing.assert_allclose(to_np(ops.softplus(T(np.float32([1000.0, -1000.0, -90.0])))),
                               [1000.0, 0.0, np.exp(-90.0)], rtol=1e-5, atol=0)


@pytest.mark.parametrize("name", sorted(UNARY_MATH))
def test_unary_integer_and_bool_inputs_compute_in_float32(name, device):
    op, ref, _, _ = UNARY_MATH[name]
    x = np.array([[1, 2], [3, 1]], np.int32)
    x = x if name not in ("arcsin", "arccos", "arctanh") else x // 3  # in the domain: 0 and 1
    out = op(T(x))
    assert out.dtype == "float32"
    assert_close(out, ref32(ref, x), **TOL.get(name, DEFAULT_TOL))
    b = op(T(np.array([True, False])))
    assert b.dtype == "float32"
    assert_close(b, ref32(ref, np.array([1.0, 0.0])), **TOL.get(name, DEFAULT_TOL))


# ---------------------------------------------------------------------------------------------
# Unary math: gradients


@pytest.mark.parametrize("name", sorted(UNARY_MATH))
@given(data=st.data())
def test_unary_gradient_matches_finite_differences(name, data, device):
    op, _, _, elements = UNARY_MATH[name]
    x = data.draw(float_arrays(elements=elements, max_dims=3, max_side=3))
    assert_grad_matches(op, x)


def _derivative(name, x):
    return {
        "rsqrt": lambda: -0.5 * x ** -1.5, "reciprocal": lambda: -1.0 / x ** 2, "expm1": lambda: np.exp(x),
        "log1p": lambda: 1 / (1 + x), "log2": lambda: 1 / (x * np.log(2)), "log10": lambda: 1 / (x * np.log(10)),
        "sin": lambda: np.cos(x), "cos": lambda: -np.sin(x), "tan": lambda: 1 / np.cos(x) ** 2,
        "arcsin": lambda: 1 / np.sqrt(1 - x ** 2), "arccos": lambda: -1 / np.sqrt(1 - x ** 2),
        "arctan": lambda: 1 / (1 + x ** 2), "sinh": lambda: np.cosh(x), "cosh": lambda: np.sinh(x),
        "arcsinh": lambda: 1 / np.sqrt(x ** 2 + 1), "arccosh": lambda: 1 / np.sqrt(x ** 2 - 1),
        "arctanh": lambda: 1 / (1 - x ** 2), "erf": lambda: 2 / np.sqrt(np.pi) * np.exp(-x ** 2),
        "softplus": lambda: 1 / (1 + np.exp(-x)),
    }[name]()


@pytest.mark.parametrize("name", sorted(UNARY_MATH))
def test_unary_gradient_matches_analytic_derivative(name, device):
    op = UNARY_MATH[name][0]
    # fixed points inside each gradient domain; tighter tolerance than finite differences
    lo, hi = {"rsqrt": (0.5, 5), "reciprocal": (0.5, 5), "log1p": (-0.5, 5), "log2": (0.5, 10),
              "log10": (0.5, 10), "tan": (-1.2, 1.2), "arcsin": (-0.8, 0.8), "arccos": (-0.8, 0.8),
              "arccosh": (1.5, 10), "arctanh": (-0.8, 0.8), "sinh": (-3, 3), "cosh": (-3, 3),
              "expm1": (-3, 3)}.get(name, (-4, 4))
    x = np.linspace(lo, hi, 11, dtype=np.float32).reshape(11, 1)
    if name == "reciprocal":
        x = np.concatenate([x, -x], axis=1)
    assert_grad_matches(op, x, expected=lambda x, w: [w * _derivative(name, x.astype(F64))], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(ROUNDING))
@given(x=float_arrays(min_value=-100, max_value=100, max_dims=3))
def test_rounding_gradient_is_zero(name, x, device):
    op, _ = ROUNDING[name]
    _, (g,) = tape_grads(op, [x], [0], cotangent=random_cotangent(x.shape))
    assert g is not None and g.shape == x.shape and g.dtype == np.float32
    np.testing.assert_array_equal(g, np.zeros_like(x))


def test_predicates_have_no_gradient_path(device):
    x = np.float32([1.0, np.nan, np.inf])
    for op in (ops.isnan, ops.isinf, ops.isfinite):
        _, (g,) = tape_grads(lambda t, op=op: ops.sum(ops.cast(op(t), "float32")), [x], [0])
        assert g is None or not np.any(g)


# ---------------------------------------------------------------------------------------------
# Rounding and predicates


HALVES = st.integers(-400, 400).map(lambda k: np.float32(k / 2))  # many exact .5 ties


ROUNDING_ELEMENTS = st.one_of(floats32(-1e4, 1e4), HALVES, floats32(-1e9, 1e9))


@pytest.mark.parametrize("name", sorted(ROUNDING))
@given(x=float_arrays(elements=ROUNDING_ELEMENTS))
def test_rounding_matches_numpy_exactly(name, x, device):
    op, ref = ROUNDING[name]
    out = op(T(x))
    assert out.dtype == "float32"
    assert_close(out, ref(x), rtol=0, atol=0)


def test_round_halves_to_even_and_specials(device):
    x = np.float32([0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, 0.49999997, 2.0 ** 23 + 1, np.nan, np.inf, -np.inf])
    got = to_np(ops.round(T(x)))
    np.testing.assert_array_equal(got, [0.0, 2.0, 2.0, 4.0, -0.0, -2.0, -2.0, 0.0, 2.0 ** 23 + 1, np.nan, np.inf, -np.inf])
    np.testing.assert_array_equal(np.signbit(got[4:7]), [True, True, True])  # -0.5 -> -0.0
    for op, ref in (ROUNDING["floor"], ROUNDING["ceil"]):
        np.testing.assert_array_equal(to_np(op(T(x))), ref(x))


@pytest.mark.parametrize("decimals", [1, 2, 3])
@given(x=float_arrays(min_value=-1000, max_value=1000, max_dims=2))
def test_round_with_decimals_matches_numpy(decimals, x, device):
    out = ops.round(T(x), decimals)
    assert out.dtype == "float32"
    assert_close(out, np.round(x, decimals), rtol=0, atol=0)


def test_round_negative_decimals_matches_numpy(device):
    x = np.float32([15.0, 25.0, 14.0, -35.0, 1234.0, 5.0, -5.0, 45.0, 55.0, 99.0, 150.0, 250.0])
    for decimals in (-1, -2):
        np.testing.assert_array_equal(to_np(ops.round(T(x), decimals)), np.round(x, decimals))


@pytest.mark.parametrize("name", sorted(ROUNDING))
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@given(data=st.data())
def test_rounding_integer_inputs_unchanged(name, dtype, data, device):
    op, _ = ROUNDING[name]
    x = data.draw(int_arrays(min_value=-(2 ** 30), max_value=2 ** 30, dtype=dtype))
    out = op(T(x))
    assert out.dtype == np.dtype(dtype).name
    np.testing.assert_array_equal(to_np(out), x)


def test_round_integer_with_positive_decimals_keeps_integer_dtype(device):
    x = np.array([15, -25, 16777217], np.int32)
    out = ops.round(T(x), 1)
    assert out.dtype == "int32"
    np.testing.assert_array_equal(to_np(out), x)


@pytest.mark.parametrize("name", sorted(PREDICATES))
@given(x=float_arrays(elements=floats32(allow_nan=True, allow_infinity=True)))
def test_predicates_match_numpy(name, x, device):
    op, ref = PREDICATES[name]
    out = op(T(x))
    assert out.dtype == "bool"
    assert tuple(out.shape) == x.shape
    np.testing.assert_array_equal(to_np(out), ref(x))


@pytest.mark.parametrize("name", sorted(PREDICATES))
def test_predicates_on_specials_and_integers(name):
    op, ref = PREDICATES[name]
    x = np.float32([np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 3.4e38, -1.0])
    np.testing.assert_array_equal(to_np(op(T(x))), ref(x))
    for ints in (np.array([[0, -5], [7, 2 ** 31 - 1]], np.int32), np.array([2 ** 40], np.int64), np.array([True, False])):
        out = op(T(ints))
        assert out.dtype == "bool"
        np.testing.assert_array_equal(to_np(out), ref(ints))


# ---------------------------------------------------------------------------------------------
# nan_to_num

NAN_INF = st.one_of(floats32(-100, 100), st.sampled_from([np.nan, np.inf, -np.inf]).map(np.float32))


@given(x=float_arrays(elements=NAN_INF))
def test_nan_to_num_defaults_match_numpy(x, device):
    out = ops.nan_to_num(T(x))
    assert out.dtype == "float32"
    np.testing.assert_array_equal(to_np(out), np.nan_to_num(x))


@given(x=float_arrays(elements=NAN_INF, max_dims=2), nan=floats32(-5, 5), posinf=floats32(-5, 5), neginf=floats32(-5, 5))
def test_nan_to_num_custom_values_match_numpy(x, nan, posinf, neginf, device):
    out = ops.nan_to_num(T(x), nan=nan, posinf=posinf, neginf=neginf)
    np.testing.assert_array_equal(to_np(out), np.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf))


def test_nan_to_num_integers_pass_through(device):
    x = np.array([1, -2, 3], np.int32)
    out = ops.nan_to_num(T(x), nan=9.0)
    assert out.dtype == "int32"
    np.testing.assert_array_equal(to_np(out), x)


@given(x=float_arrays(elements=NAN_INF, max_dims=2, max_side=4))
def test_nan_to_num_gradient_passes_finite_values_only(x, device):
    w = random_cotangent(x.shape)
    _, (g,) = tape_grads(ops.nan_to_num, [x], [0], cotangent=w)
    np.testing.assert_array_equal(g, np.where(np.isfinite(x), w, 0.0).astype(np.float32))


# ---------------------------------------------------------------------------------------------
# Binary ops: forward


@st.composite
def broadcast_pair(draw, elements_a, elements_b, max_dims=4, max_side=4):
    bs = draw(broadcastable_shapes(2, max_dims=max_dims, max_side=max_side))
    a = draw(float_arrays(bs.input_shapes[0], elements=elements_a))
    b = draw(float_arrays(bs.input_shapes[1], elements=elements_b))
    return a, b


@st.composite
def int_broadcast_pair(draw, lo_a, hi_a, lo_b, hi_b, dtype=np.int32, max_dims=3):
    bs = draw(broadcastable_shapes(2, max_dims=max_dims))
    a = draw(int_arrays(bs.input_shapes[0], lo_a, hi_a, dtype=dtype))
    b = draw(int_arrays(bs.input_shapes[1], lo_b, hi_b, dtype=dtype))
    return a, b


WITH_ZEROS = st.one_of(floats32(-10, 10), st.just(np.float32(0.0)), st.just(np.float32(-0.0)))


@given(pair=broadcast_pair(floats32(-100, 100), WITH_ZEROS))
def test_floor_divide_float_matches_numpy(pair, device):
    a, b = pair
    out = ops.floor_divide(T(a), T(b))
    assert out.dtype == "float32"
    got = to_np(out)
    with np.errstate(all="ignore"):
        expected = np.floor_divide(a, b)
        q = a.astype(F64) / b.astype(F64)
        near_int = np.isfinite(q) & (np.abs(q - np.round(q)) <= 1e-6 * np.maximum(1.0, np.abs(q)))
    assert got.shape == expected.shape
    # Where the float32 quotient a / b rounds onto an integer, floor(a / b) and NumPy's
    # near-integer quotients are covered by test_floor_divide_float_is_consistent_with_mod_and_numpy; compare
    # those loosely and everything else exactly.
    np.testing.assert_array_equal(got[~near_int], expected[~near_int])
    g, e = got[near_int], expected[near_int]
    with np.errstate(invalid="ignore"):
        assert np.all((g == e) | (np.abs(g - e) <= 1))


def test_floor_divide_float_specials_match_numpy(device):
    a, b = (np.array(p, np.float32) for p in zip(*itertools.product(
        [np.nan, np.inf, -np.inf, 0.0, -0.0, 7.0, -7.0], [np.nan, np.inf, -np.inf, 0.0, -0.0, 2.0, -2.0])))
    with np.errstate(all="ignore"):
        expected = np.floor_divide(a, b)
    got = to_np(ops.floor_divide(T(a), T(b)))
    finite_operands = np.isfinite(a) & np.isfinite(b)  # NumPy's inf // x conventions are not pinned here
    np.testing.assert_array_equal(got[finite_operands], expected[finite_operands])
    np.testing.assert_array_equal(to_np(ops.floor_divide(T(np.float32([7, -7, 7, -7])), T(np.float32([2, 2, -2, -2])))),
                                  [3, -4, -4, 3])


def test_floor_divide_float_is_consistent_with_mod_and_numpy(device):
    a, b = np.float32([1.0, -1.0, 3.0]), np.float32([0.1, 0.1, 0.3])
    got = to_np(ops.floor_divide(T(a), T(b)))
    np.testing.assert_array_equal(got, np.floor_divide(a, b))  # [9, -10, 9]


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@given(data=st.data())
def test_floor_divide_and_mod_integers_match_numpy_zero_divisor_gives_zero(dtype, data, device):
    big = 1000 if dtype == np.int32 else 2 ** 40
    a, b = data.draw(int_broadcast_pair(-big, big, -7, 7, dtype=dtype))
    with np.errstate(all="ignore"):
        fd, md = np.floor_divide(a, b), np.mod(a, b)
    assert np.all(fd[np.broadcast_to(b, fd.shape) == 0] == 0)  # NumPy's convention, which rskeras follows
    out = ops.floor_divide(T(a), T(b))
    assert out.dtype == np.dtype(dtype).name
    np.testing.assert_array_equal(to_np(out), fd)
    out = ops.mod(T(a), T(b))
    assert out.dtype == np.dtype(dtype).name
    np.testing.assert_array_equal(to_np(out), md)


def test_integer_floor_divide_and_mod_signs(device):
    a = np.array([7, -7, 7, -7, 0, 5, -5], np.int32)
    b = np.array([2, 2, -2, -2, 3, 0, 0], np.int32)
    np.testing.assert_array_equal(to_np(ops.floor_divide(T(a), T(b))), [3, -4, -4, 3, 0, 0, 0])
    np.testing.assert_array_equal(to_np(ops.mod(T(a), T(b))), [1, 1, -1, -1, 0, 0, 0])


@given(pair=broadcast_pair(floats32(-100, 100), WITH_ZEROS))
def test_mod_float_matches_numpy_sign_of_divisor(pair, device):
    a, b = pair
    out = ops.mod(T(a), T(b))
    assert out.dtype == "float32"
    with np.errstate(all="ignore"):
        expected = np.mod(a, b)  # float32 NumPy: fmod then a sign fix, bit-identical expected
    assert_close(out, expected, rtol=0, atol=0)
    got = to_np(out)
    nonzero = (got != 0) & ~np.isnan(got)
    bb = np.broadcast_to(b, got.shape)
    np.testing.assert_array_equal(np.sign(got[nonzero]), np.sign(bb[nonzero]))


def test_mod_float_specials_match_numpy(device):
    vals = [np.nan, np.inf, -np.inf, 0.0, -0.0, 7.5, -7.5]
    a, b = (np.array(p, np.float32) for p in zip(*itertools.product(vals, vals)))
    with np.errstate(all="ignore"):
        expected = np.mod(a, b)
    got = to_np(ops.mod(T(a), T(b)))
    # finite dividends: NumPy's results (x % inf conventions aside, which are not pinned here)
    keep = np.isfinite(a) & np.isfinite(b)
    np.testing.assert_array_equal(got[keep], expected[keep])
    assert np.isnan(got[~np.isfinite(a)]).all()  # inf % x and nan % x are NaN


@given(pair=broadcast_pair(floats32(0.01, 10), floats32(-4, 4)))
def test_power_float_positive_bases_match_numpy(pair, device):
    a, b = pair
    out = ops.power(T(a), T(b))
    assert out.dtype == "float32"
    assert_close(out, ref32(np.power, a, b), rtol=3e-6, atol=0)


def test_power_float_negative_bases_zero_and_specials_match_numpy(device):
    a = np.float32([-2.0, -2.0, -2.0, 0.0, 0.0, 0.0, -0.0, 2.0, np.nan, 1.0, np.inf, 4.0])
    b = np.float32([3.0, 2.0, 0.5, 0.0, -1.0, 2.0, 3.0, -0.5, 0.0, np.nan, -1.0, 0.5])
    with np.errstate(all="ignore"):
        expected = np.power(a, b)
    np.testing.assert_array_equal(to_np(ops.power(T(a), T(b))), expected)


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@given(data=st.data())
def test_power_integers_match_numpy(dtype, data, device):
    a, b = data.draw(int_broadcast_pair(-6, 6, 0, 5, dtype=dtype))
    out = ops.power(T(a), T(b))
    assert out.dtype == np.dtype(dtype).name
    np.testing.assert_array_equal(to_np(out), np.power(a, b))


def test_power_integer_negative_exponent_raises_value_error():
    with pytest.raises(ValueError, match="power"):
        ops.power(T(np.array([2, 3], np.int32)), T(np.array([1, -1], np.int32)))
    with pytest.raises(ValueError, match="power"):
        ops.power(T(np.array([2], np.int64)), T(np.array([-2], np.int64)))
    with pytest.raises(ValueError, match="power"):
        T(np.array([2, 3], np.int32)) ** -1
    with pytest.raises(ValueError, match="power"):
        2 ** T(np.array([0, -1], np.int32))
    # a float exponent or base is fine
    np.testing.assert_array_equal(to_np(ops.power(T(np.array([2, 4], np.int32)), -1.0)), [0.5, 0.25])
    np.testing.assert_array_equal(to_np(ops.power(2.0, T(np.array([-1, 1], np.int32)))), [0.5, 2.0])


@given(pair=broadcast_pair(floats32(-100, 100), WITH_ZEROS))
def test_arctan2_matches_numpy(pair, device):
    y, x = pair
    out = ops.arctan2(T(y), T(x))
    assert out.dtype == "float32"
    assert_close(out, ref32(np.arctan2, y, x), rtol=3e-6, atol=1e-37)


def test_arctan2_quadrants_signed_zeros_and_specials(device):
    vals = [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan]
    y, x = (np.array(p, np.float32) for p in zip(*itertools.product(vals, vals)))
    got = to_np(ops.arctan2(T(y), T(x)))
    expected = ref32(np.arctan2, y, x)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=0, equal_nan=True)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))
    # integer inputs compute in float32
    out = ops.arctan2(T(np.array([1, -1], np.int32)), T(np.array([0, 0], np.int32)))
    assert out.dtype == "float32"
    assert_close(out, [np.pi / 2, -np.pi / 2], rtol=1e-7, atol=0)


@given(pair=broadcast_pair(floats32(-100, 100), WITH_ZEROS))
def test_divide_no_nan_matches_reference(pair, device):
    a, b = pair
    out = ops.divide_no_nan(T(a), T(b))
    assert out.dtype == "float32"
    with np.errstate(all="ignore"):
        expected = np.where(b == 0, np.float32(0), a / b)
    assert_close(out, expected, rtol=0, atol=0)


def test_divide_no_nan_zero_denominator_wins_over_nan_and_inf(device):
    a = np.float32([0.0, np.nan, np.inf, -3.0, 3.0, np.nan])
    b = np.float32([0.0, 0.0, -0.0, 0.0, 2.0, 1.0])
    got = to_np(ops.divide_no_nan(T(a), T(b)))
    np.testing.assert_array_equal(got, [0.0, 0.0, 0.0, 0.0, 1.5, np.nan])
    out = ops.divide_no_nan(T(np.array([3, 4], np.int32)), T(np.array([0, 8], np.int32)))
    assert out.dtype == "float32"
    np.testing.assert_array_equal(to_np(out), [0.0, 0.5])


# ---------------------------------------------------------------------------------------------
# Tensor operators ** // %


@given(pair=broadcast_pair(floats32(0.1, 5), floats32(-3, 3), max_dims=3))
def test_pow_operator_tensor_scalar_and_reflected(pair, device):
    a, b = pair
    assert_close(T(a) ** T(b), ref32(np.power, a, b), rtol=3e-6, atol=0)
    assert_close(T(a) ** 2, ref32(np.power, a, 2.0), rtol=3e-6, atol=0)
    assert_close(T(a) ** 0.5, ref32(np.sqrt, a), rtol=3e-6, atol=0)
    assert_close(2.0 ** T(b), ref32(lambda e: 2.0 ** e, b), rtol=3e-6, atol=0)
    assert_close(a ** T(b), ref32(np.power, a, b), rtol=3e-6, atol=0)  # ndarray ** Tensor -> __rpow__


@given(pair=broadcast_pair(floats32(-50, 50), away_from_zero(0.5, 10), max_dims=3))
def test_floordiv_and_mod_operators_match_functions(pair, device):
    a, b = pair
    ta, tb = T(a), T(b)
    np.testing.assert_array_equal(to_np(ta // tb), to_np(ops.floor_divide(ta, tb)))
    np.testing.assert_array_equal(to_np(ta % tb), to_np(ops.mod(ta, tb)))
    np.testing.assert_array_equal(to_np(ta % 3.0), np.mod(a, np.float32(3.0)))
    np.testing.assert_array_equal(to_np(7.5 % tb), np.mod(np.float32(7.5), b))
    np.testing.assert_array_equal(to_np(ta % tb), np.mod(a, b))


def test_integer_operators_keep_integer_dtype_and_numpy_semantics(device):
    x = T(np.array([7, -7, 0, 9], np.int32))
    for got, expected in [(x // 2, [3, -4, 0, 4]), (x % 2, [1, 1, 0, 1]), (x // -2, [-4, 3, 0, -5]),
                          (x % -2, [-1, -1, 0, -1]), (x ** 2, [49, 49, 0, 81]), (x // 0, [0, 0, 0, 0]),
                          (x % 0, [0, 0, 0, 0]), (20 // x, [2, -3, 0, 2]), (20 % x, [6, -1, 0, 2]),
                          (2 ** T(np.array([0, 3, 10], np.int32)), [1, 8, 1024])]:
        assert got.dtype == "int32"
        np.testing.assert_array_equal(to_np(got), expected)
    # a float scalar promotes
    out = x // 2.0
    assert out.dtype == "float32"
    np.testing.assert_array_equal(to_np(out), [3.0, -4.0, 0.0, 4.0])
    assert (T(np.array([4], np.int32)) ** 0.5).dtype == "float32"


SMALL = {"max_dims": 3, "max_side": 3}  # shapes for finite-difference gradient checks


@given(pair=broadcast_pair(floats32(0.5, 3), floats32(-2, 2), **SMALL))
def test_power_gradient_both_operands(pair, device):
    a, b = pair
    assert_grad_matches(ops.power, a, b)
    assert_grad_matches(lambda x, y: x ** y, a, b)


@given(pair=broadcast_pair(floats32(0.5, 3), floats32(-2, 2), **SMALL))
def test_power_gradient_analytic(pair, device):
    a, b = pair

    def expected(a, b, w):
        a, b = a.astype(F64), b.astype(F64)
        return [unbroadcast(w * b * a ** (b - 1), a.shape), unbroadcast(w * a ** b * np.log(a), b.shape)]

    assert_grad_matches(ops.power, a, b, expected=expected, rtol=2e-5, atol=1e-5)


def test_power_gradient_wrt_exponent_is_zero_for_nonpositive_bases(device):
    a = np.float32([0.0, -2.0, -2.0, 2.0])
    b = np.float32([2.0, 2.0, 3.0, 3.0])
    w = np.float32([1.0, 1.0, 1.0, 1.0])
    _, (ga, gb) = tape_grads(ops.power, [a, b], [0, 1], cotangent=w)
    np.testing.assert_allclose(ga, b * a ** (b - 1), rtol=1e-6)
    np.testing.assert_allclose(gb, [0.0, 0.0, 0.0, 8.0 * np.log(2.0)], rtol=1e-6)


def test_power_gradient_wrt_base_of_zero_exponent_is_zero(device):
    _, (ga,) = tape_grads(ops.power, [np.float32([0.0, 3.0]), np.float32([0.0, 0.0])], [0])
    np.testing.assert_array_equal(ga, [0.0, 0.0])


# dividends (2n + 1) / 16 and divisors in {±0.5, ±1, ±2, ±4}: a / b is never within 1/64 of an
# integer, so central differences never straddle one of mod's jumps.
MOD_A = st.integers(-32, 31).map(lambda n: np.float32((2 * n + 1) / 16))


MOD_B = st.sampled_from([0.5, 1.0, 2.0, 4.0, -0.5, -1.0, -2.0, -4.0]).map(np.float32)


@given(pair=broadcast_pair(MOD_A, MOD_B, **SMALL))
def test_mod_gradient_both_operands(pair, device):
    a, b = pair
    assert_grad_matches(ops.mod, a, b)

    def expected(a, b, w):
        q = np.floor(a.astype(F64) / b)
        return [unbroadcast(w, a.shape), unbroadcast(-w * q, b.shape)]

    assert_grad_matches(ops.mod, a, b, expected=expected, rtol=1e-6, atol=1e-6)
    assert_grad_matches(lambda x, y: x % y, a, b, expected=expected, rtol=1e-6, atol=1e-6)


@given(pair=broadcast_pair(away_from_zero(0.5, 3), away_from_zero(0.5, 3), **SMALL))
def test_arctan2_gradient_both_operands(pair, device):
    y, x = pair
    assert_grad_matches(ops.arctan2, y, x)

    def expected(y, x, w):
        y, x = y.astype(F64), x.astype(F64)
        r2 = x ** 2 + y ** 2
        return [unbroadcast(w * x / r2, y.shape), unbroadcast(-w * y / r2, x.shape)]

    assert_grad_matches(ops.arctan2, y, x, expected=expected, rtol=1e-5, atol=1e-6)


@given(pair=broadcast_pair(floats32(-5, 5), away_from_zero(0.5, 3), **SMALL))
def test_divide_no_nan_gradient_nonzero_denominator(pair, device):
    a, b = pair
    assert_grad_matches(ops.divide_no_nan, a, b)


@given(pair=broadcast_pair(floats32(-5, 5), st.one_of(away_from_zero(0.5, 3), st.just(np.float32(0.0))), **SMALL))
def test_divide_no_nan_gradient_zero_denominator_gives_zero(pair, device):
    a, b = pair

    def expected(a, b, w):
        a, b = a.astype(F64), b.astype(F64)
        safe = np.where(b == 0, 1.0, b)
        ga = np.where(b == 0, 0.0, w / safe)
        gb = np.where(b == 0, 0.0, -w * a / safe ** 2)
        return [unbroadcast(ga, a.shape), unbroadcast(gb, b.shape)]

    assert_grad_matches(ops.divide_no_nan, a, b, expected=expected, rtol=1e-5, atol=1e-6)


def test_divide_no_nan_gradient_all_zero_denominator_is_finite_zero(device):
    a = np.float32([[1.0, -2.0], [0.0, 5.0]])
    b = np.float32([0.0, 0.0])
    _, (ga, gb) = tape_grads(ops.divide_no_nan, [a, b], [0, 1], cotangent=np.ones((2, 2), np.float32))
    np.testing.assert_array_equal(ga, np.zeros_like(a))
    np.testing.assert_array_equal(gb, np.zeros_like(b))


@given(pair=broadcast_pair(floats32(-20, 20), away_from_zero(0.5, 5), **SMALL))
def test_floor_divide_gradient_is_zero(pair, device):
    a, b = pair
    _, (ga, gb) = tape_grads(ops.floor_divide, [a, b], [0, 1])
    np.testing.assert_array_equal(ga, np.zeros_like(a))
    np.testing.assert_array_equal(gb, np.zeros_like(b))


def test_binary_gradients_flow_into_python_scalar_combinations(device):
    x = np.float32([0.5, 1.5, 2.5])
    assert_grad_matches(lambda t: t ** 3.0, x, expected=lambda x, w: [w * 3 * x.astype(F64) ** 2], rtol=1e-6, atol=1e-6)
    assert_grad_matches(lambda t: 2.0 ** t, x,
                        expected=lambda x, w: [w * 2.0 ** x.astype(F64) * np.log(2.0)], rtol=1e-6, atol=1e-6)
    assert_grad_matches(lambda t: t % 1.0, x, expected=lambda x, w: [w], rtol=0, atol=0)
    assert_grad_matches(lambda t: 7.0 % t, x,
                        expected=lambda x, w: [-w * np.floor(7.0 / x.astype(F64))], rtol=1e-6, atol=1e-6)


def test_unary_ops_are_differentiable_twice(device):
    x = np.float32([0.3, -0.7, 1.1])
    t = T(x)
    with keras.GradientTape() as outer:
        outer.watch(t)
        with keras.GradientTape() as inner:
            inner.watch(t)
            y = ops.sum(ops.sin(t) + ops.erf(t) + ops.softplus(t))
        g = inner.gradient(y, t)
        s = ops.sum(g)
    gg = to_np(outer.gradient(s, t))
    x64 = x.astype(F64)
    sig = 1 / (1 + np.exp(-x64))
    expected = -np.sin(x64) - 4 * x64 / np.sqrt(np.pi) * np.exp(-x64 ** 2) + sig * (1 - sig)
    np.testing.assert_allclose(gg, expected, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# float64 inputs: the same ops keep the dtype and compute in double precision

DOMAIN64 = {
    "rsqrt": (1e-3, 1e3), "reciprocal": (1e-3, 1e3), "expm1": (-20, 20), "log1p": (-0.999, 1e3),
    "log2": (1e-3, 1e3), "log10": (1e-3, 1e3), "sin": (-10, 10), "cos": (-10, 10), "tan": (-1.5, 1.5),
    "arcsin": (-1, 1), "arccos": (-1, 1), "arctan": (-100, 100), "sinh": (-20, 20), "cosh": (-20, 20),
    "arcsinh": (-100, 100), "arccosh": (1.01, 1e3), "arctanh": (-0.999, 0.999), "erf": (-6, 6), "softplus": (-60, 60),
}


TOL64 = {"erf": {"rtol": 2e-14, "atol": 1e-16}, "arctanh": {"rtol": 1e-13, "atol": 1e-300}}


def float64_arrays(lo, hi, **shape_kw):
    return hnp.arrays(np.float64, shapes(**shape_kw), elements=st.floats(lo, hi, allow_subnormal=False))


@pytest.mark.parametrize("name", sorted(UNARY_MATH))
@given(data=st.data())
def test_unary_float64_keeps_dtype_and_double_precision(name, data):
    op, ref, _, _ = UNARY_MATH[name]
    x = data.draw(float64_arrays(*DOMAIN64[name], max_dims=2))
    out = op(T(x))
    assert_close(out, ref(x), dtype="float64", **TOL64.get(name, {"rtol": 2e-15, "atol": 1e-300}))


@pytest.mark.parametrize("name", sorted(UNARY_MATH))
def test_unary_float64_gradient_matches_analytic_derivative(name):
    op = UNARY_MATH[name][0]
    lo, hi = {"rsqrt": (0.5, 5), "reciprocal": (0.5, 5), "log1p": (-0.5, 5), "log2": (0.5, 10), "log10": (0.5, 10),
              "tan": (-1.2, 1.2), "arcsin": (-0.8, 0.8), "arccos": (-0.8, 0.8), "arccosh": (1.5, 10),
              "arctanh": (-0.8, 0.8)}.get(name, (-3, 3))
    x = np.linspace(lo, hi, 9)
    w = np.linspace(-1.0, 1.0, 9)
    _, (g,) = tape_grads(op, [x], [0], cotangent=w)
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, w * _derivative(name, x), rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("name", sorted(ROUNDING))
def test_rounding_float64_beyond_float32_precision(name):
    op, ref = ROUNDING[name]
    x = np.array([2.0 ** 30 + 0.5, 2.0 ** 30 + 1.5, -(2.0 ** 40) - 0.25, 0.5 + 2 ** -40, 1e300])
    out = op(T(x))
    assert out.dtype == "float64"
    np.testing.assert_array_equal(to_np(out), ref(x))


def test_binary_float64_floor_divide_mod_power_match_numpy():
    a = np.array([7.25, -7.25, 1e15 + 0.5, 3.0, 2.0 ** -30, 0.0])
    b = np.array([2.0, 2.0, -3.0, -0.5, 3.0, 5.0])
    for op, ref in ((ops.floor_divide, np.floor_divide), (ops.mod, np.mod)):
        out = op(T(a), T(b))
        assert out.dtype == "float64"
        np.testing.assert_array_equal(to_np(out), ref(a, b))
    pa, pb = np.abs(a) + 0.5, b / 3
    out = ops.power(T(pa), T(pb))
    assert out.dtype == "float64"
    np.testing.assert_allclose(to_np(out), np.power(pa, pb), rtol=1e-14)
    assert ops.isnan(T(np.array([np.nan, 1.0]))).dtype == "bool"


@pytest.mark.parametrize("name", ["arctan2", "divide_no_nan"])
def test_arctan2_divide_no_nan_float64_keep_dtype(name):
    a, b = np.array([1.0, -2.0, 1e-300]), np.array([3.0, 7.0, 1.0])
    out = getattr(ops, name)(T(a), T(b))
    expected = np.arctan2(a, b) if name == "arctan2" else a / b
    assert_close(out, expected, rtol=1e-15, atol=0, dtype="float64")


def test_nan_to_num_float64():
    x = np.array([1.0, np.nan, np.inf, -np.inf])
    out = ops.nan_to_num(T(x))
    assert out.dtype == "float64"
    np.testing.assert_array_equal(to_np(out), np.nan_to_num(x))


def test_round_float64_with_decimals_keeps_double_precision():
    x = np.array([1.123456789012, -2.5e-7, 12345.678901234])
    out = ops.round(T(x), 9)
    assert out.dtype == "float64"
    np.testing.assert_allclose(to_np(out), np.round(x, 9), rtol=1e-15, atol=0)


def test_float32_exp_kernel_accurate_over_the_whole_range():
    """The vectorised float32 exp: within ~1.5 ulp of the exact value for normal results, and
    libm's results for underflow, overflow, inf and NaN."""
    x = np.concatenate([np.linspace(-104, 89, 400_001, dtype=np.float32),
                        np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 88.72, -87.34], np.float32)])
    got = np.asarray(ops.exp(x)).astype(np.float64)
    exact = np.exp(x.astype(np.float64))
    normal = np.isfinite(exact) & (exact > np.finfo(np.float32).tiny) & (exact < np.finfo(np.float32).max)
    rel = np.abs(got[normal] - exact[normal]) / exact[normal]
    assert rel.max() < 1.5 * np.finfo(np.float32).eps
    with np.errstate(over="ignore"):
        ref32 = np.exp(x)
    assert np.array_equal(np.isinf(got), np.isinf(ref32))
    assert np.array_equal(np.isnan(got), np.isnan(ref32))
    assert got[np.isneginf(x)][0] == 0.0


REDUCE = same_named("sum", "mean", "max", "min")


def _np_axis(axis):
    return axis if axis is None or isinstance(axis, int) else tuple(axis)


def _empty_reduction(x, axis):
    return any(x.shape[a] == 0 for a in normalize_axes(axis, x.ndim))


# ---------------------------------------------------------------------------------------------
# Forward


@pytest.mark.parametrize("name", ["sum", "mean"])
@given(xa=array_and_axis(float_arrays(min_value=-100, max_value=100)), keepdims=st.booleans())
def test_sum_mean_match_numpy(name, xa, keepdims, device):
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
def test_max_min_match_numpy(name, xa, keepdims, device):
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
def test_max_min_propagate_nan_like_numpy(name, xa, keepdims, device):
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
def test_max_min_initial(name, xa, initial, device):
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
def test_int_reductions_keep_int32_and_are_exact(name, xa, keepdims, device):
    x, axis = xa
    op, ref = REDUCE[name]
    out = op(T(x), axis=axis, keepdims=keepdims)
    assert out.dtype == "int32"
    np.testing.assert_array_equal(to_np(out), ref(x, axis=_np_axis(axis), keepdims=keepdims))


@given(xa=array_and_axis(int_arrays(min_value=-1000, max_value=1000, min_side=1)))
def test_int_mean_gives_float32(xa, device):
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
def test_argmax_argmin_first_occurrence_matches_numpy(largest, xa, keepdims, device):
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
def test_sum_grad_broadcasts_cotangent(xa, keepdims, device):
    x, axis = xa
    assert_grad_matches(lambda t: ops.sum(t, axis=axis, keepdims=keepdims), x,
                        expected=lambda x, w: [_bcast_back(w, x, axis, keepdims)], rtol=0, atol=0)


@given(xa=array_and_axis(float_arrays(max_side=4)), keepdims=st.booleans())
def test_mean_grad_divides_by_count(xa, keepdims, device):
    x, axis = xa
    count = int(np.prod([x.shape[a] for a in normalize_axes(axis, x.ndim)]))
    assert_grad_matches(lambda t: ops.mean(t, axis=axis, keepdims=keepdims), x,
                        expected=lambda x, w: [_bcast_back(w, x, axis, keepdims) / max(count, 1)],
                        rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["sum", "mean"])
@given(xa=array_and_axis(float_arrays(max_side=3, max_dims=3)))
def test_sum_mean_grad_finite_differences(name, xa, device):
    x, axis = xa
    assert_grad_matches(lambda t: REDUCE[name][0](t, axis=axis), x)


@pytest.mark.parametrize("name", ["max", "min"])
@given(xa=array_and_axis(float_arrays(elements=TIES, min_side=1, max_side=4)), keepdims=st.booleans())
def test_max_min_grad_ties_share_gradient_evenly(name, xa, keepdims, device):
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


def test_max_grad_ties_named_example(device):
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


# ---------------------------------------------------------------------------------------------
# Reductions on fixed cases (once the GPU reduction kernel's own tests, against the CPU):
# adjacent, non-adjacent and all axes, workgroup trees, long reductions in passes, ties, NaN,
# empty axes, argmax/argmin, cumulative sums and products

RNG_REDUCE = np.random.default_rng(0)
REDUCTIONS = same_named("sum", "mean", "max", "min", "prod")


@pytest.mark.parametrize("shape,axis", [
    ((3, 4, 5), None),
    ((3, 4, 5), 1),
    ((3, 4, 5), -1),
    ((3, 4, 5), (0, 2)),      # not adjacent: transposed first
    ((2, 3, 4, 5), (1, 2)),   # adjacent block in the middle
    ((3, 1, 5), (0, 1)),      # adjacent once the size-1 axis is dropped
    ((2, 70), 1),             # workgroup tree
    ((7,), 0),
    ((), None),
])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions_and_gradients_on_fixed_cases(shape, axis, keepdims, device):
    rng = np.random.default_rng(len(shape) * 10 + (0 if axis is None else np.sum(axis)) % 7)
    x = rng.uniform(0.5, 1.5, shape).astype(np.float32)  # prod stays well scaled
    x = np.asarray(x * np.where(rng.random(shape) < 0.5, -1, 1), np.float32)  # 0-d stays an array
    for name, (op, ref) in REDUCTIONS.items():
        want = ref(x.astype(F64), axis=_np_axis(axis), keepdims=keepdims)
        assert_close(op(T(x), axis=axis, keepdims=keepdims), want, rtol=1e-5, atol=1e-5)
        assert_grad_matches(lambda t, op=op: op(t, axis=axis, keepdims=keepdims), x)


def test_max_min_ties_share_the_gradient_fixed_case(device):
    x = np.array([[1.0, 3.0, 3.0, 2.0], [5.0, 5.0, 5.0, 5.0]], np.float32)
    for op, ref in ((ops.max, np.max), (ops.min, np.min)):
        def expected(x, w, ref=ref):
            mask = x == ref(x, axis=1, keepdims=True)
            return [mask * (w[:, None] / mask.sum(axis=1, keepdims=True))]

        assert_grad_matches(lambda t, op=op: op(t, axis=1), x, expected=expected, rtol=1e-6, atol=1e-6)


def test_sum_of_bool_is_int32_and_mean_of_int_is_float32(device):
    s = ops.sum(T(np.array([[True, False, True], [True, True, True]])), axis=1)
    assert str(s.dtype) == "int32"
    np.testing.assert_array_equal(to_np(s), [2, 3])
    m = ops.mean(T(np.arange(6, dtype=np.int32)))
    assert str(m.dtype) == "float32" and float(to_np(m)) == 2.5


def test_empty_reductions_fixed_cases(device):
    x = np.zeros((3, 0, 2), np.float32)
    for name in ("sum", "mean", "prod"):
        op, ref = REDUCTIONS[name]
        for axis in (1, (0, 1), None, 0):
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # NumPy: "Mean of empty slice"
                want = ref(x, axis=_np_axis(axis))
            assert_close(op(T(x), axis=axis), want)
    with pytest.raises(ValueError):
        to_np(ops.max(T(x), axis=1))


def test_long_reductions_run_in_passes(device):
    x = RNG_REDUCE.standard_normal((40000,)).astype(np.float32)
    got = float(to_np(ops.sum(T(x))))
    assert abs(got - float(np.sum(x, dtype=F64))) < 1e-5 * np.abs(x).sum()
    x2 = RNG_REDUCE.standard_normal((2, 17000)).astype(np.float32)
    assert_close(ops.mean(T(x2), axis=-1), x2.astype(F64).mean(axis=-1), rtol=1e-5, atol=1e-6)
    for op, ref in ((ops.max, np.max), (ops.min, np.min)):
        assert_close(op(T(x2), axis=-1), ref(x2, axis=-1), rtol=0, atol=0)


def test_nan_propagates_through_max_and_min_short_and_long_rows(device):
    x = np.array([[1.0, np.nan, 3.0], [1.0, 2.0, 3.0]], np.float32)
    x = np.concatenate([x, np.tile(x, (1, 30))], axis=1)  # short and long rows
    for op, ref in ((ops.max, np.max), (ops.min, np.min)):
        for axis in (1, None):
            assert_close(op(T(x), axis=axis), ref(x, axis=axis), rtol=0, atol=0)


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4), (3, 50), (2, 40, 3)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_argmax_argmin_with_ties_on_fixed_cases(shape, keepdims, device):
    x = np.round(np.random.default_rng(len(shape)).standard_normal(shape) * 2).astype(np.float32)  # ties
    for op, ref in ((ops.argmax, np.argmax), (ops.argmin, np.argmin)):
        for axis in [None] + list(range(-len(shape), len(shape))):
            for arr in (x, x.astype(np.int32)):
                got = to_np(op(T(arr), axis=axis, keepdims=keepdims))
                np.testing.assert_array_equal(got, ref(arr, axis=axis, keepdims=keepdims))


def test_argmax_first_nan_and_first_tie_short_and_long_rows(device):
    x = np.array([[1, np.nan, 3, np.nan], [2, 5, 5, 1], [7, 7, 7, 7]], np.float32)
    for arr in (x, np.tile(x, (1, 20))):
        for op, ref in ((ops.argmax, np.argmax), (ops.argmin, np.argmin)):
            got = op(T(arr), axis=1)
            assert str(got.dtype) == "int32"
            np.testing.assert_array_equal(to_np(got), ref(arr, axis=1))
    b = np.array([[False, True, True], [False, False, False]])
    np.testing.assert_array_equal(to_np(ops.argmax(T(b), axis=1)), [1, 0])


@pytest.mark.parametrize("shape,axis", [((6,), None), ((3, 4), 0), ((3, 4), -1), ((2, 3, 4), 1)])
def test_cumsum_cumprod_and_gradients_on_fixed_cases(shape, axis, device):
    x = np.random.default_rng(6).uniform(0.5, 1.5, shape).astype(np.float32)
    for op, ref in ((ops.cumsum, np.cumsum), (ops.cumprod, np.cumprod)):
        assert_close(op(T(x), axis=axis), ref(x.astype(F64), axis=axis), rtol=1e-5, atol=1e-6)
        assert_grad_matches(lambda t, op=op: op(t, axis=axis), x)
        xi = (x * 3).astype(np.int32)
        got = op(T(xi), axis=axis)
        assert str(got.dtype) == "int32"
        np.testing.assert_array_equal(to_np(got), ref(xi, axis=axis))


def test_cumprod_and_prod_gradients_with_zeros_fixed_cases(device):
    x = np.array([[1.5, 0.0, 2.0, 3.0], [0.0, 2.0, 0.0, 1.0]], np.float32)
    assert_grad_matches(lambda t: ops.cumprod(t, axis=1), x)
    x = np.array([[1.5, 0.0, 2.0], [0.5, 2.0, -1.0]], np.float32)  # exclusive and reversed cumprods
    for axis in (1, 0):
        assert_grad_matches(lambda t: ops.prod(t, axis=axis), x)

def matmul_shapes(max_dims=4, max_side=4, min_side=0):
    """Operand shapes valid for np.matmul: 1-D or (..., m, k) @ (..., k, n), batch axes broadcast."""
    return hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=max_dims,
                                             min_side=min_side, max_side=max_side)


@st.composite
def matmul_pair(draw, dtype=np.float32, **kw):
    bs = draw(matmul_shapes(**kw))
    sa, sb = bs.input_shapes
    if dtype == np.float32:
        return draw(float_arrays(sa, -3, 3)), draw(float_arrays(sb, -3, 3))
    return draw(int_arrays(sa, -50, 50, dtype=dtype)), draw(int_arrays(sb, -50, 50, dtype=dtype))


def assert_matmul_close(got, a, b):
    """|got - a@b| <= 1e-5 * (|a| @ |b|): the float32 dot-product error bound for k <= ~100."""
    ref = np.matmul(a.astype(F64), b.astype(F64))
    bound = np.matmul(np.abs(a).astype(F64), np.abs(b).astype(F64))
    g = to_np(got)
    assert g.shape == ref.shape, f"shape {g.shape} != {ref.shape}"
    assert got.dtype == "float32"
    np.testing.assert_array_less(np.abs(g - ref), 1e-5 * bound + 1e-30)


@given(pair=matmul_pair())
def test_matmul_matches_numpy_with_broadcast_batch_and_1d(pair, device):
    a, b = pair
    assert_matmul_close(ops.matmul(T(a), T(b)), a, b)


@given(pair=matmul_pair(max_dims=3))
def test_matmul_operator_and_reflected_operator(pair, device):
    a, b = pair
    assert_matmul_close(T(a) @ T(b), a, b)
    assert_matmul_close(a @ T(b), a, b)  # ndarray @ Tensor -> Tensor.__rmatmul__
    assert_matmul_close(T(a) @ b, a, b)


@pytest.mark.parametrize("sa,sb", [
    ((3,), (3,)),              # vector . vector -> scalar
    ((2, 3), (3,)),            # matrix @ vector
    ((3,), (3, 4)),            # vector @ matrix
    ((3,), (5, 3, 4)),         # vector @ batch
    ((5, 2, 3), (3,)),         # batch @ vector
    ((2, 1, 4, 3), (5, 3, 2)),  # broadcast batch axes
    ((0, 3), (3, 2)),          # empty m
    ((2, 0), (0, 3)),          # empty contraction: zeros
    ((4, 2, 3), (1, 3, 0)),    # empty n
])
def test_matmul_shape_cases(sa, sb):
    rng = np.random.default_rng(0)
    a = rng.standard_normal(sa).astype(np.float32)
    b = rng.standard_normal(sb).astype(np.float32)
    assert_matmul_close(ops.matmul(a, b), a, b)


@pytest.mark.parametrize("m,k,n", [(128, 128, 128), (257, 33, 65), (1, 1000, 1), (64, 7, 300)])
def test_matmul_large_uses_gemm_paths_correctly(m, k, n):
    rng = np.random.default_rng(m * k + n)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    assert_matmul_close(ops.matmul(a, b), a, b)


def test_matmul_many_small_batches():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((300, 5, 6)).astype(np.float32)
    b = rng.standard_normal((6, 7)).astype(np.float32)
    assert_matmul_close(ops.matmul(a, b), a, b)


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@given(data=st.data())
def test_matmul_integers_are_exact(dtype, data, device):
    a, b = data.draw(matmul_pair(dtype=dtype, max_dims=3))
    out = ops.matmul(T(a), T(b))
    assert out.dtype == np.dtype(dtype).name
    np.testing.assert_array_equal(to_np(out), np.matmul(a, b))


def test_matmul_mixed_int_float_promotes_to_float32():
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    b = np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2)
    assert_matmul_close(ops.matmul(a, b), a.astype(np.float32), b)


def test_matmul_nan_inf_propagate():
    a = np.array([[1.0, np.nan], [1.0, 1.0], [np.inf, 0.0]], np.float32)
    b = np.array([[1.0], [2.0]], np.float32)
    got = to_np(ops.matmul(a, b))
    assert np.isnan(got[0, 0]) and got[1, 0] == 3.0 and got[2, 0] == np.inf


# ---------------------------------------------------------------------------------------------
# Gradients


def _linear_grads(a, b, w):
    """Reference gradients of <w, a @ b>: matmul is linear in each operand, so a float64 central
    difference with a unit step is exact (up to rounding) for every NumPy broadcasting case."""
    ga = numeric_grad(np.matmul, a, 1.0, args=(b,), wrt=0, cotangent=w, through="numpy")
    gb = numeric_grad(np.matmul, b, 1.0, args=(a,), wrt=1, cotangent=w, through="numpy")
    return ga, gb


@given(pair=matmul_pair(max_side=3))
def test_matmul_grad_matches_reference_with_broadcasting(pair, device):
    a, b = pair
    assert_grad_matches(ops.matmul, a, b, expected=_linear_grads, rtol=1e-5, atol=1e-4)


@given(pair=matmul_pair(max_side=3, max_dims=3))
def test_matmul_grad_finite_differences(pair, device):
    assert_grad_matches(ops.matmul, *pair)


# The edges of the GPU kernel's 64-wide register tiles (once its own tests, against the CPU):
# whole and ragged tiles, 1-D operands, broadcast batch axes, empty operands and contraction.
@pytest.mark.parametrize("sa,sb", [
    ((3, 4), (4, 5)),
    ((64, 64), (64, 64)),        # whole tiles
    ((65, 33), (33, 70)),        # ragged in m, n and k
    ((1, 70), (70, 1)),
    ((2, 1, 5, 7), (3, 7, 6)),   # broadcast batch axes
    ((4, 3, 9), (9, 2)),
    ((5,), (5, 3)),              # 1-D operands
    ((4, 5), (5,)),
    ((5,), (5,)),
    ((2, 3, 5), (5,)),
    ((0, 3), (3, 2)),            # empty
    ((2, 0), (0, 3)),            # k = 0: zeros
])
def test_matmul_and_gradients_at_tile_edges(sa, sb, device):
    rng = np.random.default_rng(0)
    a = rng.standard_normal(sa).astype(np.float32)
    b = rng.standard_normal(sb).astype(np.float32)
    assert_matmul_close(ops.matmul(T(a), T(b)), a, b)
    assert_grad_matches(ops.matmul, a, b, expected=_linear_grads, rtol=1e-5, atol=1e-4)


def test_matmul_integer_bool_and_promoted_operands(device):
    rng = np.random.default_rng(0)
    a = rng.integers(-5, 5, (7, 9)).astype(np.int32)
    b = rng.integers(-5, 5, (2, 9, 4)).astype(np.int32)
    got = ops.matmul(T(a), T(b))
    assert got.dtype == "int32"
    np.testing.assert_array_equal(to_np(got), np.matmul(a, b))
    got = ops.matmul(T(a > 0), T(b > 0))  # bool operands count in int32
    assert got.dtype == "int32"
    np.testing.assert_array_equal(to_np(got), np.matmul((a > 0).astype(np.int32), (b > 0).astype(np.int32)))
    assert_matmul_close(ops.matmul(T(a), T(b.astype(np.float32))), a.astype(np.float32), b.astype(np.float32))


def test_matmul_grad_closed_form_2d(device):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal((3, 5)).astype(np.float32)
    assert_grad_matches(ops.matmul, a, b, expected=lambda a, b, w: [w @ b.T.astype(F64), a.T.astype(F64) @ w],
                        rtol=1e-5, atol=1e-5)


def test_matmul_second_order_through_nested_tapes(device):
    # f(x) = sum(x @ x) for a square x; d/dx = (w @ x^T + x^T @ w) with w = ones; the Hessian
    # contracted with ones: d/dx sum(grad) = 2 * (ones @ ones^T) summed per element -> 2 * n per entry.
    x = T(np.random.default_rng(4).standard_normal((3, 3)).astype(np.float32))
    with keras.GradientTape() as outer:
        outer.watch(x)
        with keras.GradientTape() as inner:
            inner.watch(x)
            y = ops.matmul(x, x)
        g = inner.gradient(y, x)
    gg = outer.gradient(g, x)
    np.testing.assert_allclose(to_np(gg), np.full((3, 3), 6.0), rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize("sa,sb", [((2, 3), (4, 5)), ((3,), (4,)), ((2, 3), (2,)), ((2, 2, 3), (3, 3, 4)),
                                   ((5, 2, 3), (4, 3, 1))])
def test_matmul_misaligned_raises_value_error(sa, sb):
    with pytest.raises(ValueError, match="matmul"):
        ops.matmul(np.ones(sa, np.float32), np.ones(sb, np.float32))
    with pytest.raises(ValueError, match="matmul"):
        T(np.ones(sa, np.float32)) @ T(np.ones(sb, np.float32))


def test_matmul_scalar_operand_raises_value_error():
    with pytest.raises(ValueError, match="matmul"):
        ops.matmul(np.float32(2.0), np.ones((2, 2), np.float32))


# ---------------------------------------------------------------------------------------------
# reshape


@st.composite
def reshape_case(draw, max_side=5):
    """An array and a compatible new shape (dims permuted, merged, 1s inserted, maybe one -1)."""
    x = draw(float_arrays(max_side=max_side))
    dims = list(draw(st.permutations(list(x.shape))))
    merged = []
    for d in dims:
        if merged and draw(st.booleans()):
            merged[-1] *= d
        else:
            merged.append(d)
    for _ in range(draw(st.integers(0, 2))):
        merged.insert(draw(st.integers(0, len(merged))), 1)
    if merged and draw(st.booleans()):
        i = draw(st.integers(0, len(merged) - 1))
        others = int(np.prod(merged[:i] + merged[i + 1:]))
        if others != 0:
            merged[i] = -1
    return x, tuple(merged)


@given(case=reshape_case())
def test_reshape_matches_numpy(case, device):
    x, new = case
    assert_exact(ops.reshape(T(x), new), np.reshape(x, new))


def test_reshape_accepts_int_none_and_list():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert_exact(ops.reshape(x, -1), x.reshape(-1))
    assert_exact(ops.reshape(x, [None, 6]), x.reshape(-1, 6))
    assert_exact(ops.reshape(x, (2, 1, -1)), x.reshape(2, 1, -1))
    assert_exact(ops.reshape(np.float32(5.0), (1, 1)), np.full((1, 1), 5.0))
    assert_exact(ops.reshape(np.ones((1, 1), np.float32), ()), np.float32(1.0))
    assert_exact(ops.reshape(np.zeros((0, 3), np.float32), (-1, 3)), np.zeros((0, 3)))


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.bool_])
def test_reshape_keeps_dtype(dtype):
    x = (np.arange(6) % 2).astype(dtype).reshape(2, 3)
    out = ops.reshape(x, (3, 2))
    assert out.dtype == np.dtype(dtype).name
    assert_exact(out, x.reshape(3, 2))


@given(case=reshape_case(max_side=3))
def test_reshape_grad_is_reshaped_cotangent(case, device):
    x, new = case
    assert_grad_matches(lambda t: ops.reshape(t, new), x, expected=lambda x, w: [w.reshape(x.shape)], rtol=0, atol=0)


@pytest.mark.parametrize("shape,new", [((2, 3), (4, 2)), ((2, 3), (-1, 4)), ((2, 3), (-1, -1)), ((0, 3), (0, -1)),
                                       ((4,), (-2, -2))])
def test_reshape_wrong_size_raises_value_error(shape, new):
    with pytest.raises(ValueError, match="reshape"):
        ops.reshape(np.zeros(shape, np.float32), new)


# ---------------------------------------------------------------------------------------------
# transpose


@st.composite
def transpose_case(draw, max_side=5):
    x = draw(float_arrays(max_side=max_side))
    if draw(st.booleans()):
        return x, None
    perm = draw(st.permutations(range(x.ndim)))
    perm = [draw(st.sampled_from([a, a - x.ndim])) for a in perm]  # mix in negative axes
    return x, tuple(perm)


@given(case=transpose_case())
def test_transpose_matches_numpy(case, device):
    x, axes = case
    assert_exact(ops.transpose(T(x), axes), np.transpose(x, axes))


@given(x=float_arrays())
def test_tensor_T_reverses_axes(x, device):
    assert_exact(T(x).T, x.T)


@given(case=transpose_case(max_side=3))
def test_transpose_grad_is_inverse_permutation(case, device):
    x, axes = case
    inv = None if axes is None else tuple(np.argsort([a % x.ndim for a in axes]))
    assert_grad_matches(lambda t: ops.transpose(t, axes), x, expected=lambda x, w: [np.transpose(w, inv)],
                        rtol=0, atol=0)


@pytest.mark.parametrize("axes", [(0, 0, 1), (0, 1), (0, 1, 3), (0, 1, 2, 3)])
def test_transpose_bad_axes_raise_value_error(axes):
    with pytest.raises(ValueError, match="transpose"):
        ops.transpose(np.zeros((2, 3, 4), np.float32), axes)


# ---------------------------------------------------------------------------------------------
# broadcast_to


@st.composite
def broadcast_to_case(draw, max_side=4):
    target = draw(shapes(max_side=max_side))
    xs = draw(hnp.broadcastable_shapes(target, min_dims=0, max_dims=len(target), min_side=0, max_side=max_side))
    assume(np.broadcast_shapes(xs, target) == target)
    x = draw(float_arrays(xs))
    return x, target


@given(case=broadcast_to_case())
def test_broadcast_to_matches_numpy(case, device):
    x, target = case
    assert_exact(ops.broadcast_to(T(x), target), np.broadcast_to(x, target))


@given(case=broadcast_to_case(max_side=3))
def test_broadcast_to_grad_sums_over_broadcast_axes(case, device):
    x, target = case
    assert_grad_matches(lambda t: ops.broadcast_to(t, target), x,
                        expected=lambda x, w: [unbroadcast(w, x.shape)], rtol=1e-6, atol=1e-6)


@given(case=broadcast_to_case(max_side=3))
def test_broadcast_to_grad_finite_differences(case, device):
    x, target = case
    assert_grad_matches(lambda t: ops.broadcast_to(t, target), x)


@pytest.mark.parametrize("shape,target", [((2, 3), (3, 3)), ((2, 3), (3,)), ((3,), (3, 2)), ((2,), (-1, 2))])
def test_broadcast_to_incompatible_raises_value_error(shape, target):
    with pytest.raises(ValueError, match="broadcast_to"):
        ops.broadcast_to(np.zeros(shape, np.float32), target)


# ---------------------------------------------------------------------------------------------
# __getitem__


@st.composite
def basic_index_case(draw, max_side=5):
    x = draw(float_arrays(max_side=max_side))
    idx = draw(hnp.basic_indices(x.shape, allow_newaxis=True, allow_ellipsis=True))
    return x, idx


@given(case=basic_index_case())
def test_getitem_basic_indexing_matches_numpy(case, device):
    x, idx = case
    assert_exact(T(x)[idx], x[idx])


@given(case=basic_index_case(max_side=4))
def test_getitem_grad_scatters_cotangent(case):
    x, idx = case

    def expected(x, w):
        g = np.zeros(x.shape, F64)
        g[idx] = w  # basic indexing selects every element at most once
        return [g]

    assert_grad_matches(lambda t: t[idx], x, expected=expected, rtol=0, atol=0)


@given(case=basic_index_case(max_side=3))
def test_getitem_grad_finite_differences(case, device):
    x, idx = case
    assert_grad_matches(lambda t: t[idx], x)


def test_getitem_negative_steps_and_ellipsis_examples(device):
    x = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    t = T(x)
    for idx in [(slice(None, None, -1),), (Ellipsis, slice(None, None, -2)), (1, None, slice(3, 0, -1), Ellipsis),
                (slice(-1, -4, -1), 2), (Ellipsis, None), (-1, -1, -1), (slice(10, 20),), (slice(None, None, 3), 0)]:
        assert_exact(t[idx], x[idx])


@st.composite
def int_array_index_case(draw):
    x = draw(float_arrays(min_dims=1, min_side=1, max_side=4))
    n = x.shape[0]
    idx = draw(hnp.arrays(draw(st.sampled_from([np.int32, np.int64])), shapes(max_dims=2, max_side=4),
                          elements=st.integers(-n, n - 1)))
    return x, idx


@given(case=int_array_index_case(), kind=st.sampled_from(["ndarray", "list", "tensor"]))
def test_getitem_integer_array_is_take_on_axis_0(case, kind, device):
    x, idx = case
    key = {"ndarray": idx, "list": idx.tolist(), "tensor": T(idx)}[kind]
    if kind == "list" and (idx.ndim == 0 or idx.size == 0):
        key = idx  # a 0-d list is just an int; empty lists: see test_getitem_empty_list_index
    assert_exact(T(x)[key], x[idx])


@given(case=int_array_index_case())
def test_getitem_integer_array_grad_accumulates_duplicates(case):
    x, idx = case

    def expected(x, w):
        g = np.zeros(x.shape, F64)
        np.add.at(g, idx, w)
        return [g]

    assert_grad_matches(lambda t: t[idx], x, expected=expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("key", [3, -4, (0, 5), (0, 0, 0), (Ellipsis, Ellipsis)])
def test_getitem_out_of_range_raises_index_error(key):
    with pytest.raises(IndexError):
        T(np.zeros((3, 5), np.float32))[key]


def test_getitem_empty_list_index(device):
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    assert_exact(T(x)[[]], x[[]])


def test_getitem_integer_array_out_of_range_raises_index_error():
    with pytest.raises(IndexError):
        T(np.zeros((3, 5), np.float32))[np.array([0, 3])]
    with pytest.raises(IndexError):
        T(np.zeros((3, 5), np.float32))[[-4]]


def test_getitem_unsupported_keys_raise_index_error():
    t = T(np.zeros((3, 5), np.float32))
    with pytest.raises(IndexError):
        t[np.array([True, False])]  # a boolean mask must match the leading axes
    with pytest.raises(IndexError):
        t[1.5]


def test_getitem_of_int_and_bool_tensors_keeps_dtype(device):
    x = np.arange(12, dtype=np.int64).reshape(3, 4)
    out = T(x)[::-1, 1:3]
    assert out.dtype == "int64"
    assert_exact(out, x[::-1, 1:3])
    b = x % 3 == 0
    out = T(b)[:, None, 2]
    assert out.dtype == "bool"
    assert_exact(out, b[:, None, 2])


def test_getitem_accepts_numpy_integer_scalars(device):
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert_exact(T(x)[np.int64(1)], x[1])
    assert_exact(T(x)[np.int32(-1), 1:], x[-1, 1:])


# ---------------------------------------------------------------------------------------------
# take


@st.composite
def take_case(draw, max_side=4):
    x = draw(float_arrays(min_dims=1, max_side=max_side))
    axis = draw(st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1)))
    n = x.size if axis is None else x.shape[axis]
    idx_shape = draw(shapes(max_dims=2, max_side=4))
    if n == 0:
        idx_shape = idx_shape if int(np.prod(idx_shape)) == 0 else (0,)
    idx = draw(hnp.arrays(draw(st.sampled_from([np.int32, np.int64])), idx_shape,
                          elements=st.integers(-n, n - 1) if n else st.just(0)))
    return x, idx, axis


@given(case=take_case())
def test_take_matches_numpy(case, device):
    x, idx, axis = case
    assert_exact(ops.take(T(x), T(idx), axis=axis), np.take(x, idx, axis=axis))


@given(case=take_case(max_side=3))
def test_take_grad_finite_differences(case, device):
    x, idx, axis = case
    assert_grad_matches(lambda t: ops.take(t, idx, axis=axis), x)


@given(case=take_case(max_side=3))
def test_take_grad_scatter_adds_duplicates(case, device):
    x, idx, axis = case

    def expected(x, w):
        if axis is None:
            g = np.zeros(x.size, F64)
            np.add.at(g, idx, w)
            return [g.reshape(x.shape)]
        a = axis % x.ndim
        g = np.zeros(np.moveaxis(x, a, 0).shape, F64)  # the gathered axis first
        np.add.at(g, idx, _take_cot(w, idx, a))
        return [np.moveaxis(g, 0, a)]

    assert_grad_matches(lambda t: ops.take(t, idx, axis=axis), x, expected=expected, rtol=1e-6, atol=1e-6)


def _take_cot(w, idx, a):
    """Rearrange the cotangent of take (shape x[:a] + idx + x[a+1:]) to idx + x[:a] + x[a+1:],
    matching `np.add.at(g, idx, .)` on g = moveaxis(x, a, 0)."""
    k = idx.ndim
    order = list(range(a, a + k)) + list(range(a)) + list(range(a + k, w.ndim))
    return np.transpose(w, order)


def _take_grad_ref(idx, axis):
    """The gradient of take(x, idx, axis) as an `expected` for assert_grad_matches (scatter-add)."""
    idx = np.asarray(idx)

    def expected(x, w):
        if axis is None:
            g = np.zeros(x.size, F64)
            np.add.at(g, idx % max(x.size, 1), w)
            return [g.reshape(x.shape)]
        a = axis % x.ndim
        g = np.zeros(np.moveaxis(x, a, 0).shape, F64)  # the gathered axis first
        np.add.at(g, idx % x.shape[a], _take_cot(w, idx, a))
        return [np.moveaxis(g, 0, a)]

    return expected


def _take_along_grad_ref(idx, axis):
    """The gradient of take_along_axis(x, idx, axis) as an `expected` (scatter-add)."""
    idx = np.asarray(idx)

    def expected(x, w):
        if axis is None:
            g = np.zeros(x.size, F64)
            np.add.at(g, idx % x.size, w)
            return [g.reshape(x.shape)]
        a = axis % x.ndim
        grids = list(np.indices(w.shape))
        grids[a] = np.broadcast_to(idx, w.shape) % x.shape[a]
        g = np.zeros(x.shape, F64)
        np.add.at(g, tuple(grids), w)
        return [g]

    return expected


# Fixed cases (once the GPU gather kernel's own tests): every axis, repeated, negative, scalar and
# empty indices; dtypes; host indices with device operands; size-0 dimensions.
TAKE_X = np.random.default_rng(0).standard_normal((3, 4, 5)).astype(np.float32)
TAKE_INDICES = [np.array([0, 2, -1, 1, 1]), np.array([[1, 0], [-2, 2]]), np.array(1), np.zeros((0,), np.int64)]


@pytest.mark.parametrize("axis", [0, 1, 2, -1, None])
@pytest.mark.parametrize("k", range(len(TAKE_INDICES)))
def test_take_and_its_gradient_on_fixed_cases(axis, k, device):
    idx = T(TAKE_INDICES[k])
    assert_exact(ops.take(T(TAKE_X), idx, axis=axis), np.take(TAKE_X, TAKE_INDICES[k], axis=axis))
    assert_grad_matches(lambda t: ops.take(t, idx, axis=axis), TAKE_X, expected=_take_grad_ref(TAKE_INDICES[k], axis),
                        rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", ["int32", "int64", "bool", "float16"])
def test_take_keeps_the_dtype(dtype, device):
    x = (np.arange(24).reshape(4, 6) % 5).astype(dtype)
    idx = np.array([[3, -4], [0, 0]], np.int32)
    got = ops.take(T(x), T(idx), axis=1)
    assert got.dtype == dtype
    np.testing.assert_array_equal(to_np(got), np.take(x, idx, axis=1))


def test_take_with_host_indices_and_size_zero_dims(device):
    idx = np.array([2, 0, -1])
    assert_exact(ops.take(T(TAKE_X), idx, axis=1), np.take(TAKE_X, idx, axis=1))  # indices on the host
    assert_grad_matches(lambda t: ops.take(t, idx, axis=1), TAKE_X, expected=_take_grad_ref(idx, 1), rtol=1e-6, atol=1e-6)
    empty = np.zeros((3, 0, 2), np.float32)
    for i, axis in ((idx, 0), (np.array([1, 0]), 2)):
        got = ops.take(T(empty), T(i), axis=axis)
        assert_exact(got, np.take(empty, i, axis=axis))
        _, (g,) = tape_grads(lambda t: ops.take(t, T(i), axis=axis), [empty], [0],
                             cotangent=np.zeros(tuple(got.shape), np.float32))
        assert g.shape == empty.shape


def test_take_grad_adds_repeated_indices(device):
    # An embedding lookup: many rows hit the same entries (atomic float adds on the GPU).
    rng = np.random.default_rng(1)
    table = rng.standard_normal((10, 8)).astype(np.float32)
    idx = rng.integers(-10, 10, (40, 5))

    def expected(x, w):
        g = np.zeros(x.shape, F64)
        np.add.at(g, idx % 10, w)
        return [g]

    assert_grad_matches(lambda t: ops.take(t, T(idx), axis=0), table, expected=expected, rtol=1e-5, atol=1e-5)
    values = rng.standard_normal((50, 3)).astype(np.float32)
    rows = rng.integers(0, 4, 50)
    got = _core.scatter_add_rows(T(values), T(rows), 6)
    want = np.zeros((6, 3), np.float32)
    np.add.at(want, rows, values)
    assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_take_python_list_indices_and_int_dtypes():
    x = np.arange(12, dtype=np.int32).reshape(3, 4)
    out = ops.take(x, [[2, -1], [0, 0]], axis=1)
    assert out.dtype == "int32"
    assert_exact(out, np.take(x, [[2, -1], [0, 0]], axis=1))
    assert_exact(ops.take(x, np.array(5)), np.take(x, 5))


@pytest.mark.parametrize("idx,axis", [([3], 0), ([-4], 0), ([0, 5], 1), ([12], None), ([-13], None)])
def test_take_out_of_bounds_raises_index_error(idx, axis):
    with pytest.raises(IndexError, match="take"):
        ops.take(np.zeros((3, 4), np.float32), np.array(idx), axis=axis)


def test_take_errors():
    with pytest.raises(TypeError, match="take"):
        ops.take(np.zeros((3,), np.float32), np.array([1.0], np.float32))
    with pytest.raises(ValueError, match="take"):
        ops.take(np.zeros((3,), np.float32), np.array([0]), axis=1)


# ---------------------------------------------------------------------------------------------
# Layout on fixed cases (once the GPU layout kernel's own tests, against the CPU): transpose,
# broadcast_to, strided slicing, slice, concatenate, clip and where, with their gradients

LAYOUT_X = np.random.default_rng(0).standard_normal((3, 4, 5)).astype(np.float32)


@pytest.mark.parametrize("perm", [None, (0, 2, 1), (2, 0, 1), (1, 0, 2), (-1, 0, 1)])
def test_transpose_fixed_cases(perm, device):
    assert_exact(ops.transpose(T(LAYOUT_X), perm) * 1.0, np.transpose(LAYOUT_X, perm))
    assert_grad_matches(lambda t: ops.transpose(t, perm), LAYOUT_X)
    xi = LAYOUT_X.astype(np.int32)
    assert_exact(ops.transpose(T(xi), perm), np.transpose(xi, perm))
    assert_exact(ops.transpose(T(np.zeros((2, 0, 3), np.float32))), np.zeros((3, 0, 2), np.float32))
    assert_exact(ops.transpose(T(np.ones((1, 7), np.float32)), (1, 0)), np.ones((7, 1), np.float32))
    assert_exact(ops.transpose(T(LAYOUT_X > 0), (2, 1, 0)), np.transpose(LAYOUT_X > 0, (2, 1, 0)))


@pytest.mark.parametrize("src,shape", [((1, 5), (3, 5)), ((4, 1), (2, 4, 3)), ((), (2, 3)),
                                       ((3,), (2, 0, 3)), ((1, 1), (2, 1, 1))])
def test_broadcast_to_fixed_cases(src, shape, device):
    x = np.random.default_rng(1).standard_normal(src).astype(np.float32)
    assert_exact(ops.broadcast_to(T(x), shape), np.broadcast_to(x, shape))
    assert_grad_matches(lambda t: ops.broadcast_to(t, shape), x)


@pytest.mark.parametrize("key", [
    (slice(1, None), slice(None, None, -2), None, 3),
    (Ellipsis, slice(4, 0, -3)),
    (0, slice(None), slice(1, 2)),
    (slice(2, 2),),                        # empty
    (slice(None, None, 2), -1, slice(None, None, -1)),
    (1, 2, 3),                             # one element
])
def test_strided_slicing_fixed_cases(key, device):
    assert_exact(T(LAYOUT_X)[key], LAYOUT_X[key])
    assert_grad_matches(lambda t: t[key], LAYOUT_X)
    xi = LAYOUT_X.astype(np.int32)
    assert_exact(T(xi)[key], xi[key])
    assert_exact(ops.slice(T(LAYOUT_X), (1, 0, 2), (2, 4, 3)), LAYOUT_X[1:3, 0:4, 2:5])
    assert_grad_matches(lambda t: ops.slice(t, (1, 0, 2), (2, 4, 3)), LAYOUT_X)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concatenate_fixed_cases(axis, device):
    rng = np.random.default_rng(2)
    shapes = [list(LAYOUT_X.shape) for _ in range(3)]
    for i, s in enumerate(shapes):
        s[axis] = [2, 0, 3][i]
    xs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    assert_exact(ops.concatenate([T(x) for x in xs], axis=axis), np.concatenate(xs, axis=axis))
    assert_grad_matches(lambda *ts: ops.concatenate(ts, axis=axis), *xs)
    ints = [x.astype(np.int32) for x in xs]
    assert_exact(ops.concatenate([T(x) for x in ints], axis=axis), np.concatenate(ints, axis=axis))


def test_concatenate_many_and_mixed_dtypes(device):
    rng = np.random.default_rng(3)
    xs = [rng.standard_normal((2, i + 1)).astype(np.float32) for i in range(9)]  # > 8 GPU buffers
    assert_exact(ops.concatenate([T(x) for x in xs], axis=1), np.concatenate(xs, axis=1))
    assert_grad_matches(lambda *ts: ops.concatenate(ts, axis=1), *xs)
    a, b = np.arange(4, dtype=np.int32).reshape(2, 2), rng.standard_normal((2, 3)).astype(np.float32)
    assert_exact(ops.concatenate([T(a), T(b)], axis=1), np.concatenate([a, b], axis=1).astype(np.float32))
    assert_exact(ops.concatenate([T(a), T(b)], axis=None), np.concatenate([a.ravel(), b.ravel()]).astype(np.float32))


def test_clip_fixed_cases(device):
    x = np.concatenate([LAYOUT_X.reshape(-1), [np.nan, -0.5, 0.5]]).astype(np.float32)
    assert_exact(ops.clip(T(x), -0.5, 0.5), np.clip(x, -0.5, 0.5))
    _, (g,) = tape_grads(lambda t: ops.clip(t, -0.5, 0.5), [x], [0], cotangent=np.ones_like(x))
    inside = (x >= -0.5) & (x <= 0.5)
    np.testing.assert_array_equal(g[~np.isnan(x)], inside[~np.isnan(x)].astype(np.float32))
    xi = np.arange(-5, 5, dtype=np.int32)
    assert_exact(ops.clip(T(xi), -2, 3), np.clip(xi, -2, 3))


@pytest.mark.parametrize("cshape,xshape,yshape", [
    ((3, 4), (3, 4), (3, 4)),
    ((3, 1), (1, 4), ()),
    ((4,), (2, 3, 4), (3, 1)),
    ((0, 4), (1, 4), (4,)),
])
def test_where_fixed_cases(cshape, xshape, yshape, device):
    rng = np.random.default_rng(4)
    c = rng.random(cshape) < 0.5
    x = rng.standard_normal(xshape).astype(np.float32)
    y = rng.standard_normal(yshape).astype(np.float32)
    assert_exact(ops.where(T(c), T(x), T(y)), np.where(c, x, y))
    assert_grad_matches(lambda a, b: ops.where(T(c), a, b), x, y)
    xi, yi = x.astype(np.int32), y.astype(np.int32)
    assert_exact(ops.where(T(c), T(xi), T(yi)), np.where(c, xi, yi))


def test_where_non_bool_condition_and_mixed_dtypes_fixed_cases(device):
    c = np.array([0, 2, -1, 0], np.int32)
    x = np.arange(4, dtype=np.int32)
    y = np.random.default_rng(5).standard_normal(4).astype(np.float32)
    assert_exact(ops.where(T(c), T(x), T(y)), np.where(c != 0, x, y).astype(np.float32))
    assert_grad_matches(lambda b: ops.where(T(c), T(x), b), y)
    assert_exact(ops.where(T(c), T(x > 1), T(x < 2)), np.where(c != 0, x > 1, x < 2))


# ---------------------------------------------------------------------------------------------
# expand_dims / squeeze


@given(data=st.data())
def test_expand_dims_matches_numpy(data, device):
    x = data.draw(float_arrays())
    axis = data.draw(st.integers(-x.ndim - 1, x.ndim))
    assert_exact(ops.expand_dims(T(x), axis), np.expand_dims(x, axis))


@pytest.mark.parametrize("axis", [3, -4])
def test_expand_dims_out_of_range_raises_value_error(axis):
    with pytest.raises(ValueError, match="expand_dims"):
        ops.expand_dims(np.zeros((2, 3), np.float32), axis)


@given(data=st.data())
def test_squeeze_matches_numpy(data, device):
    x = data.draw(float_arrays(shapes(max_side=3)))
    ones = [i for i, d in enumerate(x.shape) if d == 1]
    axis = data.draw(st.one_of(st.none(), st.sampled_from(ones) if ones else st.none(),
                               st.lists(st.sampled_from(ones), unique=True, min_size=1).map(tuple) if ones else st.none()))
    if axis is not None:
        axis = data.draw(st.sampled_from([axis, (axis - x.ndim) if isinstance(axis, int)
                                          else tuple(a - x.ndim for a in axis)]))
    assert_exact(ops.squeeze(T(x), axis), np.squeeze(x, axis))


def test_squeeze_non_unit_axis_raises_value_error():
    with pytest.raises(ValueError, match="squeeze"):
        ops.squeeze(np.zeros((1, 2), np.float32), axis=1)
    with pytest.raises(ValueError, match="squeeze"):
        ops.squeeze(np.zeros((1, 2), np.float32), axis=5)


def test_expand_dims_squeeze_grads(device):
    x = np.arange(6, dtype=np.float32).reshape(2, 1, 3)
    assert_grad_matches(lambda t: ops.expand_dims(t, 0), x, expected=lambda x, w: [w.reshape(x.shape)], rtol=0, atol=0)
    assert_grad_matches(lambda t: ops.squeeze(t), x, expected=lambda x, w: [w.reshape(x.shape)], rtol=0, atol=0)


# ---------------------------------------------------------------------------------------------
# Large tensors (parallel copy kernels)


def test_large_shape_ops_match_numpy():
    x = np.random.default_rng(0).standard_normal((200, 300, 5)).astype(np.float32)
    t = T(x)
    assert_exact(ops.transpose(t, (2, 0, 1)), x.transpose(2, 0, 1))
    assert_exact(t[::-3, 5:250:2, ::-1], x[::-3, 5:250:2, ::-1])
    assert_exact(ops.broadcast_to(t[:, :1], (200, 300, 5)), np.broadcast_to(x[:, :1], (200, 300, 5)))
    assert_exact(ops.take(t, np.array([4, 0, 4]), axis=2), np.take(x, [4, 0, 4], axis=2))
    assert_exact(ops.reshape(t, (-1, 15)), x.reshape(-1, 15))
    with keras.GradientTape() as tape:
        tape.watch(t)
        y = ops.sum(ops.square(t[::2, 10:20]))
    ref = np.zeros_like(x)
    ref[::2, 10:20] = 2 * x[::2, 10:20]
    assert_exact(tape.gradient(y, t), ref)


# ---------------------------------------------------------------------------------------------
# Chained shape ops under one tape


def test_chained_shape_ops_grad_finite_differences(device):
    x = np.random.default_rng(3).standard_normal((2, 3, 4)).astype(np.float32)

    def f(t):
        y = ops.transpose(ops.reshape(t, (6, 4)), (1, 0))[::-1, 1:5]
        y = ops.take(ops.broadcast_to(y, (2, 4, 4)), np.array([0, 3, 3]), axis=2)
        return y * y

    assert_grad_matches(f, x)


def test_boolean_mask_indexing_matches_numpy_and_is_differentiable():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    for mask in (x > 10, (x > 10)[..., 0], np.array([True, False]), np.zeros((2, 3), bool)):
        np.testing.assert_array_equal(np.asarray(ops.convert_to_tensor(x)[ops.convert_to_tensor(mask)]), x[mask])
    t = ops.convert_to_tensor(x)
    mask = ops.convert_to_tensor(x % 3 == 0)
    with keras.GradientTape() as tape:
        tape.watch(t)
        y = ops.sum(t[mask] * 2.0)
    np.testing.assert_array_equal(np.asarray(tape.gradient(y, t)), np.where(x % 3 == 0, 2.0, 0.0))
    with pytest.raises(IndexError, match="boolean mask"):
        t[ops.convert_to_tensor(np.ones((3, 3), bool))]

@st.composite
def array_and_two_axes(draw, **kw):
    x = draw(float_arrays(min_dims=1, **kw))
    nd = x.ndim
    return x, draw(st.integers(-nd, nd - 1)), draw(st.integers(-nd, nd - 1))


# ---------------------------------------------------------------------------------------------
# swapaxes / moveaxis


@given(case=array_and_two_axes())
def test_swapaxes_matches_numpy(case, device):
    x, a, b = case
    assert_exact(ops.swapaxes(T(x), a, b), np.swapaxes(x, a, b), dtype="float32")


@settings(max_examples=15)
@given(case=array_and_two_axes(**SMALL))
def test_swapaxes_grad_is_swapped_cotangent(case, device):
    x, a, b = case
    assert_grad_matches(lambda t: ops.swapaxes(t, a, b), x, expected=lambda x, w: [np.swapaxes(w, a, b)],
                        rtol=0, atol=0)


@st.composite
def moveaxis_case(draw):
    x = draw(float_arrays(min_dims=1))
    nd = x.ndim
    k = draw(st.integers(1, nd))
    src = draw(st.permutations(range(nd)))[:k]
    dst = draw(st.permutations(range(nd)))[:k]
    src = [draw(st.sampled_from([a, a - nd])) for a in src]
    dst = [draw(st.sampled_from([a, a - nd])) for a in dst]
    if k == 1 and draw(st.booleans()):
        return x, src[0], dst[0]
    return x, src, dst


@given(case=moveaxis_case())
def test_moveaxis_matches_numpy(case, device):
    x, src, dst = case
    assert_exact(ops.moveaxis(T(x), src, dst), np.moveaxis(x, src, dst))


def test_moveaxis_grad_and_int_dtype():
    x = np.arange(24, dtype=np.int32).reshape(2, 3, 4)
    assert_exact(ops.moveaxis(x, 0, -1), np.moveaxis(x, 0, -1), dtype="int32")
    xf = np.random.default_rng(1).standard_normal((2, 3, 4)).astype(np.float32)
    assert_grad_matches(lambda t: ops.moveaxis(t, [0, 2], [1, 0]), xf,
                        expected=lambda x, w: [np.moveaxis(w, [1, 0], [0, 2])], rtol=0, atol=0)


# ---------------------------------------------------------------------------------------------
# stack / split / unstack


@st.composite
def stack_case(draw, **kw):
    shape = draw(shapes(max_dims=3, **kw))
    n = draw(st.integers(1, 4))
    xs = [draw(float_arrays(shape)) for _ in range(n)]
    nd = len(shape) + 1
    return xs, draw(st.integers(-nd, nd - 1))


@given(case=stack_case())
def test_stack_matches_numpy(case, device):
    xs, axis = case
    assert_exact(ops.stack([T(x) for x in xs], axis=axis), np.stack(xs, axis=axis), dtype="float32")


@settings(max_examples=15)
@given(case=stack_case(max_side=3))
def test_stack_grad_routes_each_slot_to_its_input(case, device):
    xs, axis = case
    assert_grad_matches(lambda *ts: ops.stack(list(ts), axis=axis), *xs,
                        expected=lambda *a: [np.take(a[-1], i, axis=axis) for i in range(len(xs))],
                        rtol=0, atol=0)


def test_stack_dtypes_and_errors():
    i = np.array([1, 2], np.int32)
    assert_exact(ops.stack([i, i + 1]), np.stack([i, i + 1]), dtype="int32")
    assert_exact(ops.stack([i, np.array([0.5, 1.5], np.float32)], axis=1), [[1, 0.5], [2, 1.5]], dtype="float32")
    assert_exact(ops.stack([np.array([True, False])] * 2), [[True, False]] * 2, dtype="bool")
    with pytest.raises(ValueError, match="stack"):
        ops.stack([])
    with pytest.raises(ValueError, match="stack"):
        ops.stack([np.ones(2), np.ones(3)])
    with pytest.raises(ValueError, match="stack"):
        ops.stack([np.ones(2), np.ones(2)], axis=2)


@st.composite
def split_case(draw, **kw):
    x = draw(float_arrays(min_dims=1, **kw))
    axis = draw(st.integers(-x.ndim, x.ndim - 1))
    d = x.shape[axis]
    if draw(st.booleans()):
        n = draw(st.sampled_from([k for k in range(1, 7) if d % k == 0]))
        return x, n, axis
    idx = sorted(draw(st.lists(st.integers(-1, d + 2), max_size=4)))
    return x, idx, axis


@given(case=split_case())
def test_split_matches_numpy(case, device):
    x, sections, axis = case
    got = ops.split(T(x), sections, axis=axis)
    expected = np.split(x, sections, axis=axis)
    assert isinstance(got, list) and len(got) == len(expected)
    for g, e in zip(got, expected):
        assert_exact(g, e)


@settings(max_examples=15)
@given(case=split_case(**SMALL))
def test_split_grad(case, device):
    x, sections, axis = case

    def op(t):  # a weighted recombination, so each part has its own cotangent
        return ops.stack([ops.sum(p) * (i + 1.0) for i, p in enumerate(ops.split(t, sections, axis=axis))])

    assert_grad_matches(op, x)


def test_split_errors():
    with pytest.raises(ValueError, match="split.*equal division"):
        ops.split(np.ones((5, 2)), 2)
    with pytest.raises(ValueError, match="split"):
        ops.split(np.ones((4, 2)), 0)
    with pytest.raises(ValueError, match="split"):
        ops.split(np.ones((4, 2)), 2, axis=2)
    with pytest.raises(ValueError, match="split"):
        ops.split(np.float32(1.0), 1)


# ---------------------------------------------------------------------------------------------
# tile / repeat / flip


@given(x=float_arrays(max_dims=3, max_side=3), reps=st.one_of(st.integers(0, 3), st.lists(st.integers(0, 3), max_size=4)))
def test_tile_matches_numpy(x, reps, device):
    assert_exact(ops.tile(T(x), reps), np.tile(x, reps))


@settings(max_examples=15)
@given(x=float_arrays(**SMALL), reps=st.lists(st.integers(0, 2), max_size=3))
def test_tile_grad_sums_the_copies(x, reps, device):
    def expected(x, w):
        nd = max(len(reps), x.ndim)
        r = [1] * (nd - len(reps)) + list(reps)
        s = [1] * (nd - x.ndim) + list(x.shape)
        g = w.reshape([v for rr, d in zip(r, s) for v in (rr, d)]).sum(axis=tuple(range(0, 2 * nd, 2)))
        return [g.reshape(x.shape)]

    assert_grad_matches(lambda t: ops.tile(t, reps), x, expected=expected, rtol=1e-6, atol=1e-6)


@st.composite
def repeat_case(draw, **kw):
    x = draw(float_arrays(**kw))
    axis = draw(st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1))) if x.ndim else None
    d = x.size if axis is None else x.shape[axis]
    reps = draw(st.one_of(st.integers(0, 3), st.lists(st.integers(0, 3), min_size=d, max_size=d),
                          st.lists(st.integers(0, 3), min_size=1, max_size=1)))
    return x, reps, axis


@given(case=repeat_case())
def test_repeat_matches_numpy(case, device):
    x, reps, axis = case
    assert_exact(ops.repeat(T(x), reps, axis=axis), np.repeat(x, reps, axis=axis))


@settings(max_examples=15)
@given(case=repeat_case(**SMALL))
def test_repeat_grad(case, device):
    x, reps, axis = case
    assert_grad_matches(lambda t: ops.repeat(t, reps, axis=axis), x)


def test_repeat_and_tile_errors_and_dtype():
    assert_exact(ops.repeat(np.array([[1, 2]], np.int32), 2, axis=0), [[1, 2], [1, 2]], dtype="int32")
    with pytest.raises(ValueError, match="repeat"):
        ops.repeat(np.ones(3), -1)
    with pytest.raises(ValueError, match="repeat"):
        ops.repeat(np.ones(3), [1, 2])
    with pytest.raises(ValueError, match="repeat"):
        ops.repeat(np.ones(3), 2, axis=1)
    with pytest.raises(ValueError, match="tile"):
        ops.tile(np.ones(3), [-1])


@given(xa=array_and_axis(float_arrays()))
def test_flip_matches_numpy(xa, device):
    x, axis = xa
    assert_exact(ops.flip(T(x), axis=axis), np.flip(x, axis=_np_axis(axis)))


@settings(max_examples=15)
@given(xa=array_and_axis(float_arrays(**SMALL)))
def test_flip_grad_is_flipped_cotangent(xa, device):
    x, axis = xa
    assert_grad_matches(lambda t: ops.flip(t, axis=axis), x,
                        expected=lambda x, w: [np.flip(w, axis=_np_axis(axis))], rtol=0, atol=0)


def test_flip_errors():
    with pytest.raises(ValueError, match="flip"):
        ops.flip(np.ones((2, 2)), axis=2)
    with pytest.raises(ValueError, match="flip"):
        ops.flip(np.ones((2, 2)), axis=(0, -2))


# ---------------------------------------------------------------------------------------------
# arange / linspace / eye / full / full_like


@given(start=st.integers(-20, 20), stop=st.one_of(st.none(), st.integers(-20, 20)),
       step=st.integers(-5, 5).filter(lambda s: s != 0))
def test_arange_int_args_give_int32_range(start, stop, step):
    got = ops.arange(start, stop, step)
    expected = list(range(start, stop, step)) if stop is not None else list(range(0, start, step))
    assert_exact(got, np.array(expected, np.int32), dtype="int32")


@given(start=st.floats(-10, 10), stop=st.floats(-10, 10), step=st.floats(0.05, 3) | st.floats(-3, -0.05))
def test_arange_float_args_give_float32(start, stop, step):
    got = ops.arange(start, stop, step)
    n = max(math.ceil((stop - start) / step), 0)
    assert got.dtype == "float32" and got.shape == (n,)
    assert_close(got, start + np.arange(n) * step, rtol=1e-5, atol=1e-5)


def test_arange_dtype_and_errors():
    assert_exact(ops.arange(3.0), [0.0, 1.0, 2.0], dtype="float32")
    assert_exact(ops.arange(1, 4, dtype="float32"), [1.0, 2.0, 3.0], dtype="float32")
    assert_exact(ops.arange(0, 2.5), [0.0, 1.0, 2.0], dtype="float32")
    assert_exact(ops.arange(4, dtype="int64"), [0, 1, 2, 3], dtype="int64")
    with pytest.raises(ValueError, match="arange"):
        ops.arange(0, 5, 0)


def _linspace_reference(lo, hi, num, endpoint):
    """NumPy's definition, samples on a new last axis: `lo + i * (hi - lo) / div`, the last one
    exactly `hi` when `endpoint`."""
    lo, hi = np.asarray(lo, F64)[..., None], np.asarray(hi, F64)[..., None]
    div = (num - 1) if endpoint else num
    i = np.arange(num, dtype=F64)
    y = lo + i * ((hi - lo) / div) if div > 0 else np.broadcast_to(lo, lo.shape[:-1] + (num,)).copy()
    if endpoint and num > 1:
        y[..., -1] = hi[..., 0]
    return y


ENDPOINT = floats32(-100, 100)


@given(lo=ENDPOINT, hi=ENDPOINT, num=st.integers(0, 9), endpoint=st.booleans(), as_tensor=st.booleans())
def test_linspace_matches_formula(lo, hi, num, endpoint, as_tensor):
    a, b = (T(np.float32(lo)), T(np.float32(hi))) if as_tensor else (lo, hi)
    got = ops.linspace(a, b, num, endpoint=endpoint)
    assert got.dtype == "float32"
    assert_close(got, _linspace_reference(lo, hi, num, endpoint), rtol=1e-5, atol=1e-4)
    if endpoint and num > 1:
        assert to_np(got)[-1] == np.float32(hi)  # exact end point


@given(shape=shapes(max_dims=2, max_side=3), num=st.integers(0, 5), endpoint=st.booleans(), data=st.data())
def test_linspace_array_endpoints_with_axis(shape, num, endpoint, data):
    lo = data.draw(float_arrays(shape))
    hi = data.draw(float_arrays(shape))
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    expected = np.moveaxis(_linspace_reference(lo, hi, num, endpoint), -1, axis)
    for a, b in ((lo, hi), (T(lo), T(hi))):
        assert_close(ops.linspace(a, b, num, endpoint=endpoint, axis=axis), expected, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("lo,hi", [(-100.0, 1e-3), (3.3, -7.1), (-1.1, 2.2)])
def test_linspace_end_point_is_exact_where_float32_rounding_would_miss_it(lo, hi):
    # float32 lo + 1.0 * (hi - lo) != hi for these endpoints; NumPy pins the last sample to stop
    for a, b in ((lo, hi), (T(np.float32(lo)), T(np.float32(hi)))):
        y = to_np(ops.linspace(a, b, 7))
        assert y[-1] == np.float32(hi) and y[0] == np.float32(lo)


def test_linspace_retstep_int_dtype_and_errors():
    for as_tensor in (False, True):
        f = T if as_tensor else (lambda v: v)
        y, step = ops.linspace(f(0.0), f(2.0), 5, retstep=True)
        assert_close(y, [0.0, 0.5, 1.0, 1.5, 2.0])
        assert float(step) == 0.5
        y, step = ops.linspace(f(0.0), f(1.0), 1, retstep=True)
        assert_close(y, [0.0])
        assert math.isnan(float(step))
        assert_exact(ops.linspace(f(-10.0), f(0.0), 4, dtype="int32"), np.array([-10, -7, -4, 0]), dtype="int32")
    with pytest.raises(ValueError, match="linspace"):
        ops.linspace(0, 1, -1)
    with pytest.raises(ValueError, match="linspace"):
        ops.linspace(0, 1, 5, axis=1)


def test_linspace_grad_through_tensor_endpoints(device):
    lo, hi = np.array([0.5, -1.0], np.float32), np.array([2.0, 3.0], np.float32)
    frac = np.arange(4) / 3.0

    def expected(lo, hi, w):  # y[k, i] = lo[k] + frac[i] (hi[k] - lo[k]), samples on the last axis
        return [np.sum(w * (1 - frac), axis=-1), np.sum(w * frac, axis=-1)]

    assert_grad_matches(lambda a, b: ops.linspace(a, b, 4, axis=-1), lo, hi, expected=expected, rtol=1e-5, atol=1e-5)


@given(n=st.integers(0, 5), m=st.one_of(st.none(), st.integers(0, 5)), k=st.integers(-6, 6))
def test_eye_matches_definition(n, m, k):
    cols = n if m is None else m
    expected = np.array([[1.0 if j - i == k else 0.0 for j in range(cols)] for i in range(n)]).reshape(n, cols)
    assert_exact(ops.eye(n, m, k), expected, dtype="float32")


def test_eye_dtype_and_errors():
    assert_exact(ops.eye(2, dtype="int32"), [[1, 0], [0, 1]], dtype="int32")
    with pytest.raises(ValueError, match="eye"):
        ops.eye(-1)


@given(shape=shapes(max_dims=3), value=st.one_of(st.integers(-5, 5), floats32(-5, 5)))
def test_full_and_full_like(shape, value):
    assert_exact(ops.full(shape, value), np.full(shape, value, np.float32), dtype="float32")
    assert_exact(ops.full(shape, value, dtype="int32"), np.full(shape, int(value), np.int32), dtype="int32")
    like = np.zeros(shape, np.int32)
    assert_exact(ops.full_like(like, value), np.full(shape, int(value), np.int32), dtype="int32")
    assert_exact(ops.full_like(T(like), value, dtype="float32"), np.full(shape, value, np.float32), dtype="float32")


def test_full_tensor_fill_value_broadcasts_and_is_differentiable():
    v = np.array([1.0, -2.0, 3.0], np.float32)
    assert_exact(ops.full((2, 3), T(v)), np.broadcast_to(v, (2, 3)))
    assert_exact(ops.full(3, 7), [7.0, 7.0, 7.0], dtype="float32")
    assert_grad_matches(lambda t: ops.full((4, 3), t), v, expected=lambda v, w: [w.sum(axis=0)], rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="full"):
        ops.full((-1, 2), 0.0)
    with pytest.raises(ValueError, match="full"):
        ops.full((2, 2), T(v))


# ---------------------------------------------------------------------------------------------
# tril / triu / meshgrid / outer


def _tri_mask(shape, k, lower):
    i = np.arange(shape[-2])[:, None]
    j = np.arange(shape[-1])[None, :]
    return (j - i <= k) if lower else (j - i >= k)


@pytest.mark.parametrize("lower", [True, False])
@given(x=float_arrays(min_dims=2), k=st.integers(-5, 5))
def test_tril_triu_match_definition(lower, x, k, device):
    op = ops.tril if lower else ops.triu
    assert_exact(op(T(x), k), np.where(_tri_mask(x.shape, k, lower), x, np.float32(0)))


@pytest.mark.parametrize("lower", [True, False])
@settings(max_examples=10)
@given(x=float_arrays(min_dims=2, max_dims=3, max_side=3), k=st.integers(-3, 3))
def test_tril_triu_grad_is_masked_cotangent(lower, x, k, device):
    op = ops.tril if lower else ops.triu
    assert_grad_matches(lambda t: op(t, k), x, expected=lambda x, w: [np.where(_tri_mask(x.shape, k, lower), w, 0)],
                        rtol=0, atol=0)


def test_tril_triu_int_bool_and_errors():
    x = np.arange(1, 10, dtype=np.int32).reshape(3, 3)
    assert_exact(ops.tril(x), np.tril(x), dtype="int32")
    assert_exact(ops.triu(x.astype(bool), -1), np.triu(x.astype(bool), -1), dtype="bool")
    for op, name in ((ops.tril, "tril"), (ops.triu, "triu")):
        with pytest.raises(ValueError, match=name):
            op(np.ones(3))


@given(lengths=st.lists(st.integers(0, 4), max_size=3), indexing=st.sampled_from(["xy", "ij"]))
def test_meshgrid_matches_numpy(lengths, indexing, device):
    xs = [np.arange(n, dtype=np.float32) * (i + 1) for i, n in enumerate(lengths)]
    got = ops.meshgrid(*[T(x) for x in xs], indexing=indexing)
    expected = np.meshgrid(*xs, indexing=indexing)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert_exact(g, e)


def test_meshgrid_grad_and_errors():
    x, y = np.array([1.0, 2.0], np.float32), np.array([3.0, 4.0, 5.0], np.float32)
    assert_grad_matches(lambda a, b: ops.meshgrid(a, b)[0] * 2.0 + ops.meshgrid(a, b)[1], x, y,
                        expected=lambda a, b, w: [2 * w.sum(axis=0), w.sum(axis=1)], rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="meshgrid"):
        ops.meshgrid(x, y, indexing="xx")


@given(a=float_arrays(max_dims=2, max_side=4), b=float_arrays(max_dims=2, max_side=4))
def test_outer_matches_numpy(a, b, device):
    assert_close(ops.outer(T(a), T(b)), np.outer(a.astype(F64), b.astype(F64)), rtol=1e-6, atol=1e-5)


def test_outer_grad(device):
    a = np.array([[1.0, -2.0]], np.float32)
    b = np.array([0.5, 3.0, -1.0], np.float32)
    assert_grad_matches(ops.outer, a, b, expected=lambda a, b, w: [(w @ b).reshape(a.shape), a.reshape(-1) @ w],
                        rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# dot / tensordot


@st.composite
def dot_case(draw, max_side=3):
    ra, rb = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    side = st.integers(0, max_side)
    k = draw(side)
    a_shape = tuple(draw(side) for _ in range(ra - 1)) + ((k,) if ra else ())
    if rb >= 2:
        b_shape = tuple(draw(side) for _ in range(rb - 2)) + (k, draw(side))
    else:
        b_shape = (k,) if rb == 1 and ra >= 1 else tuple(draw(side) for _ in range(rb))
    return draw(float_arrays(a_shape, -3, 3)), draw(float_arrays(b_shape, -3, 3))


@given(case=dot_case())
def test_dot_matches_numpy(case, device):
    a, b = case
    assert_close(ops.dot(T(a), T(b)), np.dot(a.astype(F64), b.astype(F64)), rtol=1e-5, atol=1e-4)


@settings(max_examples=15)
@given(case=dot_case(max_side=2))
def test_dot_grad(case, device):
    assert_grad_matches(ops.dot, *case)


@st.composite
def tensordot_case(draw, max_side=3):
    side = st.integers(0, max_side)
    a_shape = draw(st.lists(side, max_size=3))
    if draw(st.booleans()):  # axes=int: last n of a against first n of b
        n = draw(st.integers(0, len(a_shape)))
        b_shape = a_shape[len(a_shape) - n:] + draw(st.lists(side, max_size=2))
        axes = n
    else:
        ax_a = draw(st.permutations(range(len(a_shape))))[: draw(st.integers(0, len(a_shape)))]
        free_b = draw(st.lists(side, max_size=2))
        b_shape = list(free_b)
        ax_b = []
        for i in ax_a:
            pos = draw(st.integers(0, len(b_shape)))
            ax_b = [p + 1 if p >= pos else p for p in ax_b] + [pos]
            b_shape.insert(pos, a_shape[i])
        ax_a = [draw(st.sampled_from([i, i - len(a_shape)])) for i in ax_a]
        axes = (ax_a, ax_b)
    return draw(float_arrays(tuple(a_shape), -3, 3)), draw(float_arrays(tuple(b_shape), -3, 3)), axes


@given(case=tensordot_case())
def test_tensordot_matches_numpy(case, device):
    a, b, axes = case
    assert_close(ops.tensordot(T(a), T(b), axes), np.tensordot(a.astype(F64), b.astype(F64), axes),
                 rtol=1e-5, atol=1e-4)


@settings(max_examples=15)
@given(case=tensordot_case(max_side=2))
def test_tensordot_grad(case, device):
    a, b, axes = case
    assert_grad_matches(lambda x, y: ops.tensordot(x, y, axes), a, b)


@pytest.mark.parametrize("a_shape,b_shape,axes", [
    ((2, 3, 4), (3, 4, 5), 2),
    ((2, 3, 4), (4, 3, 5), ([1, 2], [1, 0])),
    ((2, 3, 4), (4, 3, 5), ([2, 1], [0, 1])),
    ((3, 2, 4), (4, 2, 3), ([0, 1, 2], [2, 1, 0])),
    ((2, 3), (3, 2), ([0, 1], [1, 0])),
    ((2, 3, 4), (5, 4, 2), ([-1, 0], [1, 2])),
])
def test_tensordot_multi_axis_contractions(a_shape, b_shape, axes):
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal(a_shape).astype(np.float32), rng.standard_normal(b_shape).astype(np.float32)
    assert_close(ops.tensordot(a, b, axes), np.tensordot(a.astype(F64), b.astype(F64), axes), rtol=1e-5, atol=1e-5)
    assert_grad_matches(lambda x, y: ops.tensordot(x, y, axes), a, b)


def test_dot_tensordot_dtypes_and_errors():
    i = np.arange(6, dtype=np.int32).reshape(2, 3)
    assert_exact(ops.dot(i, i.T), np.dot(i, i.T), dtype="int32")
    assert_exact(ops.tensordot(i, np.ones(3, np.float32), 1), i.sum(axis=1).astype(np.float32), dtype="float32")
    assert_exact(ops.tensordot(np.ones((2, 3)), np.full((2, 3), 2.0)), np.float32(12.0))  # default axes=2
    with pytest.raises(ValueError, match="dot"):
        ops.dot(np.ones((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="tensordot"):
        ops.tensordot(np.ones((2, 3)), np.ones((2, 3)), axes=([1], [1, 0]))
    with pytest.raises(ValueError, match="tensordot"):
        ops.tensordot(np.ones((2, 3)), np.ones((2, 3)), axes=([1], [0]))
    with pytest.raises(ValueError, match="tensordot"):
        ops.tensordot(np.ones((2, 3)), np.ones((3,)), axes=2)
    with pytest.raises(ValueError, match="tensordot"):
        ops.tensordot(np.ones((2, 3)), np.ones((3,)), axes=([2], [0]))


# ---------------------------------------------------------------------------------------------
# einsum


@st.composite
def einsum_case(draw, max_side=3, max_operands=3):
    labels = "abcdE"
    sizes = {c: draw(st.integers(0, max_side)) for c in labels}
    terms = ["".join(draw(st.lists(st.sampled_from(labels), max_size=3)))
             for _ in range(draw(st.integers(1, max_operands)))]
    used = sorted(set("".join(terms)))
    out = None
    if draw(st.booleans()):
        out = "".join(draw(st.permutations(draw(st.lists(st.sampled_from(used), unique=True)) if used else [])))
    operands = [draw(float_arrays(tuple(sizes[c] for c in t), -2, 2)) for t in terms]
    spec = ",".join(terms) + ("" if out is None else "->" + out)
    return spec, operands


@given(case=einsum_case())
def test_einsum_matches_numpy(case, device):
    spec, operands = case
    expected = np.einsum(spec, *[x.astype(F64) for x in operands])
    assert_close(ops.einsum(spec, *[T(x) for x in operands]), expected, rtol=1e-5, atol=1e-4)


@settings(max_examples=15)
@given(case=einsum_case(max_side=2))
def test_einsum_grad(case, device):
    spec, operands = case
    assert_grad_matches(lambda *ts: ops.einsum(spec, *ts), *operands)


@pytest.mark.parametrize("spec,shapes_", [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),
    ("i,i", [(3,), (3,)]),
    ("ij->ji", [(2, 3)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("iij->ji", [(2, 2, 3)]),
    ("...ij,...jk->...ik", [(2, 1, 2, 3), (4, 3, 2)]),
    ("...i->...", [(2, 3, 4)]),
    ("ij...,jk", [(2, 3, 4), (3, 2)]),
    ("ij,j->i", [(2, 1), (3,)]),  # a size-1 axis broadcasts
    ("i,j,k,l->lkji", [(2,), (1,), (3,), (2,)]),
    (" ij , jk -> ki ", [(2, 3), (3, 2)]),
    (",i->i", [(), (3,)]),
])
def test_einsum_fixed_cases(spec, shapes_, device):
    rng = np.random.default_rng(3)
    operands = [rng.standard_normal(s).astype(np.float32) for s in shapes_]
    got = ops.einsum(spec, *[T(x) for x in operands])
    assert_close(got, np.einsum(spec.replace(" ", ""), *[x.astype(F64) for x in operands]), rtol=1e-5, atol=1e-5)
    assert_grad_matches(lambda *ts: ops.einsum(spec, *ts), *operands)


def test_einsum_int_operands_stay_int():
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    assert_exact(ops.einsum("ij,kj->ik", a, a), np.einsum("ij,kj->ik", a, a), dtype="int32")


@pytest.mark.parametrize("spec,shapes_", [
    ("ij,jk->ik", [(2, 3)]),  # too few operands
    ("ij", [(2, 3), (3,)]),  # too many operands
    ("ijk->i", [(2, 3)]),  # rank mismatch
    ("ij,jk->ik", [(2, 3), (4, 2)]),  # size mismatch
    ("ij->ix", [(2, 3)]),  # output label not in inputs
    ("ij->ii", [(2, 3)]),  # repeated output label
    ("i1->i", [(2, 3)]),  # bad character
    ("ij->i->j", [(2, 3)]),
    ("...i->i", [(2, 3)]),  # ellipsis dims dropped from an explicit output
    ("ii->i", [(2, 3)]),  # diagonal of a non-square pair
])
def test_einsum_errors(spec, shapes_):
    with pytest.raises(ValueError, match="einsum"):
        ops.einsum(spec, *[np.ones(s, np.float32) for s in shapes_])


# ---------------------------------------------------------------------------------------------
# var / std / logsumexp / count_nonzero / average


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy on empty reductions
@pytest.mark.parametrize("name", ["var", "std"])
@given(xa=array_and_axis(float_arrays()), keepdims=st.booleans())
def test_var_std_match_numpy(name, xa, keepdims, device):
    x, axis = xa
    with np.errstate(all="ignore"):
        expected = getattr(np, name)(x.astype(F64), axis=_np_axis(axis), keepdims=keepdims)
    got = getattr(ops, name)(T(x), axis=axis, keepdims=keepdims)
    assert got.dtype == "float32"
    assert_close(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["var", "std"])
@settings(max_examples=15)
@given(xa=array_and_axis(float_arrays(min_value=-1, max_value=1, min_side=2, **SMALL)), keepdims=st.booleans())
def test_var_std_grad(name, xa, keepdims, device):
    x, axis = xa
    # a ramp keeps every reduced slice spread out (std well above 0, where sqrt is smooth)
    x = np.asarray(x + 3.0 * np.arange(x.size).reshape(x.shape), np.float32)

    def expected(x, w):  # d var = 2 (x - mean) / N; d std = d var / (2 std)
        axes = normalize_axes(axis, x.ndim)
        n = int(np.prod([x.shape[a] for a in axes]))
        x = x.astype(F64)
        centered = x - x.mean(axis=axes, keepdims=True)
        w = w if keepdims else np.expand_dims(w, axes)
        g = 2.0 * centered / n * w
        if name == "std":  # a rank-0 x has std 0: 0/0 = NaN, as the tape (and jax) give
            with np.errstate(invalid="ignore"):
                g = g / (2.0 * np.sqrt((centered ** 2).mean(axis=axes, keepdims=True)))
        return [g]

    assert_grad_matches(lambda t: getattr(ops, name)(t, axis=axis, keepdims=keepdims), x, expected=expected,
                        rtol=1e-4, atol=1e-5)


def test_var_std_int_input_and_errors():
    x = np.array([[1, 2, 3], [4, 6, 8]], np.int32)
    assert_close(ops.var(x, axis=1), np.var(x, axis=1), dtype="float32")
    assert_close(ops.std(x), np.std(x), dtype="float32")
    for name in ("var", "std"):
        with pytest.raises(ValueError, match=name):
            getattr(ops, name)(x, axis=2)
        with pytest.raises(ValueError, match=name):
            getattr(ops, name)(x, axis=(0, -2))


@given(xa=array_and_axis(int_arrays(min_value=-2, max_value=2) | float_arrays(
    elements=st.sampled_from([0.0, -0.0, 1.5, np.nan, np.inf]).map(np.float32))))
def test_count_nonzero_matches_numpy(xa):
    x, axis = xa
    got = ops.count_nonzero(T(x), axis=axis)
    assert got.dtype == "int32"
    assert_exact(got, np.asarray(np.count_nonzero(x, axis=_np_axis(axis))).astype(np.int32))


def test_count_nonzero_of_specials(device):
    x = np.array([[0.0, -0.0, 1.5], [np.nan, np.inf, 0.0]], np.float32)  # NaN and inf are non-zero
    for axis in (None, 0, 1):
        assert_exact(ops.count_nonzero(T(x), axis=axis), np.asarray(np.count_nonzero(x, axis=axis)).astype(np.int32))


def test_count_nonzero_errors():
    with pytest.raises(ValueError, match="count_nonzero"):
        ops.count_nonzero(np.ones(3), axis=1)


@st.composite
def average_case(draw, **kw):
    x, axis = draw(array_and_axis(float_arrays(**kw)))
    kind = draw(st.sampled_from(["none", "full", "1d"] if isinstance(axis, int) else ["none", "full"]))
    if kind == "none":
        return x, axis, None
    w_shape = x.shape if kind == "full" else (x.shape[axis],)
    return x, axis, draw(float_arrays(w_shape, 0.1, 3.0))  # positive weights: no zero sums


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's mean of an empty slice
@given(case=average_case())
def test_average_matches_numpy(case, device):
    x, axis, w = case
    assume(w is None or x.size > 0)  # NumPy raises ZeroDivisionError for an empty weight sum
    with np.errstate(all="ignore"):
        # (np.average itself divides by zero for an unweighted (0, 0) input, so plain mean there)
        expected = (np.mean(x.astype(F64), axis=_np_axis(axis)) if w is None
                    else np.average(x.astype(F64), axis=_np_axis(axis), weights=w.astype(F64)))
    assert_close(ops.average(T(x), axis=axis, weights=None if w is None else T(w)), expected,
                 rtol=1e-5, atol=1e-5, dtype="float32")


@settings(max_examples=15)
@given(case=average_case(min_side=1, **SMALL))
def test_average_grad(case, device):
    x, axis, w = case
    if w is None:
        assert_grad_matches(lambda t: ops.average(t, axis=axis), x)
    else:
        assert_grad_matches(lambda t, u: ops.average(t, axis=axis, weights=u), x, w)


def test_average_zero_weights_and_errors():
    got = to_np(ops.average(np.ones((2, 3), np.float32), axis=0, weights=np.zeros(2, np.float32)))
    assert np.isnan(got).all() and got.shape == (3,)
    with pytest.raises(ValueError, match="average"):
        ops.average(np.ones((2, 3)), weights=np.ones(3))  # 1-D weights need an int axis
    with pytest.raises(ValueError, match="average"):
        ops.average(np.ones((2, 3)), axis=1, weights=np.ones(2))
    with pytest.raises(ValueError, match="average"):
        ops.average(np.ones((2, 3)), axis=2)


def test_get_item_size_ndim(device):
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    for key in [(0, slice(None, None, -1)), (Ellipsis, None, 1), np.array([1, 0, 1]), (slice(1, None), 2, slice(3, 0, -2))]:
        assert_exact(ops.get_item(T(x), key), x[key])
    assert_grad_matches(lambda t: ops.get_item(t, (slice(None), slice(None, None, -2))),
                        np.ascontiguousarray(x[:, :, 0]),
                        expected=lambda x, w: [np.stack([w[:, 1], np.zeros(2), w[:, 0]], axis=1)], rtol=0, atol=0)
    for value, n, nd in [(x, 24, 3), (T(x), 24, 3), (3.0, 1, 0), ([[1, 2, 3]], 3, 2), (np.zeros((0, 5)), 0, 2)]:
        assert ops.size(value) == n and isinstance(ops.size(value), int)
        assert ops.ndim(value) == nd and isinstance(ops.ndim(value), int)


# ---------------------------------------------------------------------------------------------
# axis errors name the op


@pytest.mark.parametrize("call,name", [
    (lambda x: ops.swapaxes(x, 0, 3), "swapaxes"),
    (lambda x: ops.swapaxes(x, -4, 0), "swapaxes"),
    (lambda x: ops.moveaxis(x, 0, 3), "moveaxis"),
    (lambda x: ops.moveaxis(x, [0, 1], [0]), "moveaxis"),
    (lambda x: ops.moveaxis(x, [0, 0], [1, 2]), "moveaxis"),
    (lambda x: ops.split(x, 3, axis=-4), "split"),
    (lambda x: ops.repeat(x, 2, axis=3), "repeat"),
    (lambda x: ops.flip(x, axis=(0, 3)), "flip"),
    (lambda x: ops.var(x, axis=-4), "var"),
    (lambda x: ops.average(x, axis=5), "average"),
    (lambda x: ops.count_nonzero(x, axis=(1, 1)), "count_nonzero"),
])
def test_bad_axis_raises_value_error_naming_the_op(call, name):
    with pytest.raises(ValueError, match=name):
        call(np.ones((2, 3, 4), np.float32))


def test_composites_are_recorded_on_the_tape_as_one_graph(device):
    # A chain of several composites: the tape sees every primitive inside them.
    x = T(np.arange(6, dtype=np.float32).reshape(2, 3))
    with keras.GradientTape() as tape:
        tape.watch(x)
        y = ops.sum(ops.einsum("ij,kj->ik", ops.flip(x, 0), ops.tile(x, (1, 1))) * ops.eye(2))
    g = to_np(tape.gradient(y, x))
    # y = sum_i <x[1-i], x[i]> = 2 <x0, x1>: dy/dx0 = 2 x1, dy/dx1 = 2 x0
    np.testing.assert_allclose(g, 2 * np.arange(6, dtype=np.float32).reshape(2, 3)[::-1], rtol=1e-6)

def int_axis(x):
    """A strategy for a valid int axis of `x` (negative ones included)."""
    return st.integers(-x.ndim, x.ndim - 1)


# Few distinct values: many ties, exact zeros and NaN.
ORDER_TIES = st.sampled_from([-2.0, -0.5, 0.0, 1.0, 3.0]).map(np.float32)


TIES_NAN = st.sampled_from([-2.0, -0.5, 0.0, -0.0, 1.0, 3.0, np.nan, np.inf, -np.inf]).map(np.float32)


# magnitudes in [0.5, 1.5] (both signs): products of up to 64 of them neither overflow nor vanish
UNITISH = st.one_of(floats32(0.5, 1.5), floats32(-1.5, -0.5))


FLOATS10 = floats32(-10, 10)


# ---------------------------------------------------------------------------------------------
# prod


@given(xa=array_and_axis(float_arrays(elements=st.one_of(UNITISH, st.just(np.float32(0.0))), max_dims=3, max_side=4)),
       keepdims=st.booleans())
def test_prod_matches_numpy(xa, keepdims, device):
    x, axis = xa
    out = ops.prod(T(x), axis=axis, keepdims=keepdims)
    assert out.dtype == "float32"
    expected = np.prod(x.astype(F64), axis=axis, keepdims=keepdims)
    assert_close(out, expected, rtol=1e-5, atol=1e-30)


@given(xa=array_and_axis(int_arrays(min_value=-3, max_value=3, max_dims=3, max_side=4)), keepdims=st.booleans())
def test_prod_integers_match_numpy(xa, keepdims, device):
    x, axis = xa
    out = ops.prod(T(x), axis=axis, keepdims=keepdims)
    assert out.dtype == "int32"
    # int32 arithmetic wraps on overflow, as NumPy's with dtype=int32 (and jax.numpy's)
    np.testing.assert_array_equal(to_np(out), np.prod(x, axis=axis, keepdims=keepdims, dtype=np.int32))


def test_prod_empty_is_one_and_nan_propagates(device):
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
def test_prod_gradient_matches_finite_differences(xa, keepdims, device):
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
def test_prod_gradient_with_zeros_is_product_of_others(zeros, data, device):
    x, axis = data.draw(arrays_with_zeros(zeros))
    # reference: w (broadcast back over the reduced axes) times the product of the other elements
    assert_grad_matches(lambda t: ops.prod(t, axis=axis, keepdims=True), x,
                        expected=lambda x, w: [w * _prod_of_others(x, axis)], rtol=1e-5, atol=1e-7)


def test_prod_gradient_with_zeros_exact_values(device):
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
def test_cumsum_matches_numpy(xa, device):
    x, axis = xa
    out = ops.cumsum(T(x), axis=axis)
    assert out.dtype == "float32"
    expected = np.cumsum(x, axis=axis)  # float32 running sums, same order
    assert_close(out, expected, rtol=1e-6, atol=1e-5)


@given(xa=array_and_cum_axis(UNITISH, max_dims=3, max_side=4))
def test_cumprod_matches_numpy(xa, device):
    x, axis = xa
    out = ops.cumprod(T(x), axis=axis)
    assert out.dtype == "float32"
    assert_close(out, np.cumprod(x.astype(F64), axis=axis), rtol=1e-5, atol=1e-30)


@given(data=st.data())
def test_cumsum_cumprod_integers(data, device):
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
def test_cumsum_gradient(xa, device):
    x, axis = xa
    assert_grad_matches(lambda t: ops.cumsum(t, axis=axis), x)

    def expected(x, w):  # reversed running sums of the cotangent
        w = w.reshape(-1) if axis is None else w
        a = 0 if axis is None else axis
        return [np.flip(np.cumsum(np.flip(w, a), axis=a), a).reshape(x.shape)]

    assert_grad_matches(lambda t: ops.cumsum(t, axis=axis), x, expected=expected, rtol=1e-5, atol=1e-6)


@given(xa=array_and_cum_axis(UNITISH, **SMALL))
def test_cumprod_gradient_nonzero_inputs(xa, device):
    x, axis = xa
    assert_grad_matches(lambda t: ops.cumprod(t, axis=axis), x)


@given(xa=array_and_cum_axis(UNITISH, **SMALL), data=st.data())
def test_cumprod_gradient_exact_with_zeros(xa, data, device):
    x, axis = xa
    flat = x.reshape(-1)
    if flat.size:
        flat[data.draw(st.integers(0, flat.size - 1))] = 0.0  # one zero; maybe a second one
        flat[data.draw(st.integers(0, flat.size - 1))] = 0.0
    assert_grad_matches(lambda t: ops.cumprod(t, axis=axis), x)


@pytest.mark.parametrize("axis", [0, 1])
def test_prod_second_order_with_zeros(axis, device):
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
def test_argsort_is_stable_with_nan_last_like_numpy(xa, device):
    x, axis = xa
    out = ops.argsort(T(x), axis=axis)
    assert out.dtype == "int32"
    np.testing.assert_array_equal(to_np(out), np.argsort(x, axis=axis, kind="stable"))


@given(xa=array_and_sort_axis(floats32(-1e6, 1e6)))
def test_argsort_distinct_floats_and_default_axis(xa, device):
    x, axis = xa
    np.testing.assert_array_equal(to_np(ops.argsort(T(x), axis=axis)), np.argsort(x, axis=axis, kind="stable"))
    np.testing.assert_array_equal(to_np(ops.argsort(T(x))), np.argsort(x, kind="stable"))


@given(data=st.data())
def test_argsort_and_sort_integers(data, device):
    x = data.draw(int_arrays(min_value=-3, max_value=3, min_dims=1, max_dims=3))
    axis = data.draw(int_axis(x))
    np.testing.assert_array_equal(to_np(ops.argsort(T(x), axis=axis)), np.argsort(x, axis=axis, kind="stable"))
    out = ops.sort(T(x), axis=axis)
    assert out.dtype == "int32"
    np.testing.assert_array_equal(to_np(out), np.sort(x, axis=axis))


@given(xa=array_and_sort_axis(st.one_of(TIES_NAN, floats32(-100, 100))))
def test_sort_matches_numpy_nan_last(xa, device):
    x, axis = xa
    out = ops.sort(T(x), axis=axis)
    assert out.dtype == "float32"
    np.testing.assert_array_equal(to_np(out), np.sort(x, axis=axis))


def test_sort_argsort_small_examples(device):
    x = np.float32([3.0, np.nan, 1.0, 3.0, -np.inf, 1.0])
    np.testing.assert_array_equal(to_np(ops.argsort(T(x))), [4, 2, 5, 0, 3, 1])
    np.testing.assert_array_equal(to_np(ops.sort(T(x))), [-np.inf, 1.0, 1.0, 3.0, 3.0, np.nan])
    m = np.float32([[2.0, 1.0], [0.0, 5.0]])
    np.testing.assert_array_equal(to_np(ops.argsort(T(m), axis=0)), [[1, 0], [0, 1]])
    np.testing.assert_array_equal(to_np(ops.sort(T(m), axis=None)), [0.0, 1.0, 2.0, 5.0])
    with pytest.raises(ValueError, match="argsort"):
        ops.argsort(T(m), axis=2)


@given(xa=array_and_sort_axis(st.one_of(ORDER_TIES, floats32(-10, 10)), **SMALL))
def test_sort_gradient_routes_back_to_original_positions(xa, device):
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


def test_sort_gradient_distinct_values_finite_differences(device):
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
def test_concatenate_axis_none_flattens(xs, device):
    out = ops.concatenate([T(x) for x in xs], axis=None)
    np.testing.assert_array_equal(to_np(out), np.concatenate(xs, axis=None))


def test_concatenate_promotes_dtypes(device):
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
def test_concatenate_gradient_splits_cotangent(case, device):
    xs, axis = case

    def expected(*args):
        *parts, w = args
        cuts = np.cumsum([p.shape[axis] for p in parts])[:-1]
        return np.split(w, cuts, axis=axis)

    assert_grad_matches(lambda *ts: ops.concatenate(list(ts), axis=axis), *xs, expected=expected, rtol=0, atol=0)


def test_concatenate_gradient_mixed_with_non_float_input(device):
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
def test_take_along_axis_matches_numpy_with_broadcasting_and_negative_indices(case, device):
    x, idx, axis = case
    out = ops.take_along_axis(T(x), T(idx), axis=axis)
    assert out.dtype == "float32"
    np.testing.assert_array_equal(to_np(out), np.take_along_axis(x, idx, axis=axis))


@given(data=st.data())
def test_take_along_axis_none_and_integer_values(data, device):
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
def test_take_along_axis_gradient_sums_repeated_indices(case, device):
    x, idx, axis = case
    assert_grad_matches(lambda t: ops.take_along_axis(t, T(idx), axis=axis), x,
                        expected=lambda x, w: [_take_along_grad(x, idx, axis, w)], rtol=1e-6, atol=1e-6)


def test_take_along_axis_gradient_repeated_indices_exact(device):
    x = np.float32([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    idx = np.array([[2, 2, 0, 2], [1, -2, 1, 0]], np.int32)
    w = np.float32([[1.0, 10.0, 100.0, 1000.0], [1.0, 2.0, 4.0, 8.0]])
    y, (g,) = tape_grads(lambda t: ops.take_along_axis(t, T(idx), axis=1), [x], [0], cotangent=w)
    np.testing.assert_array_equal(y, [[3.0, 3.0, 1.0, 3.0], [5.0, 5.0, 5.0, 4.0]])
    np.testing.assert_array_equal(g, [[100.0, 0.0, 1011.0], [8.0, 7.0, 0.0]])


def test_take_along_axis_broadcasts_x_and_indices_with_gradient(device):
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


# Fixed cases (once the GPU gather kernel's own tests).
@pytest.mark.parametrize("axis, idx_shape", [(0, (6, 5)), (1, (4, 7)), (-1, (4, 2)), (0, (0, 5))])
def test_take_along_axis_and_its_gradient_on_fixed_cases(axis, idx_shape, device):
    x = TAKE_X[0]
    dim = x.shape[axis]
    idx = np.random.default_rng(2).integers(-dim, dim, idx_shape)
    assert_exact(ops.take_along_axis(T(x), T(idx), axis=axis), np.take_along_axis(x, idx, axis=axis))
    assert_grad_matches(lambda t: ops.take_along_axis(t, T(idx), axis=axis), x, expected=_take_along_grad_ref(idx, axis),
                        rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", ["int32", "bool"])
def test_take_along_axis_keeps_the_dtype(dtype, device):
    x = (np.arange(20).reshape(4, 5) % 3).astype(dtype)
    idx = np.random.default_rng(4).integers(-5, 5, (4, 3))
    got = ops.take_along_axis(T(x), T(idx), axis=1)
    assert got.dtype == dtype
    np.testing.assert_array_equal(to_np(got), np.take_along_axis(x, idx % 5, axis=1))


def test_take_along_axis_broadcasts_the_indices(device):
    idx = np.array([[[0], [3], [-1], [1]]])  # (1, 4, 1): broadcast over axes 0 and 2
    assert_exact(ops.take_along_axis(T(TAKE_X), T(idx), axis=1), np.take_along_axis(TAKE_X, idx, axis=1))
    assert_grad_matches(lambda t: ops.take_along_axis(t, T(idx), axis=1), TAKE_X, expected=_take_along_grad_ref(idx, 1),
                        rtol=1e-6, atol=1e-6)


def test_take_along_axis_of_the_flattened_tensor(device):
    idx = np.array([59, 0, -3, 7])
    assert_exact(ops.take_along_axis(T(TAKE_X), T(idx), axis=None), TAKE_X.reshape(-1)[idx])
    assert_grad_matches(lambda t: ops.take_along_axis(t, T(idx), axis=None), TAKE_X,
                        expected=_take_along_grad_ref(idx, None), rtol=1e-6, atol=1e-6)


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
def test_pad_constant_matches_numpy(case, value, device):
    x, width = case
    out = ops.pad(T(x), width) if value is None else ops.pad(T(x), width, constant_values=value)
    assert out.dtype == "float32"
    expected = np.pad(x, width, mode="constant", constant_values=0.0 if value is None else value)
    np.testing.assert_array_equal(to_np(out), expected)


@given(case=pad_case(max_dims=3))
def test_pad_integer_inputs_keep_dtype(case, device):
    x, width = case
    xi = np.round(x).astype(np.int32)
    out = ops.pad(T(xi), width, constant_values=7)
    assert out.dtype == "int32"
    np.testing.assert_array_equal(to_np(out), np.pad(xi, width, constant_values=7))


@given(case=pad_case(**SMALL))
def test_pad_gradient_is_the_inner_block(case, device):
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

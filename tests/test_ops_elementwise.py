"""Element-wise ops: forward values against NumPy (float64 reference), broadcasting, dtypes,
NaN/Inf propagation, gradients and errors."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
import rskeras as keras
from conftest import (
    T,
    assert_close,
    assert_grad_matches,
    broadcast_float_pair,
    broadcastable_shapes,
    float_arrays,
    floats32,
    int_arrays,
    to_np,
    unbroadcast,
)
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from rskeras import ops


def shape_re(shape):
    """A regex for `shape` printed as a tuple `(2, 3)` / `(4,)` or a list `[2, 3]` / `[4]`."""
    inner = ", ".join(str(d) for d in shape)
    return r"[\(\[]" + re.escape(inner) + r",?[\)\]]"


F64 = np.float64

# name -> (rskeras op, float64 NumPy reference)
ARITH = {
    "add": (ops.add, np.add),
    "subtract": (ops.subtract, np.subtract),
    "multiply": (ops.multiply, np.multiply),
    "divide": (ops.divide, np.divide),
    "maximum": (ops.maximum, np.maximum),
    "minimum": (ops.minimum, np.minimum),
}
COMPARE = {
    "equal": (ops.equal, np.equal),
    "not_equal": (ops.not_equal, np.not_equal),
    "less": (ops.less, np.less),
    "less_equal": (ops.less_equal, np.less_equal),
    "greater": (ops.greater, np.greater),
    "greater_equal": (ops.greater_equal, np.greater_equal),
}
LOGICAL = {
    "logical_and": (ops.logical_and, np.logical_and),
    "logical_or": (ops.logical_or, np.logical_or),
}


def ref32(f, *xs):
    """float64 reference of `f` on float32 inputs, rounded to float32 (so overflow matches)."""
    with np.errstate(all="ignore"):
        return f(*[np.asarray(x, F64) for x in xs]).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Binary arithmetic: forward


@pytest.mark.parametrize("name", sorted(ARITH))
@given(pair=broadcast_float_pair())
def test_binary_arith_forward_matches_numpy_with_broadcasting(name, pair):
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
def test_binary_int32_stays_int32(name, data):
    op, ref = ARITH[name]
    bs = data.draw(broadcastable_shapes(2, max_dims=3))
    a = data.draw(int_arrays(bs.input_shapes[0], -1000, 1000))
    b = data.draw(int_arrays(bs.input_shapes[1], -1000, 1000))
    out = op(T(a), T(b))
    assert out.dtype == "int32"
    np.testing.assert_array_equal(to_np(out), ref(a, b))


@given(data=st.data())
def test_int_divide_gives_float32(data):
    bs = data.draw(broadcastable_shapes(2, max_dims=3))
    a = data.draw(int_arrays(bs.input_shapes[0], -1000, 1000))
    b = data.draw(int_arrays(bs.input_shapes[1], 1, 1000))
    out = ops.divide(T(a), T(b))
    assert out.dtype == "float32"
    assert_close(out, ref32(np.divide, a, b), rtol=2e-7, atol=0)


def test_int64_arithmetic_is_exact_beyond_float32_precision():
    a = np.array([2**40 + 1, -(2**50) + 3], np.int64)
    b = np.array([2**40, 7], np.int64)
    out = ops.add(T(a), T(b))
    assert out.dtype == "int64"
    np.testing.assert_array_equal(to_np(out), a + b)
    np.testing.assert_array_equal(to_np(ops.subtract(a, b)), a - b)


def test_mixed_dtype_promotion_int32_int64_float32():
    i32 = T(np.array([1, 2], np.int32))
    i64 = T(np.array([3, 4], np.int64))
    f32 = T(np.array([0.5, 0.25], np.float32))
    assert ops.add(i32, i64).dtype == "int64"
    assert ops.add(i64, f32).dtype == "float32"
    np.testing.assert_array_equal(to_np(ops.multiply(i32, f32)), [0.5, 0.5])


def test_bool_arithmetic_counts_in_int32():
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
def test_comparisons_match_numpy_including_nan(name, pair):
    op, ref = COMPARE[name]
    a, b = pair
    out = op(T(a), T(b))
    assert out.dtype == "bool"
    np.testing.assert_array_equal(to_np(out), ref(a, b))


@pytest.mark.parametrize("name", sorted(COMPARE))
@given(data=st.data())
def test_comparisons_int_and_bool(name, data):
    op, ref = COMPARE[name]
    bs = data.draw(broadcastable_shapes(2, max_dims=3))
    a = data.draw(int_arrays(bs.input_shapes[0], -3, 3))
    b = data.draw(int_arrays(bs.input_shapes[1], -3, 3, dtype=np.int64))
    np.testing.assert_array_equal(to_np(op(T(a), T(b))), ref(a, b))
    pa, pb = a > 0, b > 0
    np.testing.assert_array_equal(to_np(op(T(pa), T(pb))), ref(pa, pb))


@pytest.mark.parametrize("name", sorted(COMPARE))
def test_comparison_operators_on_tensors(name):
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
def test_logical_binary_ops(name, data):
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
def test_logical_not(x):
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
def test_unary_forward_matches_numpy(name, data):
    op, ref, elements, rtol, atol = UNARY[name]
    x = data.draw(float_arrays(elements=elements))
    out = op(T(x))
    assert out.dtype == "float32"
    assert_close(out, ref32(ref, x), rtol=rtol, atol=atol)


UNARY_SPECIAL_INPUTS = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, -1.0, 1.0], np.float32)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_nan_inf_propagation(name):
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
def test_integer_preserving_unary_ops(name, x):
    op, ref, *_ = UNARY[name]
    out = op(T(x))
    assert out.dtype == "int32"
    np.testing.assert_array_equal(to_np(out), ref(x))


@pytest.mark.parametrize("name", ["sqrt", "exp", "log", "tanh", "sigmoid"])
@given(x=int_arrays(min_value=1, max_value=50))
def test_float_unary_ops_on_integers_compute_in_float32(name, x):
    op, ref, *_ = UNARY[name]
    out = op(T(x))
    assert out.dtype == "float32"
    assert_close(out, ref32(ref, x), rtol=2e-6, atol=1e-7)


def test_negative_operator_and_abs_builtin():
    x = np.array([[1.5, -2.0], [0.0, 3.0]], np.float32)
    np.testing.assert_array_equal(to_np(-T(x)), -x)
    np.testing.assert_array_equal(to_np(abs(T(x))), np.abs(x))


# ---------------------------------------------------------------------------------------------
# where and clip: forward


@given(data=st.data())
def test_where_three_way_broadcast(data):
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
def test_clip_matches_numpy(x, bounds):
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
def test_binary_grad_matches_analytic_with_broadcasting(name, pair):
    op = ARITH[name][0]
    a, b = pair

    def expected(a, b, w):
        A, B = np.broadcast_arrays(a.astype(F64), b.astype(F64))
        ga, gb = BINARY_GRAD_REFS[name](A, B, w)
        return unbroadcast(ga, a.shape), unbroadcast(gb, b.shape)

    assert_grad_matches(op, a, b, expected=expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["add", "subtract", "multiply", "divide"])
@given(pair=broadcast_float_pair(max_side=3, max_dims=3, elements=_away_from_zero(0.5)))
def test_binary_grad_matches_finite_differences(name, pair):
    assert_grad_matches(ARITH[name][0], *pair)


@given(data=st.data())
def test_maximum_minimum_grad_finite_differences_away_from_ties(data):
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


def test_binary_grad_with_python_scalar_operand():
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
def test_unary_grad_matches_analytic(name, data):
    deriv, elements = UNARY_DERIVS[name]
    x = data.draw(float_arrays(elements=elements, max_side=4))
    assert_grad_matches(UNARY[name][0], x, expected=lambda x, w: [w * deriv(x.astype(F64))], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(UNARY_DERIVS))
@given(data=st.data())
def test_unary_grad_matches_finite_differences(name, data):
    _, elements = UNARY_DERIVS[name]
    x = data.draw(float_arrays(elements=elements, max_side=3, max_dims=3))
    assert_grad_matches(UNARY[name][0], x)


def test_relu_grad_at_exactly_zero_is_zero():
    _, (g,) = _grads(ops.relu, np.array([-1.0, 0.0, -0.0, 1e-30, 2.0], np.float32))
    np.testing.assert_array_equal(g, [0.0, 0.0, 0.0, 1.0, 1.0])


def test_abs_grad_at_exactly_zero_is_zero():
    _, (g,) = _grads(ops.abs, np.array([-3.0, 0.0, 3.0], np.float32))
    np.testing.assert_array_equal(g, [-1.0, 0.0, 1.0])


def test_sign_has_zero_or_no_gradient():
    x = T(np.array([-1.0, 2.0], np.float32))
    with keras.GradientTape() as tape:
        tape.watch(x)
        y = ops.sign(x) * 1.0
    g = tape.gradient(y, x)
    assert g is None or np.array_equal(to_np(g), [0.0, 0.0])


# ---------------------------------------------------------------------------------------------
# Gradients: where and clip


@given(data=st.data())
def test_where_grad_routes_by_condition_with_broadcasting(data):
    bs = data.draw(broadcastable_shapes(3, max_side=3))
    c = data.draw(hnp.arrays(np.bool_, bs.input_shapes[0]))
    x1 = data.draw(float_arrays(bs.input_shapes[1]))
    x2 = data.draw(float_arrays(bs.input_shapes[2]))

    def expected(x1, x2, w):
        C = np.broadcast_to(c, w.shape)
        return unbroadcast(np.where(C, w, 0), x1.shape), unbroadcast(np.where(C, 0, w), x2.shape)

    assert_grad_matches(lambda a, b: ops.where(c, a, b), x1, x2, expected=expected, rtol=1e-6, atol=1e-6)


@given(x=float_arrays(max_side=4), bounds=st.tuples(floats32(-5, 5), floats32(-5, 5)).map(sorted))
def test_clip_grad_is_one_inside_inclusive_range_zero_outside(x, bounds):
    lo, hi = np.float32(bounds[0]), np.float32(bounds[1])
    inside = (x >= lo) & (x <= hi)
    assert_grad_matches(lambda t: ops.clip(t, lo, hi), x, expected=lambda x, w: [w * inside], rtol=0, atol=0)


def test_clip_grad_at_bounds_is_one():
    _, (g,) = _grads(lambda t: ops.clip(t, 0.0, 1.0), np.array([-0.5, 0.0, 0.5, 1.0, 1.5], np.float32))
    np.testing.assert_array_equal(g, [0.0, 1.0, 1.0, 1.0, 0.0])


@given(x=float_arrays(max_side=3, max_dims=3, elements=floats32(-3, 3).filter(lambda v: abs(abs(v) - 1) > 0.01)))
def test_clip_grad_finite_differences_away_from_bounds(x):
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

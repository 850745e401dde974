"""The newer element-wise keras.ops: unary math (rsqrt ... arctanh, erf, softplus), rounding,
NaN/Inf predicates, nan_to_num, floor_divide / mod / power / arctan2 / divide_no_nan and the
Tensor operators `**`, `//`, `%`. Forward values against NumPy (float64 references on the
float32 inputs), NaN/Inf handling, integer semantics, and gradients through GradientTape.

Reductions, sorting, joining, gathering and scattering are in test_ops_extended_shape.py."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import rskeras as keras
from conftest import (
    T,
    assert_close,
    assert_grad_matches,
    broadcastable_shapes,
    float_arrays,
    floats32,
    int_arrays,
    random_cotangent,
    shapes,
    tape_grads,
    to_np,
    unbroadcast,
)
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from rskeras import ops

F64 = np.float64


def ref32(f, *xs):
    """float64 reference of `f` on the (exact) float32 inputs, rounded to float32."""
    with np.errstate(all="ignore"):
        return np.asarray(f(*[np.asarray(x, F64) for x in xs])).astype(np.float32)


def away_from_zero(lo, hi):
    """float32 elements with `lo <= |v| <= hi`, both signs."""
    return st.one_of(floats32(-hi, -lo), floats32(lo, hi))


_erf64 = np.vectorize(math.erf, otypes=[F64])

# name -> (op, float64 NumPy reference, forward elements, gradient elements).
# Forward domains span the valid inputs; gradient domains keep central differences (float32,
# step 1e-3) well conditioned: away from poles, branch points and domain edges.
UNARY = {
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

ROUNDING = {"floor": (ops.floor, np.floor), "ceil": (ops.ceil, np.ceil), "round": (ops.round, np.round)}
PREDICATES = {"isnan": (ops.isnan, np.isnan), "isinf": (ops.isinf, np.isinf), "isfinite": (ops.isfinite, np.isfinite)}


# ---------------------------------------------------------------------------------------------
# Unary math: forward


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary_forward_matches_numpy(name, data):
    op, ref, elements, _ = UNARY[name]
    x = data.draw(float_arrays(elements=elements))
    out = op(T(x))
    assert_close(out, ref32(ref, x), dtype="float32", **TOL.get(name, DEFAULT_TOL))


SPECIALS = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 100.0, -100.0,
                     1e-30, -1e-30, 3e38, -3e38], np.float32)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_nan_inf_and_domain_edges_match_numpy(name):
    op, ref, _, _ = UNARY[name]
    x = SPECIALS
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
def test_inverse_hyperbolic_stay_finite_for_huge_finite_inputs(name):
    op, ref, _, _ = UNARY[name]
    x = np.float32([1e30, 1.72e38, 3e38, 3.4028235e38])
    np.testing.assert_allclose(to_np(op(T(x))), ref32(ref, x), rtol=1e-6)


def test_unary_selected_exact_values():
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


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_integer_and_bool_inputs_compute_in_float32(name):
    op, ref, _, _ = UNARY[name]
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


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary_gradient_matches_finite_differences(name, data):
    op, _, _, elements = UNARY[name]
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


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_gradient_matches_analytic_derivative(name):
    op = UNARY[name][0]
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
def test_rounding_gradient_is_zero(name, x):
    op, _ = ROUNDING[name]
    _, (g,) = tape_grads(op, [x], [0], cotangent=random_cotangent(x.shape))
    assert g is not None and g.shape == x.shape and g.dtype == np.float32
    np.testing.assert_array_equal(g, np.zeros_like(x))


def test_predicates_have_no_gradient_path():
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
def test_rounding_matches_numpy_exactly(name, x):
    op, ref = ROUNDING[name]
    out = op(T(x))
    assert out.dtype == "float32"
    assert_close(out, ref(x), rtol=0, atol=0)


def test_round_halves_to_even_and_specials():
    x = np.float32([0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, 0.49999997, 2.0 ** 23 + 1, np.nan, np.inf, -np.inf])
    got = to_np(ops.round(T(x)))
    np.testing.assert_array_equal(got, [0.0, 2.0, 2.0, 4.0, -0.0, -2.0, -2.0, 0.0, 2.0 ** 23 + 1, np.nan, np.inf, -np.inf])
    np.testing.assert_array_equal(np.signbit(got[4:7]), [True, True, True])  # -0.5 -> -0.0
    for op, ref in (ROUNDING["floor"], ROUNDING["ceil"]):
        np.testing.assert_array_equal(to_np(op(T(x))), ref(x))


@pytest.mark.parametrize("decimals", [1, 2, 3])
@given(x=float_arrays(min_value=-1000, max_value=1000, max_dims=2))
def test_round_with_decimals_matches_numpy(decimals, x):
    out = ops.round(T(x), decimals)
    assert out.dtype == "float32"
    assert_close(out, np.round(x, decimals), rtol=0, atol=0)


def test_round_negative_decimals_matches_numpy():
    x = np.float32([15.0, 25.0, 14.0, -35.0, 1234.0, 5.0, -5.0, 45.0, 55.0, 99.0, 150.0, 250.0])
    for decimals in (-1, -2):
        np.testing.assert_array_equal(to_np(ops.round(T(x), decimals)), np.round(x, decimals))


@pytest.mark.parametrize("name", sorted(ROUNDING))
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@given(data=st.data())
def test_rounding_integer_inputs_unchanged(name, dtype, data):
    op, _ = ROUNDING[name]
    x = data.draw(int_arrays(min_value=-(2 ** 30), max_value=2 ** 30, dtype=dtype))
    out = op(T(x))
    assert out.dtype == np.dtype(dtype).name
    np.testing.assert_array_equal(to_np(out), x)


def test_round_integer_with_positive_decimals_keeps_integer_dtype():
    x = np.array([15, -25, 16777217], np.int32)
    out = ops.round(T(x), 1)
    assert out.dtype == "int32"
    np.testing.assert_array_equal(to_np(out), x)


@pytest.mark.parametrize("name", sorted(PREDICATES))
@given(x=float_arrays(elements=floats32(allow_nan=True, allow_infinity=True)))
def test_predicates_match_numpy(name, x):
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
def test_nan_to_num_defaults_match_numpy(x):
    out = ops.nan_to_num(T(x))
    assert out.dtype == "float32"
    np.testing.assert_array_equal(to_np(out), np.nan_to_num(x))


@given(x=float_arrays(elements=NAN_INF, max_dims=2), nan=floats32(-5, 5), posinf=floats32(-5, 5), neginf=floats32(-5, 5))
def test_nan_to_num_custom_values_match_numpy(x, nan, posinf, neginf):
    out = ops.nan_to_num(T(x), nan=nan, posinf=posinf, neginf=neginf)
    np.testing.assert_array_equal(to_np(out), np.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf))


def test_nan_to_num_integers_pass_through():
    x = np.array([1, -2, 3], np.int32)
    out = ops.nan_to_num(T(x), nan=9.0)
    assert out.dtype == "int32"
    np.testing.assert_array_equal(to_np(out), x)


@given(x=float_arrays(elements=NAN_INF, max_dims=2, max_side=4))
def test_nan_to_num_gradient_passes_finite_values_only(x):
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
def test_floor_divide_float_matches_numpy(pair):
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


def test_floor_divide_float_specials_match_numpy():
    a, b = (np.array(p, np.float32) for p in zip(*itertools.product(
        [np.nan, np.inf, -np.inf, 0.0, -0.0, 7.0, -7.0], [np.nan, np.inf, -np.inf, 0.0, -0.0, 2.0, -2.0])))
    with np.errstate(all="ignore"):
        expected = np.floor_divide(a, b)
    got = to_np(ops.floor_divide(T(a), T(b)))
    finite_operands = np.isfinite(a) & np.isfinite(b)  # NumPy's inf // x conventions are not pinned here
    np.testing.assert_array_equal(got[finite_operands], expected[finite_operands])
    np.testing.assert_array_equal(to_np(ops.floor_divide(T(np.float32([7, -7, 7, -7])), T(np.float32([2, 2, -2, -2])))),
                                  [3, -4, -4, 3])


def test_floor_divide_float_is_consistent_with_mod_and_numpy():
    a, b = np.float32([1.0, -1.0, 3.0]), np.float32([0.1, 0.1, 0.3])
    got = to_np(ops.floor_divide(T(a), T(b)))
    np.testing.assert_array_equal(got, np.floor_divide(a, b))  # [9, -10, 9]


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@given(data=st.data())
def test_floor_divide_and_mod_integers_match_numpy_zero_divisor_gives_zero(dtype, data):
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


def test_integer_floor_divide_and_mod_signs():
    a = np.array([7, -7, 7, -7, 0, 5, -5], np.int32)
    b = np.array([2, 2, -2, -2, 3, 0, 0], np.int32)
    np.testing.assert_array_equal(to_np(ops.floor_divide(T(a), T(b))), [3, -4, -4, 3, 0, 0, 0])
    np.testing.assert_array_equal(to_np(ops.mod(T(a), T(b))), [1, 1, -1, -1, 0, 0, 0])


@given(pair=broadcast_pair(floats32(-100, 100), WITH_ZEROS))
def test_mod_float_matches_numpy_sign_of_divisor(pair):
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


def test_mod_float_specials_match_numpy():
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
def test_power_float_positive_bases_match_numpy(pair):
    a, b = pair
    out = ops.power(T(a), T(b))
    assert out.dtype == "float32"
    assert_close(out, ref32(np.power, a, b), rtol=3e-6, atol=0)


def test_power_float_negative_bases_zero_and_specials_match_numpy():
    a = np.float32([-2.0, -2.0, -2.0, 0.0, 0.0, 0.0, -0.0, 2.0, np.nan, 1.0, np.inf, 4.0])
    b = np.float32([3.0, 2.0, 0.5, 0.0, -1.0, 2.0, 3.0, -0.5, 0.0, np.nan, -1.0, 0.5])
    with np.errstate(all="ignore"):
        expected = np.power(a, b)
    np.testing.assert_array_equal(to_np(ops.power(T(a), T(b))), expected)


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@given(data=st.data())
def test_power_integers_match_numpy(dtype, data):
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
def test_arctan2_matches_numpy(pair):
    y, x = pair
    out = ops.arctan2(T(y), T(x))
    assert out.dtype == "float32"
    assert_close(out, ref32(np.arctan2, y, x), rtol=3e-6, atol=1e-37)


def test_arctan2_quadrants_signed_zeros_and_specials():
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
def test_divide_no_nan_matches_reference(pair):
    a, b = pair
    out = ops.divide_no_nan(T(a), T(b))
    assert out.dtype == "float32"
    with np.errstate(all="ignore"):
        expected = np.where(b == 0, np.float32(0), a / b)
    assert_close(out, expected, rtol=0, atol=0)


def test_divide_no_nan_zero_denominator_wins_over_nan_and_inf():
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
def test_pow_operator_tensor_scalar_and_reflected(pair):
    a, b = pair
    assert_close(T(a) ** T(b), ref32(np.power, a, b), rtol=3e-6, atol=0)
    assert_close(T(a) ** 2, ref32(np.power, a, 2.0), rtol=3e-6, atol=0)
    assert_close(T(a) ** 0.5, ref32(np.sqrt, a), rtol=3e-6, atol=0)
    assert_close(2.0 ** T(b), ref32(lambda e: 2.0 ** e, b), rtol=3e-6, atol=0)
    assert_close(a ** T(b), ref32(np.power, a, b), rtol=3e-6, atol=0)  # ndarray ** Tensor -> __rpow__


@given(pair=broadcast_pair(floats32(-50, 50), away_from_zero(0.5, 10), max_dims=3))
def test_floordiv_and_mod_operators_match_functions(pair):
    a, b = pair
    ta, tb = T(a), T(b)
    np.testing.assert_array_equal(to_np(ta // tb), to_np(ops.floor_divide(ta, tb)))
    np.testing.assert_array_equal(to_np(ta % tb), to_np(ops.mod(ta, tb)))
    np.testing.assert_array_equal(to_np(ta % 3.0), np.mod(a, np.float32(3.0)))
    np.testing.assert_array_equal(to_np(7.5 % tb), np.mod(np.float32(7.5), b))
    np.testing.assert_array_equal(to_np(ta % tb), np.mod(a, b))


def test_integer_operators_keep_integer_dtype_and_numpy_semantics():
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


# ---------------------------------------------------------------------------------------------
# Binary ops: gradients


SMALL = {"max_dims": 3, "max_side": 3}


@given(pair=broadcast_pair(floats32(0.5, 3), floats32(-2, 2), **SMALL))
def test_power_gradient_both_operands(pair):
    a, b = pair
    assert_grad_matches(ops.power, a, b)
    assert_grad_matches(lambda x, y: x ** y, a, b)


@given(pair=broadcast_pair(floats32(0.5, 3), floats32(-2, 2), **SMALL))
def test_power_gradient_analytic(pair):
    a, b = pair

    def expected(a, b, w):
        a, b = a.astype(F64), b.astype(F64)
        return [unbroadcast(w * b * a ** (b - 1), a.shape), unbroadcast(w * a ** b * np.log(a), b.shape)]

    assert_grad_matches(ops.power, a, b, expected=expected, rtol=2e-5, atol=1e-5)


def test_power_gradient_wrt_exponent_is_zero_for_nonpositive_bases():
    a = np.float32([0.0, -2.0, -2.0, 2.0])
    b = np.float32([2.0, 2.0, 3.0, 3.0])
    w = np.float32([1.0, 1.0, 1.0, 1.0])
    _, (ga, gb) = tape_grads(ops.power, [a, b], [0, 1], cotangent=w)
    np.testing.assert_allclose(ga, b * a ** (b - 1), rtol=1e-6)
    np.testing.assert_allclose(gb, [0.0, 0.0, 0.0, 8.0 * np.log(2.0)], rtol=1e-6)


def test_power_gradient_wrt_base_of_zero_exponent_is_zero():
    _, (ga,) = tape_grads(ops.power, [np.float32([0.0, 3.0]), np.float32([0.0, 0.0])], [0])
    np.testing.assert_array_equal(ga, [0.0, 0.0])


# dividends (2n + 1) / 16 and divisors in {±0.5, ±1, ±2, ±4}: a / b is never within 1/64 of an
# integer, so central differences never straddle one of mod's jumps.
MOD_A = st.integers(-32, 31).map(lambda n: np.float32((2 * n + 1) / 16))
MOD_B = st.sampled_from([0.5, 1.0, 2.0, 4.0, -0.5, -1.0, -2.0, -4.0]).map(np.float32)


@given(pair=broadcast_pair(MOD_A, MOD_B, **SMALL))
def test_mod_gradient_both_operands(pair):
    a, b = pair
    assert_grad_matches(ops.mod, a, b)

    def expected(a, b, w):
        q = np.floor(a.astype(F64) / b)
        return [unbroadcast(w, a.shape), unbroadcast(-w * q, b.shape)]

    assert_grad_matches(ops.mod, a, b, expected=expected, rtol=1e-6, atol=1e-6)
    assert_grad_matches(lambda x, y: x % y, a, b, expected=expected, rtol=1e-6, atol=1e-6)


@given(pair=broadcast_pair(away_from_zero(0.5, 3), away_from_zero(0.5, 3), **SMALL))
def test_arctan2_gradient_both_operands(pair):
    y, x = pair
    assert_grad_matches(ops.arctan2, y, x)

    def expected(y, x, w):
        y, x = y.astype(F64), x.astype(F64)
        r2 = x ** 2 + y ** 2
        return [unbroadcast(w * x / r2, y.shape), unbroadcast(-w * y / r2, x.shape)]

    assert_grad_matches(ops.arctan2, y, x, expected=expected, rtol=1e-5, atol=1e-6)


@given(pair=broadcast_pair(floats32(-5, 5), away_from_zero(0.5, 3), **SMALL))
def test_divide_no_nan_gradient_nonzero_denominator(pair):
    a, b = pair
    assert_grad_matches(ops.divide_no_nan, a, b)


@given(pair=broadcast_pair(floats32(-5, 5), st.one_of(away_from_zero(0.5, 3), st.just(np.float32(0.0))), **SMALL))
def test_divide_no_nan_gradient_zero_denominator_gives_zero(pair):
    a, b = pair

    def expected(a, b, w):
        a, b = a.astype(F64), b.astype(F64)
        safe = np.where(b == 0, 1.0, b)
        ga = np.where(b == 0, 0.0, w / safe)
        gb = np.where(b == 0, 0.0, -w * a / safe ** 2)
        return [unbroadcast(ga, a.shape), unbroadcast(gb, b.shape)]

    assert_grad_matches(ops.divide_no_nan, a, b, expected=expected, rtol=1e-5, atol=1e-6)


def test_divide_no_nan_gradient_all_zero_denominator_is_finite_zero():
    a = np.float32([[1.0, -2.0], [0.0, 5.0]])
    b = np.float32([0.0, 0.0])
    _, (ga, gb) = tape_grads(ops.divide_no_nan, [a, b], [0, 1], cotangent=np.ones((2, 2), np.float32))
    np.testing.assert_array_equal(ga, np.zeros_like(a))
    np.testing.assert_array_equal(gb, np.zeros_like(b))


@given(pair=broadcast_pair(floats32(-20, 20), away_from_zero(0.5, 5), **SMALL))
def test_floor_divide_gradient_is_zero(pair):
    a, b = pair
    _, (ga, gb) = tape_grads(ops.floor_divide, [a, b], [0, 1])
    np.testing.assert_array_equal(ga, np.zeros_like(a))
    np.testing.assert_array_equal(gb, np.zeros_like(b))


def test_binary_gradients_flow_into_python_scalar_combinations():
    x = np.float32([0.5, 1.5, 2.5])
    assert_grad_matches(lambda t: t ** 3.0, x, expected=lambda x, w: [w * 3 * x.astype(F64) ** 2], rtol=1e-6, atol=1e-6)
    assert_grad_matches(lambda t: 2.0 ** t, x,
                        expected=lambda x, w: [w * 2.0 ** x.astype(F64) * np.log(2.0)], rtol=1e-6, atol=1e-6)
    assert_grad_matches(lambda t: t % 1.0, x, expected=lambda x, w: [w], rtol=0, atol=0)
    assert_grad_matches(lambda t: 7.0 % t, x,
                        expected=lambda x, w: [-w * np.floor(7.0 / x.astype(F64))], rtol=1e-6, atol=1e-6)


def test_unary_ops_are_differentiable_twice():
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


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary_float64_keeps_dtype_and_double_precision(name, data):
    op, ref, _, _ = UNARY[name]
    x = data.draw(float64_arrays(*DOMAIN64[name], max_dims=2))
    out = op(T(x))
    assert_close(out, ref(x), dtype="float64", **TOL64.get(name, {"rtol": 2e-15, "atol": 1e-300}))



@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_float64_gradient_matches_analytic_derivative(name):
    op = UNARY[name][0]
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

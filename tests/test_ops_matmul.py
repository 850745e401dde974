"""matmul with NumPy semantics: 1-D operands, broadcast batch axes, empty dimensions, integer
dtypes, the `@` operator; gradients; errors."""

from __future__ import annotations

import numpy as np
import pytest
import rskeras as keras
from conftest import T, assert_grad_matches, float_arrays, int_arrays, numeric_grad, to_np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from rskeras import ops

F64 = np.float64


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
def test_matmul_matches_numpy_with_broadcast_batch_and_1d(pair):
    a, b = pair
    assert_matmul_close(ops.matmul(T(a), T(b)), a, b)


@given(pair=matmul_pair(max_dims=3))
def test_matmul_operator_and_reflected_operator(pair):
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
def test_matmul_integers_are_exact(dtype, data):
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
def test_matmul_grad_matches_reference_with_broadcasting(pair):
    a, b = pair
    assert_grad_matches(ops.matmul, a, b, expected=_linear_grads, rtol=1e-5, atol=1e-4)


@given(pair=matmul_pair(max_side=3, max_dims=3))
def test_matmul_grad_finite_differences(pair):
    assert_grad_matches(ops.matmul, *pair)


def test_matmul_grad_closed_form_2d():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal((3, 5)).astype(np.float32)
    assert_grad_matches(ops.matmul, a, b, expected=lambda a, b, w: [w @ b.T.astype(F64), a.T.astype(F64) @ w],
                        rtol=1e-5, atol=1e-5)


def test_matmul_second_order_through_nested_tapes():
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

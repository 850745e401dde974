"""Activations and nn helpers composed from core primitives (relu6, silu/swish, gelu, elu, selu,
leaky_relu, softsign, hard_sigmoid, hard_silu/hard_swish, log_sigmoid, moments, normalize,
multi_hot): forward against NumPy formulas written here, gradients against the analytic
derivatives (with jax.nn's conventions at the kinks), errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import (
    T, array_and_axis, assert_close, assert_grad_matches, float_arrays, int_arrays, tape_grads, to_np,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from rskeras import ops

F64 = np.float64

# Keras's SELU constants (Klambauer et al. 2017), written out independently of the implementation.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def _elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def _elu_grad(x, alpha=1.0):
    return np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0)))


def _gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def _gelu_tanh_grad(x):
    c = math.sqrt(2 / math.pi)
    u = c * (x + 0.044715 * x ** 3)
    return 0.5 * (1 + np.tanh(u)) + 0.5 * x * (1 - np.tanh(u) ** 2) * c * (1 + 3 * 0.044715 * x ** 2)


def _hard_sigmoid(x):
    return np.clip(x + 3.0, 0.0, 6.0) / 6.0


def _hard_sigmoid_grad(x):  # jax.nn.relu6 has gradient 0 at both kinks, so 0 at x = +-3
    return np.where((x > -3) & (x < 3), 1 / 6, 0.0)


# name -> (call, NumPy forward in float64, analytic derivative in float64)
ACTIVATIONS = {
    "relu6": (ops.relu6, lambda x: np.clip(x, 0, 6), lambda x: ((x > 0) & (x < 6)).astype(F64)),
    "silu": (ops.silu, lambda x: x * _sig(x), lambda x: _sig(x) * (1 + x * (1 - _sig(x)))),
    "swish": (ops.swish, lambda x: x * _sig(x), lambda x: _sig(x) * (1 + x * (1 - _sig(x)))),
    "log_sigmoid": (ops.log_sigmoid, lambda x: -np.logaddexp(0.0, -x), lambda x: _sig(-x)),
    "leaky_relu": (ops.leaky_relu, lambda x: np.where(x >= 0, x, 0.2 * x), lambda x: np.where(x >= 0, 1.0, 0.2)),
    "leaky_relu_0.05": (lambda x: ops.leaky_relu(x, negative_slope=0.05), lambda x: np.where(x >= 0, x, 0.05 * x),
                        lambda x: np.where(x >= 0, 1.0, 0.05)),
    "hard_sigmoid": (ops.hard_sigmoid, _hard_sigmoid, _hard_sigmoid_grad),
    "hard_silu": (ops.hard_silu, lambda x: x * _hard_sigmoid(x), lambda x: _hard_sigmoid(x) + x * _hard_sigmoid_grad(x)),
    "hard_swish": (ops.hard_swish, lambda x: x * _hard_sigmoid(x),
                   lambda x: _hard_sigmoid(x) + x * _hard_sigmoid_grad(x)),
    "elu": (ops.elu, _elu, _elu_grad),
    "elu_0.5": (lambda x: ops.elu(x, alpha=0.5), lambda x: _elu(x, 0.5), lambda x: _elu_grad(x, 0.5)),
    "selu": (ops.selu, lambda x: SELU_SCALE * _elu(x, SELU_ALPHA), lambda x: SELU_SCALE * _elu_grad(x, SELU_ALPHA)),
    "gelu": (ops.gelu, _gelu_tanh, _gelu_tanh_grad),
    "softsign": (ops.softsign, lambda x: x / (1 + np.abs(x)), lambda x: 1 / (1 + np.abs(x)) ** 2),
}

# the kinks and the points around them where conventions matter (checked against jax.nn)
SPECIAL = np.array([-6.0, -3.0, -1.0, -1e-3, 0.0, 1e-3, 1.0, 3.0, 5.999, 6.0, 6.001, 40.0, -40.0], np.float32)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
@given(x=float_arrays(min_value=-12, max_value=12))
def test_activation_forward_matches_formula(name, x):
    op, ref, _ = ACTIVATIONS[name]
    got = op(T(x))
    assert got.dtype == "float32"
    assert_close(got, ref(x.astype(F64)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_at_kinks_and_extremes(name):
    op, ref, _ = ACTIVATIONS[name]
    assert_close(op(SPECIAL), ref(SPECIAL.astype(F64)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
@settings(max_examples=15)
@given(x=float_arrays(min_value=-8, max_value=8, max_dims=3, max_side=4))
def test_activation_grad_matches_derivative(name, x):
    op, _, deriv = ACTIVATIONS[name]
    assert_grad_matches(op, x, expected=lambda x, w: [w * deriv(x.astype(F64))], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_grad_at_kinks_follows_jax(name):
    op, _, deriv = ACTIVATIONS[name]
    assert_grad_matches(op, SPECIAL, expected=lambda x, w: [w * deriv(x.astype(F64))], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_int_input_computes_in_float32(name):
    op, ref, _ = ACTIVATIONS[name]
    x = np.array([-4, -1, 0, 2, 7], np.int32)
    got = op(x)
    assert got.dtype == "float32"
    assert_close(got, ref(x.astype(F64)), rtol=1e-5, atol=1e-6)


def test_activation_nan_propagates():
    for name, (op, _, _) in ACTIVATIONS.items():
        assert np.isnan(to_np(op(np.array([np.nan], np.float32)))).all(), name


def test_aliases_and_log_sigmoid_is_stable():
    assert ops.swish is ops.silu and ops.hard_swish is ops.hard_silu
    assert_close(ops.log_sigmoid(np.array([-100.0, 100.0], np.float32)), [-100.0, 0.0], atol=1e-6)
    assert np.isfinite(to_np(ops.log_sigmoid(np.array([-1e30, 1e30], np.float32)))).all()


def test_selu_constants_and_self_normalising_fixed_point():
    assert_close(ops.selu(np.array([-1e4, 1.0], np.float32)), [-SELU_SCALE * SELU_ALPHA, SELU_SCALE], rtol=1e-6)
    # SELU maps N(0, 1) to mean ~0 and variance ~1 (the property the constants are chosen for)
    z = np.random.default_rng(0).standard_normal(200_000).astype(np.float32)
    y = to_np(ops.selu(z)).astype(F64)
    assert abs(y.mean()) < 0.01 and abs(y.var() - 1.0) < 0.01


@given(x=float_arrays(min_value=-8, max_value=8))
def test_gelu_exact_matches_erf_formula(x):
    expected = np.vectorize(lambda v: 0.5 * v * (1 + math.erf(v / math.sqrt(2))))(x.astype(F64)) if x.size else x
    assert_close(ops.gelu(T(x), approximate=False), expected, rtol=1e-5, atol=1e-6)


def test_gelu_exact_grad():
    x = np.linspace(-4, 4, 17).astype(np.float32)

    def expected(x, w):  # d/dx x Phi(x) = Phi(x) + x phi(x)
        x = x.astype(F64)
        cdf = 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))
        return [w * (cdf + x * np.exp(-x * x / 2) / math.sqrt(2 * math.pi))]

    assert_grad_matches(lambda t: ops.gelu(t, approximate=False), x, expected=expected, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# moments


@given(xa=array_and_axis(float_arrays(min_side=1)), keepdims=st.booleans())
def test_moments_match_numpy(xa, keepdims):
    x, axis = xa
    mean, var = ops.moments(T(x), axes=axis, keepdims=keepdims)
    ax = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    assert mean.dtype == var.dtype == "float32"
    assert_close(mean, np.mean(x.astype(F64), axis=ax, keepdims=keepdims), rtol=1e-5, atol=1e-5)
    assert_close(var, np.var(x.astype(F64), axis=ax, keepdims=keepdims), rtol=1e-4, atol=1e-4)


def test_moments_list_axes_grad_and_errors():
    x = np.random.default_rng(4).standard_normal((3, 4, 2)).astype(np.float32)
    mean, var = ops.moments(x, axes=[0, 2])
    assert_close(mean, x.astype(F64).mean(axis=(0, 2)), atol=1e-6)
    assert_close(var, x.astype(F64).var(axis=(0, 2)), rtol=1e-5, atol=1e-6)

    def expected(x, w):  # d var / dx = 2 (x - mean) / N over the reduced axes
        x = x.astype(F64)
        return [2.0 * (x - x.mean(axis=(0, 2), keepdims=True)) / 6.0 * w[None, :, None]]

    assert_grad_matches(lambda t: ops.moments(t, axes=[0, 2])[1], x, expected=expected, rtol=1e-4, atol=1e-6)
    assert_grad_matches(lambda t: ops.moments(t, axes=(-1,), keepdims=True)[0], x,
                        expected=lambda x, w: [np.broadcast_to(w / 2.0, x.shape)], rtol=1e-6, atol=1e-7)
    assert_close(ops.moments(np.array([1, 2, 3, 4], np.int32), axes=0)[1], 1.25, dtype="float32")
    with pytest.raises(ValueError, match="moments"):
        ops.moments(x, axes=[3])
    with pytest.raises(NotImplementedError):
        ops.moments(x, axes=[0], synchronized=True)


# ---------------------------------------------------------------------------------------------
# normalize


def _normalize_ref(x, axis, order, eps):
    x = x.astype(F64)
    if x.ndim == 0:
        x = x.reshape(1)
    norm = np.sum(np.abs(x) ** order, axis=axis, keepdims=True) ** (1.0 / order)
    return x / np.maximum(norm, eps)


@given(xa=array_and_axis(float_arrays(min_dims=1), allow_none=False, allow_tuple=False), order=st.integers(1, 4))
def test_normalize_matches_formula(xa, order):
    x, axis = xa
    got = ops.normalize(T(x), axis=axis, order=order)
    assert got.dtype == "float32"
    assert_close(got, _normalize_ref(x, axis, order, 1e-7), rtol=1e-4, atol=1e-5)


@given(x=float_arrays(min_dims=2, max_dims=3), eps=st.sampled_from([None, 1e-3, 10.0]))
def test_normalize_order2_tuple_axis_and_epsilon(x, eps):
    got = ops.normalize(T(x), axis=(0, -1), epsilon=eps)
    assert_close(got, _normalize_ref(x, (0, x.ndim - 1), 2, 1e-7 if eps is None else eps), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("order", [1, 2, 3])
@settings(max_examples=10)
@given(x=float_arrays(shape=st.sampled_from([(3,), (2, 3), (3, 2, 2)]), min_value=-3, max_value=3))
def test_normalize_grad(order, x):
    # keep clear of the kinks of |x| and of norm == epsilon
    x = np.where(np.abs(x) < 0.1, np.float32(0.5), x).astype(np.float32)
    assert_grad_matches(lambda t: ops.normalize(t, axis=-1, order=order), x, eps=1e-3, rtol=2e-2, atol=2e-3)


def test_normalize_zero_vectors_scalars_and_errors():
    x = np.array([[0.0, 0.0], [3.0, 4.0]], np.float32)
    for order in (1, 2, 3):
        assert_close(ops.normalize(x, order=order)[0], [0.0, 0.0])
    assert_close(ops.normalize(x), [[0.0, 0.0], [0.6, 0.8]], rtol=1e-6)
    assert_close(ops.normalize(x, order=1), [[0.0, 0.0], [3 / 7, 4 / 7]], rtol=1e-6)
    assert_close(ops.normalize(np.float32(-3.0)), [-1.0])  # a scalar is treated as shape (1,), as Keras
    assert_close(ops.normalize(np.array([[3, 4]], np.int32)), [[0.6, 0.8]], dtype="float32")
    for order in (1, 2, 3):  # the gradient at a zero vector is finite (x / epsilon there)
        _, (g,) = tape_grads(lambda t, order=order: ops.normalize(t, order=order), [x], [0])
        assert np.isfinite(g).all(), order
    for bad in (0, 1.5, "2", True):
        with pytest.raises(ValueError, match="normalize"):
            ops.normalize(x, order=bad)
    with pytest.raises(ValueError, match="normalize"):
        ops.normalize(x, axis=2)
    with pytest.raises(ValueError, match="normalize"):
        ops.normalize(np.ones((2, 2, 2)), axis=(0, 1), order=1)


# ---------------------------------------------------------------------------------------------
# multi_hot


@st.composite
def labels_and_classes(draw):
    num_classes = draw(st.integers(1, 6))
    labels = draw(int_arrays(min_value=-2, max_value=num_classes + 1, min_dims=1, max_dims=2, max_side=4))
    return labels, num_classes


@given(case=labels_and_classes())
def test_multi_hot_marks_every_present_label(case):
    labels, num_classes = case
    got = ops.multi_hot(T(labels), num_classes)
    assert got.dtype == "float32"
    rows = labels.reshape(1, -1) if labels.ndim == 1 else labels
    expected = np.array([[1.0 if c in set(row.tolist()) else 0.0 for c in range(num_classes)] for row in rows])
    expected = expected.reshape((num_classes,) if labels.ndim == 1 else (labels.shape[0], num_classes))
    np.testing.assert_array_equal(to_np(got), expected)


def test_multi_hot_keras_reference_values_axis_dtype_and_errors():
    # values computed with keras.ops.multi_hot (jax backend)
    np.testing.assert_array_equal(to_np(ops.multi_hot([0, 4], num_classes=5)), [1, 0, 0, 0, 1])
    np.testing.assert_array_equal(to_np(ops.multi_hot(np.array([[0, 1], [2, 2]]), 3, axis=0)), [[1, 0], [0, 1], [1, 1]])
    np.testing.assert_array_equal(to_np(ops.multi_hot(np.array([[[0, 1], [2, 2]]]), 3)), [[[1, 0, 1], [0, 1, 1]]])
    out = ops.multi_hot(np.array([[1, 1]]), 3, dtype="int32")
    assert out.dtype == "int32"
    np.testing.assert_array_equal(to_np(out), [[0, 1, 0]])
    np.testing.assert_array_equal(to_np(ops.multi_hot(np.array([2]), num_tokens=3)), [0, 0, 1])
    assert to_np(ops.multi_hot(np.zeros((0,), np.int32), 3)).tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="multi_hot"):
        ops.multi_hot([1, 2])
    with pytest.raises(ValueError, match="multi_hot"):
        ops.multi_hot(np.array([[1]]), 3, axis=3)
    with pytest.raises(ValueError, match="multi_hot"):
        ops.multi_hot(np.int32(1), 3)
    with pytest.raises(TypeError):
        ops.multi_hot(np.array([0.5]), 3)

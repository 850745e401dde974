"""`rskeras.ops.nn`: softmax, log_softmax and the three cross-entropies, the activations and nn
helpers composed from core primitives (relu6, silu, gelu, elu, selu, leaky_relu, softsign,
hard_sigmoid, hard_silu, log_sigmoid, moments, normalize, one_hot, multi_hot),
batch_normalization, layer_normalization (and the fused kernels behind them,
`_core.batch_norm_train` and `_core.layer_norm`) and dot_product_attention: forward against
NumPy formulas written here in float64, gradients against analytic derivatives or finite
differences, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rskeras as keras
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp
from rskeras import _core, ops

from tests.conftest import (
    T,
    array_and_axis,
    assert_close,
    assert_exact,
    assert_grad_matches,
    broadcastable_shapes,
    check_grads_fd64,
    float_arrays,
    floats32,
    int_arrays,
    random_cotangent,
    shapes,
    tape_grads,
    to_np,
    unbroadcast,
)


# ---------------------------------------------------------------------------------------------
# one_hot


@given(labels=int_arrays(min_value=-2, max_value=6, max_dims=3), num_classes=st.integers(0, 5),
       dtype=st.sampled_from([np.int32, np.int64]))
def test_one_hot_matches_reference_and_zeroes_out_of_range(labels, num_classes, dtype, device):
    labels = labels.astype(dtype)
    out = ops.one_hot(T(labels), num_classes)
    assert out.dtype == "float32"
    expected = (labels[..., None] == np.arange(num_classes)).astype(np.float32)
    assert_exact(out, expected)


@pytest.mark.parametrize("labels, depth", [
    (np.array([[0, 3, -1], [5, 2, 1]]), 4),
    (np.array([2, 0, 1], np.int32), 3),
    (np.array(1), 1),
    (np.zeros((0, 2), np.int64), 3),
    (np.array([1, 2]), 0),
])
def test_one_hot_fixed_cases(labels, depth, device):
    got = ops.one_hot(T(labels), depth)
    assert got.dtype == "float32"
    assert_exact(got, (labels[..., None] == np.arange(depth)).astype(np.float32))


def test_one_hot_errors_and_dtype():
    with pytest.raises(TypeError, match="one_hot"):
        ops.one_hot(np.array([0.0, 1.0], np.float32), 3)
    with pytest.raises(ValueError, match="one_hot"):
        ops.one_hot(np.array([0, 1]), 3, axis=0)
    assert_exact(ops.one_hot([1, 0], 2, dtype="int32"), np.array([[0, 1], [1, 0]]))


F64 = np.float64


# Keras's epsilon() = 1e-7; the clip bounds as the float32 values the op actually uses.
EPS_LO = F64(np.float32(1e-7))


EPS_HI = F64(np.float32(1.0 - 1e-7))


# ---------------------------------------------------------------------------------------------
# NumPy references (float64)


def _quiet(f):
    """Evaluate a reference without NumPy's overflow / log(0) warnings (inf and NaN are expected)."""
    def wrapped(*args, **kw):
        with np.errstate(all="ignore"):
            return f(*args, **kw)
    return wrapped


@_quiet
def np_softmax(x, axis=-1):
    x = np.asarray(x, F64)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True, initial=-np.inf))
    return e / np.sum(e, axis=axis, keepdims=True)


@_quiet
def np_log_softmax(x, axis=-1):
    x = np.asarray(x, F64)
    m = np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    return x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


@_quiet
def np_sparse_ce(target, output, from_logits):
    output = np.asarray(output, F64)
    target = np.asarray(target).astype(np.int64)
    if from_logits:
        logp = np_log_softmax(output)
    else:
        p = output / np.sum(output, axis=-1, keepdims=True)
        logp = np.log(np.clip(p, EPS_LO, EPS_HI))
    return -np.take_along_axis(logp, target[..., None], axis=-1)[..., 0]


@_quiet
def np_categorical_ce(target, output, from_logits):
    target, output = np.asarray(target, F64), np.asarray(output, F64)
    if from_logits:
        logp = np_log_softmax(output)
    else:
        p = output / np.sum(output, axis=-1, keepdims=True)
        logp = np.log(np.clip(p, EPS_LO, EPS_HI))
    return -np.sum(target * logp, axis=-1)


@_quiet
def np_binary_ce(target, output, from_logits):
    t, x = np.asarray(target, F64), np.asarray(output, F64)
    if from_logits:
        return np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))
    p = np.clip(x, EPS_LO, EPS_HI)
    return -(t * np.log(p) + (1 - t) * np.log(1 - p))


# ---------------------------------------------------------------------------------------------
# Strategies


@st.composite
def array_and_one_axis(draw, min_value=-30.0, max_value=30.0, max_side=5, **kw):
    x = draw(float_arrays(min_value=min_value, max_value=max_value, min_dims=1, max_side=max_side, **kw))
    return x, draw(st.integers(-x.ndim, x.ndim - 1))


@st.composite
def classification_case(draw, max_side=4, probs=False, min_classes=1):
    """(integer labels of shape batch, output of shape batch + (classes,))."""
    batch = draw(shapes(max_dims=2, max_side=max_side))
    classes = draw(st.integers(min_classes, 5))
    if probs:  # unnormalised non-negative scores, some exactly 0 (exercises the clip)
        elements = st.one_of(st.just(0.0), floats32(0.05, 3.0))
    else:
        elements = floats32(-10, 10)
    output = draw(hnp.arrays(np.float32, batch + (classes,), elements=elements))
    if probs:  # every row needs a positive sum
        output[..., 0] = np.where(output.sum(-1) == 0, 1.0, output[..., 0])
    dtype = draw(st.sampled_from([np.int32, np.int64]))
    labels = draw(hnp.arrays(dtype, batch, elements=st.integers(0, classes - 1)))
    return labels, output


# ---------------------------------------------------------------------------------------------
# softmax / log_softmax


@given(case=array_and_one_axis())
def test_softmax_matches_numpy(case, device):
    x, axis = case
    out = ops.softmax(T(x), axis=axis)
    assert out.dtype == "float32"
    assert_close(out, np_softmax(x, axis), rtol=1e-5, atol=1e-7)


@given(case=array_and_one_axis())
def test_log_softmax_matches_numpy(case, device):
    x, axis = case
    assert_close(ops.log_softmax(T(x), axis=axis), np_log_softmax(x, axis), rtol=1e-5, atol=1e-5)


@given(case=array_and_one_axis(min_side=1))
def test_softmax_rows_sum_to_one_and_default_axis_is_last(case, device):
    x, _ = case
    s = to_np(ops.softmax(T(x)))
    np.testing.assert_allclose(s.sum(axis=-1), 1.0, rtol=1e-5)
    assert np.all(s >= 0)
    assert_close(ops.softmax(T(x)), np_softmax(x, -1), rtol=1e-5, atol=1e-7)


def test_softmax_is_stable_for_large_inputs():
    x = np.array([[1e4, 1e4 - 1, -1e4], [88.0, 89.0, 90.0], [-3e38, 3e38, 0.0], [500.0, 499.0, 0.0]], np.float32)
    assert_close(ops.softmax(x), np_softmax(x), rtol=1e-5, atol=1e-7)
    # log_softmax for moderate logits (large logits are tested below)
    rows = x[[1, 3]]
    assert_close(ops.log_softmax(rows), np_log_softmax(rows), rtol=2e-5, atol=1e-5)
    assert np.all(np.isfinite(to_np(ops.log_softmax(x[:1]))))


def test_log_softmax_accurate_for_large_logits():
    x = np.array([[1e4, 1e4 - 1.0, -1e4]], np.float32)
    assert_close(ops.log_softmax(x), np_log_softmax(x), rtol=1e-5, atol=1e-6)


def test_sparse_ce_from_logits_accurate_for_large_logits():
    z = np.array([[1e4, 1e4 - 1.0, 0.0]], np.float32)
    assert_close(ops.sparse_categorical_crossentropy(np.array([0]), z, from_logits=True),
                 np_sparse_ce([0], z, True), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_softmax_large_tensor_any_axis(axis):
    x = np.random.default_rng(axis).uniform(-20, 20, (60, 300, 7)).astype(np.float32)
    assert_close(ops.softmax(x, axis=axis), np_softmax(x, axis), rtol=1e-5, atol=1e-7)
    assert_close(ops.log_softmax(x, axis=axis), np_log_softmax(x, axis), rtol=1e-5, atol=1e-5)


def test_softmax_minus_inf_masks_and_nan_propagates():
    x = np.array([[-np.inf, 0.0, 1.0], [np.nan, 0.0, 1.0]], np.float32)
    s = to_np(ops.softmax(x))
    np.testing.assert_allclose(s[0], np_softmax(x[:1])[0], rtol=1e-6)
    assert s[0, 0] == 0.0
    assert np.isnan(s[1]).all()
    ls = to_np(ops.log_softmax(x))
    assert ls[0, 0] == -np.inf
    np.testing.assert_allclose(ls[0, 1:], np_log_softmax(x[:1])[0, 1:], rtol=1e-6)
    assert np.isnan(ls[1]).all()


def test_softmax_int_input_and_empty_shapes():
    assert_close(ops.softmax(np.array([[1, 2, 3]], np.int32)), np_softmax([[1, 2, 3]]), rtol=1e-6, dtype="float32")
    assert to_np(ops.softmax(np.zeros((2, 0), np.float32))).shape == (2, 0)
    assert to_np(ops.log_softmax(np.zeros((0, 3), np.float32), axis=0)).shape == (0, 3)


@pytest.mark.parametrize("op", [ops.softmax, ops.log_softmax])
def test_softmax_errors(op):
    with pytest.raises(ValueError, match="softmax"):
        op(np.zeros((2, 3), np.float32), axis=2)
    with pytest.raises(ValueError, match="softmax"):
        op(np.zeros((2, 3), np.float32), axis=-3)
    with pytest.raises(ValueError, match="softmax"):
        op(np.float32(1.0))


@given(case=array_and_one_axis(min_value=-5, max_value=5, max_side=4))
def test_softmax_grad_matches_analytic(case, device):
    x, axis = case

    def expected(x, w):
        y = np_softmax(x, axis)
        return [y * (w - np.sum(w * y, axis=axis, keepdims=True))]

    assert_grad_matches(lambda t: ops.softmax(t, axis=axis), x, expected=expected, rtol=1e-4, atol=1e-6)


@given(case=array_and_one_axis(min_value=-5, max_value=5, max_side=4))
def test_log_softmax_grad_matches_analytic(case, device):
    x, axis = case

    def expected(x, w):
        return [w - np_softmax(x, axis) * np.sum(w, axis=axis, keepdims=True)]

    assert_grad_matches(lambda t: ops.log_softmax(t, axis=axis), x, expected=expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("op", [ops.softmax, ops.log_softmax])
@given(case=array_and_one_axis(min_value=-3, max_value=3, max_side=3, max_dims=3))
def test_softmax_grads_finite_differences(op, case, device):
    x, axis = case
    assert_grad_matches(lambda t: op(t, axis=axis), x)


# ---------------------------------------------------------------------------------------------
# sparse_categorical_crossentropy


@pytest.mark.parametrize("from_logits", [True, False])
@given(data=st.data())
def test_sparse_ce_matches_keras_formula(from_logits, data, device):
    labels, output = data.draw(classification_case(probs=not from_logits))
    out = ops.sparse_categorical_crossentropy(T(labels), T(output), from_logits=from_logits)
    assert out.dtype == "float32"
    assert_close(out, np_sparse_ce(labels, output, from_logits), rtol=1e-5, atol=1e-5)


# Fixed cases (once the GPU softmax and cross-entropy kernels' own tests, against the CPU):
# rows wider than a workgroup, middle and leading axes, int32 and int64 labels, labels of shape
# (n, 1)

@pytest.mark.parametrize("shape,axis", [((4, 10), -1), ((3, 5, 7), 1), ((3, 5, 7), 0),
                                        ((2, 300), 1), ((6,), 0), ((3, 1), -1)])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_fixed_cases_and_gradients(name, shape, axis, device):
    x = (np.random.default_rng(0).standard_normal(shape) * 5).astype(np.float32)
    op, ref = (ops.softmax, np_softmax) if name == "softmax" else (ops.log_softmax, np_log_softmax)
    assert_close(op(T(x), axis=axis), ref(x, axis), rtol=1e-5, atol=1e-5)
    assert_grad_matches(lambda t: op(t, axis=axis), x)


@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("shape", [(16, 10), (2, 3, 5), (7,), (4, 300)])
def test_sparse_ce_fixed_cases_and_gradient(from_logits, shape, device):
    rng = np.random.default_rng(1)
    logits = (rng.standard_normal(shape) * 3).astype(np.float32)
    # unnormalised probabilities away from 0: the op renormalises them, finite differences stay accurate
    out = logits if from_logits else rng.uniform(0.2, 1.0, shape).astype(np.float32)
    labels = np.asarray(rng.integers(0, shape[-1], shape[:-1]), np.int64)
    onehot = labels[..., None] == np.arange(shape[-1])

    def expected(o, w):  # d/do of w * ce: softmax - onehot, or 1/sum(p) - onehot/p_label (no clipping here)
        o = o.astype(F64)
        if from_logits:
            return [w[..., None] * (np_softmax(o, -1) - onehot)]
        return [w[..., None] * (1 / o.sum(-1, keepdims=True) - onehot / o)]

    for lab in (labels, labels.astype(np.int32)):
        got = ops.sparse_categorical_crossentropy(T(lab), T(out), from_logits=from_logits)
        assert_close(got, np_sparse_ce(lab, out, from_logits), rtol=1e-5, atol=1e-5)
        assert_grad_matches(lambda o, lab=lab: ops.sparse_categorical_crossentropy(T(lab), o, from_logits=from_logits),
                            out, expected=expected, rtol=1e-4, atol=1e-5)


def test_sparse_ce_probability_clipping_at_both_ends(device):
    # rows whose label probability is clipped (to eps or 1 - eps) have zero gradient
    p = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.2, 0.3, 0.5], [2.0, 1.0, 1.0]], np.float32)
    labels = np.array([0, 0, 2, 0])
    x = T(p)
    with keras.GradientTape() as tape:
        tape.watch(x)
        y = ops.sparse_categorical_crossentropy(T(labels), x)
    assert_close(y, np_sparse_ce(labels, p, False), rtol=1e-5, atol=1e-5)
    want = [[0, 0, 0], [0, 0, 0], [1, 1, 1 - 1 / 0.5], [0.25 - 0.5, 0.25, 0.25]]
    assert_close(tape.gradient(y, x), np.array(want, np.float32), rtol=1e-5, atol=1e-6)


def test_sparse_ce_labels_of_shape_n_by_1(device):
    rng = np.random.default_rng(2)
    logits = rng.standard_normal((5, 4)).astype(np.float32)
    labels = rng.integers(0, 4, (5, 1))
    got = ops.sparse_categorical_crossentropy(T(labels), T(logits), from_logits=True)
    assert_close(got, np_sparse_ce(labels[:, 0], logits, True), rtol=1e-5, atol=1e-5)
    assert_grad_matches(lambda o: ops.sparse_categorical_crossentropy(T(labels), o, from_logits=True), logits)


def test_sparse_ce_from_probs_renormalises_and_clips():
    output = np.array([[2.0, 2.0], [0.0, 1.0], [0.0, 1.0], [1.0, 3.0]], np.float32)
    labels = np.array([0, 0, 1, 1])
    got = to_np(ops.sparse_categorical_crossentropy(labels, output))
    expected = [np.log(2.0), -np.log(EPS_LO), -np.log(EPS_HI), -np.log(0.75)]
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert got[1] == pytest.approx(16.118, abs=1e-3)  # -log(1e-7), not inf


def test_sparse_ce_float_labels_equal_int_labels():
    output = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    a = to_np(ops.sparse_categorical_crossentropy(np.array([0, 2, 1, 2]), output, from_logits=True))
    b = to_np(ops.sparse_categorical_crossentropy(np.array([0.0, 2.0, 1.0, 2.0], np.float32), output,
                                                 from_logits=True))
    np.testing.assert_array_equal(a, b)


def test_sparse_ce_from_logits_is_stable_for_large_logits():
    z = np.array([[1000.0, -1000.0, 0.0], [-1e4, -1e4, -1e4 + 5]], np.float32)
    labels = np.array([1, 2])
    assert_close(ops.sparse_categorical_crossentropy(labels, z, from_logits=True), np_sparse_ce(labels, z, True),
                 rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("from_logits", [True, False])
def test_sparse_ce_accepts_labels_with_trailing_unit_axis(from_logits):
    output = np.array([[0.2, 0.5, 0.3], [0.1, 0.1, 0.8]], np.float32)
    labels = np.array([1, 2])
    expected = to_np(ops.sparse_categorical_crossentropy(labels, output, from_logits=from_logits))
    got = to_np(ops.sparse_categorical_crossentropy(labels[:, None], output, from_logits=from_logits))
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_sparse_ce_empty_batch():
    out = ops.sparse_categorical_crossentropy(np.zeros((0,), np.int32), np.zeros((0, 3), np.float32))
    assert to_np(out).shape == (0,)


@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("label", [-1, 3, 100])
def test_sparse_ce_out_of_range_label_raises_value_error(from_logits, label):
    with pytest.raises(ValueError, match="label"):
        ops.sparse_categorical_crossentropy(np.array([0, label]), np.full((2, 3), 0.5, np.float32),
                                            from_logits=from_logits)


def test_sparse_ce_shape_and_dtype_errors():
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        ops.sparse_categorical_crossentropy(np.array([0, 1, 2]), np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        ops.sparse_categorical_crossentropy(np.array(0), np.float32(1.0))
    with pytest.raises(TypeError):
        ops.sparse_categorical_crossentropy(np.array([True, False]), np.ones((2, 3), np.float32))


@given(case=classification_case(max_side=3))
def test_sparse_ce_from_logits_grad_is_softmax_minus_onehot(case, device):
    labels, z = case

    def expected(z, w):
        onehot = labels[..., None] == np.arange(z.shape[-1])
        return [w[..., None] * (np_softmax(z) - onehot)]

    assert_grad_matches(lambda t: ops.sparse_categorical_crossentropy(labels, t, from_logits=True), z,
                        expected=expected, rtol=1e-4, atol=1e-6)


@st.composite
def inside_clip_probs_case(draw):
    """Probabilities in [0.1, 2] over 2-4 classes: no normalised entry comes near the clip bounds,
    so the loss is smooth there."""
    batch = draw(shapes(max_dims=2, max_side=3))
    classes = draw(st.integers(2, 4))
    p = draw(hnp.arrays(np.float32, batch + (classes,), elements=floats32(0.1, 2.0)))
    labels = draw(hnp.arrays(np.int32, batch, elements=st.integers(0, classes - 1)))
    return labels, p


@given(case=inside_clip_probs_case())
def test_sparse_ce_from_probs_grad(case, device):
    labels, p = case

    def expected(p, w):
        p = p.astype(F64)
        s = p.sum(-1, keepdims=True)
        g = np.broadcast_to(w[..., None] / s, p.shape).copy()
        label_p = np.take_along_axis(p, labels[..., None].astype(np.int64), -1)
        np.put_along_axis(g, labels[..., None].astype(np.int64),
                          np.take_along_axis(g, labels[..., None].astype(np.int64), -1) - w[..., None] / label_p, -1)
        return [g]

    op = lambda t: ops.sparse_categorical_crossentropy(labels, t)
    assert_grad_matches(op, p, expected=expected, rtol=1e-4, atol=1e-6)
    assert_grad_matches(op, p)  # and finite differences


def test_sparse_ce_from_probs_grad_is_zero_where_clipped(device):
    p = np.array([[0.0, 1.0], [1.0, 1.0]], np.float32)  # row 0: label prob 0 -> clipped
    x = T(p)
    with keras.GradientTape() as tape:
        tape.watch(x)
        y = ops.sparse_categorical_crossentropy(np.array([0, 0]), x)
    g = to_np(tape.gradient(y, x))
    np.testing.assert_array_equal(g[0], [0.0, 0.0])
    np.testing.assert_allclose(g[1], [0.5 - 1.0, 0.5], rtol=1e-6)


@given(case=classification_case(max_side=3))
def test_sparse_ce_from_logits_grad_finite_differences(case, device):
    labels, z = case
    assert_grad_matches(lambda t: ops.sparse_categorical_crossentropy(labels, t, from_logits=True), z)


# ---------------------------------------------------------------------------------------------
# categorical_crossentropy


@st.composite
def soft_target_case(draw, probs=False, max_side=4):
    labels, output = draw(classification_case(probs=probs, max_side=max_side))
    if draw(st.booleans()):  # one-hot
        target = (labels[..., None] == np.arange(output.shape[-1])).astype(np.float32)
    else:  # soft labels
        raw = draw(hnp.arrays(np.float32, output.shape, elements=floats32(0.0, 1.0)))
        target = (raw / np.maximum(raw.sum(-1, keepdims=True), 1e-3)).astype(np.float32)
    return target, output


@pytest.mark.parametrize("from_logits", [True, False])
@given(data=st.data())
def test_categorical_ce_matches_keras_formula(from_logits, data, device):
    target, output = data.draw(soft_target_case(probs=not from_logits))
    out = ops.categorical_crossentropy(T(target), T(output), from_logits=from_logits)
    assert out.dtype == "float32"
    assert_close(out, np_categorical_ce(target, output, from_logits), rtol=1e-5, atol=1e-5)


@given(data=st.data())
def test_categorical_ce_with_one_hot_equals_sparse_ce(data):
    labels, z = data.draw(classification_case())
    onehot = to_np(ops.one_hot(labels, z.shape[-1]))
    for from_logits in (True, False):
        zz = z if from_logits else np.abs(z) + 0.1
        np.testing.assert_allclose(
            to_np(ops.categorical_crossentropy(onehot, zz, from_logits=from_logits)),
            to_np(ops.sparse_categorical_crossentropy(labels, zz, from_logits=from_logits)), rtol=1e-5, atol=1e-5)


@given(data=st.data())
def test_categorical_ce_from_logits_grads(data, device):
    target, z = data.draw(soft_target_case(max_side=3))

    def expected(t, z, w):
        t, z = t.astype(F64), z.astype(F64)
        gz = w[..., None] * (np_softmax(z) * t.sum(-1, keepdims=True) - t)
        gt = -w[..., None] * np_log_softmax(z)
        return [gt, gz]

    op = lambda t, o: ops.categorical_crossentropy(t, o, from_logits=True)
    assert_grad_matches(op, target, z, expected=expected, rtol=1e-4, atol=1e-5)
    assert_grad_matches(op, target, z)


@given(data=st.data())
def test_categorical_ce_from_probs_grads_finite_differences(data, device):
    labels, _ = data.draw(classification_case(max_side=3))
    shape = labels.shape + (data.draw(st.integers(1, 4)),)
    p = data.draw(hnp.arrays(np.float32, shape, elements=floats32(0.1, 2.0)))
    t = data.draw(hnp.arrays(np.float32, shape, elements=floats32(0.0, 1.0)))
    assert_grad_matches(lambda a, b: ops.categorical_crossentropy(a, b), t, p)


def test_categorical_ce_shape_mismatch_raises_value_error():
    with pytest.raises(ValueError, match="categorical_crossentropy"):
        ops.categorical_crossentropy(np.ones((2, 3), np.float32), np.ones((2, 4), np.float32))


# ---------------------------------------------------------------------------------------------
# binary_crossentropy


@pytest.mark.parametrize("from_logits", [True, False])
@given(data=st.data())
def test_binary_ce_matches_keras_formula_with_broadcasting(from_logits, data, device):
    bs = data.draw(broadcastable_shapes(2))
    t = data.draw(float_arrays(bs.input_shapes[0], elements=st.one_of(st.sampled_from([0.0, 1.0]),
                                                                      floats32(0.0, 1.0))))
    elements = floats32(-10, 10) if from_logits else st.one_of(st.sampled_from([0.0, 1.0]), floats32(0.0, 1.0))
    x = data.draw(float_arrays(bs.input_shapes[1], elements=elements))
    out = ops.binary_crossentropy(T(t), T(x), from_logits=from_logits)
    assert out.dtype == "float32"
    assert_close(out, np_binary_ce(t, x, from_logits), rtol=1e-5, atol=1e-5)


def test_binary_ce_clips_probabilities():
    got = to_np(ops.binary_crossentropy(np.array([1.0, 0.0, 1.0], np.float32), np.array([0.0, 1.0, 1.0], np.float32)))
    np.testing.assert_allclose(got, [-np.log(EPS_LO), -np.log(1 - EPS_HI), -np.log(EPS_HI)], rtol=1e-5)
    assert np.all(np.isfinite(got))


def test_binary_ce_from_logits_is_stable_for_large_logits():
    x = np.array([100.0, -100.0, 50.0, -50.0], np.float32)
    t = np.array([1.0, 1.0, 0.0, 0.0], np.float32)
    assert_close(ops.binary_crossentropy(t, x, from_logits=True), np_binary_ce(t, x, True), rtol=1e-5, atol=1e-6)


@given(data=st.data())
def test_binary_ce_from_logits_grad(data, device):
    bs = data.draw(broadcastable_shapes(2, max_side=3))
    t = data.draw(float_arrays(bs.input_shapes[0], elements=floats32(0.0, 1.0)))
    x = data.draw(float_arrays(bs.input_shapes[1], elements=floats32(-6, 6).filter(lambda v: abs(v) > 1e-2)))

    def expected(t, x, w):
        T_, X = np.broadcast_arrays(t.astype(F64), x.astype(F64))
        return [unbroadcast(-w * X, t.shape), unbroadcast(w * (1 / (1 + np.exp(-X)) - T_), x.shape)]

    op = lambda a, b: ops.binary_crossentropy(a, b, from_logits=True)
    assert_grad_matches(op, t, x, expected=expected, rtol=1e-4, atol=1e-5)
    assert_grad_matches(op, t, x)


@given(data=st.data())
def test_binary_ce_from_probs_grad(data, device):
    bs = data.draw(broadcastable_shapes(2, max_side=3))
    t = data.draw(float_arrays(bs.input_shapes[0], elements=floats32(0.0, 1.0)))
    p = data.draw(float_arrays(bs.input_shapes[1], elements=floats32(0.05, 0.95)))

    def expected(t, p, w):
        T_, P = np.broadcast_arrays(t.astype(F64), p.astype(F64))
        return [unbroadcast(-w * (np.log(P) - np.log(1 - P)), t.shape),
                unbroadcast(w * (-(T_ / P) + (1 - T_) / (1 - P)), p.shape)]

    op = lambda a, b: ops.binary_crossentropy(a, b)
    assert_grad_matches(op, t, p, expected=expected, rtol=1e-4, atol=1e-5)
    assert_grad_matches(op, t, p)


def test_binary_ce_from_logits_grad_at_zero_logit(device):
    x = T(np.zeros((3,), np.float32))
    t = np.array([0.0, 0.5, 1.0], np.float32)
    with keras.GradientTape() as tape:
        tape.watch(x)
        y = ops.binary_crossentropy(t, x, from_logits=True)
    np.testing.assert_allclose(to_np(tape.gradient(y, x)), 0.5 - t, atol=1e-6)


def test_binary_ce_broadcast_mismatch_raises_value_error():
    with pytest.raises(ValueError):
        ops.binary_crossentropy(np.ones((2, 3), np.float32), np.ones((4,), np.float32))


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
def test_activation_forward_matches_formula(name, x, device):
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
def test_activation_grad_matches_derivative(name, x, device):
    op, _, deriv = ACTIVATIONS[name]
    assert_grad_matches(op, x, expected=lambda x, w: [w * deriv(x.astype(F64))], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_grad_at_kinks_follows_jax(name, device):
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
def test_gelu_exact_matches_erf_formula(x, device):
    expected = np.vectorize(lambda v: 0.5 * v * (1 + math.erf(v / math.sqrt(2))))(x.astype(F64)) if x.size else x
    assert_close(ops.gelu(T(x), approximate=False), expected, rtol=1e-5, atol=1e-6)


def test_gelu_exact_grad(device):
    x = np.linspace(-4, 4, 17).astype(np.float32)

    def expected(x, w):  # d/dx x Phi(x) = Phi(x) + x phi(x)
        x = x.astype(F64)
        cdf = 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))
        return [w * (cdf + x * np.exp(-x * x / 2) / math.sqrt(2 * math.pi))]

    assert_grad_matches(lambda t: ops.gelu(t, approximate=False), x, expected=expected, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# moments


@given(xa=array_and_axis(float_arrays(min_side=1)), keepdims=st.booleans())
def test_moments_match_numpy(xa, keepdims, device):
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
def test_normalize_matches_formula(xa, order, device):
    x, axis = xa
    got = ops.normalize(T(x), axis=axis, order=order)
    assert got.dtype == "float32"
    assert_close(got, _normalize_ref(x, axis, order, 1e-7), rtol=1e-4, atol=1e-5)


@given(x=float_arrays(min_dims=2, max_dims=3), eps=st.sampled_from([None, 1e-3, 10.0]))
def test_normalize_order2_tuple_axis_and_epsilon(x, eps, device):
    got = ops.normalize(T(x), axis=(0, -1), epsilon=eps)
    assert_close(got, _normalize_ref(x, (0, x.ndim - 1), 2, 1e-7 if eps is None else eps), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("order", [1, 2, 3])
@settings(max_examples=10)
@given(x=float_arrays(shape=st.sampled_from([(3,), (2, 3), (3, 2, 2)]), min_value=-3, max_value=3))
def test_normalize_grad(order, x, device):
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
def test_multi_hot_marks_every_present_label(case, device):
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


@given(axis=st.integers(-3, 2), seed=st.integers(0, 100))
def test_batch_normalization(axis, seed, device):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((3, 4, 5)).astype("float32")
    n = x.shape[axis]
    m, o, s = (rng.standard_normal(n).astype("float32") for _ in range(3))
    v = rng.uniform(0.5, 2.0, n).astype("float32")
    shape = [1, 1, 1]
    shape[axis] = n
    r = lambda a: a.reshape(shape)  # noqa: E731
    want = (x - r(m)) / np.sqrt(r(v) + 1e-3) * r(s) + r(o)
    np.testing.assert_allclose(np.asarray(ops.batch_normalization(x, m, v, axis, o, s)), want, rtol=1e-5, atol=1e-5)
    assert_grad_matches(lambda a, b: ops.batch_normalization(a, m, b, axis, o, s), x, v)


def test_batch_normalization_errors():
    with pytest.raises(ValueError, match=r"batch_normalization: expected statistics of shape \(4,\)"):
        ops.batch_normalization(np.zeros((2, 4), "float32"), np.zeros(3), np.ones(4), axis=1)


def test_layer_normalization(device):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 5)).astype("float32")
    g, b = rng.standard_normal(5).astype("float32"), rng.standard_normal(5).astype("float32")
    mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    want = (x - mu) / np.sqrt(var + 1e-7) * g + b
    np.testing.assert_allclose(np.asarray(ops.layer_normalization(x, g, b)), want, rtol=1e-4, atol=1e-4)
    assert_grad_matches(lambda a: ops.layer_normalization(a, g, b, epsilon=1e-3), x)


def ref_attention(q, k, v, bias=None, mask=None, scale=None, causal=False):
    heads = q.shape[2]
    k, v = np.repeat(k, heads // k.shape[2], axis=2), np.repeat(v, heads // v.shape[2], axis=2)
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    logits = np.einsum("btnh,bsnh->bnts", q, k) * scale
    if bias is not None:
        logits = logits + bias
    keep = np.ones(logits.shape, bool)
    if mask is not None:
        keep &= mask
    if causal:
        keep &= np.tril(np.ones(logits.shape[-2:], bool))
    logits = np.where(keep, logits, -1e9)
    w = np.exp(logits - logits.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    return np.einsum("bnts,bsnh->btnh", w, v)


@given(seed=st.integers(0, 100), kv_heads=st.sampled_from([1, 2, 4]), causal=st.booleans(),
       use_mask=st.booleans(), use_bias=st.booleans())
def test_dot_product_attention(seed, kv_heads, causal, use_mask, use_bias):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((2, 3, 4, 5)).astype("float32")
    k = rng.standard_normal((2, 3, kv_heads, 5)).astype("float32")
    v = rng.standard_normal((2, 3, kv_heads, 5)).astype("float32")
    mask = rng.random((2, 1, 3, 3)) > 0.3 if use_mask else None
    if mask is not None:
        mask[..., 0] = True  # every row keeps its first (never future) position
    bias = rng.standard_normal((1, 4, 3, 3)).astype("float32") if use_bias else None
    got = ops.dot_product_attention(q, k, v, bias=bias, mask=mask, is_causal=causal)
    np.testing.assert_allclose(np.asarray(got), ref_attention(q, k, v, bias, mask, None, causal),
                               rtol=1e-4, atol=1e-5)


def test_dot_product_attention_gradients_and_errors():
    rng = np.random.default_rng(2)
    q, k, v = (rng.standard_normal((1, 3, 2, 4)).astype("float32") for _ in range(3))
    assert_grad_matches(lambda a, b, c: ops.dot_product_attention(a, b, c, scale=0.7), q, k, v)
    with pytest.raises(ValueError, match=r"query heads \(2\) must be a multiple of key heads \(3\)"):
        ops.dot_product_attention(q, np.zeros((1, 3, 3, 4), "float32"), np.zeros((1, 3, 3, 4), "float32"))
    with pytest.raises(ValueError, match="rank 4"):
        ops.dot_product_attention(q[0], k[0], v[0])


# ---------------------------------------------------------------------------------------------
# Helpers


def ref_batch_norm(x, gamma, beta, eps):
    x = np.asarray(x, np.float64)
    axes = tuple(range(x.ndim - 1))
    mean, var = x.mean(axes), x.var(axes)
    y = (x - mean) / np.sqrt(var + eps)
    if gamma is not None:
        y = y * np.asarray(gamma, np.float64)
    if beta is not None:
        y = y + np.asarray(beta, np.float64)
    return y, mean, var


def ref_layer_norm(x, gamma, beta, eps, axes=(-1,)):
    x = np.asarray(x, np.float64)
    mean, var = x.mean(axes, keepdims=True), x.var(axes, keepdims=True)
    y = (x - mean) / np.sqrt(var + eps)
    if gamma is not None:
        y = y * np.asarray(gamma, np.float64)
    if beta is not None:
        y = y + np.asarray(beta, np.float64)
    return y


def assert_within(got, want, bound, what):
    err = np.abs(np.asarray(got, np.float64) - want)
    assert np.all(err <= bound), f"{what}: max error {err.max():.3g} > bound {np.max(bound):.3g}"


def max_pool_on_tape(x, p, s, padding, w=None, data_format=None):
    """(value under a tape, gradient of sum(w * max_pool(x)) w.r.t. x)."""
    t = T(x)
    with keras.GradientTape() as tape:
        tape.watch(t)
        y = ops.max_pool(t, p, s, padding, data_format=data_format)
    g = tape.gradient(y, t, output_gradients=w)
    return to_np(y), to_np(g)


# ---------------------------------------------------------------------------------------------
# 1. batch_norm_train


@st.composite
def bn_case(draw):
    rank = draw(st.integers(2, 4))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank)))
    dtype = draw(st.sampled_from(["float32", "float64"]))
    offsets = [0.0, 1e3] if dtype == "float32" else [0.0, 1e3, 1e8]
    offset = draw(st.sampled_from(offsets)) * draw(st.sampled_from([1.0, -1.0]))
    rng = np.random.default_rng(draw(st.integers(0, 10_000)))
    # A per-channel offset and spread, so a statistic over the wrong axes is visibly wrong.
    c = shape[-1]
    spread = rng.uniform(0.5, 2.0, c)
    x = (offset + rng.uniform(-1, 1, c) + spread * rng.standard_normal(shape)).astype(dtype)
    gamma = rng.uniform(0.5, 2.0, c).astype(dtype) * rng.choice([-1, 1], c) if draw(st.booleans()) else None
    beta = rng.standard_normal(c).astype(dtype) if draw(st.booleans()) else None
    # Epsilons exact in float32 here; test_float64_epsilon_is_not_rounded_to_float32 covers 1e-3.
    eps = draw(st.sampled_from([2.0**-10, 2.0**-17, 0.5]))
    return x, gamma, beta, eps


@settings(max_examples=40)
@given(case=bn_case())
def test_batch_norm_train_forward_matches_numpy(case):
    x, gamma, beta, eps = case
    y, mean, var = _core.batch_norm_train(x, gamma, beta, eps)
    c = x.shape[-1]
    for t in (y, mean, var):
        assert str(t.dtype) == str(x.dtype)
    assert tuple(y.shape) == x.shape and tuple(mean.shape) == (c,) and tuple(var.shape) == (c,)
    want_y, want_m, want_v = ref_batch_norm(x, gamma, beta, eps)
    fe = np.finfo(x.dtype).eps
    # The statistics are accumulated in float64, then rounded once to the input's dtype; a
    # float32 accumulation or E[x^2] - E[x]^2 without a shift would cancel at offset 1e3 / 1e8.
    np.testing.assert_allclose(to_np(mean), want_m, rtol=4 * fe, atol=1e-12)
    np.testing.assert_allclose(to_np(var), want_v, rtol=8 * fe, atol=1e-12)
    # y = x * scale + shift loses at most a few ulps of |x| * scale (the affine form's cancellation).
    axes = tuple(range(x.ndim - 1))
    g = 1.0 if gamma is None else np.abs(gamma.astype(np.float64))
    b = 0.0 if beta is None else np.abs(beta.astype(np.float64))
    bound = 8 * fe * ((1 + np.abs(x.astype(np.float64)).max(axes) / np.sqrt(want_v + eps)) * g + b)
    assert_within(y, want_y, bound, "batch_norm_train y")


def test_batch_norm_train_float32_large_offset_keeps_the_variance():
    # Float32 data at 1e3 with unit spread: E[x^2] - E[x]^2 in float32 would lose every digit.
    rng = np.random.default_rng(3)
    x = (1e3 + rng.standard_normal((64, 5))).astype("float32")
    y, mean, var = _core.batch_norm_train(x)
    want_y, want_m, want_v = ref_batch_norm(x, None, None, 1e-3)
    np.testing.assert_allclose(to_np(var), want_v, rtol=1e-6)
    np.testing.assert_allclose(to_np(mean), want_m, rtol=1e-7)
    np.testing.assert_allclose(to_np(y), want_y, atol=5e-4)
    np.testing.assert_allclose(to_np(y).std(0), np.sqrt(want_v / (want_v + 1e-3)), rtol=1e-4)


@pytest.mark.parametrize("fused", ["batch_norm_train", "layer_norm"])
def test_float64_epsilon_is_not_rounded_to_float32(fused):
    # In float64, epsilon=1e-3 must enter as the float64 1e-3, not float32(1e-3) = 1.0000000475e-3:
    # with a small variance that difference is a 2e-8 relative error, far above float64's 1e-16.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 3)) * 1e-3
    if fused == "batch_norm_train":
        got = _core.batch_norm_train(x, None, None, 1e-3)[0]
        want = ref_batch_norm(x, None, None, 1e-3)[0]
    else:
        got = ops.layer_normalization(x, np.ones(3), np.zeros(3), epsilon=1e-3)
        want = ref_layer_norm(x, None, None, 1e-3)
    np.testing.assert_allclose(to_np(got), want, rtol=1e-12, atol=1e-15)


def test_batch_norm_train_gamma_beta_none_are_one_and_zero():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 2, 4)).astype("float32")
    ones, zeros = np.ones(4, "float32"), np.zeros(4, "float32")
    base = to_np(_core.batch_norm_train(x, ones, zeros)[0])
    np.testing.assert_array_equal(to_np(_core.batch_norm_train(x)[0]), base)
    np.testing.assert_array_equal(to_np(_core.batch_norm_train(x, None, zeros)[0]), base)
    np.testing.assert_array_equal(to_np(_core.batch_norm_train(x, ones, None)[0]), base)
    np.testing.assert_allclose(base, ref_batch_norm(x, None, None, 1e-3)[0], rtol=1e-5, atol=1e-5)
    # Each parameter is applied on its own, per channel.
    g, b = np.array([2, -1, 0.5, 3], "float32"), np.array([1, 0, -2, 4], "float32")
    np.testing.assert_allclose(to_np(_core.batch_norm_train(x, g)[0]), base * g, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(to_np(_core.batch_norm_train(x, None, b)[0]), base + b, rtol=1e-5, atol=1e-5)


@st.composite
def bn_grad_case(draw):
    rank = draw(st.integers(2, 3))
    shape = tuple(draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank)))
    rng = np.random.default_rng(draw(st.integers(0, 10_000)))
    c = shape[-1]
    x = 5.0 + rng.standard_normal(shape)
    gamma = rng.uniform(0.5, 2.0, c) if draw(st.booleans()) else None
    beta = rng.standard_normal(c) if draw(st.booleans()) else None
    return x, gamma, beta


@settings(max_examples=25)
@given(case=bn_grad_case())
def test_batch_norm_train_gradients_match_finite_differences_float64(case):
    x, gamma, beta = case
    inputs = [x, gamma, beta]
    wrt = [i for i, a in enumerate(inputs) if a is not None]

    def op(a, g, b):
        return _core.batch_norm_train(a, g, b, 0.01)[0]

    check_grads_fd64(op, inputs, wrt, seed=int(x.size), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 2, 5), (1, 1, 4), (7, 1)])
def test_batch_norm_train_gradients_match_composed_formula_float32(shape, device):
    rng = np.random.default_rng(len(shape))
    c = shape[-1]
    x = (2.0 + rng.standard_normal(shape)).astype("float32")
    gamma = rng.uniform(0.5, 2.0, c).astype("float32")
    beta = rng.standard_normal(c).astype("float32")
    w = random_cotangent(shape, 7)
    axes = tuple(range(len(shape) - 1))

    def composed(a, g, b):
        mean, var = ops.moments(a, axes=axes)
        return ops.batch_normalization(a, mean, var, axis=-1, offset=b, scale=g, epsilon=1e-3)

    def fused(a, g, b):
        return _core.batch_norm_train(a, g, b, 1e-3)[0]

    y1, g1 = tape_grads(fused, [x, gamma, beta], [0, 1, 2], cotangent=w)
    y2, g2 = tape_grads(composed, [x, gamma, beta], [0, 1, 2], cotangent=w)
    np.testing.assert_allclose(y1, y2, rtol=1e-5, atol=1e-5)
    for name, a, b in zip(("x", "gamma", "beta"), g1, g2):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4, err_msg=f"gradient w.r.t. {name}")
    # And the closed forms, as a check on both.
    xhat = (x - x.mean(axes)) / np.sqrt(x.var(axes) + 1e-3)
    np.testing.assert_allclose(g1[2], w.sum(axes), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(g1[1], (w * xhat).sum(axes), rtol=1e-4, atol=1e-4)


def test_batch_norm_train_errors():
    with pytest.raises(ValueError, match="empty input of shape"):
        _core.batch_norm_train(np.zeros((0, 3), "float32"))
    with pytest.raises(ValueError, match="empty input of shape"):
        _core.batch_norm_train(np.zeros((2, 0, 3), "float32"))
    with pytest.raises(ValueError, match=r"gamma and beta of shape \(3,\).*got \[2\]"):
        _core.batch_norm_train(np.ones((4, 3), "float32"), np.ones(2, "float32"))
    with pytest.raises(ValueError, match=r"gamma and beta of shape \(3,\).*got \[4\]"):
        _core.batch_norm_train(np.ones((4, 3), "float32"), None, np.zeros(4, "float32"))
    with pytest.raises(ValueError, match=r"gamma and beta of shape \(3,\).*got \[1, 3\]"):
        _core.batch_norm_train(np.ones((4, 3), "float32"), np.ones((1, 3), "float32"))
    with pytest.raises((TypeError, ValueError), match="expected a float32 or float64 input.*int32"):
        _core.batch_norm_train(np.ones((4, 3), "int32"))
    with pytest.raises(ValueError, match="rank >= 1"):
        _core.batch_norm_train(np.float32(1.0))


class _Spy:
    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.fn(*args, **kwargs)


def test_batch_normalization_layer_uses_fused_kernel_and_updates_moving_stats(monkeypatch, device):
    spy = _Spy(_core.batch_norm_train)
    monkeypatch.setattr(_core, "batch_norm_train", spy)
    rng = np.random.default_rng(4)
    layer = keras.layers.BatchNormalization(momentum=0.8, epsilon=1e-3)
    x1 = (3.0 + 2.0 * rng.standard_normal((6, 2, 3))).astype("float32")
    x2 = (-1.0 + 0.5 * rng.standard_normal((6, 2, 3))).astype("float32")
    layer.build(x1.shape)
    gamma, beta = np.array([1.5, -0.5, 2.0], "float32"), np.array([0.1, 0.2, -0.3], "float32")
    layer.gamma.assign(gamma)
    layer.beta.assign(beta)

    w = random_cotangent(x1.shape, 1)
    xt = T(x1)
    with keras.GradientTape() as tape:
        tape.watch(xt)
        y = layer(xt, training=True)
    grads = tape.gradient(y, [xt, layer.gamma, layer.beta], output_gradients=w)
    assert spy.calls == 1, "BatchNormalization(axis=-1, training=True) did not call _core.batch_norm_train"
    want, m1, v1 = ref_batch_norm(x1, gamma, beta, 1e-3)
    np.testing.assert_allclose(to_np(y), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(to_np(layer.moving_mean), 0.8 * 0 + 0.2 * m1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(to_np(layer.moving_variance), 0.8 * 1 + 0.2 * v1, rtol=1e-5, atol=1e-6)
    axes = (0, 1)
    xhat = (x1 - m1) / np.sqrt(v1 + 1e-3)
    np.testing.assert_allclose(to_np(grads[2]), w.sum(axes), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(to_np(grads[1]), (w * xhat).sum(axes), rtol=1e-4, atol=1e-4)
    n = x1.size // 3
    gx = gamma / np.sqrt(v1 + 1e-3) / n * (n * w - w.sum(axes) - xhat * (w * xhat).sum(axes))
    np.testing.assert_allclose(to_np(grads[0]), gx, rtol=1e-4, atol=1e-4)

    # A second batch: the moving statistics move by momentum again.
    y2 = layer(x2, training=True)
    _, m2, v2 = ref_batch_norm(x2, gamma, beta, 1e-3)
    np.testing.assert_allclose(to_np(layer.moving_mean), 0.8 * (0.2 * m1) + 0.2 * m2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(to_np(layer.moving_variance), 0.8 * (0.8 + 0.2 * v1) + 0.2 * v2,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(to_np(y2), ref_batch_norm(x2, gamma, beta, 1e-3)[0], rtol=1e-5, atol=1e-5)
    assert spy.calls == 2
    # Inference uses the moving statistics, not the batch's.
    mm, mv = to_np(layer.moving_mean), to_np(layer.moving_variance)
    np.testing.assert_allclose(to_np(layer(x2, training=False)), (x2 - mm) / np.sqrt(mv + 1e-3) * gamma + beta,
                               rtol=1e-5, atol=1e-5)
    assert spy.calls == 2


def test_batch_normalization_layer_fused_and_unfused_axes_agree():
    # axis=-1 (fused) on x and axis=1 (composed moments) on the channels-first x are one computation.
    rng = np.random.default_rng(5)
    x = (10.0 + rng.standard_normal((4, 3, 3, 2))).astype("float32")
    last = keras.layers.BatchNormalization(axis=-1, momentum=0.5)
    first = keras.layers.BatchNormalization(axis=1, momentum=0.5)
    xf = np.ascontiguousarray(np.moveaxis(x, -1, 1))
    y_last = to_np(last(x, training=True))
    y_first = to_np(first(xf, training=True))
    np.testing.assert_allclose(np.moveaxis(y_last, -1, 1), y_first, rtol=1e-4, atol=1e-4)
    for a in ("moving_mean", "moving_variance"):
        np.testing.assert_allclose(to_np(getattr(last, a)), to_np(getattr(first, a)), rtol=1e-5, atol=1e-6)
    assert not np.allclose(to_np(last.moving_mean), 0.0)


# ---------------------------------------------------------------------------------------------
# 2. layer normalization


# Fixed shapes (once the GPU normalization kernels' own tests, against the CPU): rows and
# channels past a workgroup, single rows and channels; gradients against the closed forms.
NORM_SHAPES = [(2, 4, 4, 3), (5, 6), (1, 7), (130, 2), (3, 1), (2, 70)]


def _norm_grads_ref(axes, eps):
    """Closed-form gradients of y = (x - mean) / sqrt(var + eps) * gamma + beta (statistics over
    `axes`), as an `expected` for assert_grad_matches over (x, gamma, beta)."""
    def expected(x, gamma, beta, w):
        x = x.astype(F64)
        mean, var = x.mean(axes, keepdims=True), x.var(axes, keepdims=True)
        xhat = (x - mean) / np.sqrt(var + eps)
        param_axes = tuple(i for i in range(x.ndim) if i != x.ndim - 1)
        dxhat = w * gamma.astype(F64)
        dx = (dxhat - dxhat.mean(axes, keepdims=True) - xhat * (dxhat * xhat).mean(axes, keepdims=True)) \
            / np.sqrt(var + eps)
        return [dx, (w * xhat).sum(param_axes), w.sum(param_axes)]

    return expected


@pytest.mark.parametrize("shape", NORM_SHAPES)
def test_batch_norm_train_fixed_shapes_and_gradients(shape, device):
    rng = np.random.default_rng(0)
    c = shape[-1]
    x = rng.standard_normal(shape).astype(np.float32)
    gamma, beta = rng.standard_normal(c).astype(np.float32), rng.standard_normal(c).astype(np.float32)
    y, mean, var = _core.batch_norm_train(T(x), T(gamma), T(beta), 1e-3)
    want_y, want_m, want_v = ref_batch_norm(x, gamma, beta, 1e-3)
    assert_close(y, want_y, rtol=1e-4, atol=1e-4)
    assert_close(mean, want_m, rtol=1e-5, atol=1e-6)
    assert_close(var, want_v, rtol=1e-5, atol=1e-6)
    axes = tuple(range(len(shape) - 1))
    assert_grad_matches(lambda a, g, b: _core.batch_norm_train(a, g, b, 1e-3)[0], x, gamma, beta,
                        expected=_norm_grads_ref(axes, 1e-3), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape", NORM_SHAPES + [(9,)])
def test_layer_normalization_fixed_shapes_and_gradients(shape, device):
    rng = np.random.default_rng(1)
    d = shape[-1]
    x = (50.0 + 2.0 * rng.standard_normal(shape)).astype(np.float32)  # far from zero
    gamma, beta = rng.standard_normal(d).astype(np.float32), rng.standard_normal(d).astype(np.float32)
    got = ops.layer_normalization(T(x), T(gamma), T(beta), epsilon=1e-3)
    assert_close(got, ref_layer_norm(x, gamma, beta, 1e-3), rtol=1e-4, atol=1e-4)
    assert_grad_matches(lambda a, g, b: ops.layer_normalization(a, g, b, epsilon=1e-3), x, gamma, beta,
                        expected=_norm_grads_ref((-1,), 1e-3), rtol=1e-3, atol=1e-3)


def test_layer_normalization_without_params_and_empty(device):
    x = np.random.default_rng(4).standard_normal((3, 5)).astype(np.float32)
    assert_close(ops.layer_normalization(T(x)), ref_layer_norm(x, None, None, 1e-7), rtol=1e-4, atol=1e-4)  # default eps
    e = ops.layer_normalization(T(np.zeros((0, 5), np.float32)))
    assert to_np(e).shape == (0, 5)


@st.composite
def ln_case(draw):
    rank = draw(st.integers(1, 4))
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=rank, max_size=rank)))
    dtype = draw(st.sampled_from(["float32", "float64"]))
    rng = np.random.default_rng(draw(st.integers(0, 10_000)))
    d = shape[-1]
    x = (draw(st.sampled_from([0.0, 100.0])) + rng.uniform(0.5, 3) * rng.standard_normal(shape)).astype(dtype)
    gamma = rng.standard_normal(d).astype(dtype) if draw(st.booleans()) else None
    beta = rng.standard_normal(d).astype(dtype) if draw(st.booleans()) else None
    # Epsilons exact in float32 for float64 data (see test_float64_epsilon_is_not_rounded_to_float32).
    eps = draw(st.sampled_from([None, 1e-3, 0.25] if dtype == "float32" else [2.0**-23, 2.0**-10, 0.25]))
    axis = draw(st.sampled_from([-1, rank - 1, (-1,)]))
    return x, gamma, beta, eps, axis


@settings(max_examples=40)
@given(case=ln_case())
def test_layer_normalization_forward_matches_numpy(case):
    x, gamma, beta, eps, axis = case
    got = ops.layer_normalization(x, gamma, beta, axis=axis, epsilon=eps)
    assert str(got.dtype) == str(x.dtype) and tuple(got.shape) == x.shape
    want = ref_layer_norm(x, gamma, beta, 1e-7 if eps is None else eps)
    tol = 1e-4 if x.dtype == np.float32 else 1e-9
    np.testing.assert_allclose(to_np(got), want, rtol=tol, atol=tol)


def test_layer_normalization_last_axis_uses_fused_kernel(monkeypatch):
    spy = _Spy(_core.layer_norm)
    monkeypatch.setattr(_core, "layer_norm", spy)
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype("float32")
    ops.layer_normalization(x, np.ones(4, "float32"), np.zeros(4, "float32"))
    assert spy.calls == 1
    layer = keras.layers.LayerNormalization()
    layer(x)
    assert spy.calls == 2
    ops.layer_normalization(x, axis=(-2, -1))
    assert spy.calls == 2  # multi-axis: the composed path


@settings(max_examples=25)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
       use_gamma=st.booleans(), use_beta=st.booleans(), seed=st.integers(0, 1000))
def test_layer_normalization_gradients_match_finite_differences_float64(shape, use_gamma, use_beta, seed):
    rng = np.random.default_rng(seed)
    d = shape[-1]
    x = 3.0 + rng.standard_normal(shape)
    gamma = rng.uniform(0.5, 2.0, d) * rng.choice([-1, 1], d) if use_gamma else None
    beta = rng.standard_normal(d) if use_beta else None
    inputs = [x, gamma, beta]
    wrt = [i for i, a in enumerate(inputs) if a is not None]

    def op(a, g, b):
        return ops.layer_normalization(a, g, b, epsilon=0.01)

    check_grads_fd64(op, inputs, wrt, seed=seed, rtol=1e-5, atol=1e-7)


def test_layer_normalization_fused_gradients_match_composed_float32(device):
    rng = np.random.default_rng(2)
    x = (1.0 + rng.standard_normal((3, 4, 6))).astype("float32")
    g, b = rng.standard_normal(6).astype("float32"), rng.standard_normal(6).astype("float32")
    w = random_cotangent(x.shape, 3)

    def composed(a, gg, bb):
        mean, var = ops.moments(a, axes=-1, keepdims=True)
        return (a - mean) * ops.rsqrt(var + 1e-3) * gg + bb

    y1, g1 = tape_grads(lambda a, gg, bb: ops.layer_normalization(a, gg, bb, epsilon=1e-3), [x, g, b], [0, 1, 2], w)
    y2, g2 = tape_grads(composed, [x, g, b], [0, 1, 2], w)
    np.testing.assert_allclose(y1, y2, rtol=1e-5, atol=1e-5)
    for name, a, r in zip(("x", "gamma", "beta"), g1, g2):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, r, rtol=1e-4, atol=1e-4, err_msg=f"gradient w.r.t. {name}")


def test_layer_normalization_multi_axis_and_broadcast_params_still_correct():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 4))
    g, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    got = ops.layer_normalization(x, g, b, axis=(-2, -1), epsilon=1e-3)
    np.testing.assert_allclose(to_np(got), ref_layer_norm(x, g, b, 1e-3, axes=(-2, -1)), rtol=1e-10, atol=1e-10)
    check_grads_fd64(lambda a, gg, bb: ops.layer_normalization(a, gg, bb, axis=(-2, -1), epsilon=1e-3),
                     [x, g, b], [0, 1, 2], rtol=1e-5, atol=1e-7)
    # gamma/beta of shape (1, d) broadcast (composed path) and give the same as (d,) (fused path).
    g1, b1 = rng.standard_normal(4), rng.standard_normal(4)
    fused = to_np(ops.layer_normalization(x, g1, b1, epsilon=1e-3))
    bcast = to_np(ops.layer_normalization(x, g1[None], b1[None], epsilon=1e-3))
    np.testing.assert_allclose(fused, bcast, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(fused, ref_layer_norm(x, g1, b1, 1e-3), rtol=1e-10, atol=1e-10)
    # A middle axis is not the last axis.
    mid = ops.layer_normalization(x, axis=1, epsilon=1e-3)
    np.testing.assert_allclose(to_np(mid), ref_layer_norm(x, None, None, 1e-3, axes=(1,)), rtol=1e-10, atol=1e-10)


def test_layer_normalization_errors_on_wrong_param_length():
    x = np.ones((2, 4), "float32")
    with pytest.raises(ValueError, match=r"gamma and beta of shape \(4,\)"):
        _core.layer_norm(x, np.ones(3, "float32"), None, 1e-3)
    with pytest.raises((TypeError, ValueError), match="float32 or float64"):
        _core.layer_norm(np.ones((2, 4), "int32"), None, None, 1e-3)


def test_layer_normalization_layer_default_axis():
    rng = np.random.default_rng(6)
    x = (50.0 + 3.0 * rng.standard_normal((2, 3, 5))).astype("float32")
    layer = keras.layers.LayerNormalization(epsilon=1e-3)
    layer.build(x.shape)
    g, b = rng.standard_normal(5).astype("float32"), rng.standard_normal(5).astype("float32")
    layer.gamma.assign(g)
    layer.beta.assign(b)
    w = random_cotangent(x.shape, 4)
    xt = T(x)
    with keras.GradientTape() as tape:
        tape.watch(xt)
        y = layer(xt)
    gx, gg, gb = tape.gradient(y, [xt, layer.gamma, layer.beta], output_gradients=w)
    np.testing.assert_allclose(to_np(y), ref_layer_norm(x, g, b, 1e-3), rtol=1e-4, atol=1e-4)
    x64 = x.astype(np.float64)
    xhat = (x64 - x64.mean(-1, keepdims=True)) / np.sqrt(x64.var(-1, keepdims=True) + 1e-3)
    np.testing.assert_allclose(to_np(gb), w.sum((0, 1)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(to_np(gg), (w * xhat).sum((0, 1)), rtol=1e-4, atol=1e-4)
    gh = w * g
    rs = 1 / np.sqrt(x64.var(-1, keepdims=True) + 1e-3)
    want_gx = rs * (gh - gh.mean(-1, keepdims=True) - xhat * (gh * xhat).mean(-1, keepdims=True))
    np.testing.assert_allclose(to_np(gx), want_gx, rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------------------------------------
# Inputs past the kernels' parallel threshold (2**18 elements): the threaded paths


def test_large_inputs_take_the_parallel_paths():
    rng = np.random.default_rng(12)
    # Batch norm: per-thread partial channel sums.
    x = (100.0 + rng.standard_normal((1100, 240))).astype("float32")
    gamma = rng.uniform(0.5, 2, 240).astype("float32")
    w = random_cotangent(x.shape, 1)
    y, (gx, gg, gb) = tape_grads(lambda a, g, b: _core.batch_norm_train(a, g, b, 1e-3)[0],
                                 [x, gamma, np.zeros(240, "float32")], [0, 1, 2], cotangent=w)
    want, m, v = ref_batch_norm(x, gamma, None, 1e-3)
    np.testing.assert_allclose(y, want, atol=2e-3)
    np.testing.assert_allclose(to_np(_core.batch_norm_train(x)[2]), v, rtol=1e-6)
    w64, xhat = w.astype(np.float64), (x - m) / np.sqrt(v + 1e-3)
    np.testing.assert_allclose(gb, w64.sum(0), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(gg, (w64 * xhat).sum(0), rtol=1e-4, atol=1e-3)
    n = x.shape[0]
    want_gx = gamma / np.sqrt(v + 1e-3) / n * (n * w64 - w64.sum(0) - xhat * (w64 * xhat).sum(0))
    np.testing.assert_allclose(gx, want_gx, rtol=1e-3, atol=1e-4)
    # Layer norm over 300-wide rows.
    xl = rng.standard_normal((900, 300))
    g = rng.standard_normal(300)
    yl, (_, ggl) = tape_grads(lambda a, b: ops.layer_normalization(a, b, None, epsilon=2.0**-10),
                              [xl, g], [0, 1], cotangent=xl)
    want = ref_layer_norm(xl, g, None, 2.0**-10)
    np.testing.assert_allclose(yl, want, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ggl, (xl * want / g).sum(0), rtol=1e-9, atol=1e-9)
    # Depthwise: forward rows, per-image input gradient, per-thread kernel-gradient partials.
    xd = rng.standard_normal((3, 40, 40, 60)).astype("float32")
    kd = rng.standard_normal((3, 3, 60, 1)).astype("float32")
    wd = random_cotangent((3, 40, 40, 60), 2)
    yd, (gxd, gkd) = tape_grads(lambda a, b: ops.depthwise_conv(a, b, 1, "same"), [xd, kd], [0, 1], cotangent=wd)
    xp = np.pad(xd.astype(np.float64), ((0, 0), (1, 1), (1, 1), (0, 0)))
    wp = np.pad(wd.astype(np.float64), ((0, 0), (1, 1), (1, 1), (0, 0)))
    want_y = sum(xp[:, a:a + 40, b:b + 40] * kd[a, b, :, 0] for a in range(3) for b in range(3))
    np.testing.assert_allclose(yd, want_y, rtol=1e-4, atol=1e-4)
    want_gx = sum(wp[:, 2 - a:42 - a, 2 - b:42 - b] * kd[a, b, :, 0] for a in range(3) for b in range(3))
    np.testing.assert_allclose(gxd, want_gx, rtol=1e-4, atol=1e-4)
    want_gk = np.stack([np.stack([(xp[:, a:a + 40, b:b + 40] * wd).sum((0, 1, 2)) for b in range(3)])
                        for a in range(3)])[..., None]
    np.testing.assert_allclose(gkd, want_gk, rtol=1e-4, atol=1e-2)
    # Max pooling argmax (pool 2, stride 1: overlapping windows) with many ties.
    xm = rng.integers(0, 4, (2, 97, 97, 15)).astype("float32")
    ym, gm = max_pool_on_tape(xm, 2, 1, "valid")
    taps = np.stack([xm[:, a:a + 96, b:b + 96] for a in range(2) for b in range(2)])
    first = taps.argmax(0)  # NumPy's argmax: the first maximum in row-major window order
    nn, ii, jj, cc = np.indices(first.shape)
    flat = np.ravel_multi_index((nn, ii + first // 2, jj + first % 2, cc), xm.shape)
    np.testing.assert_array_equal(ym, taps.max(0))
    np.testing.assert_array_equal(gm.ravel(), np.bincount(flat.ravel(), minlength=xm.size))
    np.testing.assert_array_equal(ym, to_np(ops.max_pool(xm, 2, 1, "valid")))


# ---------------------------------------------------------------------------------------------
# 5. gradients take their source's dtype


def test_gradient_takes_float32_source_dtype_under_float64_loss():
    v = keras.Variable(np.array([1.0, -2.0, 3.0], "float32"))
    c = np.array([0.5, 0.25, 1e-9], "float64")
    with keras.GradientTape() as tape:
        y = ops.sum(v * c)
    assert str(y.dtype) == "float64"  # the mix promoted: the loss really is float64
    g = tape.gradient(y, v)
    assert str(g.dtype) == "float32"
    np.testing.assert_allclose(to_np(g), c.astype("float32"), rtol=1e-7)

    # A watched float32 tensor through a float64 loss; and a float64 source through a float32 cast.
    t32 = T(np.array([[1.0, 2.0], [3.0, 4.0]], "float32"))
    t64 = T(np.array([1.5, -0.5], "float64"))
    with keras.GradientTape() as tape:
        tape.watch([t32, t64])
        loss = ops.sum(ops.square(t32) * np.float64(2.0)) + ops.sum(ops.cast(t64, "float32") * 3.0)
    g32, g64 = tape.gradient(loss, [t32, t64])
    assert str(g32.dtype) == "float32" and str(g64.dtype) == "float64"
    np.testing.assert_allclose(to_np(g32), 4.0 * to_np(t32), rtol=1e-7)
    np.testing.assert_allclose(to_np(g64), [3.0, 3.0], rtol=1e-7)


def test_fused_kernel_gradients_take_source_dtypes():
    # float64 input with float32 parameters: y is float64, each gradient has its source's dtype.
    rng = np.random.default_rng(11)
    x = T(rng.standard_normal((4, 3)))
    gamma = keras.Variable(rng.uniform(0.5, 2, 3).astype("float32"))
    beta = keras.Variable(np.zeros(3, "float32"))
    for fn in (lambda a: _core.batch_norm_train(a, gamma, beta, 1e-3)[0],
               lambda a: ops.layer_normalization(a, gamma, beta, epsilon=1e-3)):
        with keras.GradientTape() as tape:
            tape.watch(x)
            y = fn(x)
            loss = ops.sum(y * np.arange(12.0).reshape(4, 3))
        assert str(y.dtype) == "float64"
        gx, gg, gb = tape.gradient(loss, [x, gamma, beta])
        assert (str(gx.dtype), str(gg.dtype), str(gb.dtype)) == ("float64", "float32", "float32")
        np.testing.assert_allclose(to_np(gb), np.arange(12.0).reshape(4, 3).sum(0), rtol=1e-6)
    # And the other way round: float32 data, float64 parameters.
    x32 = T(rng.standard_normal((4, 3)).astype("float32"))
    g64 = keras.Variable(np.ones(3), dtype="float64")
    for fn in (lambda a: _core.batch_norm_train(a, g64, None)[0], lambda a: ops.layer_normalization(a, g64)):
        with keras.GradientTape() as tape:
            tape.watch(x32)
            y = fn(x32)
        assert str(y.dtype) == "float32"
        gx, gg = tape.gradient(y, [x32, g64])
        assert (str(gx.dtype), str(gg.dtype)) == ("float32", "float64")
    # A float32 kernel under a float64 input: depthwise promotes; the kernel's gradient is float32.
    k = keras.Variable(rng.standard_normal((2, 2, 3, 1)).astype("float32"))
    xi = rng.standard_normal((1, 3, 3, 3))
    with keras.GradientTape() as tape:
        y = ops.depthwise_conv(xi, k)
        loss = ops.sum(y)
    assert str(y.dtype) == "float64"
    gk = tape.gradient(loss, k)
    assert str(gk.dtype) == "float32"
    want = np.array([[xi[0, a:a + 2, b:b + 2].sum((0, 1)) for b in range(2)] for a in range(2)])[..., None]
    np.testing.assert_allclose(to_np(gk), want, rtol=1e-5)

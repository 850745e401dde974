"""softmax, log_softmax and the three cross-entropies against NumPy reference formulas (written
here, in float64), their gradients and their errors."""

from __future__ import annotations

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
    shapes,
    to_np,
    unbroadcast,
)
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from rskeras import ops

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
def test_softmax_matches_numpy(case):
    x, axis = case
    out = ops.softmax(T(x), axis=axis)
    assert out.dtype == "float32"
    assert_close(out, np_softmax(x, axis), rtol=1e-5, atol=1e-7)


@given(case=array_and_one_axis())
def test_log_softmax_matches_numpy(case):
    x, axis = case
    assert_close(ops.log_softmax(T(x), axis=axis), np_log_softmax(x, axis), rtol=1e-5, atol=1e-5)


@given(case=array_and_one_axis(min_side=1))
def test_softmax_rows_sum_to_one_and_default_axis_is_last(case):
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
def test_softmax_grad_matches_analytic(case):
    x, axis = case

    def expected(x, w):
        y = np_softmax(x, axis)
        return [y * (w - np.sum(w * y, axis=axis, keepdims=True))]

    assert_grad_matches(lambda t: ops.softmax(t, axis=axis), x, expected=expected, rtol=1e-4, atol=1e-6)


@given(case=array_and_one_axis(min_value=-5, max_value=5, max_side=4))
def test_log_softmax_grad_matches_analytic(case):
    x, axis = case

    def expected(x, w):
        return [w - np_softmax(x, axis) * np.sum(w, axis=axis, keepdims=True)]

    assert_grad_matches(lambda t: ops.log_softmax(t, axis=axis), x, expected=expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("op", [ops.softmax, ops.log_softmax])
@given(case=array_and_one_axis(min_value=-3, max_value=3, max_side=3, max_dims=3))
def test_softmax_grads_finite_differences(op, case):
    x, axis = case
    assert_grad_matches(lambda t: op(t, axis=axis), x)


# ---------------------------------------------------------------------------------------------
# sparse_categorical_crossentropy


@pytest.mark.parametrize("from_logits", [True, False])
@given(data=st.data())
def test_sparse_ce_matches_keras_formula(from_logits, data):
    labels, output = data.draw(classification_case(probs=not from_logits))
    out = ops.sparse_categorical_crossentropy(T(labels), T(output), from_logits=from_logits)
    assert out.dtype == "float32"
    assert_close(out, np_sparse_ce(labels, output, from_logits), rtol=1e-5, atol=1e-5)


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
def test_sparse_ce_from_logits_grad_is_softmax_minus_onehot(case):
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
def test_sparse_ce_from_probs_grad(case):
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


def test_sparse_ce_from_probs_grad_is_zero_where_clipped():
    p = np.array([[0.0, 1.0], [1.0, 1.0]], np.float32)  # row 0: label prob 0 -> clipped
    x = T(p)
    with keras.GradientTape() as tape:
        tape.watch(x)
        y = ops.sparse_categorical_crossentropy(np.array([0, 0]), x)
    g = to_np(tape.gradient(y, x))
    np.testing.assert_array_equal(g[0], [0.0, 0.0])
    np.testing.assert_allclose(g[1], [0.5 - 1.0, 0.5], rtol=1e-6)


@given(case=classification_case(max_side=3))
def test_sparse_ce_from_logits_grad_finite_differences(case):
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
def test_categorical_ce_matches_keras_formula(from_logits, data):
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
def test_categorical_ce_from_logits_grads(data):
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
def test_categorical_ce_from_probs_grads_finite_differences(data):
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
def test_binary_ce_matches_keras_formula_with_broadcasting(from_logits, data):
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
def test_binary_ce_from_logits_grad(data):
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
def test_binary_ce_from_probs_grad(data):
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


def test_binary_ce_from_logits_grad_at_zero_logit():
    x = T(np.zeros((3,), np.float32))
    t = np.array([0.0, 0.5, 1.0], np.float32)
    with keras.GradientTape() as tape:
        tape.watch(x)
        y = ops.binary_crossentropy(t, x, from_logits=True)
    np.testing.assert_allclose(to_np(tape.gradient(y, x)), 0.5 - t, atol=1e-6)


def test_binary_ce_broadcast_mismatch_raises_value_error():
    with pytest.raises(ValueError):
        ops.binary_crossentropy(np.ones((2, 3), np.float32), np.ones((4,), np.float32))

"""`rskeras.ops.math`: logsumexp, top_k and in_top_k, forward against NumPy references, ties,
gradients and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from rskeras import ops

from tests.conftest import (
    T,
    array_and_axis,
    assert_close,
    assert_exact,
    assert_grad_matches,
    float_arrays,
    floats32,
    int_arrays,
    normalize_axes,
    to_np,
)

F64 = np.float64
SMALL = {"max_dims": 3, "max_side": 3}  # shapes for finite-difference gradient checks


def _np_axis(axis):
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


def _logsumexp_ref(x, axis, keepdims):
    x = x.astype(F64)
    with np.errstate(all="ignore"):
        return np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))


@given(xa=array_and_axis(float_arrays(min_value=-30, max_value=30)), keepdims=st.booleans(), shift=st.sampled_from([0.0, 500.0, -500.0]))
def test_logsumexp_matches_reference_and_is_stable(xa, keepdims, shift, device):
    x, axis = xa
    expected = _logsumexp_ref(x, _np_axis(axis), keepdims) + (shift if x.size else 0.0)
    got = ops.logsumexp(T(x + np.float32(shift)), axis=axis, keepdims=keepdims)
    assert got.dtype == "float32"
    assert_close(got, expected, rtol=1e-5, atol=1e-4)


@settings(max_examples=15)
@given(xa=array_and_axis(float_arrays(min_value=-5, max_value=5, **SMALL)), keepdims=st.booleans())
def test_logsumexp_grad_is_softmax(xa, keepdims, device):
    x, axis = xa

    def expected(x, w):
        axes = normalize_axes(axis, x.ndim)
        e = np.exp(x.astype(F64) - x.max(axis=axes, keepdims=True)) if x.size else x.astype(F64)
        soft = e / e.sum(axis=axes, keepdims=True) if x.size else e
        return [soft * (w if keepdims else np.expand_dims(w, axes))]

    assert_grad_matches(lambda t: ops.logsumexp(t, axis=axis, keepdims=keepdims), x, expected=expected,
                        rtol=1e-5, atol=1e-6)


def test_logsumexp_infinities_empty_and_errors():
    assert_exact(ops.logsumexp(np.array([-np.inf, -np.inf], np.float32)), np.float32(-np.inf))
    assert_exact(ops.logsumexp(np.array([np.inf, 1.0], np.float32)), np.float32(np.inf))
    assert math.isnan(float(ops.logsumexp(np.array([np.nan, 1.0], np.float32))))
    assert_exact(ops.logsumexp(np.zeros((0, 3), np.float32), axis=0), np.full(3, -np.inf, np.float32))
    assert_close(ops.logsumexp(np.array([1, 2], np.int32)), np.log(np.e + np.e ** 2), dtype="float32")
    with pytest.raises(ValueError, match="logsumexp"):
        ops.logsumexp(np.ones((2, 2)), axis=2)


# Few distinct values: many ties, exact zeros and NaN.
ORDER_TIES = st.sampled_from([-2.0, -0.5, 0.0, 1.0, 3.0]).map(np.float32)


# ---------------------------------------------------------------------------------------------
# top_k / in_top_k


@st.composite
def topk_case(draw, elements=ORDER_TIES, **shape_kw):
    x = draw(float_arrays(elements=elements, min_dims=1, **shape_kw))
    k = draw(st.integers(min(1, x.shape[-1]), x.shape[-1]))  # k = 0: test_top_k_k_out_of_range...
    return x, k


@pytest.mark.parametrize("elements", [ORDER_TIES, floats32(-10, 10)], ids=["ties", "floats"])
@given(data=st.data())
def test_top_k_matches_stable_descending_argsort(elements, data, device):
    x, k = data.draw(topk_case(elements))
    values, indices = ops.top_k(T(x), k)
    expected_idx = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    assert indices.dtype == "int32" and values.dtype == "float32"
    assert tuple(values.shape) == x.shape[:-1] + (k,)
    np.testing.assert_array_equal(to_np(indices), expected_idx)
    np.testing.assert_array_equal(to_np(values), np.take_along_axis(x, expected_idx, axis=-1))
    v2, _ = ops.top_k(T(x), k, sorted=False)  # unsorted output is allowed to be sorted
    np.testing.assert_array_equal(np.sort(to_np(v2), axis=-1), np.sort(to_np(values), axis=-1))


def test_top_k_integers_and_ties(device):
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
def test_top_k_values_gradient(case, device):
    x, k = case

    def expected(x, w):
        idx = np.argsort(-x, axis=-1, kind="stable")[..., :k]
        g = np.zeros(x.shape)
        np.put_along_axis(g, idx, w, axis=-1)
        return [g]

    assert_grad_matches(lambda t: ops.top_k(t, k)[0], x, expected=expected, rtol=1e-6, atol=1e-7)


def test_top_k_values_gradient_finite_differences_distinct(device):
    x = np.float32([[0.3, -2.0, 1.5, 0.9], [4.0, 2.0, -1.0, 3.0]])
    assert_grad_matches(lambda t: ops.top_k(t, 2)[0], x)


@st.composite
def in_top_k_case(draw):
    batch = draw(st.integers(0, 5))
    classes = draw(st.integers(1, 6))
    preds = draw(float_arrays((batch, classes), elements=draw(st.sampled_from([ORDER_TIES, floats32(-5, 5)]))))
    targets = draw(int_arrays((batch,), 0, classes - 1, dtype=draw(st.sampled_from([np.int32, np.int64]))))
    k = draw(st.integers(0, classes))
    return targets, preds, k


@given(case=in_top_k_case())
def test_in_top_k_counts_strictly_higher_scores(case, device):
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


def test_in_top_k_float64_predictions_are_not_rounded():
    preds = np.array([[1.0, 1.0 + 1e-12, 0.5]])
    np.testing.assert_array_equal(to_np(ops.in_top_k(np.array([0]), preds, 1)), [False])

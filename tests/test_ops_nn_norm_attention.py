"""ops.batch_normalization, ops.layer_normalization and ops.dot_product_attention against
NumPy references (the formulas Keras 3 documents) and finite-difference gradients."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_grad_matches
from hypothesis import given
from hypothesis import strategies as st
from rskeras import ops


@given(axis=st.integers(-3, 2), seed=st.integers(0, 100))
def test_batch_normalization(axis, seed):
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


def test_layer_normalization():
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

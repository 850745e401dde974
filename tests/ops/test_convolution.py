"""`rskeras.ops` convolution and pooling (`python/rskeras/ops/convolution.py`): conv, conv_transpose,
depthwise and separable conv (with the direct depthwise kernel `_core.depthwise_conv2d`),
max and average pooling (with the argmax path of max pooling under a tape), against a direct
NumPy reference (Keras padding rules), gradients against finite differences, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rskeras as keras
from hypothesis import given, settings, strategies as st
from rskeras import ops

from tests.conftest import (
    T, assert_close, assert_grad_matches, check_grads_fd64, random_cotangent, tape_grads, to_np,
)
from tests.fuzz._references import conv2d, pads


# ---------------------------------------------------------------------------------------------
# Helpers


def keras_pads(size, k, s, d, padding):
    """Output size and leading padding of one spatial axis (Keras rules)."""
    span = (k - 1) * d + 1
    if padding == "valid":
        return (size - span) // s + 1, 0
    out = math.ceil(size / s)
    return out, max((out - 1) * s + span - size, 0) // 2


def ref_depthwise(x, k, s, padding, d):
    """NHWC depthwise convolution in float64 with explicit loops:
    out[n, i, j, c * m + q] = sum_{a, b} x[n, i*s0 + a*d0 - pt, j*s1 + b*d1 - pl, c] * k[a, b, c, q]."""
    x, k = np.asarray(x, np.float64), np.asarray(k, np.float64)
    n, h, w, c = x.shape
    kh, kw, _, m = k.shape
    oh, pt = keras_pads(h, kh, s[0], d[0], padding)
    ow, pl = keras_pads(w, kw, s[1], d[1], padding)
    out = np.zeros((n, oh, ow, c * m))
    for i in range(oh):
        for j in range(ow):
            for a in range(kh):
                for b in range(kw):
                    y, xx = i * s[0] + a * d[0] - pt, j * s[1] + b * d[1] - pl
                    if not (0 <= y < h and 0 <= xx < w):
                        continue
                    for ch in range(c):
                        for q in range(m):
                            out[:, i, j, ch * m + q] += x[:, y, xx, ch] * k[a, b, ch, q]
    return out


def ref_max_pool_argmax(x, p, s, padding):
    """Max pooling in NumPy with the flat index of each window's FIRST maximum in row-major
    window order; a NaN beats every number and the first NaN wins."""
    n, h, w, c = x.shape
    oh, pt = keras_pads(h, p[0], s[0], 1, padding)
    ow, pl = keras_pads(w, p[1], s[1], 1, padding)
    out = np.zeros((n, oh, ow, c), x.dtype)
    idx = np.zeros((n, oh, ow, c), np.int64)
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                for ch in range(c):
                    best, best_i = None, -1
                    for a in range(p[0]):
                        for e in range(p[1]):
                            y, xx = i * s[0] + a - pt, j * s[1] + e - pl
                            if not (0 <= y < h and 0 <= xx < w):
                                continue
                            v = x[b, y, xx, ch]
                            if best is None or (not np.isnan(best) and (np.isnan(v) or v > best)):
                                best, best_i = v, np.ravel_multi_index((b, y, xx, ch), x.shape)
                    out[b, i, j, ch], idx[b, i, j, ch] = best, best_i
    return out, idx


def max_pool_on_tape(x, p, s, padding, w=None, data_format=None):
    """(value under a tape, gradient of sum(w * max_pool(x)) w.r.t. x)."""
    t = T(x)
    with keras.GradientTape() as tape:
        tape.watch(t)
        y = ops.max_pool(t, p, s, padding, data_format=data_format)
    g = tape.gradient(y, t, output_gradients=None if w is None else T(w))
    return to_np(y), to_np(g)


# ---------------------------------------------------------------------------------------------
# 3. depthwise convolution


@st.composite
def dw_case(draw, rank=2):
    kh = draw(st.integers(1, 3)) if rank == 2 else 1
    kw = draw(st.integers(1, 3))
    s = (draw(st.integers(1, 3)) if rank == 2 else 1, draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 2)) if rank == 2 else 1, draw(st.integers(1, 2)))
    padding = draw(st.sampled_from(["valid", "same"]))
    c, m = draw(st.integers(1, 3)), draw(st.sampled_from([1, 1, 2, 3]))
    h = draw(st.integers((kh - 1) * d[0] + 1, 6)) if rank == 2 else 1
    w = draw(st.integers((kw - 1) * d[1] + 1, 7))
    n = draw(st.integers(1, 2))
    rng = np.random.default_rng(draw(st.integers(0, 10_000)))
    x = rng.standard_normal((n, h, w, c)).astype("float32")
    k = rng.standard_normal((kh, kw, c, m)).astype("float32")
    return x, k, s, padding, d


@settings(max_examples=40)
@given(case=dw_case())
def test_depthwise_conv2d_matches_reference(case, device):
    x, k, s, padding, d = case
    got = ops.depthwise_conv(T(x), T(k), s, padding, dilation_rate=d)
    assert str(got.dtype) == "float32"
    want = ref_depthwise(x, k, s, padding, d)
    assert tuple(got.shape) == want.shape
    np.testing.assert_allclose(to_np(got), want, rtol=1e-5, atol=1e-5)


@settings(max_examples=25)
@given(case=dw_case(rank=1))
def test_depthwise_conv1d_matches_reference(case, device):
    x, k, s, padding, d = case
    got = ops.depthwise_conv(T(x[:, 0]), T(k[0]), s[1], padding, dilation_rate=d[1])
    want = ref_depthwise(x, k, s, padding, d)[:, 0]
    assert tuple(got.shape) == want.shape
    np.testing.assert_allclose(to_np(got), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("s, padding, d, m", [
    ((1, 1), "same", (1, 1), 1),
    ((2, 1), "valid", (1, 1), 2),
    ((2, 2), "same", (1, 1), 3),
    ((1, 1), "same", (2, 1), 2),
    ((1, 1), "valid", (1, 2), 1),
    ((2, 3), "same", (2, 2), 2),
])
def test_depthwise_conv2d_gradients_float64(s, padding, d, m):
    rng = np.random.default_rng(m + 3 * s[0] + 7 * d[0])
    x = rng.standard_normal((2, 5, 6, 2))
    k = rng.standard_normal((2, 3, 2, m))
    op = lambda a, b: ops.depthwise_conv(a, b, s, padding, dilation_rate=d)
    assert str(op(x, k).dtype) == "float64"
    np.testing.assert_allclose(to_np(op(x, k)), ref_depthwise(x, k, s, padding, d), rtol=1e-12, atol=1e-12)
    check_grads_fd64(op, [x, k], [0, 1], seed=m)


def test_depthwise_conv1d_gradients_and_channels_first_float64():
    rng = np.random.default_rng(9)
    x, k = rng.standard_normal((2, 7, 3)), rng.standard_normal((3, 3, 2))
    check_grads_fd64(lambda a, b: ops.depthwise_conv(a, b, 2, "same"), [x, k], [0, 1])
    x2, k2 = rng.standard_normal((2, 5, 6, 3)), rng.standard_normal((3, 2, 3, 2))
    last = to_np(ops.depthwise_conv(x2, k2, (1, 2), "same"))
    first = to_np(ops.depthwise_conv(np.moveaxis(x2, -1, 1), k2, (1, 2), "same", data_format="channels_first"))
    np.testing.assert_allclose(np.moveaxis(first, 1, -1), last, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(last, ref_depthwise(x2, k2, (1, 2), "same", (1, 1)), rtol=1e-12, atol=1e-12)


def test_depthwise_conv_errors():
    x = np.ones((1, 4, 4, 2), "float32")
    with pytest.raises(ValueError, match="same channels"):
        ops.depthwise_conv(x, np.ones((3, 3, 3, 1), "float32"))
    with pytest.raises(ValueError, match="larger than the input"):
        ops.depthwise_conv(x, np.ones((5, 1, 2, 1), "float32"))


@pytest.mark.parametrize("m, s, padding, d", [(1, 1, "same", 1), (2, 2, "valid", 1), (3, 1, "same", 2)])
def test_depthwise_and_separable_layers_match_reference(m, s, padding, d):
    rng = np.random.default_rng(m)
    x = rng.standard_normal((2, 6, 5, 3)).astype("float32")
    dw = keras.layers.DepthwiseConv2D(3, strides=s, padding=padding, depth_multiplier=m, dilation_rate=d)
    dw.build(x.shape)
    k, bias = rng.standard_normal((3, 3, 3, m)).astype("float32"), rng.standard_normal(3 * m).astype("float32")
    dw.kernel.assign(k)
    dw.bias.assign(bias)
    want = ref_depthwise(x, k, (s, s), padding, (d, d))
    np.testing.assert_allclose(to_np(dw(x)), want + bias, rtol=1e-5, atol=1e-5)

    sep = keras.layers.SeparableConv2D(4, 3, strides=s, padding=padding, depth_multiplier=m, dilation_rate=d)
    sep.build(x.shape)
    pk, sb = rng.standard_normal((1, 1, 3 * m, 4)).astype("float32"), rng.standard_normal(4).astype("float32")
    sep.depthwise_kernel.assign(k)
    sep.pointwise_kernel.assign(pk)
    sep.bias.assign(sb)
    np.testing.assert_allclose(to_np(sep(x)), want @ pk[0, 0] + sb, rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------------------------------------
# 4. max pooling under a tape (argmax path)


@st.composite
def pool_case(draw, ties=False):
    p = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = draw(st.sampled_from(["valid", "same"]))
    h, w = draw(st.integers(p[0], 6)), draw(st.integers(p[1], 6))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    dtype = draw(st.sampled_from(["float32", "float64"]))
    rng = np.random.default_rng(draw(st.integers(0, 10_000)))
    if ties:  # few distinct values: windows are full of ties
        x = rng.integers(-2, 2, (n, h, w, c)).astype(dtype)
    else:
        x = (rng.permutation(n * h * w * c).reshape(n, h, w, c) - 10).astype(dtype) / 4
    return x, p, s, padding


@settings(max_examples=40)
@given(case=pool_case(ties=True))
def test_max_pool_tape_gradient_goes_to_first_maximum(case):
    x, p, s, padding = case
    want_y, idx = ref_max_pool_argmax(x, p, s, padding)
    w = random_cotangent(want_y.shape, 5).astype(x.dtype)
    y, g = max_pool_on_tape(x, p, s, padding, w)
    assert g.dtype == x.dtype and y.dtype == x.dtype
    np.testing.assert_array_equal(y, want_y)
    want_g = np.zeros(x.size)
    np.add.at(want_g, idx.ravel(), w.astype(np.float64).ravel())  # overlapping windows accumulate
    np.testing.assert_allclose(g.ravel(), want_g, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(y, to_np(ops.max_pool(T(x), p, s, padding)))


@settings(max_examples=25)
@given(case=pool_case())
def test_max_pool_tape_gradient_matches_finite_differences(case):
    x, p, s, padding = case  # distinct values, 0.25 apart: a 1e-6 step never changes an argmax
    op = lambda a: ops.max_pool(a, p, s, padding)
    check_grads_fd64(op, [x.astype(np.float64)], [0], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("padding, at", [("valid", 2), ("same", 1), ("same", 3)])
def test_max_pool_overlapping_windows_accumulate(padding, at, device):
    # Pool 3, stride 2 on 5x5: windows start at rows/columns 0, 2 ("valid") or -1, 1, 3 ("same",
    # one row of padding in front), so row/column `at` belongs to two windows along each axis.
    # A maximum there is picked by the four windows covering it, and its gradient sums theirs.
    x = np.random.default_rng(at).uniform(-1, 0, (1, 5, 5, 2)).astype("float32")
    x[0, at, at, 1] = 10.0
    w = random_cotangent((1, 3, 3, 2) if padding == "same" else (1, 2, 2, 2), at)
    y, g = max_pool_on_tape(x, 3, 2, padding, w)
    want_y, idx = ref_max_pool_argmax(x, (3, 3), (2, 2), padding)
    np.testing.assert_array_equal(y, want_y)
    shared = idx == np.ravel_multi_index((0, at, at, 1), x.shape)
    assert shared.sum() == 4
    np.testing.assert_allclose(g[0, at, at, 1], w[shared].sum(), rtol=1e-6)
    want_g = np.zeros(x.size)
    np.add.at(want_g, idx.ravel(), w.astype(np.float64).ravel())
    np.testing.assert_allclose(g.ravel(), want_g, rtol=1e-6, atol=1e-7)


def test_max_pool_ties_pick_first_in_row_major_window_order():
    # A 2x2 window whose maximum 5 sits at (0, 1) and (1, 0): row-major order picks (0, 1).
    x = np.array([[1, 5], [5, 5]], "float32").reshape(1, 2, 2, 1)
    _, g = max_pool_on_tape(x, 2, 2, "valid")
    np.testing.assert_array_equal(g.reshape(2, 2), [[0, 1], [0, 0]])
    # Column-major order would pick (1, 0) here; the first tap (0, 0) must win outright.
    x = np.array([[7, 1], [7, 7]], "float64").reshape(1, 2, 2, 1)
    _, g = max_pool_on_tape(x, 2, 2, "valid")
    np.testing.assert_array_equal(g.reshape(2, 2), [[1, 0], [0, 0]])
    # All equal, overlapping windows (pool 2, stride 1 on 3x3): each window's top-left.
    _, g = max_pool_on_tape(np.ones((1, 3, 3, 1), "float32"), 2, 1, "valid")
    np.testing.assert_array_equal(g.reshape(3, 3), [[1, 1, 0], [1, 1, 0], [0, 0, 0]])


def test_max_pool_nan_propagates_with_and_without_tape():
    x = np.array([[1, 2, 3], [4, np.nan, 6], [7, 8, 9]], "float32").reshape(1, 3, 3, 1)
    plain = to_np(ops.max_pool(x, 2, 1, "valid"))
    taped, g = max_pool_on_tape(x, 2, 1, "valid")
    assert np.isnan(plain).all() and np.isnan(taped).all()
    # The NaN is each window's maximum, so the gradient lands on it.
    np.testing.assert_array_equal(g.ravel(), [0, 0, 0, 0, 4, 0, 0, 0, 0])
    # NaN after a larger number in the window, in float64 and with windows that miss the NaN.
    x = np.arange(16, dtype="float64").reshape(1, 4, 4, 1)
    x[0, 1, 1, 0] = np.nan
    plain = to_np(ops.max_pool(x, 2, 2, "valid"))
    taped, g = max_pool_on_tape(x, 2, 2, "valid")
    want = np.array([[np.nan, 7], [13, 15]]).reshape(1, 2, 2, 1)
    np.testing.assert_array_equal(plain, want)
    np.testing.assert_array_equal(taped, want)
    assert g[0, 1, 1, 0] == 1 and g.sum() == 4 and g[0, 3, 3, 0] == 1


@settings(max_examples=30)
@given(case=pool_case(ties=True), nan_frac=st.sampled_from([0.0, 0.2]), seed=st.integers(0, 100))
def test_max_pool_values_identical_with_and_without_tape(case, nan_frac, seed):
    x, p, s, padding = case
    rng = np.random.default_rng(seed)
    x = x.copy()
    x[rng.random(x.shape) < nan_frac] = np.nan
    x[rng.random(x.shape) < 0.2] *= -0.0  # signed zeros must not change with the path either
    plain = to_np(ops.max_pool(x, p, s, padding))
    taped, _ = max_pool_on_tape(x, p, s, padding)
    assert plain.dtype == taped.dtype == x.dtype
    bits = np.uint32 if x.dtype == np.float32 else np.uint64
    np.testing.assert_array_equal(taped.view(bits), plain.view(bits))
    np.testing.assert_array_equal(plain, ref_max_pool_argmax(x, p, s, padding)[0])


def test_max_pool_tape_1d_channels_first_and_variables():
    rng = np.random.default_rng(8)
    # 1-D pooling and channels_first through the argmax path.
    x1 = rng.permutation(2 * 7 * 2).reshape(2, 7, 2).astype("float32")
    t = T(x1)
    with keras.GradientTape() as tape:
        tape.watch(t)
        y = ops.max_pool(t, 3, 2, "same")
    g = to_np(tape.gradient(y, t))
    want_y, idx = ref_max_pool_argmax(x1[:, None], (1, 3), (1, 2), "same")
    np.testing.assert_array_equal(to_np(y), want_y[:, 0])
    want_g = np.zeros(x1.size)
    np.add.at(want_g, idx.ravel(), 1.0)
    np.testing.assert_array_equal(g.ravel(), want_g)

    x = rng.permutation(2 * 3 * 4 * 5).reshape(2, 3, 4, 5).astype("float64")  # NCHW
    w = random_cotangent((2, 3, 2, 2), 2).astype("float64")
    y, g = max_pool_on_tape(x, 2, 2, "valid", w, data_format="channels_first")
    nhwc = np.moveaxis(x, 1, -1)
    want_y, idx = ref_max_pool_argmax(nhwc, (2, 2), (2, 2), "valid")
    np.testing.assert_array_equal(y, np.moveaxis(want_y, -1, 1))
    want_g = np.zeros(nhwc.size)
    np.add.at(want_g, idx.ravel(), np.moveaxis(w, 1, -1).ravel())
    np.testing.assert_allclose(g, np.moveaxis(want_g.reshape(nhwc.shape), -1, 1), rtol=1e-12)

    # A trainable variable is watched automatically.
    xv = rng.permutation(1 * 4 * 4 * 2).reshape(1, 4, 4, 2).astype("float32")
    v = keras.Variable(xv)
    with keras.GradientTape() as tape:
        y = ops.max_pool(v, 2)
    gv = to_np(tape.gradient(y, v))
    _, idx = ref_max_pool_argmax(xv, (2, 2), (2, 2), "valid")
    want_g = np.zeros(xv.size)
    np.add.at(want_g, idx.ravel(), 1.0)
    np.testing.assert_array_equal(gv.ravel(), want_g)
    np.testing.assert_array_equal(to_np(y), to_np(ops.max_pool(xv, 2)))


def ref_conv(x, k, s, padding, d, groups=1):
    """Direct NHWC convolution in float64 (the fuzz suite's reference)."""
    return conv2d(x, k, s, padding, d, groups)


def ref_pool(x, p, s, padding, kind):
    n, h, w, c = x.shape
    oh, pt = pads(h, p[0], s[0], 1, padding)
    ow, pl = pads(w, p[1], s[1], 1, padding)
    out = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            y0, x0 = i * s[0] - pt, j * s[1] - pl
            win = x[:, max(y0, 0):y0 + p[0], max(x0, 0):x0 + p[1], :]
            out[:, i, j] = win.max(axis=(1, 2)) if kind == "max" else win.mean(axis=(1, 2))
    return out


@st.composite
def conv_case(draw):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (1, 1) if max(s) > 1 else (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = draw(st.sampled_from(["valid", "same"]))
    groups = draw(st.sampled_from([1, 1, 2]))
    cg, og = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h = draw(st.integers((kh - 1) * d[0] + 1, 7))
    w = draw(st.integers((kw - 1) * d[1] + 1, 7))
    n = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 1000)))
    x = rng.standard_normal((n, h, w, cg * groups)).astype("float32")
    k = rng.standard_normal((kh, kw, cg, og * groups)).astype("float32")
    return x, k, s, padding, d, groups


@given(case=conv_case())
def test_conv2d_matches_reference(case, device):
    x, k, s, padding, d, groups = case
    got = ops.conv(T(x), T(k), s, padding, dilation_rate=d)
    np.testing.assert_allclose(to_np(got), ref_conv(x, k, s, padding, d, groups), rtol=1e-4, atol=1e-4)


@given(case=conv_case())
def test_conv2d_gradients(case, device):
    x, k, s, padding, d, _ = case
    assert_grad_matches(lambda a, b: ops.conv(a, b, s, padding, dilation_rate=d), x, k)


def test_conv_float64_and_channels_first():
    rng = np.random.default_rng(0)
    x, k = rng.standard_normal((2, 6, 5, 3)), rng.standard_normal((3, 3, 3, 4))
    got = ops.conv(x, k, 1, "same")
    assert got.dtype == "float64"
    np.testing.assert_allclose(np.asarray(got), ref_conv(x, k, (1, 1), "same", (1, 1)), rtol=1e-12)
    cf = ops.conv(np.moveaxis(x, -1, 1), k, 1, "same", data_format="channels_first")
    np.testing.assert_allclose(np.asarray(cf), np.moveaxis(np.asarray(got), -1, 1), rtol=1e-12)


def test_conv1d_and_causal_padding():
    rng = np.random.default_rng(1)
    x, k = rng.standard_normal((2, 9, 3)).astype("float32"), rng.standard_normal((3, 3, 4)).astype("float32")
    want = ref_conv(x[:, None], k[None], (1, 2), "same", (1, 1))[:, 0]
    np.testing.assert_allclose(np.asarray(ops.conv(x, k, 2, "same")), want, rtol=1e-5, atol=1e-5)
    causal = np.asarray(ops.conv(x, k, 1, "causal", dilation_rate=2))
    padded = np.pad(x, ((0, 0), (4, 0), (0, 0)))
    np.testing.assert_allclose(causal, ref_conv(padded[:, None], k[None], (1, 1), "valid", (1, 2))[:, 0],
                               rtol=1e-5, atol=1e-5)
    assert causal.shape == (2, 9, 4)


def test_depthwise_and_separable_conv(device):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 6, 6, 3)).astype("float32")
    dk = rng.standard_normal((3, 3, 3, 2)).astype("float32")
    pk = rng.standard_normal((1, 1, 6, 4)).astype("float32")
    grouped = dk.reshape(3, 3, 1, 6)  # output channel c * 2 + m is channel c with filter m
    want = ref_conv(x, grouped, (1, 1), "same", (1, 1), groups=3)
    np.testing.assert_allclose(np.asarray(ops.depthwise_conv(x, dk, 1, "same")), want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(ops.separable_conv(x, dk, pk, 1, "same")),
                               want @ pk[0, 0], rtol=1e-4, atol=1e-4)
    assert_grad_matches(lambda a, b: ops.depthwise_conv(a, b, 2, "valid"), x, dk)


@pytest.mark.parametrize("s, padding", [(1, "valid"), (2, "valid"), (3, "valid"), (2, "same"), (1, "same")])
def test_conv_transpose_is_the_adjoint_of_conv(s, padding, device):
    # <conv(x, k), y> == <x, conv_transpose(y, k)> for every x, y: conv_transpose is conv's adjoint.
    rng = np.random.default_rng(3)
    k = rng.standard_normal((3, 2, 4, 5))  # conv: 4 -> 5 channels; transpose: 5 -> 4
    y = rng.standard_normal((2, 4, 3, 5))
    out = np.asarray(ops.conv_transpose(y, k, s, padding))
    x = rng.standard_normal(out.shape)
    fwd = np.asarray(ops.conv(x, k, s, padding))
    assert fwd.shape == y.shape
    np.testing.assert_allclose(np.sum(fwd * y), np.sum(x * out), rtol=1e-10)
    assert_grad_matches(lambda a, b: ops.conv_transpose(a, b, s, padding),
                        y.astype("float32"), k.astype("float32"))


@given(data=st.data())
def test_pooling_matches_reference_and_gradients(data, device):
    p = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    s = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    padding = data.draw(st.sampled_from(["valid", "same"]))
    h, w = data.draw(st.integers(p[0], 7)), data.draw(st.integers(p[1], 7))
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    x = rng.permutation(2 * h * w * 3).reshape(2, h, w, 3).astype("float32") / 7  # no ties
    for kind, fn in (("max", ops.max_pool), ("avg", ops.average_pool)):
        got = to_np(fn(T(x), p, s, padding))
        np.testing.assert_allclose(got, ref_pool(x, p, s, padding, kind), rtol=1e-5, atol=1e-6)
        assert_grad_matches(lambda t, fn=fn: fn(t, p, s, padding), x, eps=1e-2)


# Fixed cases (once the GPU convolution kernel's own tests, against the CPU): output channels
# not a multiple of the kernel's channel block, non-square windows and strides, dilation, even
# windows with uneven "same" padding, pointwise, window = image, 1-D, an empty batch.
CONV_X = np.random.default_rng(0).standard_normal((2, 8, 8, 3)).astype(np.float32)


@pytest.mark.parametrize("kshape,strides,padding,dilation", [
    ((3, 3, 3, 4), 1, "same", 1),
    ((3, 3, 3, 5), 2, "valid", 1),      # out_c not a multiple of the channel block
    ((3, 2, 3, 6), (2, 1), "same", 1),  # non-square window and strides
    ((3, 3, 3, 2), 1, "valid", 2),      # dilation
    ((2, 2, 3, 3), 1, "same", (2, 1)),  # even window, "same" with uneven padding
    ((1, 1, 3, 7), 1, "valid", 1),      # pointwise
    ((8, 8, 3, 1), 1, "valid", 1),      # window = image, one output pixel and channel
])
def test_conv_fixed_cases_and_gradients(kshape, strides, padding, dilation, device):
    k = np.random.default_rng(1).standard_normal(kshape).astype(np.float32)
    s, d = _pair(strides), _pair(dilation)
    got = ops.conv(T(CONV_X), T(k), strides, padding, dilation_rate=dilation)
    assert_close(got, ref_conv(CONV_X, k, s, padding, d), rtol=1e-4, atol=1e-4)
    assert_grad_matches(lambda a, b: ops.conv(a, b, strides, padding, dilation_rate=dilation), CONV_X, k)


def test_conv_1d_single_channel_and_empty_batch(device):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 10, 1)).astype(np.float32)
    k = rng.standard_normal((3, 1, 2)).astype(np.float32)
    got = ops.conv(T(x), T(k), 2, "same")
    assert_close(got, ref_conv(x[:, None], k[None], (1, 2), "same", (1, 1))[:, 0], rtol=1e-5, atol=1e-5)
    assert_grad_matches(lambda a, b: ops.conv(a, b, 2, "same"), x, k)
    x = np.zeros((0, 8, 8, 3), np.float32)
    k = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    y, (gx, gk) = tape_grads(lambda a, b: ops.conv(a, b, 1, "same"), [x, k], [0, 1],
                             cotangent=np.zeros((0, 8, 8, 4), np.float32))
    assert y.shape == (0, 8, 8, 4) and gx.shape == x.shape
    np.testing.assert_array_equal(gk, np.zeros_like(k))  # the kernel gradient of no images


@pytest.mark.parametrize("kshape,strides,padding,dilation", [
    ((3, 3, 3, 1), 1, "same", 1),
    ((3, 3, 3, 2), 2, "valid", 1),
    ((2, 3, 3, 3), (1, 2), "same", 1),
    ((3, 3, 3, 2), 1, "valid", 2),
])
def test_depthwise_conv_fixed_cases_and_gradients(kshape, strides, padding, dilation, device):
    k = np.random.default_rng(2).standard_normal(kshape).astype(np.float32)
    got = ops.depthwise_conv(T(CONV_X), T(k), strides, padding, dilation_rate=dilation)
    assert_close(got, ref_depthwise(CONV_X, k, _pair(strides), padding, _pair(dilation)), rtol=1e-4, atol=1e-4)
    assert_grad_matches(lambda a, b: ops.depthwise_conv(a, b, strides, padding, dilation_rate=dilation), CONV_X, k)


def test_separable_conv_fixed_case_and_gradients(device):
    rng = np.random.default_rng(4)
    dk = rng.standard_normal((3, 3, 3, 2)).astype(np.float32)
    pk = rng.standard_normal((1, 1, 6, 4)).astype(np.float32)
    got = ops.separable_conv(T(CONV_X), T(dk), T(pk), 1, "same")
    want = ref_conv(ref_depthwise(CONV_X, dk, (1, 1), "same", (1, 1)), pk, (1, 1), "valid", (1, 1))
    assert_close(got, want, rtol=1e-4, atol=1e-4)
    assert_grad_matches(lambda a, b, c: ops.separable_conv(a, b, c, 1, "same"), CONV_X, dk, pk)


# Fixed cases (once the GPU pooling kernel's own tests, against the CPU): overlapping windows with
# padding on both sides, strides larger than the window, one window over the whole image; ties
# and NaN taps (the first maximum, and the first NaN, take the gradient).
POOL_X = np.random.default_rng(0).standard_normal((2, 8, 8, 3)).astype(np.float32)
POOL_CASES = [
    (2, None, "valid"),
    (3, 2, "same"),
    (3, 1, "same"),          # overlapping windows, padding on both sides
    ((3, 2), (1, 2), "valid"),
    ((2, 3), 3, "same"),     # stride larger than the window
    (8, None, "valid"),      # one window over the whole image
]


def _pair(v):
    return tuple(v) if isinstance(v, tuple) else (v, v)


def _assert_max_pool_and_first_max_gradient(x, pool, strides, padding):
    p, s = _pair(pool), _pair(strides if strides is not None else pool)
    want_y, idx = ref_max_pool_argmax(x, p, s, padding)
    w = random_cotangent(want_y.shape, 3)
    y, g = max_pool_on_tape(x, pool, strides, padding, w)
    np.testing.assert_array_equal(y, want_y)
    np.testing.assert_array_equal(to_np(ops.max_pool(T(x), pool, strides, padding)), want_y)
    want_g = np.zeros(x.size)
    np.add.at(want_g, idx.ravel(), w.astype(np.float64).ravel())
    np.testing.assert_allclose(g.ravel(), want_g, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("pool,strides,padding", POOL_CASES)
def test_pooling_fixed_cases_and_gradients(pool, strides, padding, device):
    p, s = _pair(pool), _pair(strides if strides is not None else pool)
    _assert_max_pool_and_first_max_gradient(POOL_X, pool, strides, padding)
    got = ops.average_pool(T(POOL_X), pool, strides, padding)
    assert_close(got, ref_pool(POOL_X, p, s, padding, "avg"), rtol=1e-5, atol=1e-6)
    assert_grad_matches(lambda t: ops.average_pool(t, pool, strides, padding), POOL_X)


def test_max_pool_ties_and_nan_fixed_cases(device):
    x = np.round(np.random.default_rng(1).standard_normal((2, 6, 6, 2))).astype(np.float32)  # many ties
    x[0, :2, :2, 0] = 1.0
    _assert_max_pool_and_first_max_gradient(x, 3, 1, "same")
    _assert_max_pool_and_first_max_gradient(np.zeros((1, 4, 4, 1), np.float32), 2, None, "valid")
    x = POOL_X.copy()
    x[0, 0, 0, 0] = np.nan  # first tap of its window
    x[0, 3, 3, 1] = np.nan  # last tap of its window
    x[1, 4, 5, 2] = np.nan
    _assert_max_pool_and_first_max_gradient(x, 2, None, "valid")
    _assert_max_pool_and_first_max_gradient(x, 3, 1, "same")


def test_max_pool_ties_send_the_gradient_to_the_first_maximum_and_nan_propagates():
    import rskeras as keras

    x = ops.convert_to_tensor(np.ones((1, 2, 2, 1), "float32"))
    with keras.GradientTape() as tape:
        tape.watch(x)
        y = ops.sum(ops.max_pool(x, 2))
    np.testing.assert_array_equal(np.asarray(tape.gradient(y, x))[0, :, :, 0], [[1, 0], [0, 0]])
    x = np.array([1.0, np.nan, 0.0, 2.0], "float32").reshape(1, 2, 2, 1)
    assert np.isnan(np.asarray(ops.max_pool(x, 2))).all()


def test_conv_and_pool_errors_name_the_op_and_shapes():
    x = np.zeros((1, 5, 5, 3), "float32")
    with pytest.raises(ValueError, match=r"conv: input channels \(3\).*kernel"):
        ops.conv(x, np.zeros((3, 3, 2, 4), "float32"))
    with pytest.raises(ValueError, match=r"conv.*larger than the input dimension 5"):
        ops.conv(x, np.zeros((6, 1, 3, 4), "float32"))
    with pytest.raises(ValueError, match="padding must be 'valid' or 'same'"):
        ops.conv(x, np.zeros((1, 1, 3, 4), "float32"), padding="full")
    with pytest.raises(ValueError, match=r"conv: expected an input of rank 3 .* or 4"):
        ops.conv(np.zeros((5, 3), "float32"), np.zeros((1, 3, 4), "float32"))
    with pytest.raises(ValueError, match=r"max_pool.*larger than the input"):
        ops.max_pool(x, 6)
    with pytest.raises(ValueError, match="strides"):
        ops.max_pool(x, 2, strides=(1, 2, 3))
    with pytest.raises(ValueError, match="output_padding"):
        ops.conv_transpose(x, np.zeros((2, 2, 4, 3), "float32"), output_padding=1)

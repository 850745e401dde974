"""The fused Rust kernels: training-mode batch normalization (`_core.batch_norm_train`), layer
normalization over the last axis (`_core.layer_norm`), the direct depthwise convolution
(`_core.depthwise_conv2d`) and the argmax path of max pooling under a tape, against NumPy
references and float64 finite differences; plus the rule that a gradient takes its source's
dtype."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rskeras as keras
from conftest import T, random_cotangent, tape_grads, to_np
from hypothesis import given, settings
from hypothesis import strategies as st
from rskeras import _core, ops

# ---------------------------------------------------------------------------------------------
# Helpers


def fd64(op, inputs, i, w, eps=1e-6):
    """Central finite differences of `sum(w * op(*inputs))` w.r.t. `inputs[i]`, evaluating the
    rskeras op itself in float64."""
    inputs = [np.asarray(a, np.float64) if isinstance(a, np.ndarray) else a for a in inputs]
    x = inputs[i]
    grad = np.zeros_like(x)
    for j in range(x.size):
        vals = []
        for step in (eps, -eps):
            xs = x.copy().reshape(-1)
            xs[j] += step
            args = list(inputs)
            args[i] = xs.reshape(x.shape)
            vals.append(float(np.sum(w * to_np(op(*args)))))
        grad.reshape(-1)[j] = (vals[0] - vals[1]) / (2 * eps)
    return grad


def check_grads_fd64(op, inputs, wrt, seed=0, rtol=1e-6, atol=1e-8):
    """Tape gradients of `op` in float64 (seeded with a random cotangent) against `fd64`."""
    inputs = [np.asarray(a, np.float64) if isinstance(a, np.ndarray) else a for a in inputs]
    y = to_np(op(*inputs))
    w = random_cotangent(y.shape, seed).astype(np.float64)
    _, grads = tape_grads(op, inputs, wrt, cotangent=w)
    for i, g in zip(wrt, grads):
        assert g is not None, f"no gradient for input {i}"
        assert g.dtype == np.float64, f"gradient {i} has dtype {g.dtype}"
        assert g.shape == inputs[i].shape
        want = fd64(op, inputs, i, w)
        np.testing.assert_allclose(g, want, rtol=rtol, atol=atol, err_msg=f"gradient for input {i}")


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
def test_batch_norm_train_gradients_match_composed_formula_float32(shape):
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


def test_batch_normalization_layer_uses_fused_kernel_and_updates_moving_stats(monkeypatch):
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


def test_layer_normalization_fused_gradients_match_composed_float32():
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
def test_depthwise_conv2d_matches_reference(case):
    x, k, s, padding, d = case
    got = ops.depthwise_conv(x, k, s, padding, dilation_rate=d)
    assert str(got.dtype) == "float32"
    want = ref_depthwise(x, k, s, padding, d)
    assert tuple(got.shape) == want.shape
    np.testing.assert_allclose(to_np(got), want, rtol=1e-5, atol=1e-5)


@settings(max_examples=25)
@given(case=dw_case(rank=1))
def test_depthwise_conv1d_matches_reference(case):
    x, k, s, padding, d = case
    got = ops.depthwise_conv(x[:, 0], k[0], s[1], padding, dilation_rate=d[1])
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
    np.testing.assert_array_equal(y, to_np(ops.max_pool(x, p, s, padding)))


@settings(max_examples=25)
@given(case=pool_case())
def test_max_pool_tape_gradient_matches_finite_differences(case):
    x, p, s, padding = case  # distinct values, 0.25 apart: a 1e-6 step never changes an argmax
    op = lambda a: ops.max_pool(a, p, s, padding)
    check_grads_fd64(op, [x.astype(np.float64)], [0], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("padding, at", [("valid", 2), ("same", 1), ("same", 3)])
def test_max_pool_overlapping_windows_accumulate(padding, at):
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

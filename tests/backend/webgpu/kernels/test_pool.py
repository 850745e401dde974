"""Pooling kernels on the gpu device (`shaders/pool.wgsl`) where the CPU kernel is the
reference: float16 pooling gradients (which skip the argmax path for the `pool_grad` gather), the
`max_pool_argmax` / `max_pool_grad` / `pool_grad` kernels through the executor, and an empty
batch. Max and average pooling with their gradients (overlapping windows, padding, ties, NaN)
are tested on both devices against NumPy in tests/ops/test_convolution.py."""

from __future__ import annotations

import numpy as np
import pytest
import rskeras as keras
from rskeras import ops


def _tensor(a, device):
    t = ops.convert_to_tensor(a)
    return t.to("gpu") if device == "gpu" else t


def run(fn, x, device, seed=1):
    t = _tensor(x, device)
    with keras.GradientTape() as tape:
        tape.watch(t)
        y = fn(t)
    if device == "gpu":
        assert y.device == "gpu"
    dy = np.random.default_rng(seed).standard_normal(tuple(y.shape)).astype(x.dtype)
    g = tape.gradient(y, t, output_gradients=_tensor(dy, device))
    return np.asarray(y), np.asarray(g)


def assert_same_on_gpu(gpu, fn, x, tol=1e-5):
    before = gpu.dispatches
    got, want = run(fn, x, "gpu"), run(fn, x, "cpu")
    for i, (g, w) in enumerate(zip(got, want)):
        assert g.shape == w.shape and g.dtype == w.dtype, (i, g.shape, w.shape, g.dtype, w.dtype)
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol, err_msg=f"output {i}")
    assert gpu.dispatches > before


rng = np.random.default_rng(0)


@pytest.mark.parametrize("max_", [True, False])
def test_float16_pool_grad(gpu, max_):
    # float16 skips the argmax path: the gradient is the `pool_grad` gather. Small integers
    # and ties keep float16 exact, so both devices agree exactly.
    x = np.round(rng.standard_normal((2, 6, 6, 2)) * 2).astype(np.float16)
    x[1, 2, 2, 1] = np.nan
    op = ops.max_pool if max_ else ops.average_pool
    assert_same_on_gpu(gpu, lambda t: op(t, 3, 2, "same"), x, tol=2e-3)


def _geometry(x_shape, pool, strides, pad_top=0, pad_left=0, oh=None, ow=None):
    n, h, w, c = x_shape
    oh = oh or (h - pool[0]) // strides[0] + 1
    ow = ow or (w - pool[1]) // strides[1] + 1
    return {"n": n, "h": h, "w": w, "c": c, "kh": pool[0], "kw": pool[1], "out_c": c, "oh": oh,
            "ow": ow, "sh": strides[0], "sw": strides[1], "dh": 1, "dw": 1, "pad_top": pad_top,
            "pad_left": pad_left}


def _windows(x, g):
    """(i, oy, ox) -> list of (y, x) taps in window order."""
    out = {}
    for oy in range(g["oh"]):
        for ox in range(g["ow"]):
            taps = []
            for ky in range(g["kh"]):
                for kx in range(g["kw"]):
                    y, xx = oy * g["sh"] + ky - g["pad_top"], ox * g["sw"] + kx - g["pad_left"]
                    if 0 <= y < g["h"] and 0 <= xx < g["w"]:
                        taps.append((y, xx))
            out[oy, ox] = taps
    return out


def test_argmax_and_pool_grad_kernels_directly(gpu):
    """The kernels through the executor against a NumPy transcription of the CPU rules:
    argmax = first maximum with NaN winning; pool_grad(max) = first maximum by strict `>`
    (a NaN never replaces, and a leading NaN stays)."""
    x = np.round(rng.standard_normal((2, 5, 5, 2))).astype(np.float32)
    x[0, 1, 1, 0] = np.nan
    x[1, 0, 0, 1] = np.nan
    g = _geometry(x.shape, (3, 3), (2, 2), pad_top=1, pad_left=1, oh=3, ow=3)
    dy = rng.standard_normal((2, 3, 3, 2)).astype(np.float32)
    wins = _windows(x, g)
    want_idx = np.zeros((2, 3, 3, 2), np.int32)
    want_dx = np.zeros_like(x)
    for i in range(2):
        for (oy, ox), taps in wins.items():
            for ch in range(2):
                vals = [x[i, y, xx, ch] for y, xx in taps]
                a = 0  # argmax rule
                for t in range(1, len(vals)):
                    if vals[t] > vals[a] or (np.isnan(vals[t]) and not np.isnan(vals[a])):
                        a = t
                want_idx[i, oy, ox, ch] = (taps[a][0] * 5 + taps[a][1]) * 2 + ch
                b = 0  # pool_grad rule
                for t in range(1, len(vals)):
                    if vals[t] > vals[b]:
                        b = t
                want_dx[i, taps[b][0], taps[b][1], ch] += dy[i, oy, ox, ch]
    params = {"geometry": g, "max": True}
    idx = gpu.execute("max_pool_argmax", {"geometry": g}, [(x, x.shape, "float32")])
    assert idx.dtype == "int32" and idx.shape == (2, 3, 3, 2)
    np.testing.assert_array_equal(gpu.download(idx), want_idx)
    dx = gpu.execute("pool_grad", params, [(x, x.shape, "float32"), (dy, dy.shape, "float32")])
    np.testing.assert_allclose(gpu.download(dx), want_dx, rtol=1e-6, atol=1e-6)
    # max_pool_grad scatters dy at the argmax: check it against a NumPy scatter.
    want = np.zeros_like(x).reshape(2, -1)
    for i in range(2):
        np.add.at(want[i], want_idx[i].reshape(-1), dy[i].reshape(-1))
    dx2 = gpu.execute("max_pool_grad", {"geometry": g},
                      [(dy, dy.shape, "float32"), (idx, idx.shape, "int32")])
    np.testing.assert_allclose(gpu.download(dx2), want.reshape(x.shape), rtol=1e-6, atol=1e-6)


def test_empty_batch(gpu):
    x = ops.convert_to_tensor(np.zeros((0, 4, 4, 2), np.float32)).to("gpu")
    assert tuple(ops.max_pool(x, 2).shape) == (0, 2, 2, 2)
    assert np.asarray(ops.average_pool(x, 2, 1, "same")).shape == (0, 4, 4, 2)

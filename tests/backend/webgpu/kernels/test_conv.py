"""Convolution kernels on the gpu device (`shaders/conv.wgsl`) where the CPU kernel is the
reference: the transposed convolution (which runs `conv_input_grad` forward and the convolution
backward), float64 refused, and a small CNN's forward and backward pass on GPU tensors. conv,
depthwise and separable conv (every padding, stride and dilation case, 1-D, an empty batch) and
their gradients are tested on both devices against NumPy in tests/ops/test_convolution.py."""

from __future__ import annotations

import numpy as np
import pytest
import rskeras as keras
from rskeras import ops

RTOL = ATOL = 1e-4  # float32, sums of up to a few hundred products


def _tensor(a, device):
    t = ops.convert_to_tensor(a)
    return t.to("gpu") if device == "gpu" else t


def run(fn, inputs, device, seed=1):
    """`fn(*inputs)` on `device` and the gradients of every input under a fixed random
    output gradient; all as NumPy."""
    ts = [_tensor(a, device) for a in inputs]
    with keras.GradientTape() as tape:
        tape.watch(ts)
        y = fn(*ts)
    if device == "gpu":
        assert y.device == "gpu"
    dy = np.random.default_rng(seed).standard_normal(tuple(y.shape)).astype(np.float32)
    grads = tape.gradient(y, ts, output_gradients=_tensor(dy, device))
    return [np.asarray(y)] + [np.asarray(g) for g in grads]


def assert_same_on_gpu(gpu, fn, *inputs, rtol=RTOL, atol=ATOL):
    before = gpu.dispatches
    got = run(fn, inputs, "gpu")
    want = run(fn, inputs, "cpu")
    for i, (g, w) in enumerate(zip(got, want)):
        assert g.shape == w.shape and g.dtype == w.dtype, (i, g.shape, w.shape, g.dtype, w.dtype)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"output {i}")
    if got[0].size:
        assert gpu.dispatches > before


rng = np.random.default_rng(0)
X = rng.standard_normal((2, 8, 8, 3)).astype(np.float32)


def test_conv_transpose(gpu):
    # The transposed convolution runs conv_input_grad forward and conv backward.
    x = rng.standard_normal((2, 4, 4, 3)).astype(np.float32)
    k = rng.standard_normal((3, 3, 2, 3)).astype(np.float32)
    assert_same_on_gpu(gpu, lambda a, b: ops.conv_transpose(a, b, 2, "same"), x, k)
    assert_same_on_gpu(gpu, lambda a, b: ops.conv_transpose(a, b, 1, "valid"), x, k)


def test_float64_is_refused(gpu):
    x = ops.convert_to_tensor(X).to("gpu")
    with pytest.raises(TypeError):
        ops.conv(x, np.ones((3, 3, 3, 2), np.float64))


def test_cnn_forward_backward(gpu):
    """conv 3x3 (4 filters) + relu -> max_pool 2 -> flatten -> matmul -> softmax -> sum of
    squares, forward and backward on GPU tensors against the CPU."""
    r = np.random.default_rng(5)
    x = r.standard_normal((2, 8, 8, 3)).astype(np.float32)
    k = (r.standard_normal((3, 3, 3, 4)) * 0.3).astype(np.float32)
    w = (r.standard_normal((64, 5)) * 0.2).astype(np.float32)

    def net(xx, kk, ww):
        y = ops.max_pool(ops.relu(ops.conv(xx, kk, 1, "same")), 2)
        y = ops.softmax(ops.matmul(ops.reshape(y, (2, 64)), ww), axis=-1)
        return ops.sum(y * y)

    def grads(device):
        ts = [_tensor(a, device) for a in (x, k, w)]
        with keras.GradientTape() as tape:
            tape.watch(ts)
            y = net(*ts)
        assert y.device == device and y.ndim == 0
        return [np.asarray(y)] + [np.asarray(t) for t in tape.gradient(y, ts)]

    got, want = grads("gpu"), grads("cpu")
    assert len(got) == len(want) == 4
    for i, (g, v) in enumerate(zip(got, want)):
        np.testing.assert_allclose(g, v, rtol=1e-4, atol=1e-4, err_msg=f"output {i}")

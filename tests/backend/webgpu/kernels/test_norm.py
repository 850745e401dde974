"""Normalization kernels on the gpu device (`shaders/norm.wgsl`) through the executor, against
the gradients the CPU's tape gives: `moments` (two-pass, far from zero), the batch-normalization
forward and backward kernels composed as the gradient rule composes them, and the
layer-normalization gradient kernels (also on an empty batch). The public ops
(`_core.batch_norm_train`, `ops.layer_normalization`) and their gradients are tested on both
devices against NumPy and the closed forms in tests/ops/test_nn.py."""

from __future__ import annotations

import numpy as np
import pytest
import rskeras as keras
from rskeras import _core, ops

EPS = 1e-3
TOL = 1e-4


def _exec(gpu, op, params, *arrays):
    out = gpu.execute(op, params, [(a, a.shape, "float32") for a in arrays])
    return gpu.download(out)


def _close(got, want, tol=TOL, msg=""):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, want.shape, got.dtype)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=msg)


def _cpu_grads(fn, inputs, dy):
    ts = [ops.convert_to_tensor(a) for a in inputs]
    with keras.GradientTape() as tape:
        tape.watch(ts)
        y = fn(*ts)
    grads = tape.gradient(y, ts, output_gradients=ops.convert_to_tensor(dy))
    return np.asarray(y), [np.asarray(g) for g in grads]


def _data(shape, seed=0, offset=0.0, scale=1.0):
    r = np.random.default_rng(seed)
    x = (r.standard_normal(shape) * scale + offset).astype(np.float32)
    c = shape[-1]
    return (x, r.standard_normal(c).astype(np.float32), r.standard_normal(c).astype(np.float32),
            r.standard_normal(shape).astype(np.float32))


SHAPES = [(2, 4, 4, 3), (5, 6), (1, 7), (130, 2), (3, 1), (2, 70)]


@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm(gpu, shape):
    x, gamma, beta, dy = _data(shape)

    def bn(a, g, b):
        return _core.batch_norm_train(a, g, b, EPS)[0]

    y, (dx, dgamma, dbeta) = _cpu_grads(bn, [x, gamma, beta], dy)

    # The backward kernels, composed as the gradient rule does.
    p = {"epsilon": EPS}
    stats = _exec(gpu, "moments", {}, x)
    _close(_exec(gpu, "batch_normalization", p, x, stats, gamma, beta), y)
    sums = _exec(gpu, "batch_normalization_grad_sums", p, x, dy, stats)
    _close(sums[0], dbeta, msg="dbeta")
    _close(sums[1], dgamma, msg="dgamma")
    _close(_exec(gpu, "batch_normalization_input_grad", p, x, dy, stats, gamma, sums), dx, msg="dx")


def test_moments_far_from_zero(gpu):
    # Two-pass variance: a large mean does not swamp a small variance.
    x = (np.random.default_rng(3).standard_normal((64, 4)) * 0.01 + 1000.0).astype(np.float32)
    stats = _exec(gpu, "moments", {}, x)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(stats[0], x64.mean(0), rtol=1e-6)
    np.testing.assert_allclose(stats[1], x64.var(0), rtol=1e-3)
    cpu = _core.batch_norm_train(x, None, None, EPS)
    _close(stats[1], cpu[2], tol=1e-6)


@pytest.mark.parametrize("shape", SHAPES + [(9,)])
def test_layer_norm(gpu, shape):
    x, gamma, beta, dy = _data(shape, seed=1, offset=50.0, scale=2.0)
    fn = lambda a, g, b: ops.layer_normalization(a, g, b, epsilon=EPS)
    _, (dx, dgamma, dbeta) = _cpu_grads(fn, [x, gamma, beta], dy)
    p = {"epsilon": EPS}
    _close(_exec(gpu, "layer_normalization_input_grad", p, x, dy, gamma), dx, msg="dx")
    sums = _exec(gpu, "layer_normalization_param_grad", p, x, dy)
    _close(sums[0], dbeta, msg="dbeta")
    _close(sums[1], dgamma, msg="dgamma")


def test_layer_norm_param_grad_of_an_empty_batch(gpu):
    sums = _exec(gpu, "layer_normalization_param_grad", {"epsilon": EPS},
                 np.zeros((0, 5), np.float32), np.zeros((0, 5), np.float32))
    np.testing.assert_array_equal(sums, np.zeros((2, 5), np.float32))

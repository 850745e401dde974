"""Reduction kernels on the gpu device (`shaders/reduce.wgsl`) where the CPU kernel is the
reference: output dtypes of every reduction over narrow and float16 inputs, narrow integer
results that wrap, and the cumulative-sum/product flags through the executor. The reductions
themselves (every axis pattern, workgroup trees, long and empty axes, ties, NaN, argmax/argmin,
cumsum/cumprod and the gradients) are tested on both devices against NumPy in
tests/ops/test_numpy.py."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from rskeras import ops

from tests.conftest import assert_same_on_gpu

rng = np.random.default_rng(0)


assert_same_on_gpu = functools.partial(assert_same_on_gpu, rtol=1e-5, atol=1e-5)


REDUCTIONS = [ops.sum, ops.mean, ops.max, ops.min, ops.prod]


@pytest.mark.parametrize("dtype", ["int32", "int64", "int8", "uint8", "bool", "float16"])
def test_dtypes_match_the_cpu(gpu, dtype):
    x = (rng.standard_normal((4, 6)) * (1 if dtype == "float16" else 5)).astype(np.float32)
    x = np.asarray(ops.cast(x, dtype)) if dtype != "bool" else x > 0
    for f in REDUCTIONS:
        for axis in (None, 0, 1):
            assert_same_on_gpu(gpu, lambda t, f=f, axis=axis: f(t, axis=axis), x, grad=False,
                               rtol=1e-3, atol=1e-2)


@pytest.mark.parametrize("prod", [False, True])
@pytest.mark.parametrize("exclusive", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_cumulative_flags(gpu, prod, exclusive, reverse):
    x = rng.uniform(0.5, 1.5, (3, 5)).astype(np.float32)
    op = "cumprod" if prod else "cumsum"
    got = gpu.download(gpu.execute(op, {"axis": 1, "prod": prod, "exclusive": exclusive,
                                        "reverse": reverse}, [(x, x.shape, "float32")]))
    v = x[:, ::-1] if reverse else x
    f = np.cumprod if prod else np.cumsum
    want = f(v, axis=1)
    if exclusive:
        want = np.concatenate([np.full((3, 1), 1.0 if prod else 0.0), want[:, :-1]], axis=1)
    want = want[:, ::-1] if reverse else want
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_narrow_integer_results_wrap_as_on_the_cpu(gpu):
    # the CPU computes int8 in int32 and stores back in int8; so does the GPU, in its kernels
    x = np.array([[100, 100, 100, -128], [5, 127, 1, -3]], np.int8)
    for f in (lambda t: ops.cumsum(t, axis=1), lambda t: ops.cumprod(t, axis=1)):
        assert_same_on_gpu(gpu, lambda t, f=f: ops.max(f(t), axis=1), x, grad=False)

"""Layout kernels on the gpu device (`shaders/layout.wgsl`) where the CPU kernel is the
reference: `cast` between every pair of dtypes (including out-of-range and non-finite values,
whose results NumPy leaves undefined) and its gradient, and the `slice_grad` kernel through the
executor. transpose, broadcast_to, strided slicing, slice, concatenate, clip and where are tested
on both devices against NumPy in tests/ops/test_numpy.py."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from rskeras import ops

from tests.conftest import assert_same_on_gpu, on_device

rng = np.random.default_rng(0)


assert_same_on_gpu = functools.partial(assert_same_on_gpu, rtol=1e-6, atol=1e-6)


X = rng.standard_normal((3, 4, 5)).astype(np.float32)


def test_slice_grad_kernel_directly(gpu):
    g = rng.standard_normal((2, 3)).astype(np.float32)
    params = {"starts": [4, 1], "steps": [-2, 3], "in_shape": [5, 9]}
    got = gpu.download(gpu.execute("slice_grad", params, [(g, g.shape, "float32")]))
    want = np.zeros((5, 9), np.float32)
    want[4::-2, 1::3][:2, :3] = g
    np.testing.assert_array_equal(got, want)


CAST_SOURCE = np.array([0.0, -0.0, 1.7, -1.7, 2.5, -2.5, 127.9, 128.5, -129.2, 255.6, 300.2,
                        -40000.7, 1e-3, 70000.0, np.nan, np.inf, -np.inf], np.float32)


@pytest.mark.parametrize("dtype", ["int32", "int64", "int16", "int8", "uint8", "bool",
                                   "float16", "bfloat16", "float32"])
def test_cast_from_float(gpu, dtype):
    x = CAST_SOURCE if dtype in ("float16", "bfloat16", "float32", "bool") else \
        CAST_SOURCE[np.isfinite(CAST_SOURCE)]
    x = np.concatenate([x, rng.standard_normal(20).astype(np.float32) * 100])
    got = ops.cast(on_device(x, "gpu"), dtype)
    want = ops.cast(on_device(x, "cpu"), dtype)
    assert str(got.dtype) == str(want.dtype) == dtype
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


@pytest.mark.parametrize("src", ["int32", "int8", "uint8", "bool", "float16"])
@pytest.mark.parametrize("dtype", ["float32", "int32", "int8", "uint8", "bool", "float16"])
def test_cast_between_dtypes(gpu, src, dtype):
    x = np.asarray(ops.cast(rng.integers(-300, 300, 30).astype(np.float32), src))
    got = ops.cast(on_device(x, "gpu"), dtype)
    want = ops.cast(on_device(x, "cpu"), dtype)
    assert str(got.dtype) == str(want.dtype)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_cast_gradient(gpu):
    assert_same_on_gpu(gpu, lambda t: ops.cast(t, "float16") * 2.0, X)



"""The register-tiled matmul kernel on the gpu device (`shaders/matmul.wgsl`) through the
executor: transposed operands (which the backward pass uses), misaligned operands, smaller tiles
for tighter device limits, int8 products. `ops.matmul` itself (tile edges, 1-D operands,
broadcast batch axes, integer and bool operands, gradients) is tested on both devices in
tests/ops/test_numpy.py."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from rskeras import ops
from rskeras.backend.webgpu.kernels import matmul as mm

from tests.conftest import assert_same_on_gpu, on_device

rng = np.random.default_rng(0)


assert_same_on_gpu = functools.partial(assert_same_on_gpu, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_transposed_operands(gpu, ta, tb):
    a = rng.standard_normal((2, 9, 6) if ta else (2, 6, 9)).astype(np.float32)
    b = rng.standard_normal((7, 9) if tb else (9, 7)).astype(np.float32)
    got = gpu.download(gpu.execute("matmul", {"transpose_a": ta, "transpose_b": tb},
                                   [(a, a.shape, "float32"), (b, b.shape, "float32")]))
    want = (a.swapaxes(-1, -2) if ta else a) @ (b.swapaxes(-1, -2) if tb else b)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_rejects_misaligned_operands(gpu):
    a, b = np.ones((2, 3), np.float32), np.ones((4, 2), np.float32)
    with pytest.raises(ValueError):
        gpu.execute("matmul", {"transpose_a": False, "transpose_b": False},
                    [(a, a.shape, "float32"), (b, b.shape, "float32")])


def test_smaller_tiles_under_tighter_limits(gpu):
    a = rng.standard_normal((37, 45)).astype(np.float32)
    b = rng.standard_normal((45, 29)).astype(np.float32)
    saved = gpu.max_workgroup, gpu.max_shared
    try:
        for limits in [(64, 4096), (16, 1024), (16, 512)]:
            gpu.max_workgroup, gpu.max_shared = limits
            cfg = mm.tile_config(gpu, 37, 29)
            assert cfg["NX"] * cfg["NY"] <= limits[0]
            assert 4 * (cfg["TA_SIZE"] + cfg["TB_SIZE"]) <= limits[1]
            got = np.asarray(ops.matmul(on_device(a, "gpu"), on_device(b, "gpu")))
            np.testing.assert_allclose(got, a @ b, rtol=1e-5, atol=1e-5)
        gpu.max_workgroup, gpu.max_shared = 8, 256
        with pytest.raises(RuntimeError, match="no tile fits"):
            mm.tile_config(gpu, 37, 29)
    finally:
        gpu.max_workgroup, gpu.max_shared = saved


def test_int8_products_wrap_as_on_the_cpu(gpu):
    a = np.full((3, 4), 100, np.int8)
    b = np.array([[1, -1], [2, 3], [1, 1], [1, 0]], np.int8)
    assert_same_on_gpu(gpu, lambda p, q: ops.max(ops.matmul(p, q), axis=0), a, b, grad=False)

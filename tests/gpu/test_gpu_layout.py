"""Layout kernels on the gpu device (`shaders/layout.wgsl`, `shaders/where.wgsl`) against the
CPU kernels of the same rskeras ops: transpose, broadcast_to, strided slicing and its
gradient (slice_grad), concatenate, cast, clip and where, with gradients through
`GradientTape`."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from conftest import assert_same_on_gpu, on_device
from rskeras import ops

rng = np.random.default_rng(0)


assert_same_on_gpu = functools.partial(assert_same_on_gpu, rtol=1e-6, atol=1e-6)


X = rng.standard_normal((3, 4, 5)).astype(np.float32)


@pytest.mark.parametrize("perm", [None, (0, 2, 1), (2, 0, 1), (1, 0, 2), (-1, 0, 1)])
def test_transpose(gpu, perm):
    assert_same_on_gpu(gpu, lambda t: ops.transpose(t, perm) * 1.0, X)
    assert_same_on_gpu(gpu, lambda t: ops.transpose(t, perm), X.astype(np.int32), grad=False)


def test_transpose_edge_shapes(gpu):
    assert_same_on_gpu(gpu, lambda t: ops.transpose(t), np.zeros((2, 0, 3), np.float32))
    assert_same_on_gpu(gpu, lambda t: ops.transpose(t, (1, 0)), np.ones((1, 7), np.float32))
    assert_same_on_gpu(gpu, lambda t: ops.transpose(t, (2, 1, 0)), X > 0, grad=False)


@pytest.mark.parametrize("src,shape", [((1, 5), (3, 5)), ((4, 1), (2, 4, 3)), ((), (2, 3)),
                                       ((3,), (2, 0, 3)), ((1, 1), (2, 1, 1))])
def test_broadcast_to(gpu, src, shape):
    x = rng.standard_normal(src).astype(np.float32)
    assert_same_on_gpu(gpu, lambda t: ops.broadcast_to(t, shape), x)


@pytest.mark.parametrize("key", [
    (slice(1, None), slice(None, None, -2), None, 3),
    (Ellipsis, slice(4, 0, -3)),
    (0, slice(None), slice(1, 2)),
    (slice(2, 2),),                        # empty
    (slice(None, None, 2), -1, slice(None, None, -1)),
    (1, 2, 3),                             # one element
])
def test_slicing_and_its_gradient(gpu, key):
    assert_same_on_gpu(gpu, lambda t: t[key], X)
    assert_same_on_gpu(gpu, lambda t: t[key], X.astype(np.int32), grad=False)


def test_slice_grad_kernel_directly(gpu):
    g = rng.standard_normal((2, 3)).astype(np.float32)
    params = {"starts": [4, 1], "steps": [-2, 3], "in_shape": [5, 9]}
    got = gpu.download(gpu.execute("slice_grad", params, [(g, g.shape, "float32")]))
    want = np.zeros((5, 9), np.float32)
    want[4::-2, 1::3][:2, :3] = g
    np.testing.assert_array_equal(got, want)


def test_core_slice(gpu):
    assert_same_on_gpu(gpu, lambda t: ops.slice(t, (1, 0, 2), (2, 4, 3)), X)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concatenate(gpu, axis):
    shapes = [list(X.shape) for _ in range(3)]
    for i, s in enumerate(shapes):
        s[axis] = [2, 0, 3][i]
    xs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    assert_same_on_gpu(gpu, lambda *ts: ops.concatenate(ts, axis=axis), *xs)
    ints = [x.astype(np.int32) for x in xs]
    assert_same_on_gpu(gpu, lambda *ts: ops.concatenate(ts, axis=axis), *ints, grad=False)


def test_concatenate_many_and_mixed_dtypes(gpu):
    xs = [rng.standard_normal((2, i + 1)).astype(np.float32) for i in range(9)]  # > 8 buffers
    assert_same_on_gpu(gpu, lambda *ts: ops.concatenate(ts, axis=1), *xs)
    a, b = np.arange(4, dtype=np.int32).reshape(2, 2), rng.standard_normal((2, 3)).astype(
        np.float32)
    assert_same_on_gpu(gpu, lambda p, q: ops.concatenate([p, q], axis=1), a, b)
    assert_same_on_gpu(gpu, lambda p, q: ops.concatenate([p, q], axis=None), a, b)


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


def test_clip(gpu):
    x = np.concatenate([X.reshape(-1), [np.nan, -0.5, 0.5]]).astype(np.float32)
    assert_same_on_gpu(gpu, lambda t: ops.clip(t, -0.5, 0.5), x)
    assert_same_on_gpu(gpu, lambda t: ops.clip(t, -2, 3), np.arange(-5, 5, dtype=np.int32),
                       grad=False)


@pytest.mark.parametrize("cshape,xshape,yshape", [
    ((3, 4), (3, 4), (3, 4)),
    ((3, 1), (1, 4), ()),
    ((4,), (2, 3, 4), (3, 1)),
    ((0, 4), (1, 4), (4,)),
])
def test_where(gpu, cshape, xshape, yshape):
    c = rng.random(cshape) < 0.5
    x = rng.standard_normal(xshape).astype(np.float32)
    y = rng.standard_normal(yshape).astype(np.float32)
    assert_same_on_gpu(gpu, lambda cc, a, b: ops.where(cc, a, b), c, x, y)
    assert_same_on_gpu(gpu, lambda cc, a, b: ops.where(cc, a, b), c, x.astype(np.int32),
                       y.astype(np.int32), grad=False)


def test_where_non_bool_condition_and_mixed_dtypes(gpu):
    c = np.array([0, 2, -1, 0], np.int32)
    x = np.arange(4, dtype=np.int32)
    y = rng.standard_normal(4).astype(np.float32)
    assert_same_on_gpu(gpu, lambda cc, a, b: ops.where(cc, a, b), c, x, y)
    assert_same_on_gpu(gpu, lambda cc, a, b: ops.where(cc, a, b), c, x > 1, x < 2, grad=False)

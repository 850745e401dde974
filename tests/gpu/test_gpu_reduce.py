"""Reduction kernels on the gpu device (`shaders/reduce.wgsl`) against the CPU kernels of the
same rskeras ops: sum, mean, max, min, prod over any axes (adjacent, non-adjacent, all, none),
argmax/argmin, cumsum/cumprod; output dtypes, empty and long axes, NaN; gradients through
`GradientTape` (whose rules run broadcast_to, equality masks, cumulative products... on the
GPU too)."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from conftest import assert_same_on_gpu, on_device
from rskeras import ops

rng = np.random.default_rng(0)


assert_same_on_gpu = functools.partial(assert_same_on_gpu, rtol=1e-5, atol=1e-5)


REDUCTIONS = [ops.sum, ops.mean, ops.max, ops.min, ops.prod]


@pytest.mark.parametrize("shape,axis", [
    ((3, 4, 5), None),
    ((3, 4, 5), 1),
    ((3, 4, 5), -1),
    ((3, 4, 5), (0, 2)),      # not adjacent: transposed first
    ((2, 3, 4, 5), (1, 2)),   # adjacent block in the middle
    ((3, 1, 5), (0, 1)),      # adjacent once the size-1 axis is dropped
    ((2, 70), 1),             # workgroup tree
    ((7,), 0),
    ((), None),
])
@pytest.mark.parametrize("keepdims", [False, True])
def test_float_reductions_and_gradients(gpu, shape, axis, keepdims):
    x = rng.uniform(0.5, 1.5, shape).astype(np.float32)  # prod stays well scaled
    x = x * np.where(rng.random(shape) < 0.5, -1, 1).astype(np.float32)
    for f in REDUCTIONS:
        assert_same_on_gpu(gpu, lambda t, f=f, axis=axis: f(t, axis=axis, keepdims=keepdims), x,
                           rtol=1e-4)


def test_max_min_ties_share_the_gradient(gpu):
    x = np.array([[1.0, 3.0, 3.0, 2.0], [5.0, 5.0, 5.0, 5.0]], np.float32)
    for f in (ops.max, ops.min):
        assert_same_on_gpu(gpu, lambda t, f=f: f(t, axis=1), x)


@pytest.mark.parametrize("dtype", ["int32", "int64", "int8", "uint8", "bool", "float16"])
def test_dtypes_match_the_cpu(gpu, dtype):
    x = (rng.standard_normal((4, 6)) * (1 if dtype == "float16" else 5)).astype(np.float32)
    x = np.asarray(ops.cast(x, dtype)) if dtype != "bool" else x > 0
    for f in REDUCTIONS:
        for axis in (None, 0, 1):
            assert_same_on_gpu(gpu, lambda t, f=f, axis=axis: f(t, axis=axis), x, grad=False,
                               rtol=1e-3, atol=1e-2)


def test_sum_of_bool_is_int32_and_mean_of_int_is_float32(gpu):
    b = np.array([[True, False, True], [True, True, True]])
    s = ops.sum(on_device(b, "gpu"), axis=1)
    assert str(s.dtype) == "int32"
    np.testing.assert_array_equal(np.asarray(s), [2, 3])
    m = ops.mean(on_device(np.arange(6, dtype=np.int32), "gpu"))
    assert str(m.dtype) == "float32" and float(np.asarray(m)) == 2.5


def test_empty_reductions(gpu):
    x = np.zeros((3, 0, 2), np.float32)
    for f in (ops.sum, ops.mean, ops.prod):
        for axis in (1, (0, 1), None, 0):
            assert_same_on_gpu(gpu, lambda t, f=f, axis=axis: f(t, axis=axis), x, grad=False)
    with pytest.raises(ValueError):
        ops.max(on_device(x, "gpu"), axis=1)


def test_long_reduction_runs_in_passes(gpu):
    x = rng.standard_normal((40000,)).astype(np.float32)
    got = float(np.asarray(ops.sum(on_device(x, "gpu"))))
    assert abs(got - float(np.sum(x, dtype=np.float64))) < 1e-5 * np.abs(x).sum()
    x2 = rng.standard_normal((2, 17000)).astype(np.float32)
    for f in (ops.mean, ops.max, ops.min):
        assert_same_on_gpu(gpu, lambda t, f=f: f(t, axis=-1), x2, grad=False)


def test_nan_propagates_through_max_and_min(gpu):
    x = np.array([[1.0, np.nan, 3.0], [1.0, 2.0, 3.0]], np.float32)
    x = np.concatenate([x, np.tile(x, (1, 30))], axis=1)  # short and long rows
    for f in (ops.max, ops.min):
        for axis in (1, None):
            assert_same_on_gpu(gpu, lambda t, f=f, axis=axis: f(t, axis=axis), x, grad=False)


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4), (3, 50), (2, 40, 3)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_argmax_argmin(gpu, shape, keepdims):
    x = np.round(rng.standard_normal(shape) * 2).astype(np.float32)  # with ties
    for f in (ops.argmax, ops.argmin):
        for axis in [None] + list(range(-len(shape), len(shape))):
            for arr in (x, x.astype(np.int32)):
                fn = lambda t, f=f, axis=axis: f(t, axis=axis, keepdims=keepdims)
                assert_same_on_gpu(gpu, fn, arr, grad=False)


def test_argmax_first_nan_and_first_tie(gpu):
    x = np.array([[1, np.nan, 3, np.nan], [2, 5, 5, 1], [7, 7, 7, 7]], np.float32)
    for arr in (x, np.tile(x, (1, 20))):
        for f in (ops.argmax, ops.argmin):
            got = np.asarray(f(on_device(arr, "gpu"), axis=1))
            assert got.dtype == np.int32
            np.testing.assert_array_equal(got, np.asarray(f(arr, axis=1)))
    b = np.array([[False, True, True], [False, False, False]])
    np.testing.assert_array_equal(np.asarray(ops.argmax(on_device(b, "gpu"), axis=1)), [1, 0])


@pytest.mark.parametrize("shape,axis", [((6,), None), ((3, 4), 0), ((3, 4), -1),
                                        ((2, 3, 4), 1)])
def test_cumsum_cumprod_and_gradients(gpu, shape, axis):
    x = rng.uniform(0.5, 1.5, shape).astype(np.float32)
    for f in (ops.cumsum, ops.cumprod):
        assert_same_on_gpu(gpu, lambda t, f=f, axis=axis: f(t, axis=axis), x)
    xi = (x * 3).astype(np.int32)
    for f in (ops.cumsum, ops.cumprod):
        assert_same_on_gpu(gpu, lambda t, f=f, axis=axis: f(t, axis=axis), xi, grad=False)


def test_cumprod_gradient_with_zeros(gpu):
    x = np.array([[1.5, 0.0, 2.0, 3.0], [0.0, 2.0, 0.0, 1.0]], np.float32)
    assert_same_on_gpu(gpu, lambda t: ops.cumprod(t, axis=1), x)


def test_prod_gradient_with_zeros(gpu):
    # runs exclusive and reversed cumulative products on the GPU
    x = np.array([[1.5, 0.0, 2.0], [0.5, 2.0, -1.0]], np.float32)
    assert_same_on_gpu(gpu, lambda t: ops.prod(t, axis=1), x)
    assert_same_on_gpu(gpu, lambda t: ops.prod(t, axis=0), x)


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

"""Gathers on the gpu device (`shaders/gather.wgsl`): `take`, `take_along_axis`, `one_hot`
and the scatter-add gradients `take_grad` / `take_along_axis_grad`, against the CPU kernels of
the same rskeras ops; plus out-of-range indices: the CPU's IndexError, raised at the next
read-back, and gradients that drop them."""

from __future__ import annotations

import numpy as np
import pytest
import rskeras as keras
from rskeras import _core, ops
from rskeras.backend.webgpu.executor import KERNELS


def tensor(a, device):
    t = ops.convert_to_tensor(np.asarray(a))
    return t.to("gpu") if device == "gpu" else t


def run(fn, x, idx, device, idx_device=None, seed=3):
    """`fn(x, idx)` on `device` and, for float `x`, the gradient in `x` under a fixed random
    output gradient; as NumPy."""
    xt, it = tensor(x, device), tensor(idx, idx_device or device)
    if not np.issubdtype(np.asarray(x).dtype, np.floating):
        y = fn(xt, it)
        assert y.device == device
        return [np.asarray(y)]
    with keras.GradientTape() as tape:
        tape.watch(xt)
        y = fn(xt, it)
    assert y.device == device
    dy = np.random.default_rng(seed).standard_normal(tuple(y.shape)).astype(np.float32)
    g = tape.gradient(y, xt, output_gradients=tensor(dy, device))
    assert g.device == device
    return [np.asarray(y), np.asarray(g)]


def assert_same_on_gpu(gpu, fn, x, idx, idx_device=None):
    before = gpu.dispatches
    got = run(fn, x, idx, "gpu", idx_device)
    assert gpu.dispatches > before or np.asarray(got[0]).size == 0
    want = run(fn, x, idx, "cpu")
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        # Gathers copy exactly; the gradients add (atomics in any order for `take`).
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)


X = np.random.default_rng(0).standard_normal((3, 4, 5)).astype(np.float32)
INDICES = [np.array([0, 2, -1, 1, 1]), np.array([[1, 0], [-2, 2]]), np.array(1), np.zeros((0,), np.int64)]


@pytest.mark.parametrize("axis", [0, 1, 2, -1, None])
@pytest.mark.parametrize("k", range(len(INDICES)))
def test_take_and_its_gradient_match_the_cpu(gpu, axis, k):
    assert_same_on_gpu(gpu, lambda x, i: ops.take(x, i, axis=axis), X, INDICES[k])


@pytest.mark.parametrize("dtype", ["int32", "int64", "bool", "float16"])
def test_take_keeps_the_dtype(gpu, dtype):
    x = (np.arange(24).reshape(4, 6) % 5).astype(dtype)
    idx = np.array([[3, -4], [0, 0]], np.int32)
    got = ops.take(tensor(x, "gpu"), tensor(idx, "gpu"), axis=1)
    assert got.dtype == dtype
    np.testing.assert_array_equal(np.asarray(got), np.take(x, idx, axis=1))


def test_take_with_host_indices_and_size_zero_dims(gpu):
    idx = np.array([2, 0, -1])
    assert_same_on_gpu(gpu, lambda x, i: ops.take(x, i, axis=1), X, idx, idx_device="cpu")
    empty = np.zeros((3, 0, 2), np.float32)
    assert_same_on_gpu(gpu, lambda x, i: ops.take(x, i, axis=0), empty, idx)
    assert_same_on_gpu(gpu, lambda x, i: ops.take(x, i, axis=2), empty, np.array([1, 0]))


def test_take_grad_adds_repeated_indices(gpu):
    # An embedding lookup: many rows hit the same entries (atomic float adds).
    rng = np.random.default_rng(1)
    table = rng.standard_normal((10, 8)).astype(np.float32)
    idx = rng.integers(-10, 10, (40, 5))
    assert_same_on_gpu(gpu, lambda x, i: ops.take(x, i, axis=0), table, idx)
    values = rng.standard_normal((50, 3)).astype(np.float32)
    rows = rng.integers(0, 4, 50)
    got = _core.scatter_add_rows(tensor(values, "gpu"), tensor(rows, "gpu"), 6)
    assert got.device == "gpu"
    want = np.zeros((6, 3), np.float32)
    np.add.at(want, rows, values)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("axis, idx_shape", [(0, (6, 5)), (1, (4, 7)), (-1, (4, 2)), (0, (0, 5))])
def test_take_along_axis_and_its_gradient_match_the_cpu(gpu, axis, idx_shape):
    x = X[0]
    dim = x.shape[axis]
    idx = np.random.default_rng(2).integers(-dim, dim, idx_shape)
    assert_same_on_gpu(gpu, lambda x, i: ops.take_along_axis(x, i, axis=axis), x, idx)


@pytest.mark.parametrize("dtype", ["int32", "bool"])
def test_take_along_axis_keeps_the_dtype(gpu, dtype):
    x = (np.arange(20).reshape(4, 5) % 3).astype(dtype)
    idx = np.random.default_rng(4).integers(-5, 5, (4, 3))
    got = ops.take_along_axis(tensor(x, "gpu"), tensor(idx, "gpu"), axis=1)
    assert got.dtype == dtype
    np.testing.assert_array_equal(np.asarray(got), np.take_along_axis(x, idx % 5, axis=1))


def test_take_along_axis_broadcasts(gpu):
    if "broadcast_to" not in KERNELS:
        pytest.skip("needs the broadcast_to GPU kernel")
    idx = np.array([[[0], [3], [-1], [1]]])  # (1, 4, 1): broadcast over axes 0 and 2
    assert_same_on_gpu(gpu, lambda x, i: ops.take_along_axis(x, i, axis=1), X, idx)


def test_take_along_axis_of_the_flattened_tensor(gpu):
    assert_same_on_gpu(gpu, lambda x, i: ops.take_along_axis(x, i, axis=None), X,
                       np.array([59, 0, -3, 7]))


@pytest.mark.parametrize("labels, depth", [
    (np.array([[0, 3, -1], [5, 2, 1]]), 4),
    (np.array([2, 0, 1], np.int32), 3),
    (np.array(1), 1),
    (np.zeros((0, 2), np.int64), 3),
    (np.array([1, 2]), 0),
])
def test_one_hot_matches_the_cpu(gpu, labels, depth):
    got = ops.one_hot(tensor(labels, "gpu"), depth)
    assert got.device == "gpu" and got.dtype == "float32"
    want = ops.one_hot(tensor(labels, "cpu"), depth)
    assert tuple(got.shape) == tuple(want.shape)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_out_of_range_indices_raise_the_cpu_error_at_the_next_read_back(gpu):
    x = np.arange(12, dtype=np.float32).reshape(3, 4) + 1
    idx = np.array([1, 4, -5, -1])
    with pytest.raises(IndexError, match="out of bounds for an axis of size 4"):
        ops.take(tensor(x, "cpu"), idx, axis=1)
    got = ops.take(tensor(x, "gpu"), idx, axis=1)  # recorded, not raised: no sync yet
    with pytest.raises(IndexError, match=r"take: index (4|-5) is out of bounds for an axis of size 4"):
        got.numpy()
    # The flags were cleared: the next read-back of good work succeeds.
    np.testing.assert_array_equal(ops.take(tensor(x, "gpu"), idx[[0, 3]], axis=1).numpy(), x[:, [1, 3]])
    idx2 = np.array([[0, 9], [-1, -9], [2, 1]])
    with pytest.raises(IndexError, match=r"take_along_axis: index (9|-9|2) is out of bounds for an axis of size 2"):
        ops.take_along_axis(tensor(x[:, :2], "gpu"), tensor(idx2, "gpu"), axis=1).numpy()


def test_gradients_drop_out_of_range_indices(gpu):
    # The gradient kernels record nothing: the forward gather already did.
    idx = np.array([1, 4, -5, -1])
    i = [(idx, idx.shape, "int64")]
    g = np.ones((3, 4), np.float32)
    grad = gpu.download(gpu.execute("take_grad", {"axis": 1, "dim": 4}, [(g, g.shape, "float32"), *i]))
    np.testing.assert_array_equal(grad, [[0, 1, 0, 1]] * 3)
    idx2 = np.array([[0, 9], [-1, -9], [2, 1]])
    i2 = [(idx2, idx2.shape, "int64")]
    grad = gpu.download(gpu.execute("take_along_axis_grad", {"axis": 1, "dim": 2},
                                    [(np.ones((3, 2), np.float32), (3, 2), "float32"), *i2]))
    np.testing.assert_array_equal(grad, [[1, 0], [0, 1], [0, 1]])

"""Gathers on the gpu device (`shaders/gather.wgsl`) where the GPU differs from the CPU in when
it can tell: an out-of-range index raises the CPU's IndexError at the next read-back, and the
scatter-add gradient kernels (`take_grad` / `take_along_axis_grad`) drop out-of-range indices.
`take`, `take_along_axis` and `one_hot` themselves are tested on both devices in
tests/ops/test_numpy.py and tests/ops/test_nn.py."""

from __future__ import annotations

import numpy as np
import pytest
from rskeras import ops


def tensor(a, device):
    t = ops.convert_to_tensor(np.asarray(a))
    return t.to("gpu") if device == "gpu" else t


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

"""softmax / log_softmax and the fused sparse categorical cross-entropy on the gpu device
(`shaders/softmax.wgsl`, `shaders/crossentropy*.wgsl`) where the CPU kernel is the reference:
special values (inf, NaN, all -inf rows) and empty or integer inputs, the gradient kernel
through the executor, out-of-range labels raised at the read-back and stopping `fit`, and a small
MLP's forward and backward pass on GPU tensors. The ops' values and gradients are tested on both
devices against NumPy formulas in tests/ops/test_nn.py."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import rskeras as keras
from rskeras import ops

from tests.conftest import assert_same_on_gpu, on_device

rng = np.random.default_rng(0)


assert_same_on_gpu = functools.partial(assert_same_on_gpu, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("f", [ops.softmax, ops.log_softmax])
def test_softmax_edge_values(gpu, f):
    x = np.array([[1, np.inf, 2], [np.nan, 1, 2], [-np.inf, -np.inf, -np.inf],
                  [1000, 1001, 0], [-1e30, 0, 1e30]], np.float32)
    assert_same_on_gpu(gpu, f, x, grad=False)
    assert_same_on_gpu(gpu, f, np.zeros((3, 0), np.float32), grad=False)
    assert_same_on_gpu(gpu, lambda t: f(t, axis=0), np.zeros((3, 0), np.float32), grad=False)
    assert_same_on_gpu(gpu, f, np.arange(6, dtype=np.int32).reshape(2, 3), grad=False)


def test_crossentropy_grad_kernel_directly(gpu):
    out = rng.standard_normal((3, 4)).astype(np.float32)
    y = np.array([1, 0, 3], np.int64)
    g = np.array([1.0, -2.0, 0.5], np.float32)
    got = gpu.download(gpu.execute(
        "sparse_categorical_crossentropy_grad", {"from_logits": True},
        [(out, out.shape, "float32"), (y, y.shape, "int64"), (g, g.shape, "float32")]))
    sm = np.exp(out - out.max(1, keepdims=True))
    sm /= sm.sum(1, keepdims=True)
    np.testing.assert_allclose(got, (sm - np.eye(4)[y]) * g[:, None], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("label", [3, -1])
def test_out_of_range_label_raises_the_cpu_error_at_the_read_back(gpu, label):
    out = rng.standard_normal((2, 3)).astype(np.float32)
    y = np.array([1, label], np.int64)
    message = rf"label {label} (at index \[1\] )?is out of range for 3 classes"
    with pytest.raises(ValueError, match=message):
        ops.sparse_categorical_crossentropy(on_device(y, "cpu"), on_device(out, "cpu"), from_logits=True)
    loss = ops.sparse_categorical_crossentropy(on_device(y, "gpu"), on_device(out, "gpu"), from_logits=True)
    with pytest.raises(ValueError, match=message + r".*gpu device"):
        ops.mean(loss).numpy()
    # Cleared after raising: the same kernel on good labels reads back.
    good = ops.sparse_categorical_crossentropy(on_device(y[:1], "gpu"), on_device(out[:1], "gpu"),
                                               from_logits=True)
    assert np.isfinite(good.numpy()).all()


def test_a_bad_label_stops_fit_on_the_gpu_with_the_cpu_error(gpu):
    x = rng.standard_normal((8, 4)).astype(np.float32)
    y = np.array([0, 1, 2, 3, 0, 1, 2, 7])
    with keras.device("gpu"):
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, activation="softmax")])
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        with pytest.raises(ValueError, match=r"label 7 .*is out of range for 4 classes"):
            model.fit(x, y, batch_size=4, epochs=1, verbose=0)


def _mlp_loss_and_grads(device, x, y, weights):
    ts = [on_device(w, device) for w in weights]
    xt, yt = on_device(x, device), on_device(y, device)
    with keras.GradientTape() as tape:
        tape.watch(ts)
        w1, b1, w2, b2 = ts
        h = ops.relu(ops.add(ops.matmul(xt, w1), b1))
        p = ops.softmax(ops.add(ops.matmul(h, w2), b2))
        loss = ops.mean(keras.losses.sparse_categorical_crossentropy(yt, p))
    grads = tape.gradient(loss, ts)
    assert loss.device == device and all(g.device == device for g in grads)
    return np.asarray(loss), [np.asarray(g) for g in grads]


def test_mlp_forward_and_backward(gpu):
    """Dense(32, relu) -> Dense(10, softmax) on a (16, 20) batch, sparse categorical
    cross-entropy: the loss and the weight gradients match the CPU to 1e-4."""
    r = np.random.default_rng(42)
    x = r.standard_normal((16, 20)).astype(np.float32)
    y = r.integers(0, 10, 16)
    weights = [(r.standard_normal((20, 32)) * np.sqrt(2 / 20)).astype(np.float32),
               (r.standard_normal(32) * 0.1).astype(np.float32),
               (r.standard_normal((32, 10)) * np.sqrt(1 / 32)).astype(np.float32),
               (r.standard_normal(10) * 0.1).astype(np.float32)]
    before = gpu.dispatches
    loss_g, grads_g = _mlp_loss_and_grads("gpu", x, y, weights)
    assert gpu.dispatches > before
    loss_c, grads_c = _mlp_loss_and_grads("cpu", x, y, weights)
    np.testing.assert_allclose(loss_g, loss_c, rtol=1e-5)
    for g, c, w in zip(grads_g, grads_c, weights):
        assert g.shape == c.shape == w.shape and g.dtype == c.dtype == np.float32
        np.testing.assert_allclose(g, c, rtol=1e-4, atol=1e-4)

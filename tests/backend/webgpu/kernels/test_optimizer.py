"""Fused optimizer steps on the gpu device (`shaders/optimizer.wgsl`): SGD (momentum,
Nesterov), Adam (amsgrad) and RMSprop (momentum, centered) updating variables and slots in
place, against the CPU kernels through the public optimizers and against a NumPy version of
Keras 3's formulas through the executor directly."""

from __future__ import annotations

import numpy as np
import pytest
import rskeras as keras
from rskeras import ops

SHAPES = [(3, 4), (5,), (1,), (0, 3), (2, 1, 7)]

OPTIMIZERS = {
    "sgd": lambda: keras.optimizers.SGD(0.1),
    "sgd_momentum": lambda: keras.optimizers.SGD(0.1, momentum=0.9),
    "sgd_nesterov": lambda: keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    "adam": lambda: keras.optimizers.Adam(0.01),
    "adam_amsgrad": lambda: keras.optimizers.Adam(0.01, amsgrad=True),
    "rmsprop": lambda: keras.optimizers.RMSprop(0.01),
    "rmsprop_momentum": lambda: keras.optimizers.RMSprop(0.01, momentum=0.5),
    "rmsprop_centered": lambda: keras.optimizers.RMSprop(0.01, centered=True),
    "rmsprop_momentum_centered": lambda: keras.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    "adamw": lambda: keras.optimizers.AdamW(0.01, weight_decay=0.1),
    "adagrad": lambda: keras.optimizers.Adagrad(0.1),
    "adadelta": lambda: keras.optimizers.Adadelta(1.0),
    "adamax": lambda: keras.optimizers.Adamax(0.01, weight_decay=0.1),
    "nadam": lambda: keras.optimizers.Nadam(0.01),
    "ftrl": lambda: keras.optimizers.Ftrl(0.1),
    "ftrl_regularized": lambda: keras.optimizers.Ftrl(0.1, learning_rate_power=-0.3, beta=0.1,
                                                      l1_regularization_strength=0.05,
                                                      l2_regularization_strength=0.02,
                                                      l2_shrinkage_regularization_strength=0.01),
    "lion": lambda: keras.optimizers.Lion(0.01, weight_decay=0.1),
    "lamb": lambda: keras.optimizers.Lamb(0.01),
    "sgd_ema": lambda: keras.optimizers.SGD(0.1, use_ema=True, weight_decay=0.1),
}
# GPU sqrt, pow and division are within an ulp or two of the CPU's, not exact.
RTOL = {"adadelta": 1e-5, "nadam": 1e-5, "ftrl": 1e-5, "ftrl_regularized": 1e-5, "lamb": 1e-5,
        "adagrad": 1e-5}


def train(make, device, steps=4):
    """`steps` updates of fresh variables from fixed random gradients; the variables' devices,
    values and slot values."""
    rng = np.random.default_rng(1)
    variables = [keras.Variable(rng.standard_normal(s).astype(np.float32)) for s in SHAPES]
    opt = make()
    for _ in range(steps):
        grads = [ops.convert_to_tensor(rng.standard_normal(s).astype(np.float32)) for s in SHAPES]
        if device == "gpu":
            grads = [g.to("gpu") for g in grads]
        opt.apply(grads, variables)
    slots = [[np.asarray(s) for s in opt._slots[id(v)]] for v in variables]
    return [v.device for v in variables], [np.asarray(v) for v in variables], slots


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_steps_match_the_cpu(gpu, name):
    before = gpu.dispatches
    devices, got, got_slots = train(OPTIMIZERS[name], "gpu")
    assert gpu.dispatches > before
    # The variables (and their slots) move to the gradients' device and stay there.
    assert devices == ["gpu"] * len(SHAPES)
    _, want, want_slots = train(OPTIMIZERS[name], "cpu")
    rtol = RTOL.get(name, 1e-6)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol / 10)
    for gs, ws in zip(got_slots, want_slots):
        assert len(gs) == len(ws)
        for g, w in zip(gs, ws):
            np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol / 10)


def test_update_leaves_tensors_sharing_the_buffer_unchanged(gpu):
    v = keras.Variable(np.ones((4,), np.float32))
    opt = keras.optimizers.SGD(0.5)
    opt.apply([ops.convert_to_tensor(np.ones(4, np.float32)).to("gpu")], [v])
    snapshot = v.value  # shares v's GPU buffer
    opt.apply([ops.convert_to_tensor(np.ones(4, np.float32)).to("gpu")], [v])
    np.testing.assert_array_equal(np.asarray(snapshot), np.full(4, 0.5, np.float32))
    np.testing.assert_array_equal(np.asarray(v), np.zeros(4, np.float32))


# ---------------------------------------------------------------------------------------------
# The executor's protocol, against Keras 3's update formulas in float64


def keras_step(kind, hp, step, w, slots, g):
    """One Keras 3 update in NumPy; returns the new variable and slots."""
    w, slots = w.astype(np.float64), [s.astype(np.float64) for s in slots]
    g = g.astype(np.float64)
    lr = hp["learning_rate"]
    if kind == "sgd":
        if not slots:
            return w - lr * g, []
        m = hp["momentum"] * slots[0] - lr * g
        w = w + (hp["momentum"] * m - lr * g if hp["nesterov"] else m)
        return w, [m]
    if kind == "adam":
        b1, b2, eps = hp["beta_1"], hp["beta_2"], hp["epsilon"]
        alpha = lr * np.sqrt(1 - b2**step) / (1 - b1**step)
        m = slots[0] + (g - slots[0]) * (1 - b1)
        v = slots[1] + (g * g - slots[1]) * (1 - b2)
        if hp["amsgrad"]:
            vhat = np.maximum(slots[2], v)
            return w - m * alpha / (np.sqrt(vhat) + eps), [m, v, vhat]
        return w - m * alpha / (np.sqrt(v) + eps), [m, v]
    rho, eps, mom = hp["rho"], hp["epsilon"], hp["momentum"]
    v = rho * slots[0] + (1 - rho) * g * g
    rest = slots[1:]
    denom = v + eps
    new = [v]
    m = rest.pop(0) if mom > 0 else None
    if hp["centered"]:
        a = rho * rest[0] + (1 - rho) * g
        denom = v - a * a + eps
    inc = lr * g / np.sqrt(denom)
    if m is not None:
        m = mom * m + inc
        new.append(m)
        w = w - m
    else:
        w = w - inc
    if hp["centered"]:
        new.append(a)
    return w, new


CASES = [
    ("sgd", {"learning_rate": 0.1, "momentum": 0.0, "nesterov": False}, 0),
    ("sgd", {"learning_rate": 0.1, "momentum": 0.8, "nesterov": True}, 1),
    ("adam", {"learning_rate": 0.01, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False}, 2),
    ("adam", {"learning_rate": 0.01, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-7, "amsgrad": True}, 3),
    ("rmsprop", {"learning_rate": 0.01, "rho": 0.9, "momentum": 0.0, "epsilon": 1e-7, "centered": False}, 1),
    ("rmsprop", {"learning_rate": 0.01, "rho": 0.9, "momentum": 0.7, "epsilon": 1e-7, "centered": True}, 3),
]


@pytest.mark.parametrize("kind, hp, slots", CASES)
def test_executor_update_follows_the_keras_formulas(gpu, kind, hp, slots):
    rng = np.random.default_rng(5)
    shapes = [(6, 5), (3,)]
    w = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    # Positive second moments, as an optimizer's slots always are.
    s = [[np.abs(rng.standard_normal(sh)).astype(np.float32) * 0.1 for _ in range(slots)] for sh in shapes]
    if hp.get("centered"):
        for sl in s:
            sl[-1] = np.zeros_like(sl[-1])  # average gradient: keeps v - a^2 >= 0
    targets = [gpu.upload(a) for i in range(len(shapes)) for a in (w[i], *s[i])]
    ref = [(w[i].astype(np.float64), [x.astype(np.float64) for x in s[i]]) for i in range(len(shapes))]
    for step in range(1, 4):
        grads = [rng.standard_normal(sh).astype(np.float32) for sh in shapes]
        gpu.update(kind, dict(hp, step=step), [(t, t.shape, "float32") for t in targets],
                   [(gpu.upload(g), g.shape, "float32") for g in grads])
        ref = [keras_step(kind, hp, step, rw, rs, g) for (rw, rs), g in zip(ref, grads)]
    per = 1 + slots
    for i, (rw, rs) in enumerate(ref):
        got = [gpu.download(t) for t in targets[i * per:(i + 1) * per]]
        for g, want in zip(got, [rw, *rs]):
            assert np.all(np.isfinite(want))
            np.testing.assert_allclose(g, want, rtol=2e-5, atol=1e-6)


def test_executor_update_rejects_mismatched_targets(gpu):
    w = gpu.upload(np.zeros((3,), np.float32))
    with pytest.raises(ValueError, match="expected 2 variables and slots"):
        gpu.update("sgd", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": False},
                   [(w, (3,), "float32")], [(np.ones(3, np.float32), (3,), "float32")])

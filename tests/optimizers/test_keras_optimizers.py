"""Every optimizer and base option against real Keras 3 (JAX): 5 steps on a (3, 4) "kernel"
and a (4,) "bias" under fixed gradients, weights compared after every step and the whole
optimizer state (Keras's variable order and names) after the last, on both devices
(tests/fixtures/keras_optimizers.npz, written by tests/fixtures/make_optimizer_fixtures.py
from the cases in tests/fixtures/_optimizer_cases.py)."""

from __future__ import annotations

import functools
import os

import numpy as np
import pytest
import rskeras as keras

from tests.fixtures._optimizer_cases import STEPS, cases

FIXTURE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures",
                       "keras_optimizers.npz")
CASES = cases(keras)
RTOL, ATOL = 1e-6, 1e-7
# Cases where Keras's float32 arithmetic differs from ours by more than 1e-6 relative (the
# order of additions inside a reduction, XLA's pow/sqrt versus the C library's), with why.
LOOSER = {
    # A sum of squares over all elements (the norms), summed in a different order.
    "adam_clipnorm": 1e-5, "adam_global_clipnorm": 1e-5, "lamb": 1e-5, "lamb_weight_decay": 1e-5,
    # pow(accumulator, 0.3) in XLA and in the C library differ by an ulp.
    "ftrl_regularized": 1e-5,
    # Cosine of a float32 fraction (the schedule), an ulp apart.
    "adam_schedule": 1e-5,
    # Nadam's 0.96^t and beta_2^t: XLA's pow, an ulp apart from powf.
    "nadam": 1e-5, "nadam_accumulate": 1e-5,
}
GPU_LOOSER = 1e-5  # the GPU's sqrt/pow/division are within an ulp or two, not exact


@functools.lru_cache(maxsize=None)
def data() -> dict:
    with np.load(FIXTURE) as d:
        return {k: d[k] for k in d.files}


def run(name, steps=STEPS):
    factory, setup = CASES[name]
    opt = factory()
    w = keras.Variable(data()["w0"], name="kernel")
    b = keras.Variable(data()["b0"], name="bias")
    if setup is not None:
        setup(opt)
    scale = float(getattr(opt, "initial_scale", 1.0))
    trajectory = []
    for step in range(steps):
        opt.apply([keras.ops.convert_to_tensor(data()["grads_w"][step] * scale),
                   keras.ops.convert_to_tensor(data()["grads_b"][step] * scale)], [w, b])
        trajectory.append((w.numpy(), b.numpy()))
    return opt, w, b, trajectory


def tolerance(name, device):
    rtol = LOOSER.get(name, RTOL)
    return max(rtol, GPU_LOOSER) if device == "gpu" else rtol


@pytest.mark.parametrize("name", sorted(CASES))
def test_weights_after_every_step_match_keras(name, device):
    _, w, b, trajectory = run(name)
    rtol = tolerance(name, device)
    for step, (got_w, got_b) in enumerate(trajectory):
        for got, key in ((got_w, "w"), (got_b, "b")):
            np.testing.assert_allclose(got, data()[f"{name}/{key}"][step], rtol=rtol,
                                       atol=ATOL if rtol == RTOL else 1e-6,
                                       err_msg=f"{name}: {key} after step {step + 1}")
    assert w.device == b.device == device


@pytest.mark.parametrize("name", sorted(CASES))
def test_state_matches_keras_order_names_and_values(name, device):
    opt, *_ = run(name)
    ours = opt.get_state_arrays()
    names = [str(n) for n in data()[f"{name}/names"]]
    assert len(ours) == len(names), (name, [n for n, _ in ours], names)
    rtol = max(tolerance(name, device), 1e-5)  # slots also hold squares (velocity)
    for i, ((our_name, value), keras_name) in enumerate(zip(ours, names)):
        # Keras numbers optimizer names per process ("adam_3") and Nadam's scalar
        # ("variable_1"); the rest of each path must be the same.
        assert our_name.split("/")[-1].rstrip("_0123456789") == \
            keras_name.split("/")[-1].rstrip("_0123456789"), (name, our_name, keras_name)
        np.testing.assert_allclose(np.asarray(value, np.float64),
                                   np.asarray(data()[f"{name}/state/{i}"], np.float64),
                                   rtol=rtol, atol=1e-6, err_msg=f"{name}: {keras_name}")


def test_keras_slot_paths_for_named_variables():
    opt, *_ = run("adam_amsgrad", 1)
    assert [n for n, _ in opt.get_state_arrays()] == [
        "adam/iteration", "adam/learning_rate", "adam/kernel_momentum", "adam/kernel_velocity",
        "adam/bias_momentum", "adam/bias_velocity", "adam/kernel_velocity_hat",
        "adam/bias_velocity_hat"]


# Cases whose float64 run through `update_step` (ops in the variable's dtype) is compared with
# Keras's float32 numbers: float32 rounding is the only difference, hence 1e-5; 5e-5 for Adam,
# whose float32 `1 - beta_2` and `1 - beta_2^t` round apart by 1e-5 relative in sqrt(v)
# (an absolute 1e-5 after 5 steps of lr 0.1).
ADAM_LIKE = {"adam_amsgrad", "adamw_exclude_bias", "adam_ema", "adam_accumulate"}
FLOAT64 = ["sgd_weight_decay", "adam_amsgrad", "adamw_exclude_bias", "rmsprop_centered_momentum",
           "adagrad_weight_decay", "adadelta_rho", "adamax_weight_decay", "nadam",
           "ftrl_regularized", "lion_weight_decay", "lamb_weight_decay", "adam_ema",
           "adam_accumulate"]


@pytest.mark.parametrize("name", FLOAT64)
def test_float64_update_step_matches_keras(name):
    factory, setup = CASES[name]
    opt = factory()
    w = keras.Variable(data()["w0"].astype(np.float64), dtype="float64", name="kernel")
    b = keras.Variable(data()["b0"].astype(np.float64), dtype="float64", name="bias")
    if setup is not None:
        setup(opt)
    for step in range(STEPS):
        opt.apply([data()["grads_w"][step].astype(np.float64),
                   data()["grads_b"][step].astype(np.float64)], [w, b])
        assert w.dtype == "float64"
        rtol, atol = (5e-5, 1e-5) if name in ADAM_LIKE else (1e-5, 1e-6)
        np.testing.assert_allclose(w.numpy(), data()[f"{name}/w"][step], rtol=rtol, atol=atol,
                                   err_msg=f"{name}: w after step {step + 1}")
        np.testing.assert_allclose(b.numpy(), data()[f"{name}/b"][step], rtol=rtol, atol=atol,
                                   err_msg=f"{name}: b after step {step + 1}")


KERNELS = {"sgd_weight_decay": "sgd_update", "adamw_exclude_bias": "adam_update",
           "rmsprop_weight_decay": "rmsprop_update", "adagrad": "adagrad_update",
           "adadelta": "adadelta_update", "adamax": "adamax_update", "nadam": "nadam_update",
           "ftrl": "ftrl_update", "lion_weight_decay": "lion_update",
           "lamb_weight_decay": "lamb_update", "adam_ema": "adam_update"}


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_one_fused_call_per_step_for_all_variables(name, monkeypatch):
    from rskeras import _core

    calls = []
    for entry in {KERNELS[name], "ema_update"}:
        original = getattr(_core, entry)

        def counted(*args, _entry=entry, _original=original, **kwargs):
            calls.append((_entry, len(args[0])))
            return _original(*args, **kwargs)

        monkeypatch.setattr(_core, entry, counted)
    run(name, steps=2)
    expected = [(KERNELS[name], 2)] * 2
    if name == "adam_ema":
        expected = [(KERNELS[name], 2), ("ema_update", 2)] * 2
    assert calls == expected

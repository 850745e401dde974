"""Fused optimizer steps (`shaders/optimizer.wgsl`): SGD, Adam and RMSprop update each
variable and its slot variables in place, one dispatch per variable, with the CPU kernels'
formulas (`rust/ops/optimizer.rs`, after Keras 3's `update_step`s). One name per optimizer
from end to end: `keras.optimizers.Adam` calls `_core.adam_update`, whose op `adam` runs here
as the shader entry point `adam` (or `adam_amsgrad`).

`targets` hold, per variable, the variable then its slots (the layout of
`slots_per_variable` in the core): SGD `[w]` or `[w, momentum]`; Adam `[w, m, v]` or
`[w, m, v, vhat]` (amsgrad); RMSprop `[w, velocity, (momentum if > 0), (average gradient if
centered)]`. `inputs` hold one gradient per variable.
"""

from __future__ import annotations

import numpy as np

from rskeras.backend.webgpu.executor import pack, updater

WG = 256


def _step(ex, entry, targets, inputs, slots, **hyper):
    per = 1 + slots
    if len(targets) != per * len(inputs):
        raise ValueError(f"{entry}: expected {per * len(inputs)} variables and slots for "
                         f"{len(inputs)} gradients, got {len(targets)}")
    for k, g in enumerate(inputs):
        group = targets[k * per:(k + 1) * per]
        for t in group:
            if t.shape != g.shape or t.wgsl != "f32" or g.wgsl != "f32":
                raise ValueError(f"{entry}: variable of shape {t.shape} ({t.dtype}) does not "
                                 f"match its gradient of shape {g.shape} ({g.dtype})")
        n = g.numel
        if n == 0:
            continue
        gx, gy = ex.grid(n, WG)
        uniform = pack(n, gx * WG, np.float32(hyper.get("lr", 0.0)),
                       np.float32(hyper.get("momentum", 0.0)), np.float32(hyper.get("alpha", 0.0)),
                       np.float32(hyper.get("c1", 0.0)), np.float32(hyper.get("c2", 0.0)),
                       np.float32(hyper.get("eps", 0.0)), np.float32(hyper.get("rho", 0.0)),
                       int(hyper.get("nesterov", False)))
        ex.dispatch("optimizer", [*group, g], (gx, gy), uniform, entry=entry, WG=WG)


@updater("sgd")
def sgd(ex, params, targets, inputs):
    momentum = float(params["momentum"])
    entry, slots = ("sgd_momentum", 1) if momentum != 0.0 else ("sgd", 0)
    _step(ex, entry, targets, inputs, slots, lr=params["learning_rate"], momentum=momentum,
          nesterov=bool(params["nesterov"]))


def _f32_pow(base: np.float32, t: int) -> np.float32:
    """`base.powi(t)` in float32 (repeated squaring, as the core's CPU kernel)."""
    result, b, e = np.float32(1.0), np.float32(base), abs(t)
    while e:
        if e & 1:
            result = np.float32(result * b)
        b = np.float32(b * b)
        e >>= 1
    return result if t >= 0 else np.float32(np.float32(1.0) / result)


@updater("adam")
def adam(ex, params, targets, inputs):
    one = np.float32(1.0)
    lr, b1, b2 = (np.float32(params[k]) for k in ("learning_rate", "beta_1", "beta_2"))
    # The CPU kernel takes `step as i32`.
    t = int(np.array(int(params["step"]) & 0xFFFFFFFF, np.uint32).view(np.int32))
    with np.errstate(all="ignore"):  # step 0 divides by zero there too
        alpha = np.float32(lr * np.sqrt(np.float32(one - _f32_pow(b2, t))) / np.float32(one - _f32_pow(b1, t)))
    amsgrad = bool(params["amsgrad"])
    entry, slots = ("adam_amsgrad", 3) if amsgrad else ("adam", 2)
    _step(ex, entry, targets, inputs, slots, alpha=alpha, c1=one - b1, c2=one - b2,
          eps=params["epsilon"])


@updater("rmsprop")
def rmsprop(ex, params, targets, inputs):
    momentum = float(params["momentum"])
    centered = bool(params["centered"])
    entry = "rmsprop" + ("_momentum" if momentum > 0.0 else "") + ("_centered" if centered else "")
    slots = 1 + (momentum > 0.0) + centered
    _step(ex, entry, targets, inputs, slots, lr=params["learning_rate"], momentum=momentum,
          eps=params["epsilon"], rho=params["rho"])

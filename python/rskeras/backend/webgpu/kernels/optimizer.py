"""Fused optimizer steps (`shaders/optimizer.wgsl`): every optimizer updates each
variable and its slot variables in place, one dispatch per variable, with the CPU kernels'
formulas (`rust/ops/optimizer.rs`, after Keras 3's `update_step`s). One name per optimizer
from end to end: `keras.optimizers.Adam` calls `_core.adam_update`, whose op `adam` runs here
as the shader entry point `adam` (or `adam_amsgrad`).

`targets` hold, per variable, the variable then its slots (the layout of
`slots_per_variable` in the core): SGD `[w]` or `[w, momentum]`; Adam `[w, m, v]` or
`[w, m, v, vhat]` (amsgrad); RMSprop `[w, velocity, (momentum if > 0), (average gradient if
centered)]`; Adagrad `[w, accumulator]`; Adadelta `[w, accumulated_grad,
accumulated_delta_var]`; Adamax `[w, momentum, norm]`; Nadam and Lamb `[w, momentum,
velocity]`; Ftrl `[w, accumulator, linear]`; Lion `[w, momentum]`; EMA `[average]` (its
"gradient" is the variable). `inputs` hold one gradient per variable. Each variable is first
decayed by `w -= w * weight_decay * lr` when `decay_mask` selects it (Keras's weight decay).

Scalar constants are rounded to float32 as the CPU kernel rounds them (`np.float32`
arithmetic here, f32 arithmetic there; `np.power` and Rust's `powf` are both the C library's).
"""

from __future__ import annotations

import numpy as np

from rskeras.backend.webgpu.executor import pack, updater

WG = 256


F = np.float32


def _decays(params, count):
    """The weight decay of each variable (0.0 where `decay_mask` excludes it)."""
    wd = float(params.get("weight_decay", 0.0))
    mask = list(params.get("decay_mask") or [])
    return [wd if (not mask or mask[k]) else 0.0 for k in range(count)]


def _check(entry, targets, inputs, slots):
    per = 1 + slots
    if len(targets) != per * len(inputs):
        raise ValueError(f"{entry}: expected {per * len(inputs)} variables and slots for "
                         f"{len(inputs)} gradients, got {len(targets)}")
    for k, g in enumerate(inputs):
        for t in targets[k * per:(k + 1) * per]:
            if t.shape != g.shape or t.wgsl != "f32" or g.wgsl != "f32":
                raise ValueError(f"{entry}: variable of shape {t.shape} ({t.dtype}) does not "
                                 f"match its gradient of shape {g.shape} ({g.dtype})")


def _uniform(n, row, hyper, wd=0.0):
    keys = ("lr", "wd", "eps", "momentum", "alpha", "c1", "c2", "rho", "k0", "k1", "k2", "k3")
    values = dict(hyper, wd=wd)
    return pack(n, row, int(hyper.get("flag", 0)), 0, *(F(values.get(k, 0.0)) for k in keys))


def _step(ex, entry, targets, inputs, slots, params=None, **hyper):
    _check(entry, targets, inputs, slots)
    per = 1 + slots
    decays = _decays(params or {}, len(inputs))
    for k, g in enumerate(inputs):
        group = targets[k * per:(k + 1) * per]
        n = g.numel
        if n == 0:
            continue
        gx, gy = ex.grid(n, WG)
        ex.dispatch("optimizer", [*group, g], (gx, gy), _uniform(n, gx * WG, hyper, decays[k]),
                    entry=entry, WG=WG)


def _powf(base, step):
    """`base^step` in float32 (`np.power` calls the C library's powf, as Rust's `powf`)."""
    return np.power(F(base), F(step))


@updater("sgd")
def sgd(ex, params, targets, inputs):
    momentum = float(params["momentum"])
    entry, slots = ("sgd_momentum", 1) if momentum != 0.0 else ("sgd", 0)
    _step(ex, entry, targets, inputs, slots, params, lr=params["learning_rate"],
          momentum=momentum, flag=int(bool(params["nesterov"])))


@updater("adam")
def adam(ex, params, targets, inputs):
    # As the CPU kernel: float32 powers (`powf`), `1 - beta` rounded from the Python float.
    one = F(1.0)
    lr = F(params["learning_rate"])
    b1, b2 = float(params["beta_1"]), float(params["beta_2"])
    t = int(params["step"])
    with np.errstate(all="ignore"):  # step 0 divides by zero there too
        alpha = F(lr * np.sqrt(F(one - _powf(b2, t))) / F(one - _powf(b1, t)))
    amsgrad = bool(params["amsgrad"])
    entry, slots = ("adam_amsgrad", 3) if amsgrad else ("adam", 2)
    _step(ex, entry, targets, inputs, slots, params, lr=lr, alpha=alpha, c1=1.0 - b1,
          c2=1.0 - b2, eps=params["epsilon"])


@updater("rmsprop")
def rmsprop(ex, params, targets, inputs):
    momentum = float(params["momentum"])
    centered = bool(params["centered"])
    entry = "rmsprop" + ("_momentum" if momentum > 0.0 else "") + ("_centered" if centered else "")
    slots = 1 + (momentum > 0.0) + centered
    rho = float(params["rho"])
    _step(ex, entry, targets, inputs, slots, params, lr=params["learning_rate"],
          momentum=momentum, eps=params["epsilon"], rho=rho, c2=1.0 - rho)


@updater("adagrad")
def adagrad(ex, params, targets, inputs):
    _step(ex, "adagrad", targets, inputs, 1, params, lr=params["learning_rate"],
          eps=params["epsilon"])


@updater("adadelta")
def adadelta(ex, params, targets, inputs):
    rho = float(params["rho"])
    _step(ex, "adadelta", targets, inputs, 2, params, lr=params["learning_rate"],
          eps=params["epsilon"], rho=rho, c2=1.0 - rho)


@updater("adamax")
def adamax(ex, params, targets, inputs):
    b1p = _powf(params["beta_1"], int(params["step"]))
    _step(ex, "adamax", targets, inputs, 2, params, lr=params["learning_rate"],
          eps=params["epsilon"], c1=1.0 - float(params["beta_1"]), k0=params["beta_2"],
          k1=F(1) - b1p)


@updater("nadam")
def nadam(ex, params, targets, inputs):
    b1, b2, t = F(params["beta_1"]), F(params["beta_2"]), int(params["step"])
    half, one = F(0.5), F(1)
    u_t = b1 * (one - half * _powf(0.96, t))
    u_t_1 = b1 * (one - half * _powf(0.96, t + 1))
    u_product = F(params["u_product"])
    _step(ex, "nadam", targets, inputs, 2, params, lr=params["learning_rate"],
          eps=params["epsilon"], c1=one - b1, c2=one - b2, k0=u_t, k1=u_t_1,
          k2=one - u_product, k3=one - u_product * u_t_1, alpha=one - _powf(b2, t))


@updater("ftrl")
def ftrl(ex, params, targets, inputs):
    lr = F(params["learning_rate"])
    l2_reg = F(params["l2_regularization_strength"]) + F(params["beta"]) / (F(2) * lr)
    _step(ex, "ftrl", targets, inputs, 2, params, lr=lr,
          k0=-float(params["learning_rate_power"]), k1=params["l1_regularization_strength"],
          k2=F(2) * l2_reg, k3=2.0 * float(params["l2_shrinkage_regularization_strength"]))


@updater("lion")
def lion(ex, params, targets, inputs):
    b1, b2 = F(params["beta_1"]), F(params["beta_2"])
    _step(ex, "lion", targets, inputs, 1, params, lr=params["learning_rate"], rho=b1,
          c1=F(1) - b1, k0=b2, c2=F(1) - b2)


@updater("lamb")
def lamb(ex, params, targets, inputs):
    _check("lamb", targets, inputs, 2)
    t = int(params["step"])
    b1, b2 = float(params["beta_1"]), float(params["beta_2"])
    hyper = dict(lr=params["learning_rate"], eps=params["epsilon"], c1=1.0 - b1, c2=1.0 - b2,
                 k0=F(1) - _powf(b1, t), k1=F(1) - _powf(b2, t))
    decays = _decays(params, len(inputs))
    for k, g in enumerate(inputs):
        w, m, v = targets[3 * k:3 * k + 3]
        n = g.numel
        if n == 0:
            continue
        update, norms = ex.empty(g.shape, "float32"), ex.empty((2,), "float32")
        gx, gy = ex.grid(n, WG)
        ex.dispatch("optimizer", [w, m, v, g, update], (gx, gy),
                    _uniform(n, gx * WG, hyper, decays[k]), entry="lamb_moments", WG=WG)
        ex.dispatch("optimizer", [w, update, norms], (1, 1), _uniform(n, 0, hyper),
                    entry="lamb_norms", WG=WG)
        ex.dispatch("optimizer", [w, update, norms], (gx, gy), _uniform(n, gx * WG, hyper),
                    entry="lamb_apply", WG=WG)


@updater("ema")
def ema(ex, params, targets, inputs):
    _step(ex, "ema", targets, inputs, 0, None, momentum=params["momentum"])

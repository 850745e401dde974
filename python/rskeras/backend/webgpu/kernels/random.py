"""Random fills (`shaders/random.wgsl`): Philox 4x32-10, bit-identical to the CPU generator
(`rust/ops/random.rs`) for `random.uniform`; `random.normal` matches it to about 1 ulp (its
log, sin and cos are polynomials in the shader, not the device's builtins)."""

from __future__ import annotations

import numpy as np

from rskeras.backend.webgpu.executor import kernel, pack

WG = 64


def _fill(ex, entry, params, per_block, a, b):
    shape = tuple(int(d) for d in params["shape"])
    out = ex.empty(shape, "float32")
    n = out.numel
    if n == 0:
        return out
    if n >= 1 << 32:
        raise ValueError(f"random.{entry}: {n} elements are too many for one GPU draw")
    seed, counter = int(params["seed"]), int(params["counter"])
    blocks = -(-n // per_block)
    gx, gy = ex.grid(blocks, WG)
    uniform = pack(n, gx * WG, seed & 0xFFFFFFFF, seed >> 32, counter & 0xFFFFFFFF, counter >> 32,
                   np.float32(a), np.float32(b), 0)
    ex.dispatch("random", [out], (gx, gy), uniform, entry=entry, WG=WG)
    return out


@kernel("random.uniform")
def random_uniform(ex, params, ins):
    return _fill(ex, "uniform", params, 4, params["min"], params["max"])


@kernel("random.normal")
def random_normal(ex, params, ins):
    return _fill(ex, "normal", params, 2, params["mean"], params["stddev"])

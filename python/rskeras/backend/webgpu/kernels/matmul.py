"""Matrix products (`shaders/matmul.wgsl`): `op(a) @ op(b)` on operands of rank >= 2 with
broadcast batch axes, as the CPU kernel `cpu_matmul` (the core has already turned 1-D operands
into matrices and promoted both operands to one dtype, bool to int32).

Register-tiled: each invocation accumulates a 4 x 4 block of the output, a workgroup a tile
staged through workgroup memory. The tile is the largest of `TILES` whose invocations and
workgroup memory fit the device's limits (`ex.max_workgroup`, `ex.max_shared`).
"""

from __future__ import annotations

import math

import numpy as np

from rskeras.backend.webgpu.executor import kernel, pack
from rskeras.backend.webgpu.kernels.layout import cast, wrap_narrow

# (NX, NY, RM, RN, TK): invocations along columns and rows, the register block, the K step.
TILES = [(16, 16, 4, 4, 16), (8, 8, 4, 4, 16), (8, 8, 4, 4, 8), (4, 4, 4, 4, 8), (4, 4, 2, 2, 4)]


def tile_config(ex, m: int, n: int) -> dict:
    """Template values of the largest tile the device allows (a smaller one for small
    products, where a big tile would leave most invocations idle).

    Raises:
        RuntimeError: when no tile fits the device's limits.
    """
    fits = []
    for nx, ny, rm, rn, tk in TILES:
        tm, tn = ny * rm, nx * rn
        shared = 4 * tk * (tm + tn)
        if nx * ny <= ex.max_workgroup and shared <= ex.max_shared:
            fits.append({"NX": nx, "NY": ny, "RM": rm, "RN": rn, "TK": tk, "TM": tm, "TN": tn,
                         "RMN": rm * rn, "TA_SIZE": tk * tm, "TB_SIZE": tk * tn})
    if not fits:
        raise RuntimeError(f"matmul: no tile fits this device ({ex.max_workgroup} invocations, "
                           f"{ex.max_shared} bytes of workgroup memory per workgroup)")
    for cfg in fits:
        if max(m, n) > cfg["TM"] // 2 or cfg is fits[-1]:
            return cfg
    return fits[-1]


def _batch_strides(shape, batch_shape):
    """Element strides of `shape`'s matrices along `batch_shape` (0 where broadcast)."""
    mat = shape[-1] * shape[-2]
    lead = list(shape[:-2])
    lead = [1] * (len(batch_shape) - len(lead)) + lead
    out, acc = [0] * len(lead), mat
    for i in range(len(lead) - 1, -1, -1):
        out[i] = 0 if lead[i] == 1 else acc
        acc *= lead[i]
    return out


def matmul(ex, a, b, transpose_a=False, transpose_b=False):
    """`op(a) @ op(b)` as a new array of shape `batch + (m, n)`."""
    if len(a.shape) < 2 or len(b.shape) < 2:
        raise ValueError(f"matmul: expected operands of rank >= 2, got shapes {a.shape} and "
                         f"{b.shape}")
    if a.dtype == "bool":
        a = cast(ex, a, "int32")
    if b.dtype == "bool":
        b = cast(ex, b, "int32")
    if a.dtype != b.dtype:
        raise TypeError(f"matmul: operands must share one dtype, got {a.dtype} and {b.dtype}")
    ra, ca = a.shape[-2:]
    rb, cb = b.shape[-2:]
    m, ka = (ca, ra) if transpose_a else (ra, ca)
    kb, n = (cb, rb) if transpose_b else (rb, cb)
    if ka != kb:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned: the "
                         f"contracted dimensions differ ({ka} != {kb})")
    try:
        batch = tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    except ValueError:
        raise ValueError(f"matmul: batch axes of shapes {a.shape} and {b.shape} do not "
                         f"broadcast") from None
    out = ex.empty(batch + (m, n), a.dtype)
    nbatch = math.prod(batch)
    if out.numel == 0:
        return out
    rsa, csa = (1, ca) if transpose_a else (ca, 1)
    rsb, csb = (1, cb) if transpose_b else (cb, 1)
    meta = np.array(list(batch) + _batch_strides(a.shape, batch) + _batch_strides(b.shape, batch)
                    or [0], dtype=np.uint32)
    bat = ex.constant(meta)
    cfg = tile_config(ex, m, n)
    gx, gy = math.ceil(n / cfg["TN"]), math.ceil(m / cfg["TM"])
    if gx > ex.max_groups or gy > ex.max_groups:
        raise ValueError(f"matmul: a {m} x {n} product needs more workgroups than the device's "
                         f"{ex.max_groups} per dimension")
    for z0 in range(0, nbatch, ex.max_groups):
        gz = min(ex.max_groups, nbatch - z0)
        ex.dispatch("matmul", [a, b, bat, out], (gx, gy, gz),
                    pack(m, n, ka, len(batch), rsa, csa, rsb, csb, z0), T=a.wgsl, **cfg)
    return wrap_narrow(ex, out)


@kernel("matmul")
def _matmul(ex, params, ins):
    return matmul(ex, ins[0], ins[1], bool(params["transpose_a"]), bool(params["transpose_b"]))

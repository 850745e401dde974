"""Gathers along an axis and their gradients (`shaders/gather.wgsl`): `take`, `take_grad`,
`take_along_axis`, `take_along_axis_grad` and `one_hot`, with the CPU kernels' semantics
(`rust/ops/shape.rs`).

Indices arrive as int64 (stored as i32); negative ones count from the end. An index still out
of range cannot raise on the GPU when it is met: gathers read it as 0 and record it, and the
next read-back raises the CPU kernels' IndexError (`Executor` CHECKS); gradients drop its
contribution. `take_grad` adds repeated indices
with atomics, in no fixed order (float sums may differ in the last bits from run to run);
`take_along_axis_grad` sums in the CPU's order.
"""

from __future__ import annotations

import math

from rskeras.backend.webgpu.executor import kernel, pack

WG = 256


def _run(ex, entry, arrays, n, dim, k, inner, t="f32"):
    gx, gy = ex.grid(n, WG)
    ex.dispatch("gather", arrays, (gx, gy), pack(n, gx * WG, dim, k, inner),
                entry=entry, checks=entry in ("take", "take_along_axis"), T=t, WG=WG)


@kernel("take")
def take(ex, params, ins):
    x, idx = ins
    axis = int(params["axis"])
    dim = x.shape[axis]
    inner = math.prod(x.shape[axis + 1:])
    out = ex.empty(x.shape[:axis] + idx.shape + x.shape[axis + 1:], x.dtype)
    if out.numel:
        _run(ex, "take", [x, idx, out], out.numel, dim, idx.numel, inner, x.wgsl)
    return out


@kernel("take_grad")
def take_grad(ex, params, ins):
    g, idx = ins
    axis, dim = int(params["axis"]), int(params["dim"])
    rest = g.shape[axis + len(idx.shape):]
    inner = math.prod(rest)
    out = ex.empty(g.shape[:axis] + (dim,) + rest, g.dtype)
    _check_float("take_grad", g)
    if out.numel:
        _run(ex, "zero", [out], out.numel, 0, 0, 0)
        if g.numel:
            _run(ex, "take_grad", [g, idx, out], g.numel, dim, idx.numel, inner)
    return out


@kernel("take_along_axis")
def take_along_axis(ex, params, ins):
    x, idx = ins
    axis = int(params["axis"])
    out = ex.empty(idx.shape, x.dtype)
    if out.numel:
        _run(ex, "take_along_axis", [x, idx, out], out.numel, x.shape[axis], idx.shape[axis],
             math.prod(idx.shape[axis + 1:]), x.wgsl)
    return out


@kernel("take_along_axis_grad")
def take_along_axis_grad(ex, params, ins):
    g, idx = ins
    axis, dim = int(params["axis"]), int(params["dim"])
    _check_float("take_along_axis_grad", g)
    out = ex.empty(g.shape[:axis] + (dim,) + g.shape[axis + 1:], g.dtype)
    if out.numel:
        # With no gradient elements (k = 0) the shader loop is empty: zeros.
        _run(ex, "take_along_axis_grad", [g, idx, out], out.numel, dim, g.shape[axis],
             math.prod(g.shape[axis + 1:]))
    return out


@kernel("one_hot")
def one_hot(ex, params, ins):
    (labels,) = ins
    depth = int(params["depth"])
    out = ex.empty(labels.shape + (depth,), "float32")
    if out.numel:
        _run(ex, "one_hot", [labels, out], out.numel, depth, 0, 0)
    return out


def _check_float(op, g):
    if g.wgsl != "f32":
        raise TypeError(f"{op}: gradients must be floats, got {g.dtype}")

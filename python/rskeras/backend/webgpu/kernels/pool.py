"""Max and average pooling (`shaders/pool.wgsl`) on channels_last tensors: forward, gradient,
and the max-pooling argmax with its gradient; the CPU kernels in `rust/ops/conv.rs` are the
reference. Both gradients are gathers (each input element sums over the windows that cover
it), so no atomics are needed."""

from __future__ import annotations

from rskeras.backend.webgpu.executor import kernel
from rskeras.backend.webgpu.kernels.conv import (
    check_float,
    check_workgroup,
    geo_uniform,
    geometry,
)

WG = 64


def _launch(ex, entry, arrays, g, total, is_max):
    check_workgroup(ex, WG, 0)
    gx, gy = ex.grid(total, WG)
    ex.dispatch("pool", arrays, (gx, gy), geo_uniform(g, total, gx * WG, m=int(is_max)),
                entry=entry, WG=WG)


def _out_shape(g):
    return (g["n"], g["oh"], g["ow"], g["c"])


def _in_shape(g):
    return (g["n"], g["h"], g["w"], g["c"])


@kernel("max_pool", "average_pool")
def pool(ex, params, ins):
    (x,) = ins
    check_float("pool", x)
    g = geometry(params)
    out = ex.empty(_out_shape(g), x.dtype)
    if out.numel:
        _launch(ex, "pool_fwd", [x, out], g, out.numel, bool(params["max"]))
    return out


@kernel("pool_grad")
def pool_grad(ex, params, ins):
    x, dy = ins
    check_float("pool_grad", x, dy)
    g = geometry(params)
    out = ex.empty(_in_shape(g), dy.dtype)
    if out.numel:
        _launch(ex, "pool_grad", [x, dy, out], g, out.numel, bool(params["max"]))
    return out


@kernel("max_pool_argmax")
def max_pool_argmax(ex, params, ins):
    (x,) = ins
    check_float("max_pool_argmax", x)
    g = geometry(params)
    out = ex.empty(_out_shape(g), "int32")
    if out.numel:
        _launch(ex, "pool_argmax", [x, out], g, out.numel, True)
    return out


@kernel("max_pool_grad")
def max_pool_grad(ex, params, ins):
    dy, idx = ins
    check_float("max_pool_grad", dy)
    if idx.wgsl != "i32":
        raise TypeError(f"max_pool_grad: expected int32 argmax indices, got {idx.dtype}")
    g = geometry(params)
    out = ex.empty(_in_shape(g), dy.dtype)
    if out.numel:
        _launch(ex, "pool_argmax_grad", [dy, idx, out], g, out.numel, True)
    return out

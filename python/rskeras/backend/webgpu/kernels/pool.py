"""Max and average pooling (`shaders/pool.wgsl`) on channels_last tensors: forward, gradient,
and the max-pooling argmax with its gradient; the CPU kernels in `rust/ops/conv.rs` are the
reference. Both gradients are gathers (each input element sums over the windows that cover
it), so no atomics are needed."""

from __future__ import annotations

from rskeras.backend.webgpu.executor import kernel
from rskeras.backend.webgpu.kernels.conv import (
    check_workgroup,
    checked_output,
    geo_uniform,
    input_shape,
)

WG = 64


def _launch(ex, entry, arrays, g, total, is_max):
    check_workgroup(ex, WG, 0)
    gx, gy = ex.grid(total, WG)
    ex.dispatch("pool", arrays, (gx, gy), geo_uniform(g, total, gx * WG, m=int(is_max)),
                entry=entry, WG=WG)


def _out_shape(g):
    # Pooling keeps the channels: (n, oh, ow, c).
    return (g["n"], g["oh"], g["ow"], g["c"])


@kernel("max_pool", "average_pool")
def pool(ex, params, ins):
    (x,) = ins
    g, out = checked_output(ex, "pool", params, [x], _out_shape, x.dtype)
    if out.numel:
        _launch(ex, "pool_fwd", [x, out], g, out.numel, bool(params["max"]))
    return out


@kernel("pool_grad")
def pool_grad(ex, params, ins):
    x, dy = ins
    g, out = checked_output(ex, "pool_grad", params, [x, dy], input_shape, dy.dtype)
    if out.numel:
        _launch(ex, "pool_grad", [x, dy, out], g, out.numel, bool(params["max"]))
    return out


@kernel("max_pool_argmax")
def max_pool_argmax(ex, params, ins):
    (x,) = ins
    g, out = checked_output(ex, "max_pool_argmax", params, [x], _out_shape, "int32")
    if out.numel:
        _launch(ex, "pool_argmax", [x, out], g, out.numel, True)
    return out


@kernel("max_pool_grad")
def max_pool_grad(ex, params, ins):
    dy, idx = ins
    if idx.wgsl != "i32":
        raise TypeError(f"max_pool_grad: expected int32 argmax indices, got {idx.dtype}")
    g, out = checked_output(ex, "max_pool_grad", params, [dy], input_shape, dy.dtype)
    if out.numel:
        _launch(ex, "pool_argmax_grad", [dy, idx, out], g, out.numel, True)
    return out

"""2-D convolution and depthwise convolution (`shaders/conv.wgsl`), forward and gradients, on
channels_last tensors; the CPU kernels in `rust/ops/conv.rs` are the reference.

Every op carries a `geometry` dict (n, h, w, c, kh, kw, out_c, oh, ow, sh, sw, dh, dw,
pad_top, pad_left). The forward pass is an implicit GEMM (no im2col buffer), the input
gradients gather over the output positions whose windows cover each input element (no
atomics), and the kernel gradients reduce over (n, oh, ow) in one workgroup per kernel element.
"""

from __future__ import annotations

from rskeras.backend.webgpu.executor import kernel, pack

WG = 64        # invocations per workgroup
OCB = 4        # output channels per invocation of the implicit-GEMM forward pass
RED_WG = 64    # invocations per workgroup of the kernel-gradient reductions

GEO_KEYS = ("n", "h", "w", "c", "kh", "kw", "out_c", "oh", "ow", "sh", "sw", "dh", "dw",
            "pad_top", "pad_left")


def geometry(params) -> dict:
    """The op's geometry as a dict of ints."""
    g = params["geometry"]
    return {k: int(g[k]) for k in GEO_KEYS}


def geo_uniform(g: dict, total: int, row: int, m: int = 1, blocks: int = 1):
    """The `Geo` uniform block of the conv and pool shaders."""
    return pack(*(g[k] for k in GEO_KEYS), total, row, m, blocks, 0)


def check_float(op: str, *arrays) -> None:
    for a in arrays:
        if a.wgsl != "f32":
            raise TypeError(f"{op}: expected float operands on the gpu device, got {a.dtype}")


def checked_output(ex, op: str, params, floats, shape, dtype):
    """The op's geometry and its empty output of `shape(geometry)` and `dtype`, once every
    array of `floats` is checked to be a float operand (what every conv and pool launcher
    starts with)."""
    check_float(op, *floats)
    g = geometry(params)
    return g, ex.empty(shape(g), dtype)


def output_shape(g) -> tuple:
    """(n, oh, ow, out_c): a forward output."""
    return (g["n"], g["oh"], g["ow"], g["out_c"])


def input_shape(g) -> tuple:
    """(n, h, w, c): an input gradient."""
    return (g["n"], g["h"], g["w"], g["c"])


def check_workgroup(ex, wg: int, shared_bytes: int) -> None:
    """Refuse a pipeline the device's limits cannot run (software Vulkan does not check)."""
    if wg > ex.max_workgroup or shared_bytes > ex.max_shared:
        raise RuntimeError(f"workgroup of {wg} invocations and {shared_bytes} bytes of "
                           f"workgroup memory exceeds the device limits ({ex.max_workgroup}, "
                           f"{ex.max_shared})")


def _per_element(ex, entry, a, b, out, g, total, m=1, blocks=1):
    """One invocation per item of `total`."""
    check_workgroup(ex, WG, 4 * WG)
    gx, gy = ex.grid(total, WG)
    ex.dispatch("conv", [a, b, out], (gx, gy), geo_uniform(g, total, gx * WG, m, blocks),
                entry=entry, WG=WG, OCB=OCB)


def _per_workgroup(ex, entry, a, b, out, g, total, m=1):
    """One workgroup of RED_WG invocations per item of `total` (a reduction)."""
    check_workgroup(ex, RED_WG, 4 * RED_WG)
    gx, gy = ex.grid(total, 1)
    ex.dispatch("conv", [a, b, out], (gx, gy), geo_uniform(g, total, gx, m),
                entry=entry, WG=RED_WG, OCB=OCB)


@kernel("conv")
def conv(ex, params, ins):
    x, k = ins
    g, out = checked_output(ex, "conv", params, ins, output_shape, x.dtype)
    if out.numel:
        blocks = -(-g["out_c"] // OCB)
        total = g["n"] * g["oh"] * g["ow"] * blocks
        _per_element(ex, "conv_fwd", x, k, out, g, total, blocks=blocks)
    return out


@kernel("conv_input_grad")
def conv_input_grad(ex, params, ins):
    dy, k = ins
    g, out = checked_output(ex, "conv_input_grad", params, ins, input_shape, dy.dtype)
    if out.numel:
        _per_element(ex, "conv_input_grad", dy, k, out, g, out.numel)
    return out


def _kernel_shape(g) -> tuple:
    return (g["kh"], g["kw"], g["c"], g["out_c"])


@kernel("conv_kernel_grad")
def conv_kernel_grad(ex, params, ins):
    x, dy = ins
    g, out = checked_output(ex, "conv_kernel_grad", params, ins, _kernel_shape, x.dtype)
    if out.numel:
        _per_workgroup(ex, "conv_kernel_grad", x, dy, out, g, out.numel)
    return out


def _multiplier(g) -> int:
    return g["out_c"] // max(g["c"], 1)


def _depthwise_kernel_shape(g) -> tuple:
    return (g["kh"], g["kw"], g["c"], _multiplier(g))


@kernel("depthwise_conv")
def depthwise_conv(ex, params, ins):
    x, k = ins
    g, out = checked_output(ex, "depthwise_conv", params, ins, output_shape, x.dtype)
    if out.numel:
        _per_element(ex, "dw_fwd", x, k, out, g, out.numel, m=max(_multiplier(g), 1))
    return out


@kernel("depthwise_conv_input_grad")
def depthwise_conv_input_grad(ex, params, ins):
    dy, k = ins
    g, out = checked_output(ex, "depthwise_conv_input_grad", params, ins, input_shape, dy.dtype)
    if out.numel:
        _per_element(ex, "dw_input_grad", dy, k, out, g, out.numel, m=_multiplier(g))
    return out


@kernel("depthwise_conv_kernel_grad")
def depthwise_conv_kernel_grad(ex, params, ins):
    x, dy = ins
    g, out = checked_output(ex, "depthwise_conv_kernel_grad", params, ins,
                            _depthwise_kernel_shape, x.dtype)
    if out.numel:
        _per_workgroup(ex, "dw_kernel_grad", x, dy, out, g, out.numel, m=_multiplier(g))
    return out

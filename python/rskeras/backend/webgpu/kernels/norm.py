"""Fused batch and layer normalization over the last axis (`shaders/norm.wgsl`), forward and
backward; the CPU kernels in `rust/ops/norm.rs` are the reference. Statistics accumulate in
float32 with a two-pass variance; reductions take one workgroup per channel (batch norm) or
per row (layer norm)."""

from __future__ import annotations

from rskeras.backend.webgpu.executor import kernel, pack
from rskeras.backend.webgpu.kernels.conv import check_float, check_workgroup

WG = 64  # invocations per workgroup (elementwise and reductions)


def _rows_c(x):
    c = x.shape[-1] if x.shape else 1
    return (x.numel // c if c else 0), c


def _params(rows, c, total, row, eps=0.0):
    return pack(rows, c, total, row, float(eps), 0, 0, 0)


def _per_element(ex, entry, arrays, rows, c, eps):
    total = arrays[-1].numel
    gx, gy = ex.grid(total, WG)
    ex.dispatch("norm", arrays, (gx, gy), _params(rows, c, total, gx * WG, eps),
                entry=entry, WG=WG)


def _per_group(ex, entry, arrays, rows, c, groups, eps=0.0):
    """One workgroup of WG invocations per item of `groups` (a channel, row or column)."""
    check_workgroup(ex, WG, 2 * 4 * WG)
    gx, gy = ex.grid(groups, 1)
    ex.dispatch("norm", arrays, (gx, gy), _params(rows, c, groups, gx, eps),
                entry=entry, WG=WG)


def _checked(ex, op, ins, stats=False):
    """Every operand checked to be float, then (rows, c) of x (the first) and the empty
    output: x's shape, or (2, c) for per-channel results (statistics, parameter gradients)."""
    x = ins[0]
    check_float(op, *ins)
    rows, c = _rows_c(x)
    return rows, c, ex.empty((2, c) if stats else x.shape, x.dtype)


@kernel("moments")
def moments(ex, params, ins):
    (x,) = ins
    rows, c, out = _checked(ex, "moments", ins, stats=True)
    if c:
        _per_group(ex, "moments", [x, out], rows, c, c)
    return out


@kernel("batch_normalization")
def batch_normalization(ex, params, ins):
    x, stats, gamma, beta = ins
    rows, c, out = _checked(ex, "batch_normalization", ins)
    if out.numel:
        _per_element(ex, "bn_fwd", [x, stats, gamma, beta, out], rows, c, params["epsilon"])
    return out


@kernel("batch_normalization_grad_sums")
def batch_normalization_grad_sums(ex, params, ins):
    x, dy, stats = ins
    rows, c, out = _checked(ex, "batch_normalization_grad_sums", ins, stats=True)
    if c:
        _per_group(ex, "bn_grad_sums", [x, dy, stats, out], rows, c, c, params["epsilon"])
    return out


@kernel("batch_normalization_input_grad")
def batch_normalization_input_grad(ex, params, ins):
    x, dy, stats, gamma, sums = ins
    rows, c, out = _checked(ex, "batch_normalization_input_grad", ins)
    if out.numel:
        _per_element(ex, "bn_input_grad", [x, dy, stats, gamma, sums, out], rows, c,
                     params["epsilon"])
    return out


@kernel("layer_normalization")
def layer_normalization(ex, params, ins):
    x, gamma, beta = ins
    rows, d, out = _checked(ex, "layer_normalization", ins)
    if out.numel:
        _per_group(ex, "ln_fwd", [x, gamma, beta, out], rows, d, rows, params["epsilon"])
    return out


@kernel("layer_normalization_input_grad")
def layer_normalization_input_grad(ex, params, ins):
    x, dy, gamma = ins
    rows, d, out = _checked(ex, "layer_normalization_input_grad", ins)
    if out.numel:
        _per_group(ex, "ln_input_grad", [x, dy, gamma, out], rows, d, rows, params["epsilon"])
    return out


@kernel("layer_normalization_param_grad")
def layer_normalization_param_grad(ex, params, ins):
    x, dy = ins
    rows, d, out = _checked(ex, "layer_normalization_param_grad", ins, stats=True)
    if d:
        stats = ex.empty((max(rows, 1), 4), "float32")
        if rows:
            _per_group(ex, "ln_row_stats", [x, stats], rows, d, rows, params["epsilon"])
        _per_group(ex, "ln_param_grad", [x, dy, stats, out], rows, d, d)
    return out

"""Reductions (`shaders/reduce.wgsl`): sum, prod, mean, max, min over any axes; argmax and
argmin along one axis; cumsum and cumprod.

A reduction views its input as (outer, len, inner): the reduced axes, merged, form `len`. When
they are not adjacent (once size-1 axes are dropped), the input is first transposed into
(kept..., reduced...) by a strided copy. Short reduced axes run one invocation per output;
longer ones one workgroup per output with a tree in workgroup memory, in several passes past
`CHUNK_ITEMS` elements per invocation. Output dtypes follow the CPU kernels: the core has
already widened (sum of bool to int32, mean of integers to float32), so a reduction keeps its
input's dtype and the arg-reductions give int32.
"""

from __future__ import annotations

import math

from rskeras.backend.webgpu.executor import kernel, pack
from rskeras.backend.webgpu.kernels.layout import cast, transpose, wrap_narrow

LANE_WG = 64  # invocations per workgroup of the one-invocation-per-output entries
LANES_MAX_LEN = 32  # reduced lengths up to this run one invocation per output
CHUNK_ITEMS = 64  # elements one invocation folds before the next pass takes over
FLOATS = ("float32", "float16", "bfloat16")

NEG_INF, POS_INF = "bitcast<f32>(0xff800000u)", "bitcast<f32>(0x7f800000u)"
I32_MIN, I32_MAX = "bitcast<i32>(0x80000000u)", "i32(0x7fffffff)"
F32_NAN = "(bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u"


def _pick(better: str) -> str:
    """A max/min combine that propagates NaN (the CPU kernel's `pick`)."""
    return f"select(select(a, b, {better} || is_nan(b)), a, is_nan(a))"


def _subs(t: str, kind: str, wg: int, to: str | None = None) -> dict:
    """Template values for element type `t` and `kind` (sum, prod, max, min, argmax, argmin)."""
    zero, one = f"{t}(0)", f"{t}(1)"
    ident, comb, better, rev = zero, "a", "false", "false"
    if kind in ("sum", "mean"):
        ident, comb = zero, "a + b"
    elif kind == "prod":
        ident, comb = one, "a * b"
    elif kind in ("max", "min"):
        big = kind == "max"
        ident = {"f32": NEG_INF if big else POS_INF, "i32": I32_MIN if big else I32_MAX,
                 "u32": "0u" if big else "1u"}[t]
        comb = _pick("b > a" if big else "b < a")
    elif kind in ("argmax", "argmin"):
        big = kind == "argmax"
        better, rev = ("b > a", "b < a") if big else ("b < a", "b > a")
    return {"T": t, "TO": to or t, "IDENT": ident, "COMBINE": comb,
            "ISNAN": F32_NAN if t == "f32" else "false", "BETTER": better, "BETTER_REV": rev,
            "WG": wg}


def _pow2(n: int, cap: int) -> int:
    """The power of two at least `n` (at least 1), at most the largest power of two <= cap."""
    cap = 1 << (max(1, int(cap)).bit_length() - 1)
    return max(1, min(cap, 1 << max(0, int(n) - 1).bit_length()))


def _tree_wg(ex, n: int) -> int:
    """Invocations of a workgroup-tree entry for a reduced axis of `n`: a power of two within
    the device's invocation limit and its workgroup memory (8 bytes per invocation at most:
    a value and an index)."""
    return _pow2(n, min(ex.max_workgroup, ex.max_shared // 8))


def _params(outer, length, inner, chunk=0, nchunks=1, row=0, finalize=0, reverse=0,
            exclusive=0, scale=1.0):
    return pack(outer, length, inner, chunk, nchunks, row, finalize, reverse, exclusive,
                float(scale))


def _view(shape, axes):
    """`(perm, outer, len, inner)`: `perm` (or None) moves the reduced axes last when they are
    not adjacent; `outer * len * inner` is the input's size."""
    dims = [(d, i in axes) for i, d in enumerate(shape) if d != 1]
    runs = []  # merged (size, reduced) runs
    for d, r in dims:
        if runs and runs[-1][1] == r:
            runs[-1][0] *= d
        else:
            runs.append([d, r])
    if sum(r for _, r in runs) <= 1:
        outer = length = inner = 1
        seen = False
        for d, r in runs:
            if r:
                length, seen = d, True
            elif seen:
                inner *= d
            else:
                outer *= d
        return None, outer, length, inner
    kept = [i for i in range(len(shape)) if i not in axes]
    length = math.prod(shape[a] for a in axes)
    return kept + list(axes), math.prod(shape[a] for a in kept), length, 1


def _reduce_lanes(ex, x, out, kind, outer, length, inner, finalize=0, scale=1.0):
    n = outer * inner
    gx, gy = ex.grid(n, LANE_WG)
    ex.dispatch("reduce", [x, out], (gx, gy),
                _params(outer, length, inner, row=gx * LANE_WG, finalize=finalize, scale=scale),
                entry="reduce_lanes", **_subs(x.wgsl, kind, LANE_WG))


def reduce_view(ex, x, kind, outer, length, inner, out):
    """Reduce `x` viewed as (outer, length, inner) over the middle axis into `out`
    (outer * inner elements)."""
    count = length
    scale = (1.0 / count) if count else float("nan")
    fin = 1 if kind == "mean" else 0
    step = "sum" if kind == "mean" else kind
    if length <= LANES_MAX_LEN:
        _reduce_lanes(ex, x, out, step, outer, length, inner, fin, scale)
        return out
    wg = _tree_wg(ex, length)
    chunk = wg * CHUNK_ITEMS
    src = x
    while True:
        nchunks = math.ceil(length / chunk)
        last = nchunks == 1
        dst = out if last else ex.empty((outer, nchunks, inner), x.dtype)
        groups = ex.grid(outer * nchunks * inner * wg, wg)
        ex.dispatch("reduce", [src, dst], groups,
                    _params(outer, length, inner, chunk, nchunks, groups[0],
                            fin if last else 0, scale=scale),
                    entry="reduce", **_subs(x.wgsl, step, wg))
        if last:
            return out
        src, length = dst, nchunks
        if length <= LANES_MAX_LEN:
            _reduce_lanes(ex, src, out, step, outer, length, inner, fin, scale)
            return out
        wg = _tree_wg(ex, length)
        chunk = wg * CHUNK_ITEMS


@kernel("sum", "mean", "max", "min", "prod")
def _reduce(ex, params, ins):
    x = ins[0]
    kind = params["kind"]
    nd = len(x.shape)
    axes = sorted({int(a) % nd for a in params["axes"]}) if nd else []
    keepdims = bool(params["keepdims"])
    if kind == "mean" and x.dtype not in FLOATS:
        x = cast(ex, x, "float32")
    if kind in ("max", "min") and any(x.shape[a] == 0 for a in axes):
        raise ValueError(f"{kind}: zero-size reduction over axes {axes} of shape {x.shape} "
                         f"has no identity")
    if x.wgsl == "u32":  # bool: the CPU kernel folds with `or` (sum, max) and `and` (prod, min)
        kind = {"sum": "max", "prod": "min"}.get(kind, kind)
    shape = [1 if i in axes else d for i, d in enumerate(x.shape)] if keepdims else \
        [d for i, d in enumerate(x.shape) if i not in axes]
    out = ex.empty(shape, x.dtype)
    if out.numel == 0:
        return out
    perm, outer, length, inner = _view(x.shape, axes)
    if perm is not None:
        x = transpose(ex, x, perm)
    return wrap_narrow(ex, reduce_view(ex, x, kind, outer, length, inner, out))


@kernel("argmax", "argmin")
def _arg_reduce(ex, params, ins):
    x = ins[0]
    axis = int(params["axis"])
    kind = "argmax" if params["max"] else "argmin"
    length = x.shape[axis]
    if length == 0:
        raise ValueError(f"{kind}: attempt to get {kind} of an empty axis (shape {x.shape})")
    outer, inner = math.prod(x.shape[:axis]), math.prod(x.shape[axis + 1:])
    shape = list(x.shape)
    if params["keepdims"]:
        shape[axis] = 1
    else:
        shape.pop(axis)
    out = ex.empty(shape, "int32")
    n = out.numel
    if n == 0:
        return out
    if length <= LANES_MAX_LEN:
        gx, gy = ex.grid(n, LANE_WG)
        ex.dispatch("reduce", [x, out], (gx, gy), _params(outer, length, inner, row=gx * LANE_WG),
                    entry="argreduce_lanes", **_subs(x.wgsl, kind, LANE_WG, "i32"))
    else:
        wg = _tree_wg(ex, length)
        groups = ex.grid(n * wg, wg)
        ex.dispatch("reduce", [x, out], groups, _params(outer, length, inner, row=groups[0]),
                    entry="argreduce", **_subs(x.wgsl, kind, wg, "i32"))
    return out


@kernel("cumsum", "cumprod")
def _cumulative(ex, params, ins):
    x = ins[0]
    if x.dtype == "bool":
        x = cast(ex, x, "int32")
    axis = int(params["axis"])
    out = ex.empty(x.shape, x.dtype)
    if out.numel == 0:
        return out
    length = x.shape[axis]
    outer, inner = math.prod(x.shape[:axis]), math.prod(x.shape[axis + 1:])
    gx, gy = ex.grid(outer * inner, LANE_WG)
    ex.dispatch("reduce", [x, out], (gx, gy),
                _params(outer, length, inner, row=gx * LANE_WG, reverse=int(params["reverse"]),
                        exclusive=int(params["exclusive"])),
                entry="cumulative", **_subs(x.wgsl, "prod" if params["prod"] else "sum", LANE_WG))
    return wrap_narrow(ex, out)

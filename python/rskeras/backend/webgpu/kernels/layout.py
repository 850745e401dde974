"""Layout ops (`shaders/layout.wgsl`, `shaders/where.wgsl`): transpose, broadcast_to, slice,
slice_grad, concatenate, cast, clip and where.

Transpose, broadcast_to, slice and concatenate are one strided copy each (concatenate: one per
input, into its block of the output) of raw 32-bit words, so one pipeline serves every dtype.
Cast and clip are the same copy with a conversion expression (NumPy `astype` semantics as the
CPU kernel: floats truncate toward zero, NaN to 0, non-zero is true, narrow integers wrap).
"""

from __future__ import annotations

import numpy as np

from rskeras.backend.webgpu.buffers import wgsl_type
from rskeras.backend.webgpu.executor import kernel, pack
from rskeras.backend.webgpu.kernels.elementwise import broadcast_strides

WG = 256
FLOATS = ("float32", "float16", "bfloat16")


def row_major(shape) -> list[int]:
    """Element strides of a contiguous array of `shape`."""
    strides, acc = [0] * len(shape), 1
    for i in range(len(shape) - 1, -1, -1):
        strides[i] = acc
        acc *= int(shape[i])
    return strides


def strided_copy(ex, x, out, shape, src_strides, src_base=0, dst_strides=None, dst_base=0,
                 expr="x", ti="u32", to="u32", lo=0.0, hi=0.0):
    """Record `out[dst_base + c . dst_strides] = expr(x[src_base + c . src_strides])` for
    every index `c` of `shape` (dst strides default to `shape`'s row-major ones); `expr` may
    read the bounds `lo` and `hi` as `p.lo`, `p.hi` (clip)."""
    n = int(np.prod(shape, dtype=np.int64))
    if n == 0:
        return out
    dst_strides = row_major(shape) if dst_strides is None else dst_strides
    meta = np.array(list(shape) + list(src_strides) + list(dst_strides) or [0], dtype=np.int32)
    gx, gy = ex.grid(n, WG)
    ex.dispatch("layout", [x, ex.constant(meta), out], (gx, gy),
                pack(n, gx * WG, len(shape), int(src_base), int(dst_base), float(lo), float(hi)),
                entry="copy", TI=ti, TO=to, EXPR=expr, WG=WG)
    return out


def transpose(ex, x, perm):
    """A contiguous copy of `x` with its axes permuted."""
    perm = [int(a) for a in perm]
    shape = tuple(x.shape[a] for a in perm)
    st = row_major(x.shape)
    return strided_copy(ex, x, ex.empty(shape, x.dtype), shape, [st[a] for a in perm])


@kernel("transpose")
def _transpose(ex, params, ins):
    return transpose(ex, ins[0], params["perm"])


@kernel("broadcast_to")
def _broadcast_to(ex, params, ins):
    x = ins[0]
    shape = tuple(int(d) for d in params["shape"])
    return strided_copy(ex, x, ex.empty(shape, x.dtype), shape, broadcast_strides(x.shape, shape))


@kernel("slice")
def _slice(ex, params, ins):
    x = ins[0]
    shape = tuple(int(d) for d in params["shape"])
    starts, steps = params["starts"], params["steps"]
    st = row_major(x.shape)
    base = sum(int(s) * o for s, o in zip(starts, st))
    return strided_copy(ex, x, ex.empty(shape, x.dtype), shape,
                        [int(s) * o for s, o in zip(steps, st)], src_base=base)


@kernel("slice_grad")
def _slice_grad(ex, params, ins):
    g = ins[0]
    in_shape = tuple(int(d) for d in params["in_shape"])
    out = ex.empty(in_shape, g.dtype)
    n = out.numel
    if n:
        nd = len(in_shape)
        meta = np.array(list(in_shape) + [int(s) for s in params["starts"]]
                        + [int(s) for s in params["steps"]] + list(g.shape[:nd]) or [0],
                        dtype=np.int32)
        gx, gy = ex.grid(n, WG)
        ex.dispatch("layout", [g, ex.constant(meta), out], (gx, gy),
                    pack(n, gx * WG, nd, 0, 0, 0.0, 0.0),
                    entry="slice_grad", TI="u32", TO="u32", EXPR="x", WG=WG)
    return out


@kernel("concatenate")
def _concatenate(ex, params, ins):
    axis = int(params["axis"])
    first = ins[0]
    for x in ins[1:]:
        if x.dtype != first.dtype:
            raise TypeError(f"concatenate: inputs must share one dtype, got {first.dtype} "
                            f"and {x.dtype}")
        if len(x.shape) != len(first.shape) or any(
                a != b for i, (a, b) in enumerate(zip(x.shape, first.shape)) if i != axis):
            raise ValueError(f"concatenate: all sizes except along axis {axis} must match, "
                             f"got shapes {first.shape} and {x.shape}")
    shape = list(first.shape)
    shape[axis] = sum(x.shape[axis] for x in ins)
    out = ex.empty(shape, first.dtype)
    ost = row_major(shape)
    offset = 0
    for x in ins:
        strided_copy(ex, x, out, x.shape, row_major(x.shape), dst_strides=ost,
                     dst_base=offset * ost[axis])
        offset += x.shape[axis]
    return out


def cast_expr(src: str, dst: str) -> str:
    """The WGSL expression converting `x` stored for dtype `src` to dtype `dst`'s storage."""
    ts = wgsl_type(src)
    if dst == "bool":
        # bits, not `x != 0.0`: NaN is true, and some drivers compare NaN as ordered
        return {"f32": "u32((bitcast<u32>(x) & 0x7fffffffu) != 0u)", "i32": "u32(x != 0)",
                "u32": "x"}[ts]
    td = wgsl_type(dst)
    if td == "f32":
        base = "x" if ts == "f32" else "f32(x)"
        if dst == "float16" and src != "float16":
            return f"to_f16({base})"
        if dst == "bfloat16" and src != "bfloat16":
            return f"to_bf16({base})"
        return base
    if td == "i32":
        base = {"f32": "f32_to_i32(x)", "i32": "x", "u32": "i32(x)"}[ts]
        wrap = {"int8": "(({b}) << 24u) >> 24u", "int16": "(({b}) << 16u) >> 16u",
                "uint8": "({b}) & 255"}.get(dst, "{b}")
        return wrap.format(b=base)
    raise TypeError(f"cast: dtype {dst} is not supported on the gpu device")


def cast(ex, x, dtype: str):
    """`x` converted to `dtype` (a new array)."""
    out = ex.empty(x.shape, dtype)
    n = x.numel
    return strided_copy(ex, x, out, (n,), (1,), expr=cast_expr(x.dtype, dtype),
                        ti=x.wgsl, to=out.wgsl)


def wrap_narrow(ex, x):
    """`x` with int8/int16/uint8 values wrapped into their dtype's range, as the CPU stores a
    result computed in int32 back in the narrow dtype (other dtypes: `x` itself)."""
    if x.dtype in ("int8", "int16", "uint8") and x.numel:
        return cast(ex, x, x.dtype)
    return x


@kernel("cast")
def _cast(ex, params, ins):
    return cast(ex, ins[0], params["dtype"])


@kernel("clip")
def _clip(ex, params, ins):
    x = ins[0]
    if x.dtype not in FLOATS:
        raise TypeError(f"clip: expected a float tensor, got {x.dtype}")
    return strided_copy(ex, x, ex.empty(x.shape, x.dtype), (x.numel,), (1,),
                        expr="select(select(x, p.hi, x > p.hi), p.lo, x < p.lo)",
                        ti="f32", to="f32", lo=params["min"], hi=params["max"])


@kernel("where")
def _where(ex, params, ins):
    c, x, y = ins
    if c.dtype != "bool":
        c = cast(ex, c, "bool")
    if y.dtype != x.dtype:
        raise TypeError(f"where: x and y must share one dtype, got {x.dtype} and {y.dtype}")
    shape = tuple(np.broadcast_shapes(c.shape, x.shape, y.shape))
    out = ex.empty(shape, x.dtype)
    n = out.numel
    if n:
        meta = np.array(list(shape) + broadcast_strides(c.shape, shape)
                        + broadcast_strides(x.shape, shape) + broadcast_strides(y.shape, shape)
                        or [0], dtype=np.uint32)
        gx, gy = ex.grid(n, WG)
        ex.dispatch("where", [c, x, y, ex.constant(meta), out], (gx, gy),
                    pack(n, gx * WG, len(shape)), WG=WG)
    return out

"""Element-wise unary and binary ops (`shaders/unary.wgsl`, `shaders/binary.wgsl`). Each op
is one WGSL expression substituted into its arity's template; NumPy semantics (broadcasting,
floor division and modulo signs, integer power). `where`, `clip` and `cast` are in
`layout.py`."""

from __future__ import annotations

import numpy as np

from rskeras.backend.webgpu.executor import kernel, pack

WG = 256
NAN = "bitcast<f32>(0x7fc00000u)"

# op -> WGSL expression of x, by storage type.
UNARY_F32 = {
    "negative": "-x", "abs": "abs(x)", "sign": "sign(x)", "square": "x * x", "sqrt": "sqrt(x)",
    "rsqrt": "inverseSqrt(x)", "reciprocal": "1.0 / x", "exp": "exp(x)",
    "expm1": "select(exp(x) - 1.0, x + 0.5 * x * x, abs(x) < 1e-4)",
    "log": "log(x)", "log1p": "select(log(1.0 + x), x - 0.5 * x * x, abs(x) < 1e-4)",
    "log2": "log2(x)", "log10": "log2(x) * 0.30102999566398120",
    "sin": "sin(x)", "cos": "cos(x)", "tan": "tan(x)", "arcsin": "asin(x)", "arccos": "acos(x)",
    "arctan": "atan(x)", "sinh": "sinh(x)", "cosh": "cosh(x)", "tanh": "tanh(x)",
    # asinh: the builtin loses ~6e-6 relative near 0 and overflows x*x past 1.8e19; a
    # Taylor series below 0.125 (next term < 2e-9 relative) and log(2|x|) past 1e18.
    "arcsinh": "select(select(sign(x) * (log(abs(x)) + 0.6931471805599453), "
               "sign(x) * log(abs(x) + sqrt(x * x + 1.0)), abs(x) < 1e18), "
               "x * (1.0 - x * x * (1.0 / 6.0 - x * x * (3.0 / 40.0 - x * x * (15.0 / 336.0 "
               "- x * x * (105.0 / 3456.0))))), abs(x) < 0.125)",
    "arccosh": "acosh(x)", "arctanh": "atanh(x)",
    "floor": "floor(x)", "ceil": "ceil(x)", "round": "round(x)", "erf": "erf_f32(x)",
    "relu": "max(x, 0.0)", "sigmoid": "1.0 / (1.0 + exp(-x))",
    "softplus": "max(x, 0.0) + log(1.0 + exp(-abs(x)))",
}
UNARY_BOOL_OF_F32 = {
    "isnan": "u32(bits(x) > 0x7f800000u)", "isinf": "u32(bits(x) == 0x7f800000u)",
    "isfinite": "u32(bits(x) < 0x7f800000u)",
}
UNARY_I32 = {"negative": "-x", "abs": "abs(x)", "sign": "sign(x)", "square": "x * x",
             "relu": "max(x, 0)", "floor": "x", "ceil": "x", "round": "x"}

BINARY_F32 = {
    "add": "x + y", "subtract": "x - y", "multiply": "x * y", "divide": "x / y",
    "floor_divide": "floor(x / y)", "mod": "select(x - floor(x / y) * y, " + NAN + ", y == 0.0)",
    "power": "pow_f32(x, y)", "arctan2": "atan2(x, y)",
    "divide_no_nan": "select(x / y, 0.0, y == 0.0)", "maximum": "max(x, y)",
    "minimum": "min(x, y)", "relu_grad": "select(0.0, y, x > 0.0)",
}
BINARY_I32 = {
    "add": "x + y", "subtract": "x - y", "multiply": "x * y", "floor_divide": "floordiv_i32(x, y)",
    "mod": "mod_i32(x, y)", "power": "pow_i32(x, y)", "maximum": "max(x, y)", "minimum": "min(x, y)",
}
COMPARE = {"equal": "x == y", "not_equal": "x != y", "less": "x < y", "less_equal": "x <= y",
           "greater": "x > y", "greater_equal": "x >= y"}
LOGICAL = {"logical_and": "x & y", "logical_or": "x | y"}


def _unary(ex, op, x):
    t = x.wgsl
    out_dtype = x.dtype
    if op == "logical_not":
        expr, out_dtype = ("1u - x" if t == "u32" else "u32(x == 0)"), "bool"
    elif t == "f32" and op in UNARY_BOOL_OF_F32:
        expr, out_dtype = UNARY_BOOL_OF_F32[op], "bool"
    elif op in ("isnan", "isinf"):
        expr, out_dtype = "0u * u32(x)", "bool"
    elif op == "isfinite":
        expr, out_dtype = "1u + 0u * u32(x)", "bool"
    elif t == "f32" and op in UNARY_F32:
        expr = UNARY_F32[op]
    elif t == "i32" and op in UNARY_I32:
        expr = UNARY_I32[op]
    elif t == "u32" and op in ("abs", "square", "sign", "relu"):
        expr = "x" if op != "square" else "x * x"
    else:
        raise NotImplementedError(f"{op}: no GPU kernel for dtype {x.dtype}")
    out = ex.empty(x.shape, out_dtype)
    if x.numel:
        gx, gy = ex.grid(x.numel, WG)
        ex.dispatch("unary", [x, out], (gx, gy), pack(x.numel, gx * WG),
                    TA=t, TO=out.wgsl, EXPR=expr, WG=WG)
    return out


def broadcast_strides(shape, out_shape) -> list[int]:
    """Element strides of `shape` inside the broadcast `out_shape` (0 along broadcast axes)."""
    shape = (1,) * (len(out_shape) - len(shape)) + tuple(shape)
    strides, acc = [0] * len(shape), 1
    for i in range(len(shape) - 1, -1, -1):
        strides[i] = 0 if shape[i] == 1 else acc
        acc *= shape[i]
    return strides


def binary_into(ex, expr, x, y, out_dtype):
    """Run the binary template with `expr` over broadcast `x`, `y`; a new array."""
    shape = tuple(np.broadcast_shapes(x.shape, y.shape))
    out = ex.empty(shape, out_dtype)
    n = out.numel
    if n:
        meta = np.array(list(shape) + broadcast_strides(x.shape, shape)
                        + broadcast_strides(y.shape, shape) or [0], dtype=np.uint32)
        shp = ex.constant(meta)
        gx, gy = ex.grid(n, WG)
        ex.dispatch("binary", [x, y, shp, out], (gx, gy), pack(n, gx * WG, len(shape)),
                    TA=x.wgsl, TO=out.wgsl, EXPR=expr, WG=WG)
    return out


def _binary(ex, op, x, y):
    t = x.wgsl
    if op in COMPARE:
        return binary_into(ex, f"u32({COMPARE[op]})", x, y, "bool")
    if op in LOGICAL:
        expr = LOGICAL[op] if t == "u32" else f"u32((x != {t}(0)) {LOGICAL[op][2]}{LOGICAL[op][2]} (y != {t}(0)))"
        return binary_into(ex, expr, x, y, "bool")
    table = {"f32": BINARY_F32, "i32": BINARY_I32}.get(t, {"maximum": "max(x, y)", "minimum": "min(x, y)",
                                                          "multiply": "x & y", "add": "x | y"})
    if op not in table:
        raise NotImplementedError(f"{op}: no GPU kernel for dtype {x.dtype}")
    return binary_into(ex, table[op], x, y, x.dtype)


for _name in set(UNARY_F32) | set(UNARY_BOOL_OF_F32) | {"logical_not"}:
    kernel(_name)(lambda ex, params, ins, _op=_name: _unary(ex, _op, ins[0]))
for _name in set(BINARY_F32) | set(BINARY_I32) | set(COMPARE) | set(LOGICAL):
    kernel(_name)(lambda ex, params, ins, _op=_name: _binary(ex, _op, ins[0], ins[1]))

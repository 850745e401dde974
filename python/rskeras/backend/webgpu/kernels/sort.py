"""`argsort` on the gpu device (`shaders/sort.wgsl`): the int32 indices that sort each row
along `axis`, equal to the CPU kernel's stable sort (`cpu_argsort` in `rust/ops/shape.rs`):
ties keep their index order, NaN goes last ascending and first descending.

One invocation per element ranks it within its row (O(len^2) work per row, in parallel).
int64 values are stored as int32 on the device, bool as u32 0/1; both sort as integers.
"""

from __future__ import annotations

import math

from rskeras.backend.webgpu.executor import kernel, pack

WG = 256
# The expression of `v` that is true where `v` is NaN, by stored element type.
IS_NAN = {"f32": "is_nan_f32(v)", "i32": "false", "u32": "false"}  # is_nan_f32: prelude.wgsl


@kernel("argsort")
def argsort(ex, params, ins):
    x = ins[0]
    axis = int(params["axis"])
    out = ex.empty(x.shape, "int32")
    n = out.numel
    if n == 0:
        return out
    length, inner = x.shape[axis], math.prod(x.shape[axis + 1:])
    gx, gy = ex.grid(n, WG)
    ex.dispatch("sort", [x, out], (gx, gy),
                pack(n, gx * WG, length, inner, int(bool(params["descending"])), 0, 0, 0),
                entry="argsort", T=x.wgsl, ISNAN=IS_NAN[x.wgsl], WG=WG)
    return out

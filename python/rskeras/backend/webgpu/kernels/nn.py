"""Neural-network ops (`shaders/nn.wgsl`, one entry point per op, named as the op):
softmax / log_softmax and the fused sparse categorical cross-entropy with its gradient, one
workgroup per row with tree reductions in workgroup memory. Semantics as the CPU kernels in `rust/ops/nn.rs`; the one difference: a label
outside `[0, classes)` gives NaN (the values live on the GPU, so there is nothing to raise
from without waiting for them).
"""

from __future__ import annotations

import math

import numpy as np

from rskeras.backend.webgpu.executor import kernel, pack
from rskeras.backend.webgpu.kernels.layout import cast

FLOATS = ("float32", "float16", "bfloat16")
EPSILON = np.float32(1e-7)  # Keras's fuzz factor, as rust/ops/nn.rs
ONE_MINUS_EPSILON = np.float32(1.0) - EPSILON  # computed in f32, as the CPU kernel


def _wg(ex, length: int) -> int:
    """Invocations per row: a power of two up to the row length (at least 32), within the
    device's invocation limit and its workgroup memory (4 bytes per invocation)."""
    cap = min(ex.max_workgroup, ex.max_shared // 4)
    cap = 1 << (max(1, cap).bit_length() - 1)
    return min(cap, max(32, 1 << max(0, int(length) - 1).bit_length()))


@kernel("softmax", "log_softmax")
def _softmax(ex, params, ins):
    x = ins[0]
    axis = int(params["axis"])
    if x.dtype not in FLOATS:
        raise TypeError(f"softmax: expected a float tensor, got {x.dtype}")
    out = ex.empty(x.shape, x.dtype)
    if out.numel == 0:
        return out
    outer, length, inner = (math.prod(x.shape[:axis]), x.shape[axis],
                            math.prod(x.shape[axis + 1:]))
    wg = _wg(ex, length)
    groups = ex.grid(outer * inner * wg, wg)
    ex.dispatch("nn", [x, out], groups,
                pack(outer, length, inner, groups[0], int(bool(params["log"]))), entry="softmax", WG=wg)
    return out


def _ce_inputs(ex, output, target):
    if output.dtype != "float32":
        output = cast(ex, output, "float32")
    if target.wgsl != "i32":
        raise TypeError(f"sparse_categorical_crossentropy: target must hold integer class ids, "
                        f"got {target.dtype}")
    if len(output.shape) == 0 or tuple(target.shape) != tuple(output.shape[:-1]):
        raise ValueError(f"sparse_categorical_crossentropy: target shape {target.shape} must "
                         f"equal output shape {output.shape} without its last (class) axis")
    classes = output.shape[-1]
    return output, target, math.prod(output.shape[:-1]), classes


@kernel("sparse_categorical_crossentropy")
def _sparse_ce(ex, params, ins):
    output, target, rows, classes = _ce_inputs(ex, ins[0], ins[1])
    out = ex.empty(target.shape, "float32")
    if rows == 0:
        return out
    wg = _wg(ex, classes)
    groups = ex.grid(rows * wg, wg)
    ex.dispatch("nn", [output, target, out], groups,
                pack(rows, classes, groups[0], int(bool(params["from_logits"])), EPSILON,
                     ONE_MINUS_EPSILON), entry="sparse_categorical_crossentropy", checks=True, WG=wg)
    return out


@kernel("sparse_categorical_crossentropy_grad")
def _sparse_ce_grad(ex, params, ins):
    output, target, rows, classes = _ce_inputs(ex, ins[0], ins[1])
    g = ins[2]
    if g.dtype != "float32":
        g = cast(ex, g, "float32")
    if g.numel != rows:
        raise ValueError(f"sparse_categorical_crossentropy: the loss gradient has shape "
                         f"{g.shape}, expected {target.shape}")
    out = ex.empty(output.shape, "float32")
    if out.numel == 0:
        return out
    wg = _wg(ex, classes)
    groups = ex.grid(rows * wg, wg)
    ex.dispatch("nn", [output, target, g, out], groups,
                pack(rows, classes, groups[0], int(bool(params["from_logits"])), EPSILON,
                     ONE_MINUS_EPSILON), entry="sparse_categorical_crossentropy_grad", WG=wg)
    return out

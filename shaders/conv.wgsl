// 2-D convolution on channels_last (NHWC) tensors, with its gradients, and depthwise
// convolution (rust/ops/conv.rs is the reference). Kernels are (kh, kw, c, out_c); a depthwise
// kernel is (kh, kw, c, m) with output channel ch * m + j, which is the same flat layout.
//
// - conv_fwd: implicit GEMM, no im2col buffer: each invocation computes {{OCB}} consecutive
//   output channels of one output pixel, reading its receptive field straight from x.
// - conv_input_grad: a gather, no atomics: each invocation is one input element and sums over
//   the output positions whose window covers it.
// - conv_kernel_grad / dw_kernel_grad: one workgroup per kernel element; its invocations split
//   the (n, oh, ow) positions and the partial sums are reduced in workgroup memory.
// Every entry point uses exactly the bindings it declares (layout "auto").
struct Geo {
    n: u32, h: u32, w: u32, c: u32,
    kh: u32, kw: u32, out_c: u32, oh: u32,
    ow: u32, sh: u32, sw: u32, dh: u32,
    dw: u32, pad_top: u32, pad_left: u32, total: u32,
    row: u32, m: u32, blocks: u32, _p: u32,
}

// conv_fwd, depthwise fwd: (x, kernel) -> out
@group(0) @binding(0) var<storage, read> fx: array<f32>;
@group(0) @binding(1) var<storage, read> fk: array<f32>;
@group(0) @binding(2) var<storage, read_write> fout: array<f32>;
@group(0) @binding(3) var<uniform> p: Geo;

var<workgroup> red: array<f32, {{WG}}>;

// A window tap's input row (or column), or -1 in the padding (prelude's window_tap).
fn tap_y(oy: u32, ky: u32) -> i32 {
    return window_tap(oy, ky, p.sh, p.dh, p.pad_top, p.h);
}

fn tap_x(ox: u32, kx: u32) -> i32 {
    return window_tap(ox, kx, p.sw, p.dw, p.pad_left, p.w);
}

// The output row (or column) whose tap `ky` reads input row `y`, or -1 when none does.
fn out_y(y: u32, ky: u32) -> i32 {
    return window_out(y, ky, p.sh, p.dh, p.pad_top, p.oh);
}

fn out_x(x: u32, kx: u32) -> i32 {
    return window_out(x, kx, p.sw, p.dw, p.pad_left, p.ow);
}

// Sum of `v` over the workgroup (every invocation gets it); call in uniform control flow.
fn wg_sum(v: f32, lid: u32) -> f32 {
    red[lid] = v;
    workgroupBarrier();
    for (var s = {{WG}}u / 2u; s > 0u; s = s / 2u) {
        if (lid < s) {
            red[lid] = red[lid] + red[lid + s];
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}

@compute @workgroup_size({{WG}})
fn conv_fwd(@builtin(global_invocation_id) gid: vec3<u32>) {
    let idx = flat_index(gid, p.row);
    if (idx >= p.total) {
        return;
    }
    let blk = idx % p.blocks;
    let pix = idx / p.blocks;
    let ox = pix % p.ow;
    let oy = (pix / p.ow) % p.oh;
    let i = pix / (p.ow * p.oh);
    let oc0 = blk * {{OCB}}u;
    let nb = min({{OCB}}u, p.out_c - oc0);
    var acc: array<f32, {{OCB}}>;
    for (var j = 0u; j < {{OCB}}u; j = j + 1u) {
        acc[j] = 0.0;
    }
    for (var ky = 0u; ky < p.kh; ky = ky + 1u) {
        let y = tap_y(oy, ky);
        if (y < 0) {
            continue;
        }
        for (var kx = 0u; kx < p.kw; kx = kx + 1u) {
            let x = tap_x(ox, kx);
            if (x < 0) {
                continue;
            }
            let xb = ((i * p.h + u32(y)) * p.w + u32(x)) * p.c;
            let kb = (ky * p.kw + kx) * p.c;
            for (var ci = 0u; ci < p.c; ci = ci + 1u) {
                let xv = fx[xb + ci];
                let kr = (kb + ci) * p.out_c + oc0;
                for (var j = 0u; j < nb; j = j + 1u) {
                    acc[j] = acc[j] + xv * fk[kr + j];
                }
            }
        }
    }
    let ob = pix * p.out_c + oc0;
    for (var j = 0u; j < nb; j = j + 1u) {
        fout[ob + j] = acc[j];
    }
}

// dx at input element `idx`: the sum, over the output positions whose window tap (ky, kx)
// reads it, of dy[position, dy_off + j] * kernel[tap * tap_stride + k_off + j] for j < count.
// conv_input_grad and dw_input_grad differ only in which dy and kernel channels pair up.
// fx is dy here, fk the kernel.
fn input_grad_sum(idx: u32, dy_off: u32, tap_stride: u32, k_off: u32, count: u32) -> f32 {
    let x = (idx / p.c) % p.w;
    let y = (idx / (p.c * p.w)) % p.h;
    let i = idx / (p.c * p.w * p.h);
    var acc = 0.0;
    for (var ky = 0u; ky < p.kh; ky = ky + 1u) {
        let oy = out_y(y, ky);
        if (oy < 0) {
            continue;
        }
        for (var kx = 0u; kx < p.kw; kx = kx + 1u) {
            let ox = out_x(x, kx);
            if (ox < 0) {
                continue;
            }
            let gb = ((i * p.oh + u32(oy)) * p.ow + u32(ox)) * p.out_c + dy_off;
            let kb = (ky * p.kw + kx) * tap_stride + k_off;
            for (var j = 0u; j < count; j = j + 1u) {
                acc = acc + fx[gb + j] * fk[kb + j];
            }
        }
    }
    return acc;
}

// dk at kernel tap (ky, kx) for input channel `ci` and output channel `oc`, written by
// invocation 0 of the workgroup: the invocations split the (n, oh, ow) positions (lid, lid +
// WG, ...) and wg_sum adds their shares. conv_kernel_grad and dw_kernel_grad differ only in
// how the element decodes. fx is x, fk is dy. Call in uniform control flow (wg_sum).
fn kernel_grad_store(e: u32, ky: u32, kx: u32, ci: u32, oc: u32, lid: u32) {
    let positions = p.n * p.oh * p.ow;
    var acc = 0.0;
    for (var r = lid; r < positions; r = r + {{WG}}u) {
        let ox = r % p.ow;
        let oy = (r / p.ow) % p.oh;
        let i = r / (p.ow * p.oh);
        let y = tap_y(oy, ky);
        let x = tap_x(ox, kx);
        if (y >= 0 && x >= 0) {
            acc = acc + fx[((i * p.h + u32(y)) * p.w + u32(x)) * p.c + ci] * fk[r * p.out_c + oc];
        }
    }
    let s = wg_sum(acc, lid);
    if (lid == 0u) {
        fout[e] = s;
    }
}

@compute @workgroup_size({{WG}})
fn conv_input_grad(@builtin(global_invocation_id) gid: vec3<u32>) {
    // (dy, kernel) -> dx: every output channel of kernel row (ky, kx, ci).
    let idx = flat_index(gid, p.row);
    if (idx >= p.total) {
        return;
    }
    let ci = idx % p.c;
    fout[idx] = input_grad_sum(idx, 0u, p.c * p.out_c, ci * p.out_c, p.out_c);
}

@compute @workgroup_size({{WG}})
fn conv_kernel_grad(@builtin(workgroup_id) wid: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
    // (x, dy) -> dk (kh, kw, c, out_c). One workgroup per element.
    let e = flat_index(wid, p.row);
    if (e >= p.total) {
        return;
    }
    let oc = e % p.out_c;
    let ci = (e / p.out_c) % p.c;
    let kx = (e / (p.out_c * p.c)) % p.kw;
    let ky = e / (p.out_c * p.c * p.kw);
    kernel_grad_store(e, ky, kx, ci, oc, lid);
}

@compute @workgroup_size({{WG}})
fn dw_fwd(@builtin(global_invocation_id) gid: vec3<u32>) {
    // (x, kernel (kh, kw, c, m)) -> out[..., ch * m + j]
    let idx = flat_index(gid, p.row);
    if (idx >= p.total) {
        return;
    }
    let oc = idx % p.out_c;
    let pix = idx / p.out_c;
    let ox = pix % p.ow;
    let oy = (pix / p.ow) % p.oh;
    let i = pix / (p.ow * p.oh);
    let ch = oc / p.m;
    var acc = 0.0;
    for (var ky = 0u; ky < p.kh; ky = ky + 1u) {
        let y = tap_y(oy, ky);
        if (y < 0) {
            continue;
        }
        for (var kx = 0u; kx < p.kw; kx = kx + 1u) {
            let x = tap_x(ox, kx);
            if (x < 0) {
                continue;
            }
            acc = acc + fx[((i * p.h + u32(y)) * p.w + u32(x)) * p.c + ch]
                * fk[(ky * p.kw + kx) * p.out_c + oc];
        }
    }
    fout[idx] = acc;
}

@compute @workgroup_size({{WG}})
fn dw_input_grad(@builtin(global_invocation_id) gid: vec3<u32>) {
    // (dy, kernel) -> dx: the m output channels ch * m + j of input channel ch.
    let idx = flat_index(gid, p.row);
    if (idx >= p.total) {
        return;
    }
    let ch = idx % p.c;
    fout[idx] = input_grad_sum(idx, ch * p.m, p.out_c, ch * p.m, p.m);
}

@compute @workgroup_size({{WG}})
fn dw_kernel_grad(@builtin(workgroup_id) wid: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    // (x, dy) -> dk (kh, kw, c, m). One workgroup per element.
    let e = flat_index(wid, p.row);
    if (e >= p.total) {
        return;
    }
    let oc = e % p.out_c;
    let kx = (e / p.out_c) % p.kw;
    let ky = e / (p.out_c * p.kw);
    kernel_grad_store(e, ky, kx, oc / p.m, oc, lid);
}

// Max and average pooling on channels_last (NHWC) tensors, their gradients, and the
// max-pooling argmax (rust/ops/conv.rs is the reference). Windows walk taps in (ky, kx) order.
//
// - pool_fwd: one invocation per output element; max keeps NaN (a NaN tap wins, and nothing
//   replaces a NaN), average divides by the number of valid taps (padding excluded).
// - pool_grad: a gather, no atomics: each input element sums, over the outputs whose window
//   covers it, dy (max: only where it is the window's FIRST maximum, found by rescanning the
//   window with the CPU rule: the first tap, then strictly larger taps) or dy / count (average).
// - pool_argmax: int32 index into its image (h * w * c) of each window's first maximum, a NaN
//   tap winning over a non-NaN one.
// - pool_argmax_grad: a gather: each input element sums dy over the covering outputs of its
//   channel whose argmax points at it.
struct Geo {
    n: u32, h: u32, w: u32, c: u32,
    kh: u32, kw: u32, out_c: u32, oh: u32,
    ow: u32, sh: u32, sw: u32, dh: u32,
    dw: u32, pad_top: u32, pad_left: u32, total: u32,
    row: u32, is_max: u32, _p0: u32, _p1: u32,
}

// pool_fwd: (x) -> out
@group(0) @binding(0) var<storage, read> px: array<f32>;
@group(0) @binding(1) var<storage, read_write> pout: array<f32>;
@group(0) @binding(2) var<uniform> p: Geo;

// pool_argmax: (x) -> idx
@group(0) @binding(1) var<storage, read_write> aout: array<i32>;

// pool_grad: (x, dy) -> dx; pool_argmax_grad: (dy, idx) -> dx
@group(0) @binding(1) var<storage, read> gdy: array<f32>;
@group(0) @binding(1) var<storage, read> gidx: array<i32>;
@group(0) @binding(2) var<storage, read_write> gout: array<f32>;
@group(0) @binding(3) var<uniform> q: Geo;

// A window tap's input row (or column), or -1 in the padding (prelude's window_tap).
fn tap_y(g: Geo, oy: u32, ky: u32) -> i32 {
    return window_tap(oy, ky, g.sh, g.dh, g.pad_top, g.h);
}

fn tap_x(g: Geo, ox: u32, kx: u32) -> i32 {
    return window_tap(ox, kx, g.sw, g.dw, g.pad_left, g.w);
}

// The output row (or column) whose tap `ky` reads input row `y`, or -1 when none does.
fn out_y(g: Geo, y: u32, ky: u32) -> i32 {
    return window_out(y, ky, g.sh, g.dh, g.pad_top, g.oh);
}

fn out_x(g: Geo, x: u32, kx: u32) -> i32 {
    return window_out(x, kx, g.sw, g.dw, g.pad_left, g.ow);
}

@compute @workgroup_size({{WG}})
fn pool_fwd(@builtin(global_invocation_id) gid: vec3<u32>) {
    let idx = flat_index(gid, p.row);
    if (idx >= p.total) {
        return;
    }
    let ch = idx % p.c;
    let pix = idx / p.c;
    let ox = pix % p.ow;
    let oy = (pix / p.ow) % p.oh;
    let i = pix / (p.ow * p.oh);
    var acc = select(0.0, bitcast<f32>(0xff800000u), p.is_max != 0u);
    var count = 0u;
    for (var ky = 0u; ky < p.kh; ky = ky + 1u) {
        let y = tap_y(p, oy, ky);
        if (y < 0) {
            continue;
        }
        for (var kx = 0u; kx < p.kw; kx = kx + 1u) {
            let x = tap_x(p, ox, kx);
            if (x < 0) {
                continue;
            }
            count = count + 1u;
            let v = px[((i * p.h + u32(y)) * p.w + u32(x)) * p.c + ch];
            if (p.is_max != 0u) {
                // Keep acc when it is NaN or not smaller; a NaN tap replaces it.
                let keep = is_nan_f32(acc) || (!is_nan_f32(v) && acc >= v);
                acc = select(v, acc, keep);
            } else {
                acc = acc + v;
            }
        }
    }
    if (p.is_max == 0u) {
        acc = acc * (1.0 / f32(max(count, 1u)));
    }
    pout[idx] = acc;
}

@compute @workgroup_size({{WG}})
fn pool_argmax(@builtin(global_invocation_id) gid: vec3<u32>) {
    let idx = flat_index(gid, p.row);
    if (idx >= p.total) {
        return;
    }
    let ch = idx % p.c;
    let pix = idx / p.c;
    let ox = pix % p.ow;
    let oy = (pix / p.ow) % p.oh;
    let i = pix / (p.ow * p.oh);
    var best = 0.0;
    var at = 0;
    var found = false;
    for (var ky = 0u; ky < p.kh; ky = ky + 1u) {
        let y = tap_y(p, oy, ky);
        if (y < 0) {
            continue;
        }
        for (var kx = 0u; kx < p.kw; kx = kx + 1u) {
            let x = tap_x(p, ox, kx);
            if (x < 0) {
                continue;
            }
            let j = (u32(y) * p.w + u32(x)) * p.c + ch;
            let v = px[i * p.h * p.w * p.c + j];
            let wins = !found || (!is_nan_f32(v) && !is_nan_f32(best) && v > best)
                || (is_nan_f32(v) && !is_nan_f32(best));
            if (wins) {
                best = v;
                at = i32(j);
            }
            found = true;
        }
    }
    aout[idx] = at;
}

@compute @workgroup_size({{WG}})
fn pool_grad(@builtin(global_invocation_id) gid: vec3<u32>) {
    // (x, dy) -> dx: px is x, gdy is dy.
    let idx = flat_index(gid, q.row);
    if (idx >= q.total) {
        return;
    }
    let ch = idx % q.c;
    let x = (idx / q.c) % q.w;
    let y = (idx / (q.c * q.w)) % q.h;
    let i = idx / (q.c * q.w * q.h);
    let img = i * q.h * q.w * q.c;
    var acc = 0.0;
    for (var ky = 0u; ky < q.kh; ky = ky + 1u) {
        let oy = out_y(q, y, ky);
        if (oy < 0) {
            continue;
        }
        for (var kx = 0u; kx < q.kw; kx = kx + 1u) {
            let ox = out_x(q, x, kx);
            if (ox < 0) {
                continue;
            }
            let o = ((i * q.oh + u32(oy)) * q.ow + u32(ox)) * q.c + ch;
            // Rescan output o's window: its first maximum (max) or its valid-tap count.
            var best = 0.0;
            var by = -1;
            var bx = -1;
            var count = 0u;
            for (var wy = 0u; wy < q.kh; wy = wy + 1u) {
                let ty = tap_y(q, u32(oy), wy);
                if (ty < 0) {
                    continue;
                }
                for (var wx = 0u; wx < q.kw; wx = wx + 1u) {
                    let tx = tap_x(q, u32(ox), wx);
                    if (tx < 0) {
                        continue;
                    }
                    count = count + 1u;
                    if (q.is_max != 0u) {
                        let v = px[img + (u32(ty) * q.w + u32(tx)) * q.c + ch];
                        if (by < 0 || (!is_nan_f32(v) && !is_nan_f32(best) && v > best)) {
                            best = v;
                            by = ty;
                            bx = tx;
                        }
                    }
                }
            }
            if (q.is_max != 0u) {
                if (by == i32(y) && bx == i32(x)) {
                    acc = acc + gdy[o];
                }
            } else {
                acc = acc + gdy[o] * (1.0 / f32(max(count, 1u)));
            }
        }
    }
    gout[idx] = acc;
}

@compute @workgroup_size({{WG}})
fn pool_argmax_grad(@builtin(global_invocation_id) gid: vec3<u32>) {
    // (dy, idx) -> dx: px is dy, gidx the argmax.
    let idx = flat_index(gid, q.row);
    if (idx >= q.total) {
        return;
    }
    let ch = idx % q.c;
    let x = (idx / q.c) % q.w;
    let y = (idx / (q.c * q.w)) % q.h;
    let i = idx / (q.c * q.w * q.h);
    let j = i32((y * q.w + x) * q.c + ch);
    var acc = 0.0;
    for (var ky = 0u; ky < q.kh; ky = ky + 1u) {
        let oy = out_y(q, y, ky);
        if (oy < 0) {
            continue;
        }
        for (var kx = 0u; kx < q.kw; kx = kx + 1u) {
            let ox = out_x(q, x, kx);
            if (ox < 0) {
                continue;
            }
            let o = ((i * q.oh + u32(oy)) * q.ow + u32(ox)) * q.c + ch;
            if (gidx[o] == j) {
                acc = acc + px[o];
            }
        }
    }
    gout[idx] = acc;
}

// Layout ops as strided copies, one invocation per element.
//
// `copy`: walk `shape` row-major; read src[sbase + sum(c_d * sstride_d)], write
// dst[dbase + sum(c_d * dstride_d)] as {{EXPR}} of `x` (a {{TI}}), a {{TO}}. `shp` holds
// [shape(ndim), src strides(ndim), dst strides(ndim)] in elements; src strides may be 0
// (broadcast) or negative (reversed slices). Covers transpose, broadcast_to, slice,
// concatenate (one copy per input into its block of the output), cast and clip.
// `slice_grad`: the transpose of a strided slice, a gather into zeros: output element j
// (of `in_shape`) takes g[k] where j = start + k * step on every axis, else 0. `shp` holds
// [in_shape(ndim), starts(ndim), steps(ndim), g_shape(ndim)].
struct Params {
    n: u32,
    row: u32,
    ndim: u32,
    sbase: i32,
    dbase: i32,
    lo: f32,
    hi: f32,
    _p: u32,
}

@group(0) @binding(0) var<storage, read> src: array<{{TI}}>;
@group(0) @binding(1) var<storage, read> shp: array<i32>;
@group(0) @binding(2) var<storage, read_write> dst: array<{{TO}}>;
@group(0) @binding(3) var<uniform> p: Params;

fn nan_f32() -> f32 {
    return bitcast<f32>(0x7fc00000u);
}

// Float to int32 truncating toward zero, saturating, NaN -> 0 (Rust's `as`).
fn f32_to_i32(v: f32) -> i32 {
    if (is_nan_f32(v)) {
        return 0;
    }
    if (v >= 2147483647.0) {
        return 2147483647;
    }
    if (v <= -2147483648.0) {
        return i32(-2147483647) - 1;
    }
    return i32(v);
}

// Round to the nearest float16 (ties to even), overflowing to infinity, NaN kept.
fn to_f16(v: f32) -> f32 {
    if (is_nan_f32(v)) {
        return v;
    }
    if (abs(v) >= 65520.0) {
        return select(bitcast<f32>(0x7f800000u), bitcast<f32>(0xff800000u), v < 0.0);
    }
    return quantizeToF16(v);
}

// Round to the nearest bfloat16 (ties to even), NaN kept.
fn to_bf16(v: f32) -> f32 {
    if (is_nan_f32(v)) {
        return v;
    }
    let b = bitcast<u32>(v);
    let r = b + 0x7fffu + ((b >> 16u) & 1u);
    return bitcast<f32>(r & 0xffff0000u);
}

@compute @workgroup_size({{WG}})
fn copy(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, p.row);
    if (i >= p.n) {
        return;
    }
    var rem = i;
    var s = p.sbase;
    var d = p.dbase;
    let nd = i32(p.ndim);
    for (var k = nd - 1; k >= 0; k = k - 1) {
        let dim = u32(shp[k]);
        let c = i32(rem % dim);
        rem = rem / dim;
        s = s + c * shp[nd + k];
        d = d + c * shp[2 * nd + k];
    }
    let x = src[u32(s)];
    dst[u32(d)] = {{EXPR}};
}

@compute @workgroup_size({{WG}})
fn slice_grad(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, p.row);
    if (i >= p.n) {
        return;
    }
    var rem = i;
    var s = 0;
    var gstride = 1;
    var hit = true;
    let nd = i32(p.ndim);
    for (var k = nd - 1; k >= 0; k = k - 1) {
        let dim = u32(shp[k]);
        let j = i32(rem % dim);
        rem = rem / dim;
        let t = j - shp[nd + k];
        let step = shp[2 * nd + k];
        let q = t / step;
        let glen = shp[3 * nd + k];
        if (q * step != t || q < 0 || q >= glen) {
            hit = false;
        }
        s = s + q * gstride;
        gstride = gstride * glen;
    }
    if (hit) {
        let x = src[u32(s)];
        dst[i] = {{EXPR}};
    } else {
        dst[i] = {{TO}}(0);
    }
}

// Counter-based random numbers: Philox 4x32-10, bit-identical to the CPU generator in
// rust/ops/random.rs. Block `i` of a draw is philox(counter = [i_lo, i_hi, counter_lo,
// counter_hi], key = [seed_lo, seed_hi]); one invocation computes one block and writes its
// 4 uniform floats (`uniform`) or 2 normal floats (`normal`).
//
// `p.zero` is always 0, read at run time: XOR-ing a product's bits with it keeps the shader
// compiler from fusing `a + b * c` into an fma, whose single rounding would differ from the
// CPU's two roundings (the uniform draw must match the CPU bit for bit).
struct Params {
    n: u32,          // elements to write
    row: u32,        // invocations per grid row (2-D grid past 65535 groups)
    seed_lo: u32,
    seed_hi: u32,
    ctr_lo: u32,
    ctr_hi: u32,
    a: f32,          // uniform: min;  normal: mean
    b: f32,          // uniform: max;  normal: stddev
    zero: u32,
    _p0: u32,
    _p1: u32,
    _p2: u32,
}

@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<uniform> p: Params;

const M0: u32 = 0xD2511F53u;
const M1: u32 = 0xCD9E8D57u;
const W0: u32 = 0x9E3779B9u;
const W1: u32 = 0xBB67AE85u;

// The full 64-bit product a * b as (hi, lo), from 16-bit halves (WGSL has no 64-bit ints).
fn mul_hi_lo(a: u32, b: u32) -> vec2<u32> {
    let a0 = a & 0xffffu;
    let a1 = a >> 16u;
    let b0 = b & 0xffffu;
    let b1 = b >> 16u;
    let p00 = a0 * b0;
    let p10 = a1 * b0;
    let p01 = a0 * b1;
    let p11 = a1 * b1;
    // At most (2^16 - 1)^2 + 2 (2^16 - 1) < 2^32: no overflow.
    let mid = (p00 >> 16u) + (p10 & 0xffffu) + p01;
    let hi = p11 + (p10 >> 16u) + (mid >> 16u);
    return vec2<u32>(hi, a * b);
}

fn philox(ctr: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
    var c = ctr;
    var k = key;
    for (var round = 0u; round < 10u; round = round + 1u) {
        if (round > 0u) {
            k = k + vec2<u32>(W0, W1);
        }
        let q0 = mul_hi_lo(M0, c.x);
        let q1 = mul_hi_lo(M1, c.z);
        c = vec4<u32>(q1.x ^ c.y ^ k.x, q1.y, q0.x ^ c.w ^ k.y, q0.y);
    }
    return c;
}

fn block(i: u32) -> vec4<u32> {
    // Blocks past 2^32 would need i_hi > 0; a GPU draw has fewer than 2^32 elements.
    return philox(vec4<u32>(i, 0u, p.ctr_lo, p.ctr_hi), vec2<u32>(p.seed_lo, p.seed_hi));
}

// A float in [0, 1) from the top 24 bits of a word (exact).
fn unit(x: u32) -> f32 {
    return f32(x >> 8u) * (1.0 / 16777216.0);
}

// The float just below `v` (Rust's f32::next_down for finite v).
fn next_down(v: f32) -> f32 {
    let bits = bitcast<u32>(v);
    if ((bits & 0x7fffffffu) == 0u) {
        return bitcast<f32>(0x80000001u);
    }
    return bitcast<f32>(select(bits + 1u, bits - 1u, (bits & 0x80000000u) == 0u));
}

// `x`, hidden from the compiler's fma contraction (see the header).
fn opaque(x: f32) -> f32 {
    return bitcast<f32>(bitcast<u32>(x) ^ p.zero);
}

@compute @workgroup_size({{WG}})
fn uniform(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, p.row);
    let base = 4u * i;
    if (base >= p.n) {
        return;
    }
    let w = block(i);
    let lo = p.a;
    let hi = p.b;
    let span = opaque(hi - lo);
    for (var j = 0u; j < 4u; j = j + 1u) {
        if (base + j < p.n) {
            var v = lo + opaque(span * unit(w[j]));
            // Rounding can land exactly on `max`; the range is half-open.
            if (v >= hi && hi > lo) {
                v = next_down(hi);
            }
            out[base + j] = v;
        }
    }
}

// The normal draw must match the CPU's libm to ~1 ulp on every GPU, but WGSL only promises
// an absolute 2^-21 for `log` near 1 and 2^-11 for `sin`/`cos` (Vulkan's minimum). So both
// are computed here from polynomials (Cephes' logf, sinf and cosf), accurate everywhere.

// ln(y) for a normal float y > 0: y = m 2^e with m in [sqrt(1/2), sqrt(2)), then
// ln(m) = 2 atanh(s), s = (m - 1) / (m + 1) in [-0.172, 0.172].
fn log_acc(y: f32) -> f32 {
    let bits = bitcast<u32>(y);
    var e = i32((bits >> 23u) & 0xffu) - 126;
    var m = bitcast<f32>((bits & 0x007fffffu) | 0x3f000000u);  // [0.5, 1)
    if (m < 0.70710678) {
        m = 2.0 * m;
        e = e - 1;
    }
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let t = s * (2.0 + s2 * (0.66666667 + s2 * (0.4 + s2 * (0.28571429 + s2 * 0.22222222))));
    let fe = f32(e);
    // ln 2 = 0.693359375 - 2.12194440e-4 (the first part exact in a few bits).
    return fe * 0.693359375 + (t - fe * 2.12194440e-4);
}

// (sin t, cos t) for t in [0, 8): t = n pi/2 + r with |r| <= pi/4 (Cody-Waite reduction).
fn sincos_acc(t: f32) -> vec2<f32> {
    let n = round(t * 0.63661977);
    let r = ((t - n * 1.5703125) - n * 4.837512969970703125e-4) - n * 7.54978995489188216e-8;
    let r2 = r * r;
    let s = r + r * r2 * (-1.6666654611e-1 + r2 * (8.3321608736e-3 + r2 * -1.9515295891e-4));
    let c = 1.0 - 0.5 * r2
        + r2 * r2 * (4.166664568298827e-2 + r2 * (-1.388731625493765e-3 + r2 * 2.443315711809948e-5));
    switch (u32(n) & 3u) {
        case 0u: { return vec2<f32>(s, c); }
        case 1u: { return vec2<f32>(c, -s); }
        case 2u: { return vec2<f32>(-s, -c); }
        default: { return vec2<f32>(-c, s); }
    }
}

@compute @workgroup_size({{WG}})
fn normal(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, p.row);
    let base = 2u * i;
    if (base >= p.n) {
        return;
    }
    let w = block(i);
    // 1 - unit() lies in (0, 1] (exact), so the log is finite.
    let r = sqrt(-2.0 * log_acc(1.0 - unit(w.x)));
    // The CPU's angle: TAU * u rounded to f32 (kept from fusing into the reduction).
    let theta = opaque(6.2831855 * unit(w.y));
    let sc = sincos_acc(theta);
    out[base] = p.a + opaque(p.b * (r * sc.y));
    if (base + 1u < p.n) {
        out[base + 1u] = p.a + opaque(p.b * (r * sc.x));
    }
}

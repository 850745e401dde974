// softmax / log_softmax along the middle axis of an input viewed as (outer, len, inner), one
// workgroup of {{WG}} invocations (a power of two) per row: the row's maximum and the sum of
// exp(x - max) are tree reductions in workgroup memory. As the CPU kernel: a NaN maximum makes
// the row NaN, a maximum of -inf is taken as 0 (a +inf one stays, so that row is NaN, as in
// NumPy's exp(x - max) / sum), softmax multiplies by 1 / sum, log_softmax
// is (x - max) - log(sum).
struct Params { outer: u32, len: u32, inner: u32, row: u32, log: u32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

var<workgroup> red: array<f32, {{WG}}>;

fn is_nan(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

// The larger of a and b, NaN winning.
fn max_nan(a: f32, b: f32) -> f32 {
    return select(select(a, b, b > a || is_nan(b)), a, is_nan(a));
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let w = wid.x + wid.y * p.row;
    let valid = w < p.outer * p.inner;
    let base = (w / p.inner) * p.len * p.inner + w % p.inner;
    var m = bitcast<f32>(0xff800000u);
    if (valid) {
        for (var j = lid; j < p.len; j = j + {{WG}}u) {
            m = max_nan(m, src[base + j * p.inner]);
        }
    }
    red[lid] = m;
    workgroupBarrier();
    for (var s = {{WG}}u / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            red[lid] = max_nan(red[lid], red[lid + s]);
        }
        workgroupBarrier();
    }
    m = red[0];
    workgroupBarrier();
    if (bitcast<u32>(m) == 0xff800000u) {
        m = 0.0;
    }
    var total = 0.0;
    if (valid) {
        for (var j = lid; j < p.len; j = j + {{WG}}u) {
            total = total + exp(src[base + j * p.inner] - m);
        }
    }
    red[lid] = total;
    workgroupBarrier();
    for (var s = {{WG}}u / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            red[lid] = red[lid] + red[lid + s];
        }
        workgroupBarrier();
    }
    total = red[0];
    if (valid) {
        let inv = 1.0 / total;
        let lg = log(total);
        for (var j = lid; j < p.len; j = j + {{WG}}u) {
            let at = base + j * p.inner;
            let v = src[at] - m;
            dst[at] = select(exp(v) * inv, v - lg, p.log == 1u);
        }
    }
}

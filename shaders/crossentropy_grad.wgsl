// Gradient of the sparse categorical cross-entropy (`crossentropy.wgsl`) with respect to `x`
// (rows, classes), given the loss gradient `g` (rows); one workgroup of {{WG}} per row.
// From logits: (softmax(x) - onehot(label)) * g, softmax as the CPU kernel's (a NaN maximum
// spreads, an infinite one is taken as 0). From probabilities: g / sum(x) - [j == label] *
// g / x[label] where eps < x[label] / sum(x) < 1 - eps, else 0 (the clip's zero gradient).
// A label outside [0, classes) gives a NaN row.
struct Params {
    rows: u32,
    classes: u32,
    row: u32,
    from_logits: u32,
    eps: f32,
    one_minus_eps: f32,
    _p0: u32,
    _p1: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

var<workgroup> red: array<f32, {{WG}}>;

fn is_nan(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

fn max_nan(a: f32, b: f32) -> f32 {
    return select(select(a, b, b > a || is_nan(b)), a, is_nan(a));
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let r = wid.x + wid.y * p.row;
    let valid = r < p.rows;
    let base = r * p.classes;
    var m = bitcast<f32>(0xff800000u);
    if (p.from_logits == 1u) {
        if (valid) {
            for (var j = lid; j < p.classes; j = j + {{WG}}u) {
                m = max_nan(m, x[base + j]);
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
        if ((bitcast<u32>(m) & 0x7fffffffu) == 0x7f800000u) {
            m = 0.0;
        }
    }
    var s = 0.0;
    if (valid) {
        for (var j = lid; j < p.classes; j = j + {{WG}}u) {
            let v = x[base + j];
            s = s + select(v, exp(v - m), p.from_logits == 1u);
        }
    }
    red[lid] = s;
    workgroupBarrier();
    for (var h = {{WG}}u / 2u; h > 0u; h = h >> 1u) {
        if (lid < h) {
            red[lid] = red[lid] + red[lid + h];
        }
        workgroupBarrier();
    }
    let total = red[0];
    if (!valid) {
        return;
    }
    let label = labels[r];
    let gr = g[r];
    if (label < 0 || u32(label) >= p.classes) {
        for (var j = lid; j < p.classes; j = j + {{WG}}u) {
            dx[base + j] = bitcast<f32>(0x7fc00000u);
        }
        return;
    }
    let lab = u32(label);
    if (p.from_logits == 1u) {
        let inv = 1.0 / total;
        for (var j = lid; j < p.classes; j = j + {{WG}}u) {
            let sm = exp(x[base + j] - m) * inv;
            dx[base + j] = (sm - select(0.0, 1.0, j == lab)) * gr;
        }
    } else {
        let xl = x[base + lab];
        let q = xl / total;
        let inside = q > p.eps && q < p.one_minus_eps;
        for (var j = lid; j < p.classes; j = j + {{WG}}u) {
            var v = gr / total;
            if (j == lab) {
                v = v - gr / xl;
            }
            dx[base + j] = select(0.0, v, inside);
        }
    }
}

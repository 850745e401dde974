// Sparse categorical cross-entropy per sample: `x` is (rows, classes) of probabilities or
// logits, `labels` (rows) int class ids; one workgroup of {{WG}} invocations per row.
// From logits: logsumexp(x) - x[label] (max ignoring NaN, as the CPU kernel's f32::max).
// From probabilities: -log(clamp(x[label] / sum(x), eps, 1 - eps)), Keras's clipping.
// A label outside [0, classes) gives NaN and is recorded in `flags` (code 1, the label, the
// class count): the executor raises the CPU kernel's ValueError at the next read-back.
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
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<storage, read_write> flags: array<atomic<u32>, 4>;

var<workgroup> red: array<f32, {{WG}}>;

fn tree_max(lid: u32) {
    for (var s = {{WG}}u / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            red[lid] = select(red[lid], red[lid + s], red[lid + s] > red[lid]);
        }
        workgroupBarrier();
    }
}

fn tree_sum(lid: u32) {
    for (var s = {{WG}}u / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            red[lid] = red[lid] + red[lid + s];
        }
        workgroupBarrier();
    }
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
                let v = x[base + j];
                m = select(m, v, v > m);
            }
        }
        red[lid] = m;
        workgroupBarrier();
        tree_max(lid);
        m = red[0];
        workgroupBarrier();
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
    tree_sum(lid);
    if (lid == 0u && valid) {
        let total = red[0];
        let label = labels[r];
        if (label < 0 || u32(label) >= p.classes) {
            loss[r] = bitcast<f32>(0x7fc00000u);
            atomicOr(&flags[0], 1u);
            atomicStore(&flags[1], bitcast<u32>(label));
            atomicStore(&flags[2], p.classes);
        } else if (p.from_logits == 1u) {
            loss[r] = log(total) - (x[base + u32(label)] - m);
        } else {
            let q = x[base + u32(label)] / total;
            let c = select(select(q, p.one_minus_eps, q > p.one_minus_eps), p.eps, q < p.eps);
            loss[r] = -log(c);
        }
    }
}

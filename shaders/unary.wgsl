// Element-wise unary ops: one template, specialized per op by the expression {{EXPR}} over
// `x` (of type {{TA}}), written to an output of type {{TO}}.
struct Params { n: u32, row: u32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<storage, read> a: array<{{TA}}>;
@group(0) @binding(1) var<storage, read_write> out: array<{{TO}}>;
@group(0) @binding(2) var<uniform> p: Params;

// erf to 1.5e-7 (Abramowitz & Stegun 7.1.26).
fn erf_f32(v: f32) -> f32 {
    let s = sign(v);
    let z = abs(v);
    let t = 1.0 / (1.0 + 0.3275911 * z);
    let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t
        + 0.254829592) * t * exp(-z * z);
    return s * y;
}

fn bits(v: f32) -> u32 {
    return bitcast<u32>(v) & 0x7fffffffu;
}

@compute @workgroup_size({{WG}})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, p.row);
    if (i >= p.n) {
        return;
    }
    let x = a[i];
    out[i] = {{EXPR}};
}

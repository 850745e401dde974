// Gathers along one axis and their gradients (scatter-adds), plus one_hot. The CPU kernels
// in rust/ops/shape.rs are the reference.
//
// Shapes are flattened around the gathered axis to (outer, dim, inner). Indices are int64
// stored as i32; negative ones count from the end (`i + dim`). An index still outside
// [0, dim) cannot raise on the GPU: a gather reads it as 0 and records it in `flags` (code 2 or 4,
// the index, the axis size), and the executor raises the CPU kernels' IndexError at the next
// read-back; a gradient drops its contribution (its forward gather already recorded it).
struct Params {
    n: u32,      // invocations (elements of the output, or of the gradient for take_grad)
    row: u32,    // invocations per grid row (2-D grid past 65535 groups)
    dim: u32,    // length of the gathered axis (one_hot: depth)
    k: u32,      // take: number of indices; take_along_axis: indices along the axis
    inner: u32,  // elements after the axis
    _p0: u32,
    _p1: u32,
    _p2: u32,
}

// `i` as a position along an axis of `dim`, or -1 when out of range.
fn normalize(i: i32, dim: u32) -> i32 {
    let j = select(i, i + i32(dim), i < 0);
    return select(-1, j, j >= 0 && u32(j) < dim);
}

// -- take: out[a, k, j] = x[a, idx[k], j] ----------------------------------------------------
@group(0) @binding(0) var<storage, read> x: array<{{T}}>;
@group(0) @binding(1) var<storage, read> idx: array<i32>;
@group(0) @binding(2) var<storage, read_write> out: array<{{T}}>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<storage, read_write> flags: array<atomic<u32>, 4>;

// Record out-of-range index `i` along an axis of `dim` under `code` (2: take, 4:
// take_along_axis; the executor's CHECKS).
fn flag_index(code: u32, i: i32, dim: u32) {
    atomicOr(&flags[0], code);
    atomicStore(&flags[1], bitcast<u32>(i));
    atomicStore(&flags[2], dim);
}

@compute @workgroup_size({{WG}})
fn take(@builtin(global_invocation_id) gid: vec3<u32>) {
    let o = flat_index(gid, p.row);
    if (o >= p.n) {
        return;
    }
    let j = o % p.inner;
    let t = o / p.inner;
    let a = t / p.k;
    let d = normalize(idx[t % p.k], p.dim);
    var v = {{T}}(0);
    if (d >= 0) {
        v = x[(a * p.dim + u32(d)) * p.inner + j];
    } else {
        flag_index(2u, idx[t % p.k], p.dim);
    }
    out[o] = v;
}

// -- take_along_axis: out[a, j, i] = x[a, idx[a, j, i], i] -----------------------------------
@compute @workgroup_size({{WG}})
fn take_along_axis(@builtin(global_invocation_id) gid: vec3<u32>) {
    let o = flat_index(gid, p.row);
    if (o >= p.n) {
        return;
    }
    let i = o % p.inner;
    let a = o / (p.inner * p.k);
    let d = normalize(idx[o], p.dim);
    var v = {{T}}(0);
    if (d >= 0) {
        v = x[(a * p.dim + u32(d)) * p.inner + i];
    } else {
        flag_index(4u, idx[o], p.dim);
    }
    out[o] = v;
}

// -- gradients (float32 whatever {{T}} is) ------------------------------------------------
@group(0) @binding(0) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad_out: array<f32>;

// take_along_axis_grad, as a gather per output element: deterministic, summing in the CPU
// kernel's order. out[a, d, i] = sum over j of g[a, j, i] where idx[a, j, i] == d.
@compute @workgroup_size({{WG}})
fn take_along_axis_grad(@builtin(global_invocation_id) gid: vec3<u32>) {
    let o = flat_index(gid, p.row);
    if (o >= p.n) {
        return;
    }
    let i = o % p.inner;
    let t = o / p.inner;
    let d = i32(t % p.dim);
    let a = t / p.dim;
    var acc = 0.0;
    for (var j = 0u; j < p.k; j = j + 1u) {
        let at = (a * p.k + j) * p.inner + i;
        if (normalize(idx[at], p.dim) == d) {
            acc = acc + grad[at];
        }
    }
    grad_out[o] = acc;
}

// take_grad: zero the output, then add every g[a, k, j] into out[a, idx[k], j] with a
// compare-and-swap loop on the float's bits (repeated indices add up in no fixed order).
@group(0) @binding(0) var<storage, read_write> zeroed: array<u32>;
@group(0) @binding(1) var<uniform> pz: Params;

@compute @workgroup_size({{WG}})
fn zero(@builtin(global_invocation_id) gid: vec3<u32>) {
    let o = flat_index(gid, pz.row);
    if (o < pz.n) {
        zeroed[o] = 0u;
    }
}

@group(0) @binding(2) var<storage, read_write> acc_out: array<atomic<u32>>;

@compute @workgroup_size({{WG}})
fn take_grad(@builtin(global_invocation_id) gid: vec3<u32>) {
    let e = flat_index(gid, p.row);
    if (e >= p.n) {
        return;
    }
    let j = e % p.inner;
    let t = e / p.inner;
    let a = t / p.k;
    let d = normalize(idx[t % p.k], p.dim);
    if (d < 0) {
        return;
    }
    let add = grad[e];
    let to = (a * p.dim + u32(d)) * p.inner + j;
    var old = atomicLoad(&acc_out[to]);
    loop {
        let swapped = atomicCompareExchangeWeak(&acc_out[to], old, bitcast<u32>(bitcast<f32>(old) + add));
        if (swapped.exchanged) {
            break;
        }
        old = swapped.old_value;
    }
}

// -- one_hot: out[r, c] = 1.0 if labels[r] == c else 0.0 (labels outside [0, depth): zeros).
@group(0) @binding(0) var<storage, read> labels: array<i32>;
@group(0) @binding(1) var<storage, read_write> hot: array<f32>;
@group(0) @binding(2) var<uniform> ph: Params;

@compute @workgroup_size({{WG}})
fn one_hot(@builtin(global_invocation_id) gid: vec3<u32>) {
    let o = flat_index(gid, ph.row);
    if (o >= ph.n) {
        return;
    }
    hot[o] = select(0.0, 1.0, labels[o / ph.dim] == i32(o % ph.dim));
}

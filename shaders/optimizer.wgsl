// Fused optimizer steps, in place: one dispatch per variable updates the variable and its
// slot variables from its gradient. Formulas (and their order of operations) are the CPU
// kernels' in rust/ops/optimizer.rs, which follow Keras 3's `update_step`s.
//
// One entry point per slot layout. Each binds, in order, the variable, its slots, the
// gradient, then the uniform block; entry points reuse binding numbers (each pipeline only
// sees the variables its entry point uses).
struct Params {
    n: u32,
    row: u32,
    lr: f32,
    momentum: f32,  // SGD, RMSprop
    alpha: f32,     // Adam: lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
    c1: f32,        // Adam: 1 - beta_1
    c2: f32,        // Adam: 1 - beta_2
    eps: f32,       // Adam, RMSprop
    rho: f32,       // RMSprop
    nesterov: u32,  // SGD
    _p0: u32,
    _p1: u32,
}

// -- SGD: [w, g] and [w, m, g] ------------------------------------------------------------
@group(0) @binding(0) var<storage, read_write> w: array<f32>;
@group(0) @binding(1) var<storage, read> sgd_g: array<f32>;
@group(0) @binding(2) var<uniform> sgd_p: Params;

@compute @workgroup_size({{WG}})
fn sgd(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, sgd_p.row);
    if (i >= sgd_p.n) {
        return;
    }
    w[i] = w[i] - sgd_p.lr * sgd_g[i];
}

@group(0) @binding(1) var<storage, read_write> s1: array<f32>;
@group(0) @binding(2) var<storage, read> g2: array<f32>;
@group(0) @binding(3) var<uniform> p3: Params;

@compute @workgroup_size({{WG}})
fn sgd_momentum(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, p3.row);
    if (i >= p3.n) {
        return;
    }
    let g = g2[i];
    let m = s1[i] * p3.momentum - g * p3.lr;
    s1[i] = m;
    w[i] = w[i] + select(m, m * p3.momentum - g * p3.lr, p3.nesterov != 0u);
}

// -- slot bindings shared by Adam and RMSprop -----------------------------------------------
@group(0) @binding(2) var<storage, read_write> s2: array<f32>;
@group(0) @binding(3) var<storage, read> g3: array<f32>;
@group(0) @binding(4) var<uniform> p4: Params;
@group(0) @binding(3) var<storage, read_write> s3: array<f32>;
@group(0) @binding(4) var<storage, read> g4: array<f32>;
@group(0) @binding(5) var<uniform> p5: Params;

// -- Adam: [w, m, v, g] and, with amsgrad, [w, m, v, vhat, g] --------------------------------
@compute @workgroup_size({{WG}})
fn adam(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, p4.row);
    if (i >= p4.n) {
        return;
    }
    let g = g3[i];
    let m = s1[i] + (g - s1[i]) * p4.c1;
    let v = s2[i] + (g * g - s2[i]) * p4.c2;
    s1[i] = m;
    s2[i] = v;
    w[i] = w[i] - m * p4.alpha / (sqrt(v) + p4.eps);
}

@compute @workgroup_size({{WG}})
fn adam_amsgrad(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, p5.row);
    if (i >= p5.n) {
        return;
    }
    let g = g4[i];
    let m = s1[i] + (g - s1[i]) * p5.c1;
    let v = s2[i] + (g * g - s2[i]) * p5.c2;
    let vhat = max(s3[i], v);
    s1[i] = m;
    s2[i] = v;
    s3[i] = vhat;
    w[i] = w[i] - m * p5.alpha / (sqrt(vhat) + p5.eps);
}

// -- RMSprop: [w, velocity, (momentum), (average gradient), g] -------------------------------
fn rms_velocity(v: f32, g: f32, rho: f32) -> f32 {
    return rho * v + (1.0 - rho) * g * g;
}

fn rms_average(a: f32, g: f32, rho: f32) -> f32 {
    return rho * a + (1.0 - rho) * g;
}

@compute @workgroup_size({{WG}})
fn rmsprop(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, p3.row);
    if (i >= p3.n) {
        return;
    }
    let g = g2[i];
    let v = rms_velocity(s1[i], g, p3.rho);
    s1[i] = v;
    w[i] = w[i] - p3.lr * g / sqrt(v + p3.eps);
}

// Slots [velocity, momentum].
@compute @workgroup_size({{WG}})
fn rmsprop_momentum(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, p4.row);
    if (i >= p4.n) {
        return;
    }
    let g = g3[i];
    let v = rms_velocity(s1[i], g, p4.rho);
    s1[i] = v;
    let m = p4.momentum * s2[i] + p4.lr * g / sqrt(v + p4.eps);
    s2[i] = m;
    w[i] = w[i] - m;
}

// Slots [velocity, average gradient].
@compute @workgroup_size({{WG}})
fn rmsprop_centered(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, p4.row);
    if (i >= p4.n) {
        return;
    }
    let g = g3[i];
    let v = rms_velocity(s1[i], g, p4.rho);
    let a = rms_average(s2[i], g, p4.rho);
    s1[i] = v;
    s2[i] = a;
    w[i] = w[i] - p4.lr * g / sqrt(v - a * a + p4.eps);
}

// Slots [velocity, momentum, average gradient].
@compute @workgroup_size({{WG}})
fn rmsprop_momentum_centered(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, p5.row);
    if (i >= p5.n) {
        return;
    }
    let g = g4[i];
    let v = rms_velocity(s1[i], g, p5.rho);
    let a = rms_average(s3[i], g, p5.rho);
    s1[i] = v;
    s3[i] = a;
    let m = p5.momentum * s2[i] + p5.lr * g / sqrt(v - a * a + p5.eps);
    s2[i] = m;
    w[i] = w[i] - m;
}

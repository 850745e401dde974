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
    flag: u32,      // SGD: nesterov
    _pad: u32,
    lr: f32,
    wd: f32,        // weight decay of this variable (0: not decayed)
    eps: f32,
    momentum: f32,  // SGD, RMSprop; EMA
    alpha: f32,     // Adam: lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
    c1: f32,        // 1 - beta_1 (Adam, Adamax, Nadam, Lamb, Lion)
    c2: f32,        // 1 - beta_2 (Adam, Nadam, Lamb, Lion); 1 - rho (Adadelta)
    rho: f32,       // RMSprop, Adadelta; beta_1 (Lion)
    k0: f32,        // per-optimizer constants, named in each entry point
    k1: f32,
    k2: f32,
    k3: f32,
}

// Keras's decoupled weight decay, before every update: `w - w * wd * lr`.
fn decayed(x: f32, lr: f32, wd: f32) -> f32 {
    return select(x - x * wd * lr, x, wd == 0.0);
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
    w[i] = decayed(w[i], sgd_p.lr, sgd_p.wd) - sgd_p.lr * sgd_g[i];
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
    w[i] = decayed(w[i], p3.lr, p3.wd) + select(m, m * p3.momentum - g * p3.lr, p3.flag != 0u);
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
    w[i] = decayed(w[i], p4.lr, p4.wd) - m * p4.alpha / (sqrt(v) + p4.eps);
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
    w[i] = decayed(w[i], p5.lr, p5.wd) - m * p5.alpha / (sqrt(vhat) + p5.eps);
}

// -- RMSprop: [w, velocity, (momentum), (average gradient), g] -------------------------------
// c = 1 - rho, rounded from the Python float (params c2).
fn rms_velocity(v: f32, g: f32, rho: f32, c: f32) -> f32 {
    return rho * v + c * (g * g);
}

fn rms_average(a: f32, g: f32, rho: f32, c: f32) -> f32 {
    return rho * a + c * g;
}

@compute @workgroup_size({{WG}})
fn rmsprop(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, p3.row);
    if (i >= p3.n) {
        return;
    }
    let g = g2[i];
    let v = rms_velocity(s1[i], g, p3.rho, p3.c2);
    s1[i] = v;
    w[i] = decayed(w[i], p3.lr, p3.wd) - p3.lr * g / sqrt(v + p3.eps);
}

// Slots [velocity, momentum].
@compute @workgroup_size({{WG}})
fn rmsprop_momentum(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, p4.row);
    if (i >= p4.n) {
        return;
    }
    let g = g3[i];
    let v = rms_velocity(s1[i], g, p4.rho, p4.c2);
    s1[i] = v;
    let m = p4.momentum * s2[i] + p4.lr * g / sqrt(v + p4.eps);
    s2[i] = m;
    w[i] = decayed(w[i], p4.lr, p4.wd) - m;
}

// Slots [velocity, average gradient].
@compute @workgroup_size({{WG}})
fn rmsprop_centered(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, p4.row);
    if (i >= p4.n) {
        return;
    }
    let g = g3[i];
    let v = rms_velocity(s1[i], g, p4.rho, p4.c2);
    let a = rms_average(s2[i], g, p4.rho, p4.c2);
    s1[i] = v;
    s2[i] = a;
    w[i] = decayed(w[i], p4.lr, p4.wd) - p4.lr * g / sqrt(v - a * a + p4.eps);
}

// Slots [velocity, momentum, average gradient].
@compute @workgroup_size({{WG}})
fn rmsprop_momentum_centered(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, p5.row);
    if (i >= p5.n) {
        return;
    }
    let g = g4[i];
    let v = rms_velocity(s1[i], g, p5.rho, p5.c2);
    let a = rms_average(s3[i], g, p5.rho, p5.c2);
    s1[i] = v;
    s3[i] = a;
    let m = p5.momentum * s2[i] + p5.lr * g / sqrt(v - a * a + p5.eps);
    s2[i] = m;
    w[i] = decayed(w[i], p5.lr, p5.wd) - m;
}

// -- Adagrad: [w, accumulator, g] ----------------------------------------------------------
@compute @workgroup_size({{WG}})
fn adagrad(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, p3.row);
    if (i >= p3.n) {
        return;
    }
    let g = g2[i];
    let a = s1[i] + g * g;
    s1[i] = a;
    w[i] = decayed(w[i], p3.lr, p3.wd) - p3.lr * g / sqrt(a + p3.eps);
}

// -- Adadelta: [w, accumulated_grad, accumulated_delta_var, g] -------------------------------
@compute @workgroup_size({{WG}})
fn adadelta(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, p4.row);
    if (i >= p4.n) {
        return;
    }
    let g = g3[i];
    let ag = p4.rho * s1[i] + p4.c2 * (g * g);
    let delta = -(sqrt(s2[i] + p4.eps) * g / sqrt(ag + p4.eps));
    s1[i] = ag;
    s2[i] = p4.rho * s2[i] + p4.c2 * (delta * delta);
    w[i] = decayed(w[i], p4.lr, p4.wd) + p4.lr * delta;
}

// -- Adamax: [w, momentum, norm, g]; k0 = beta_2, k1 = 1 - beta_1^t ---------------------------
@compute @workgroup_size({{WG}})
fn adamax(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, p4.row);
    if (i >= p4.n) {
        return;
    }
    let g = g3[i];
    let m = s1[i] + (g - s1[i]) * p4.c1;
    let u = max(p4.k0 * s2[i], abs(g));
    s1[i] = m;
    s2[i] = u;
    w[i] = decayed(w[i], p4.lr, p4.wd) - p4.lr * m / (p4.k1 * (u + p4.eps));
}

// -- Nadam: [w, momentum, velocity, g]; k0 = u_t, k1 = u_{t+1}, k2 = 1 - u_product_t,
//    k3 = 1 - u_product_{t+1}, alpha = 1 - beta_2^t ------------------------------------------
@compute @workgroup_size({{WG}})
fn nadam(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, p4.row);
    if (i >= p4.n) {
        return;
    }
    let g = g3[i];
    let m = s1[i] + (g - s1[i]) * p4.c1;
    let v = s2[i] + (g * g - s2[i]) * p4.c2;
    s1[i] = m;
    s2[i] = v;
    let m_hat = p4.k1 * m / p4.k3 + (1.0 - p4.k0) * g / p4.k2;
    let v_hat = v / p4.alpha;
    w[i] = decayed(w[i], p4.lr, p4.wd) - m_hat * p4.lr / (sqrt(v_hat) + p4.eps);
}

// -- FTRL: [w, accumulator, linear, g]; k0 = -learning_rate_power, k1 = l1,
//    k2 = 2 * l2 (with beta / (2 lr)), k3 = 2 * l2_shrinkage -----------------------------------
// `x^p`, through `sqrt` for the default power 1/2 (correctly rounded, as the CPU's powf).
fn ftrl_pow(x: f32, p: f32) -> f32 {
    if (p == 0.5) {
        return sqrt(x);
    }
    return pow(x, p);
}

@compute @workgroup_size({{WG}})
fn ftrl(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, p4.row);
    if (i >= p4.n) {
        return;
    }
    let g = g3[i];
    let wv = decayed(w[i], p4.lr, p4.wd);
    let grad = g + p4.k3 * wv;
    let acc = s1[i];
    let new_acc = acc + g * g;
    let p_new = ftrl_pow(new_acc, p4.k0);
    let lin = s2[i] + (grad - (p_new - ftrl_pow(acc, p4.k0)) / p4.lr * wv);
    let quadratic = p_new / p4.lr + p4.k2;
    let clipped = clamp(lin, -p4.k1, p4.k1);
    s2[i] = lin;
    s1[i] = new_acc;
    w[i] = (clipped - lin) / quadratic;
}

// -- Lion: [w, momentum, g]; rho = beta_1, k0 = beta_2 -----------------------------------------
fn sign_of(x: f32) -> f32 {
    return select(select(x, -1.0, x < 0.0), 1.0, x > 0.0);
}

@compute @workgroup_size({{WG}})
fn lion(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, p3.row);
    if (i >= p3.n) {
        return;
    }
    let g = g2[i];
    let m = s1[i];
    w[i] = decayed(w[i], p3.lr, p3.wd) - p3.lr * sign_of(m * p3.rho + g * p3.c1);
    s1[i] = m * p3.k0 + g * p3.c2;
}

// -- Lamb: three passes per variable. lamb_moments: [w, m, v, g, update] updates the moments
//    and writes the Adam direction (k0 = 1 - beta_1^t, k1 = 1 - beta_2^t); lamb_norms:
//    [w, update, norms] sums w^2 and update^2 in one workgroup; lamb_apply: [w, update, norms]
//    moves w by lr * trust ratio * update. ---------------------------------------------------
@group(0) @binding(4) var<storage, read_write> lamb_update: array<f32>;

@compute @workgroup_size({{WG}})
fn lamb_moments(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, p5.row);
    if (i >= p5.n) {
        return;
    }
    let g = g3[i];
    let m = s1[i] + (g - s1[i]) * p5.c1;
    let v = s2[i] + (g * g - s2[i]) * p5.c2;
    s1[i] = m;
    s2[i] = v;
    w[i] = decayed(w[i], p5.lr, p5.wd);
    lamb_update[i] = (m / p5.k0) / (sqrt(v / p5.k1) + p5.eps);
}

var<workgroup> lamb_w2: array<f32, {{WG}}>;
var<workgroup> lamb_u2: array<f32, {{WG}}>;

@compute @workgroup_size({{WG}})
fn lamb_norms(@builtin(local_invocation_id) lid: vec3<u32>) {
    var w2 = 0.0;
    var u2 = 0.0;
    for (var i = lid.x; i < p3.n; i = i + {{WG}}u) {
        w2 = w2 + w[i] * w[i];
        u2 = u2 + sgd_g[i] * sgd_g[i];
    }
    lamb_w2[lid.x] = w2;
    lamb_u2[lid.x] = u2;
    workgroupBarrier();
    for (var s = {{WG}}u / 2u; s > 0u; s = s / 2u) {
        if (lid.x < s) {
            lamb_w2[lid.x] = lamb_w2[lid.x] + lamb_w2[lid.x + s];
            lamb_u2[lid.x] = lamb_u2[lid.x] + lamb_u2[lid.x + s];
        }
        workgroupBarrier();
    }
    if (lid.x == 0u) {
        s2[0] = sqrt(lamb_w2[0]);
        s2[1] = sqrt(lamb_u2[0]);
    }
}

@compute @workgroup_size({{WG}})
fn lamb_apply(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, p3.row);
    if (i >= p3.n) {
        return;
    }
    let wn = s2[0];
    let un = s2[1];
    let ratio = select(1.0, wn / un, wn > 0.0 && un > 0.0);
    w[i] = w[i] - ratio * p3.lr * sgd_g[i];
}

// -- EMA: [average, variable]; a = momentum * a + (1 - momentum) * v --------------------------
@compute @workgroup_size({{WG}})
fn ema(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, sgd_p.row);
    if (i >= sgd_p.n) {
        return;
    }
    w[i] = sgd_p.momentum * w[i] + (1.0 - sgd_p.momentum) * sgd_g[i];
}

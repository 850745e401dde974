// The nn family (rust/ops/nn.rs; launchers in backend/webgpu/kernels/nn.py): softmax and
// log_softmax, and the fused sparse categorical cross-entropy with its gradient. Each entry
// point is named as its op and runs one workgroup of {{WG}} invocations (a power of two) per
// row, with tree reductions in workgroup memory. `is_nan_f32` comes from prelude.wgsl.

var<workgroup> red: array<f32, {{WG}}>;

// The larger of a and b, NaN winning.
fn max_nan(a: f32, b: f32) -> f32 {
    return select(select(a, b, b > a || is_nan_f32(b)), a, is_nan_f32(a));
}

// Workgroup reductions of each invocation's `v` by a tree in `red`; every invocation gets the
// result. Call in uniform control flow (they hold barriers).

// The maximum, NaN winning (softmax's rule).
fn wg_max_nan(v: f32, lid: u32) -> f32 {
    red[lid] = v;
    workgroupBarrier();
    for (var s = {{WG}}u / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            red[lid] = max_nan(red[lid], red[lid + s]);
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}

// The maximum, NaN ignored (the cross-entropy's, as the CPU kernel's f32::max).
fn wg_max(v: f32, lid: u32) -> f32 {
    red[lid] = v;
    workgroupBarrier();
    for (var s = {{WG}}u / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            red[lid] = select(red[lid], red[lid + s], red[lid + s] > red[lid]);
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}

fn wg_sum(v: f32, lid: u32) -> f32 {
    red[lid] = v;
    workgroupBarrier();
    for (var s = {{WG}}u / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            red[lid] = red[lid] + red[lid + s];
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}

// ---------------------------------------------------------------------------------------------
// softmax / log_softmax along the middle axis of an input viewed as (outer, len, inner), one
// workgroup of {{WG}} invocations (a power of two) per row: the row's maximum and the sum of
// exp(x - max) are tree reductions in workgroup memory. As the CPU kernel: a NaN maximum makes
// the row NaN, a maximum of -inf is taken as 0 (a +inf one stays, so that row is NaN, as in
// NumPy's exp(x - max) / sum), softmax multiplies by 1 / sum, log_softmax
// is (x - max) - log(sum).
struct SoftmaxParams { outer: u32, len: u32, inner: u32, row: u32, log: u32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> sp: SoftmaxParams;

@compute @workgroup_size({{WG}})
fn softmax(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let w = flat_index(wid, sp.row);
    let valid = w < sp.outer * sp.inner;
    let base = (w / sp.inner) * sp.len * sp.inner + w % sp.inner;
    var m = bitcast<f32>(0xff800000u);
    if (valid) {
        for (var j = lid; j < sp.len; j = j + {{WG}}u) {
            m = max_nan(m, src[base + j * sp.inner]);
        }
    }
    m = wg_max_nan(m, lid);
    if (bitcast<u32>(m) == 0xff800000u) {
        m = 0.0;
    }
    var total = 0.0;
    if (valid) {
        for (var j = lid; j < sp.len; j = j + {{WG}}u) {
            total = total + exp(src[base + j * sp.inner] - m);
        }
    }
    total = wg_sum(total, lid);
    if (valid) {
        let inv = 1.0 / total;
        let lg = log(total);
        for (var j = lid; j < sp.len; j = j + {{WG}}u) {
            let at = base + j * sp.inner;
            let v = src[at] - m;
            dst[at] = select(exp(v) * inv, v - lg, sp.log == 1u);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sparse categorical cross-entropy per sample: `x` is (rows, classes) of probabilities or
// logits, `labels` (rows) int class ids; one workgroup of {{WG}} invocations per row.
// From logits: logsumexp(x) - x[label] (max ignoring NaN, as the CPU kernel's f32::max).
// From probabilities: -log(clamp(x[label] / sum(x), eps, 1 - eps)), Keras's clipping.
// A label outside [0, classes) gives NaN and is recorded in `flags` (code 1, the label, the
// class count): the executor raises the CPU kernel's ValueError at the next read-back.
struct CrossEntropyParams {
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
@group(0) @binding(3) var<uniform> cp: CrossEntropyParams;
@group(0) @binding(4) var<storage, read_write> flags: array<atomic<u32>, 4>;

@compute @workgroup_size({{WG}})
fn sparse_categorical_crossentropy(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let r = flat_index(wid, cp.row);
    let valid = r < cp.rows;
    let base = r * cp.classes;
    var m = bitcast<f32>(0xff800000u);
    if (cp.from_logits == 1u) {
        if (valid) {
            for (var j = lid; j < cp.classes; j = j + {{WG}}u) {
                let v = x[base + j];
                m = select(m, v, v > m);
            }
        }
        m = wg_max(m, lid);
    }
    var s = 0.0;
    if (valid) {
        for (var j = lid; j < cp.classes; j = j + {{WG}}u) {
            let v = x[base + j];
            s = s + select(v, exp(v - m), cp.from_logits == 1u);
        }
    }
    let total = wg_sum(s, lid);
    if (lid == 0u && valid) {
        let label = labels[r];
        if (label < 0 || u32(label) >= cp.classes) {
            loss[r] = bitcast<f32>(0x7fc00000u);
            atomicOr(&flags[0], 1u);
            atomicStore(&flags[1], bitcast<u32>(label));
            atomicStore(&flags[2], cp.classes);
        } else if (cp.from_logits == 1u) {
            loss[r] = log(total) - (x[base + u32(label)] - m);
        } else {
            let q = x[base + u32(label)] / total;
            let c = select(select(q, cp.one_minus_eps, q > cp.one_minus_eps), cp.eps, q < cp.eps);
            loss[r] = -log(c);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Gradient of the sparse categorical cross-entropy (above) with respect to `x`
// (rows, classes), given the loss gradient `g` (rows); one workgroup of {{WG}} per row.
// From logits: (softmax(x) - onehot(label)) * g, softmax as the CPU kernel's (a NaN maximum
// spreads, an infinite one is taken as 0). From probabilities: g / sum(x) - [j == label] *
// g / x[label] where eps < x[label] / sum(x) < 1 - eps, else 0 (the clip's zero gradient).
// A label outside [0, classes) gives a NaN row.
// Bindings: x (0) and labels (1) as above, then:
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
@group(0) @binding(4) var<uniform> gp: CrossEntropyParams;

@compute @workgroup_size({{WG}})
fn sparse_categorical_crossentropy_grad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let r = flat_index(wid, gp.row);
    let valid = r < gp.rows;
    let base = r * gp.classes;
    var m = bitcast<f32>(0xff800000u);
    if (gp.from_logits == 1u) {
        if (valid) {
            for (var j = lid; j < gp.classes; j = j + {{WG}}u) {
                m = max_nan(m, x[base + j]);
            }
        }
        m = wg_max_nan(m, lid);
        if ((bitcast<u32>(m) & 0x7fffffffu) == 0x7f800000u) {
            m = 0.0;
        }
    }
    var s = 0.0;
    if (valid) {
        for (var j = lid; j < gp.classes; j = j + {{WG}}u) {
            let v = x[base + j];
            s = s + select(v, exp(v - m), gp.from_logits == 1u);
        }
    }
    let total = wg_sum(s, lid);
    if (!valid) {
        return;
    }
    let label = labels[r];
    let gr = g[r];
    if (label < 0 || u32(label) >= gp.classes) {
        for (var j = lid; j < gp.classes; j = j + {{WG}}u) {
            dx[base + j] = bitcast<f32>(0x7fc00000u);
        }
        return;
    }
    let lab = u32(label);
    if (gp.from_logits == 1u) {
        let inv = 1.0 / total;
        for (var j = lid; j < gp.classes; j = j + {{WG}}u) {
            let sm = exp(x[base + j] - m) * inv;
            dx[base + j] = (sm - select(0.0, 1.0, j == lab)) * gr;
        }
    } else {
        let xl = x[base + lab];
        let q = xl / total;
        let inside = q > gp.eps && q < gp.one_minus_eps;
        for (var j = lid; j < gp.classes; j = j + {{WG}}u) {
            var v = gr / total;
            if (j == lab) {
                v = v - gr / xl;
            }
            dx[base + j] = select(0.0, v, inside);
        }
    }
}

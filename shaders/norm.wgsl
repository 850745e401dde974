// Batch and layer normalization over the last (channels) axis, forward and backward
// (rust/ops/norm.rs is the reference). x is viewed as `rows x c`, row-major.
// Statistics accumulate in f32, shifted and two-pass: values are first shifted by the first
// one of their channel or row (exact for nearby values), then the mean of the shifted values
// is taken, then the squared deviations from it; so data far from zero does not lose its
// variance to cancellation.
// Reductions run one workgroup per channel (batch norm) or per row (layer norm), the
// invocations striding over the reduced axis and combining partial sums in workgroup memory.
struct Params {
    rows: u32, c: u32, total: u32, row: u32,
    eps: f32, _p0: u32, _p1: u32, _p2: u32,
}

// x, at binding 0 of every entry point.
@group(0) @binding(0) var<storage, read> xin: array<f32>;

var<workgroup> red_a: array<f32, {{WG}}>;
var<workgroup> red_b: array<f32, {{WG}}>;

// Sum of `v` over the workgroup (every invocation gets it); call in uniform control flow.
fn wg_sum(v: f32, lid: u32) -> f32 {
    red_a[lid] = v;
    workgroupBarrier();
    for (var s = {{WG}}u / 2u; s > 0u; s = s / 2u) {
        if (lid < s) {
            red_a[lid] = red_a[lid] + red_a[lid + s];
        }
        workgroupBarrier();
    }
    let r = red_a[0];
    workgroupBarrier();
    return r;
}

// Sums of `a` and `b` over the workgroup at once.
fn wg_sum2(a: f32, b: f32, lid: u32) -> vec2<f32> {
    red_a[lid] = a;
    red_b[lid] = b;
    workgroupBarrier();
    for (var s = {{WG}}u / 2u; s > 0u; s = s / 2u) {
        if (lid < s) {
            red_a[lid] = red_a[lid] + red_a[lid + s];
            red_b[lid] = red_b[lid] + red_b[lid + s];
        }
        workgroupBarrier();
    }
    let r = vec2<f32>(red_a[0], red_b[0]);
    workgroupBarrier();
    return r;
}

// Shifted two-pass statistics of the `n` values x[base + i * stride] (a channel of batch
// norm, stride c; a row of layer norm, stride 1): (shift, mean - shift, variance), where shift
// is the first value.
fn shifted_stats(base: u32, n: u32, stride: u32, lid: u32) -> vec3<f32> {
    let k = xin[base];
    var s = 0.0;
    for (var i = lid; i < n; i = i + {{WG}}u) {
        s = s + (xin[base + i * stride] - k);
    }
    let md = wg_sum(s, lid) / f32(n);
    var sq = 0.0;
    for (var i = lid; i < n; i = i + {{WG}}u) {
        let t = (xin[base + i * stride] - k) - md;
        sq = sq + t * t;
    }
    return vec3<f32>(k, md, wg_sum(sq, lid) / f32(n));
}

// Statistics of row `base .. base + d` of x: (mean, rsqrt(var + eps), shift, mean - shift),
// where shift is the row's first value; `x - shift - (mean - shift)` is the accurate deviation.
fn row_stats(base: u32, d: u32, eps: f32, lid: u32) -> vec4<f32> {
    let s = shifted_stats(base, d, 1u, lid);
    return vec4<f32>(s.x + s.y, 1.0 / sqrt(s.z + eps), s.x, s.y);
}

// ---- batch normalization: x (rows, c), stats (2, c) = [mean; var] ----

// moments: (x) -> stats
@group(0) @binding(1) var<storage, read_write> mout: array<f32>;
@group(0) @binding(2) var<uniform> mp: Params;

@compute @workgroup_size({{WG}})
fn moments(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let ch = flat_index(wid, mp.row);
    if (ch >= mp.c) {
        return;
    }
    let st = shifted_stats(ch, mp.rows, mp.c, lid);
    if (lid == 0u) {
        mout[ch] = st.x + st.y;
        mout[mp.c + ch] = st.z;
    }
}

// batch_normalization: (x, stats, gamma, beta) -> y
@group(0) @binding(1) var<storage, read> fstats: array<f32>;
@group(0) @binding(2) var<storage, read> fgamma: array<f32>;
@group(0) @binding(3) var<storage, read> fbeta: array<f32>;
@group(0) @binding(4) var<storage, read_write> fout: array<f32>;
@group(0) @binding(5) var<uniform> fp: Params;

@compute @workgroup_size({{WG}})
fn bn_fwd(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, fp.row);
    if (i >= fp.total) {
        return;
    }
    let ch = i % fp.c;
    let scale = fgamma[ch] / sqrt(fstats[fp.c + ch] + fp.eps);
    let shift = fbeta[ch] - fstats[ch] * scale;
    fout[i] = xin[i] * scale + shift;
}

// batch_normalization_grad_sums: (x, dy, stats) -> (2, c) [sum dy; sum dy * xhat]
@group(0) @binding(1) var<storage, read> sdy: array<f32>;
@group(0) @binding(2) var<storage, read> sstats: array<f32>;
@group(0) @binding(3) var<storage, read_write> sout: array<f32>;
@group(0) @binding(4) var<uniform> sp: Params;

@compute @workgroup_size({{WG}})
fn bn_grad_sums(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let ch = flat_index(wid, sp.row);
    if (ch >= sp.c) {
        return;
    }
    let mean = sstats[ch];
    let rstd = 1.0 / sqrt(sstats[sp.c + ch] + sp.eps);
    var a = 0.0;
    var b = 0.0;
    for (var r = lid; r < sp.rows; r = r + {{WG}}u) {
        let g = sdy[r * sp.c + ch];
        a = a + g;
        b = b + g * (xin[r * sp.c + ch] - mean) * rstd;
    }
    let t = wg_sum2(a, b, lid);
    if (lid == 0u) {
        sout[ch] = t.x;
        sout[sp.c + ch] = t.y;
    }
}

// batch_normalization_input_grad: (x, dy, stats, gamma, sums) -> dx
@group(0) @binding(1) var<storage, read> gdy: array<f32>;
@group(0) @binding(2) var<storage, read> gstats: array<f32>;
@group(0) @binding(3) var<storage, read> ggamma: array<f32>;
@group(0) @binding(4) var<storage, read> gsums: array<f32>;
@group(0) @binding(5) var<storage, read_write> gout: array<f32>;
@group(0) @binding(6) var<uniform> gp: Params;

@compute @workgroup_size({{WG}})
fn bn_input_grad(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, gp.row);
    if (i >= gp.total) {
        return;
    }
    let ch = i % gp.c;
    let m = f32(gp.rows);
    let rstd = 1.0 / sqrt(gstats[gp.c + ch] + gp.eps);
    // dx = k * (dy - a - (x - mean) * b): k = gamma * rstd, a = mean(dy),
    // b = mean(dy * xhat) * rstd.
    let k = ggamma[ch] * rstd;
    let a = gsums[ch] / m;
    let b = gsums[gp.c + ch] / m * rstd;
    gout[i] = k * (gdy[i] - a - (xin[i] - gstats[ch]) * b);
}

// ---- layer normalization: x (rows, d), over each row ----

// layer_normalization: (x, gamma, beta) -> y; one workgroup per row.
@group(0) @binding(1) var<storage, read> lgamma: array<f32>;
@group(0) @binding(2) var<storage, read> lbeta: array<f32>;
@group(0) @binding(3) var<storage, read_write> lout: array<f32>;
@group(0) @binding(4) var<uniform> lp: Params;

@compute @workgroup_size({{WG}})
fn ln_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let r = flat_index(wid, lp.row);
    if (r >= lp.rows) {
        return;
    }
    let d = lp.c;
    let base = r * d;
    let st = row_stats(base, d, lp.eps, lid);
    let mean = st.x;
    let rs = st.y;
    for (var i = lid; i < d; i = i + {{WG}}u) {
        lout[base + i] = (xin[base + i] - mean) * rs * lgamma[i] + lbeta[i];
    }
}

// layer_normalization_input_grad: (x, dy, gamma) -> dx; one workgroup per row.
@group(0) @binding(1) var<storage, read> idy: array<f32>;
@group(0) @binding(2) var<storage, read> igamma: array<f32>;
@group(0) @binding(3) var<storage, read_write> iout: array<f32>;
@group(0) @binding(4) var<uniform> ip: Params;

@compute @workgroup_size({{WG}})
fn ln_input_grad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let r = flat_index(wid, ip.row);
    if (r >= ip.rows) {
        return;
    }
    let d = ip.c;
    let base = r * d;
    let st = row_stats(base, d, ip.eps, lid);
    let mean = st.x;
    let rs = st.y;
    var sg = 0.0;
    var sgx = 0.0;
    for (var i = lid; i < d; i = i + {{WG}}u) {
        let g = idy[base + i] * igamma[i];
        sg = sg + g;
        sgx = sgx + g * ((xin[base + i] - st.z) - st.w) * rs;
    }
    let t = wg_sum2(sg, sgx, lid);
    let a = t.x / f32(d);
    let b = t.y / f32(d);
    for (var i = lid; i < d; i = i + {{WG}}u) {
        let xhat = (xin[base + i] - mean) * rs;
        iout[base + i] = rs * (idy[base + i] * igamma[i] - a - xhat * b);
    }
}

// layer-norm row statistics: (x) -> (rows, 4) [rstd, shift, mean - shift, unused]; one
// workgroup per row.
@group(0) @binding(1) var<storage, read_write> rout: array<f32>;
@group(0) @binding(2) var<uniform> rp: Params;

@compute @workgroup_size({{WG}})
fn ln_row_stats(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let r = flat_index(wid, rp.row);
    if (r >= rp.rows) {
        return;
    }
    let d = rp.c;
    let base = r * d;
    let st = row_stats(base, d, rp.eps, lid);
    if (lid == 0u) {
        rout[4u * r] = st.y;
        rout[4u * r + 1u] = st.z;
        rout[4u * r + 2u] = st.w;
    }
}

// layer_normalization_param_grad: (x, dy, row stats) -> (2, d) [sum dy; sum dy * xhat];
// one workgroup per column.
@group(0) @binding(1) var<storage, read> qdy: array<f32>;
@group(0) @binding(2) var<storage, read> qstats: array<f32>;
@group(0) @binding(3) var<storage, read_write> qout: array<f32>;
@group(0) @binding(4) var<uniform> qp: Params;

@compute @workgroup_size({{WG}})
fn ln_param_grad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let col = flat_index(wid, qp.row);
    if (col >= qp.c) {
        return;
    }
    var a = 0.0;
    var b = 0.0;
    for (var r = lid; r < qp.rows; r = r + {{WG}}u) {
        let g = qdy[r * qp.c + col];
        a = a + g;
        b = b + g * ((xin[r * qp.c + col] - qstats[4u * r + 1u]) - qstats[4u * r + 2u]) * qstats[4u * r];
    }
    let t = wg_sum2(a, b, lid);
    if (lid == 0u) {
        qout[col] = t.x;
        qout[qp.c + col] = t.y;
    }
}

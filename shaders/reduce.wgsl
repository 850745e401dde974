// Reductions over the middle axis of an input viewed as (outer, len, inner): sum, prod, mean,
// max, min (`reduce`, `reduce_lanes`), argmax/argmin (`argreduce`, `argreduce_lanes`) and
// running sums/products (`cumulative`).
//
// Specialized by the element type {{T}} (f32, i32 or u32), the output type {{TO}} ({{T}}, or
// i32 for the arg-reductions), the identity {{IDENT}} and pairwise {{COMBINE}} of `a` and `b`,
// {{ISNAN}} of `v` (false for integers), the arg-reduction's strict preference {{BETTER}} of
// `b` over `a`, and the workgroup size {{WG}} (a power of two). Every entry point type-checks
// under every specialization: values are written through `{{TO}}(...)` conversions.
//
// `reduce` runs one workgroup per output: its invocations stride over a chunk of the reduced
// axis and fold their partials as a tree in workgroup memory. A reduced axis longer than one
// chunk is reduced in passes: the first writes (outer, nchunks, inner) partials, the next pass
// reduces those. `reduce_lanes` runs one invocation per output and loops over a short axis.
struct Params {
    outer: u32,
    len: u32,
    inner: u32,
    chunk: u32,     // reduced elements per workgroup (`reduce`)
    nchunks: u32,   // chunks of the reduced axis (`reduce`)
    row: u32,       // groups (per-workgroup entries) or invocations (lanes) along x
    finalize: u32,  // 1: multiply the result by `scale` (mean, last pass)
    reverse: u32,   // cumulative: from the end
    exclusive: u32, // cumulative: leave the element itself out
    scale: f32,
    _p0: u32,
    _p1: u32,
}

@group(0) @binding(0) var<storage, read> src: array<{{T}}>;
@group(0) @binding(1) var<storage, read_write> dst: array<{{TO}}>;
@group(0) @binding(2) var<uniform> p: Params;

var<workgroup> part: array<{{T}}, {{WG}}>;
var<workgroup> part_idx: array<u32, {{WG}}>;

fn combine(a: {{T}}, b: {{T}}) -> {{T}} {
    return {{COMBINE}};
}

fn is_nan(v: {{T}}) -> bool {
    return {{ISNAN}};
}

fn finish(r: {{T}}) -> {{T}} {
    if (p.finalize == 1u) {
        return {{T}}(f32(r) * p.scale);
    }
    return r;
}

// Whether candidate (b, ib) beats (a, ia) for an arg-reduction: NaN wins (the first NaN),
// then the strictly better value, then on ties the lower index.
fn prefer(a: {{T}}, ia: u32, b: {{T}}, ib: u32) -> bool {
    let an = is_nan(a);
    let bn = is_nan(b);
    if (an || bn) {
        return bn && (!an || ib < ia);
    }
    if ({{BETTER}}) {
        return true;
    }
    let worse = {{BETTER_REV}};
    return !worse && b == a && ib < ia;
}

@compute @workgroup_size({{WG}})
fn reduce(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let w = flat_index(wid, p.row); // output index over (outer, nchunks, inner)
    let total = p.outer * p.nchunks * p.inner;
    var acc = {{IDENT}};
    var i = 0u;
    var c = 0u;
    var o = 0u;
    if (w < total) {
        i = w % p.inner;
        let t = w / p.inner;
        c = t % p.nchunks;
        o = t / p.nchunks;
        let start = c * p.chunk;
        let stop = min(start + p.chunk, p.len);
        for (var j = start + lid; j < stop; j = j + {{WG}}u) {
            acc = combine(acc, src[(o * p.len + j) * p.inner + i]);
        }
    }
    part[lid] = acc;
    workgroupBarrier();
    for (var s = {{WG}}u / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            part[lid] = combine(part[lid], part[lid + s]);
        }
        workgroupBarrier();
    }
    if (lid == 0u && w < total) {
        dst[w] = {{TO}}(finish(part[0]));
    }
}

@compute @workgroup_size({{WG}})
fn reduce_lanes(@builtin(global_invocation_id) gid: vec3<u32>) {
    let w = flat_index(gid, p.row); // output index over (outer, inner)
    if (w >= p.outer * p.inner) {
        return;
    }
    let i = w % p.inner;
    let o = w / p.inner;
    var acc = {{IDENT}};
    for (var j = 0u; j < p.len; j = j + 1u) {
        acc = combine(acc, src[(o * p.len + j) * p.inner + i]);
    }
    dst[w] = {{TO}}(finish(acc));
}

@compute @workgroup_size({{WG}})
fn argreduce(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let w = flat_index(wid, p.row); // output index over (outer, inner)
    let total = p.outer * p.inner;
    var best = {{IDENT}};
    var at = 0xffffffffu; // no candidate yet
    if (w < total) {
        let i = w % p.inner;
        let o = w / p.inner;
        for (var j = lid; j < p.len; j = j + {{WG}}u) {
            let v = src[(o * p.len + j) * p.inner + i];
            if (at == 0xffffffffu || prefer(best, at, v, j)) {
                best = v;
                at = j;
            }
        }
    }
    part[lid] = best;
    part_idx[lid] = at;
    workgroupBarrier();
    for (var s = {{WG}}u / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            let ib = part_idx[lid + s];
            let ia = part_idx[lid];
            let take = ia == 0xffffffffu || prefer(part[lid], ia, part[lid + s], ib);
            if (ib != 0xffffffffu && take) {
                part[lid] = part[lid + s];
                part_idx[lid] = ib;
            }
        }
        workgroupBarrier();
    }
    if (lid == 0u && w < total) {
        dst[w] = {{TO}}(part_idx[0]);
    }
}

@compute @workgroup_size({{WG}})
fn argreduce_lanes(@builtin(global_invocation_id) gid: vec3<u32>) {
    let w = flat_index(gid, p.row);
    if (w >= p.outer * p.inner) {
        return;
    }
    let i = w % p.inner;
    let o = w / p.inner;
    var best = src[o * p.len * p.inner + i];
    var at = 0u;
    for (var j = 1u; j < p.len; j = j + 1u) {
        let v = src[(o * p.len + j) * p.inner + i];
        if (prefer(best, at, v, j)) {
            best = v;
            at = j;
        }
    }
    dst[w] = {{TO}}(at);
}

@compute @workgroup_size({{WG}})
fn cumulative(@builtin(global_invocation_id) gid: vec3<u32>) {
    let w = flat_index(gid, p.row); // lane over (outer, inner)
    if (w >= p.outer * p.inner) {
        return;
    }
    let i = w % p.inner;
    let o = w / p.inner;
    var acc = {{IDENT}};
    for (var s = 0u; s < p.len; s = s + 1u) {
        let j = select(s, p.len - 1u - s, p.reverse == 1u);
        let at = (o * p.len + j) * p.inner + i;
        let next = combine(acc, src[at]);
        dst[at] = {{TO}}(select(next, acc, p.exclusive == 1u));
        acc = next;
    }
}

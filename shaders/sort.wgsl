// argsort: the int32 order that sorts each row along an axis, as the CPU kernel's stable sort
// (`cpu_argsort` in rust/ops/shape.rs): equal values keep their index order, NaN sorts after
// every number ascending and before every number descending (the reversed comparison).
//
// Rank sort: one invocation per element counts the elements of its row that go before it
// and writes its index at that rank. Work is O(len^2) per row, done in parallel over all
// elements: fine for the short rows of top_k and sort, slow for one row of millions.
//
// Specialized by {{T}} (the stored element type: f32, i32 or u32) and {{ISNAN}} (an
// expression of `v` that is true where `v` is NaN; `false` for integers).
struct Params { n: u32, row: u32, len: u32, inner: u32, descending: u32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<storage, read> x: array<{{T}}>;
@group(0) @binding(1) var<storage, read_write> out: array<i32>;
@group(0) @binding(2) var<uniform> p: Params;

fn key_is_nan(v: {{T}}) -> bool {
    return {{ISNAN}};
}

// -1, 0 or 1 as `a` goes before, ties with, or goes after `b` in ascending order (NaN last;
// NaN ties with NaN). NaN is tested by its bits: WGSL comparisons may assume no NaN.
fn order(a: {{T}}, b: {{T}}) -> i32 {
    let na = key_is_nan(a);
    let nb = key_is_nan(b);
    if (na || nb) {
        return i32(na) - i32(nb);
    }
    return i32(b < a) - i32(a < b);
}

@compute @workgroup_size({{WG}})
fn argsort(@builtin(global_invocation_id) gid: vec3<u32>) {
    let t = flat_index(gid, p.row);
    if (t >= p.n) {
        return;
    }
    // t = (o * len + j) * inner + i: element j of row (o, i).
    let i = t % p.inner;
    let j = (t / p.inner) % p.len;
    let base = t - j * p.inner;  // element 0 of the row
    let xj = x[t];
    let sign = select(1, -1, p.descending != 0u);
    var rank = 0u;
    for (var k = 0u; k < p.len; k = k + 1u) {
        let c = sign * order(x[base + k * p.inner], xj);
        rank = rank + u32(c < 0 || (c == 0 && k < j));
    }
    out[base + rank * p.inner] = i32(j);
}

// `where(cond, x, y)` with NumPy broadcasting of all three operands, one invocation per
// output element. Values are copied as raw 32-bit words (any dtype); `cond` is bool (u32 0/1).
// `shp` holds [out_shape(ndim), cond strides(ndim), x strides(ndim), y strides(ndim)] in
// elements, 0 along broadcast axes.
struct Params { n: u32, row: u32, ndim: u32, _p: u32 }

@group(0) @binding(0) var<storage, read> cond: array<u32>;
@group(0) @binding(1) var<storage, read> xs: array<u32>;
@group(0) @binding(2) var<storage, read> ys: array<u32>;
@group(0) @binding(3) var<storage, read> shp: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<u32>;
@group(0) @binding(5) var<uniform> p: Params;

@compute @workgroup_size({{WG}})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, p.row);
    if (i >= p.n) {
        return;
    }
    var rem = i;
    var ic = 0u;
    var ix = 0u;
    var iy = 0u;
    for (var d = i32(p.ndim) - 1; d >= 0; d = d - 1) {
        let k = u32(d);
        let dim = shp[k];
        let c = rem % dim;
        rem = rem / dim;
        ic = ic + c * shp[p.ndim + k];
        ix = ix + c * shp[2u * p.ndim + k];
        iy = iy + c * shp[3u * p.ndim + k];
    }
    out[i] = select(ys[iy], xs[ix], cond[ic] != 0u);
}

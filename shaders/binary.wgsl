// Element-wise binary ops with NumPy broadcasting: one template, specialized per op by the
// expression {{EXPR}} over `x` and `y` (both {{TA}}), written as {{TO}}.
// `shp` holds [out_shape(ndim), a_strides(ndim), b_strides(ndim)] in elements; a stride of 0
// repeats an operand along a broadcast axis.
struct Params { n: u32, row: u32, ndim: u32, _p: u32 }

@group(0) @binding(0) var<storage, read> a: array<{{TA}}>;
@group(0) @binding(1) var<storage, read> b: array<{{TA}}>;
@group(0) @binding(2) var<storage, read> shp: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<{{TO}}>;
@group(0) @binding(4) var<uniform> p: Params;

// NumPy's power for floats: negative bases with integral exponents keep their sign, 0^0 = 1.
fn pow_f32(x: f32, y: f32) -> f32 {
    if (y == 0.0) {
        return 1.0;
    }
    if (x == 0.0) {
        return select(0.0, bitcast<f32>(0x7f800000u), y < 0.0);
    }
    let m = pow(abs(x), y);
    if (x > 0.0) {
        return m;
    }
    if (floor(y) != y) {
        return bitcast<f32>(0x7fc00000u);
    }
    let odd = abs(y - 2.0 * floor(y / 2.0)) == 1.0;
    return select(m, -m, odd);
}

fn pow_i32(x: i32, y: i32) -> i32 {
    if (y < 0) {
        return select(0, select(1, select(1, -1, (y & 1) != 0), x == -1), x == 1 || x == -1);
    }
    var r = 1;
    var base = x;
    var e = y;
    while (e > 0) {
        if ((e & 1) != 0) {
            r = r * base;
        }
        base = base * base;
        e = e >> 1u;
    }
    return r;
}

fn floordiv_i32(x: i32, y: i32) -> i32 {
    if (y == 0) {
        return 0;
    }
    let q = x / y;
    return select(q, q - 1, (x % y != 0) && ((x < 0) != (y < 0)));
}

fn mod_i32(x: i32, y: i32) -> i32 {
    if (y == 0) {
        return 0;
    }
    let r = x % y;
    return select(r, r + y, r != 0 && ((r < 0) != (y < 0)));
}

@compute @workgroup_size({{WG}})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = flat_index(gid, p.row);
    if (i >= p.n) {
        return;
    }
    var rem = i;
    var ia = 0u;
    var ib = 0u;
    for (var d = i32(p.ndim) - 1; d >= 0; d = d - 1) {
        let k = u32(d);
        let dim = shp[k];
        let c = rem % dim;
        rem = rem / dim;
        ia = ia + c * shp[p.ndim + k];
        ib = ib + c * shp[2u * p.ndim + k];
    }
    let x = a[ia];
    let y = b[ib];
    out[i] = {{EXPR}};
}

// Batched matrix product `c[z] = op(a[z]) @ op(b[z])`, register-tiled.
//
// A workgroup of {{NX}} x {{NY}} invocations computes a {{TM}} x {{TN}} tile of one batch
// matrix; each invocation accumulates a {{RM}} x {{RN}} block in registers (rows
// `ly + i * NY`, columns `lx + j * NX`, so that stores and workgroup-memory reads are
// contiguous across invocations). The contracted axis is walked in steps of {{TK}}: the
// workgroup stages a {{TM}} x {{TK}} tile of A and a {{TK}} x {{TN}} tile of B in workgroup
// memory, zero-padded past the matrix edges (ragged sizes).
// Logical A[r][q] is a[oa + r * rsa + q * csa] (transposes are strides); B likewise.
// `bat` holds [batch_shape(nb), a batch strides(nb), b batch strides(nb)] in elements, 0 along
// broadcast batch axes; the batch index is workgroup z + `zoff`.
struct Params {
    m: u32,
    n: u32,
    k: u32,
    nb: u32,
    rsa: u32,
    csa: u32,
    rsb: u32,
    csb: u32,
    zoff: u32,
    _p0: u32,
    _p1: u32,
    _p2: u32,
}

@group(0) @binding(0) var<storage, read> a: array<{{T}}>;
@group(0) @binding(1) var<storage, read> b: array<{{T}}>;
@group(0) @binding(2) var<storage, read> bat: array<u32>;
@group(0) @binding(3) var<storage, read_write> c: array<{{T}}>;
@group(0) @binding(4) var<uniform> p: Params;

const TM: u32 = {{TM}}u;
const TN: u32 = {{TN}}u;
const TK: u32 = {{TK}}u;
const RM: u32 = {{RM}}u;
const RN: u32 = {{RN}}u;
const NX: u32 = {{NX}}u;
const NY: u32 = {{NY}}u;

var<workgroup> tile_a: array<{{T}}, {{TA_SIZE}}>; // [kk * TM + r]
var<workgroup> tile_b: array<{{T}}, {{TB_SIZE}}>; // [kk * TN + col]

@compute @workgroup_size({{NX}}, {{NY}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let z = wid.z + p.zoff;
    var rem = z;
    var oa = 0u;
    var ob = 0u;
    for (var d = i32(p.nb) - 1; d >= 0; d = d - 1) {
        let k = u32(d);
        let dim = bat[k];
        let q = rem % dim;
        rem = rem / dim;
        oa = oa + q * bat[p.nb + k];
        ob = ob + q * bat[2u * p.nb + k];
    }
    let row0 = wid.y * TM;
    let col0 = wid.x * TN;
    var acc: array<{{T}}, {{RMN}}>;
    for (var e = 0u; e < RM * RN; e = e + 1u) {
        acc[e] = {{T}}(0);
    }
    var av: array<{{T}}, {{RM}}>;
    var bv: array<{{T}}, {{RN}}>;
    for (var k0 = 0u; k0 < p.k; k0 = k0 + TK) {
        for (var e = li; e < TM * TK; e = e + NX * NY) {
            let r = e / TK;
            let kk = e % TK;
            let gr = row0 + r;
            let gk = k0 + kk;
            var v = {{T}}(0);
            if (gr < p.m && gk < p.k) {
                v = a[oa + gr * p.rsa + gk * p.csa];
            }
            tile_a[kk * TM + r] = v;
        }
        for (var e = li; e < TK * TN; e = e + NX * NY) {
            let kk = e / TN;
            let col = e % TN;
            let gk = k0 + kk;
            let gc = col0 + col;
            var v = {{T}}(0);
            if (gk < p.k && gc < p.n) {
                v = b[ob + gk * p.rsb + gc * p.csb];
            }
            tile_b[kk * TN + col] = v;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk = kk + 1u) {
            for (var i = 0u; i < RM; i = i + 1u) {
                av[i] = tile_a[kk * TM + lid.y + i * NY];
            }
            for (var j = 0u; j < RN; j = j + 1u) {
                bv[j] = tile_b[kk * TN + lid.x + j * NX];
            }
            for (var i = 0u; i < RM; i = i + 1u) {
                for (var j = 0u; j < RN; j = j + 1u) {
                    acc[i * RN + j] = acc[i * RN + j] + av[i] * bv[j];
                }
            }
        }
        workgroupBarrier();
    }
    let base = z * p.m * p.n;
    for (var i = 0u; i < RM; i = i + 1u) {
        let r = row0 + lid.y + i * NY;
        for (var j = 0u; j < RN; j = j + 1u) {
            let col = col0 + lid.x + j * NX;
            if (r < p.m && col < p.n) {
                c[base + r * p.n + col] = acc[i * RN + j];
            }
        }
    }
}

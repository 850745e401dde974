//! Matrix products with NumPy `matmul` semantics (1-D promotion, broadcast batch axes), run
//! by the `gemm` crate. Transposed operands are read through strides, never copied, which is
//! what makes the backward pass (`g @ b^T`, `a^T @ g`) as cheap as the forward one.

use std::sync::Arc;

use rayon::prelude::*;

use crate::autodiff::record;
use crate::device::{self, pool};
use crate::error::{Error, Result};
use crate::ops::elementwise::FloatElem;
use crate::ops::shape::{reshape_to, sum_to};
use crate::ops::{cast, Op};
use crate::tensor::layout::broadcast_strides_of;
use crate::tensor::{broadcast_shapes, numel, Buffer, DType, Tensor};

/// `a @ b`. 1-D operands are treated as a row (left) or column (right) vector and the added
/// axis is removed again, as in NumPy.
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if a.ndim() == 0 || b.ndim() == 0 {
        return Err(Error::Value(format!(
            "matmul: operands must have at least 1 dimension, got shapes {:?} and {:?}",
            a.shape, b.shape
        )));
    }
    let a2 = if a.ndim() == 1 {
        reshape_to(a, vec![1, a.shape[0]])?
    } else {
        a.clone()
    };
    let b2 = if b.ndim() == 1 {
        reshape_to(b, vec![b.shape[0], 1])?
    } else {
        b.clone()
    };
    let out = matmul_t(&a2, &b2, false, false)?;
    if a.ndim() == 1 || b.ndim() == 1 {
        let mut shape = out.shape.clone();
        let nd = shape.len();
        if b.ndim() == 1 {
            shape.remove(nd - 1);
        }
        if a.ndim() == 1 {
            shape.remove(nd - 2);
        }
        return reshape_to(&out, shape);
    }
    Ok(out)
}

/// `op(a) @ op(b)` on operands of rank >= 2, where `op` transposes the last two axes when asked.
pub fn matmul_t(a: &Tensor, b: &Tensor, transpose_a: bool, transpose_b: bool) -> Result<Tensor> {
    let dt = DType::promote(a.dtype(), b.dtype());
    let dt = if dt == DType::Bool { DType::Int32 } else { dt };
    let (a, b) = (&cast(a, dt)?, &cast(b, dt)?);
    let out = device::execute(
        &Op::Matmul {
            transpose_a,
            transpose_b,
        },
        &[a, b],
    )?;
    if dt.is_float() {
        let (ac, bc) = (a.clone(), b.clone());
        record(&[a, b], &out, move || {
            Arc::new(move |g: &Tensor, needs: &[bool]| {
                let (a, b) = (&ac, &bc);
                let ga = if needs[0] {
                    let ga = match (transpose_a, transpose_b) {
                        (false, tb) => matmul_t(g, b, false, !tb)?,
                        (true, false) => matmul_t(b, g, false, true)?,
                        (true, true) => matmul_t(b, g, true, true)?,
                    };
                    Some(sum_to(&ga, &a.shape)?)
                } else {
                    None
                };
                let gb = if needs[1] {
                    let gb = match (transpose_a, transpose_b) {
                        (ta, false) => matmul_t(a, g, !ta, false)?,
                        (false, true) => matmul_t(g, a, true, false)?,
                        (true, true) => matmul_t(g, a, true, true)?,
                    };
                    Some(sum_to(&gb, &b.shape)?)
                } else {
                    None
                };
                Ok(vec![ga, gb])
            })
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// CPU kernel

/// Multiply-adds above which one product is split across threads by gemm. Measured on the
/// 2-core CI machine (benchmarks/README.md): 384^3 is still faster on one thread, 512^3 gains
/// 30% on two.
const PAR_FLOPS: usize = 1 << 26;
/// Multiply-adds per interruptible block of a large product (~20 ms at 100 GFLOP/s).
const BLOCK_FLOPS: usize = 1 << 30;

/// Where one operand's matrices live: element offsets of each batch matrix, and the row and
/// column strides of the logical (already transposed) matrix. Views are read in place.
struct Operand {
    offsets: Vec<isize>,
    rs: isize,
    cs: isize,
}

struct Plan {
    m: usize,
    n: usize,
    k: usize,
    batch_shape: Vec<usize>,
    a: Operand,
    b: Operand,
}

/// Offsets and strides of `x`'s matrices over `batch_shape` (broadcast batch axes repeat).
fn operand(x: &Tensor, batch_shape: &[usize], transposed: bool) -> Operand {
    let (st, offset) = x.strided();
    let nd = x.ndim();
    let (rs, cs) = (st[nd - 2], st[nd - 1]);
    let bst = broadcast_strides_of(&x.shape[..nd - 2], &st[..nd - 2], batch_shape);
    let offsets = (0..numel(batch_shape))
        .map(|i| {
            let (mut off, mut r) = (offset as isize, i);
            for d in (0..batch_shape.len()).rev() {
                off += (r % batch_shape[d]) as isize * bst[d];
                r /= batch_shape[d];
            }
            off
        })
        .collect();
    let (rs, cs) = if transposed { (cs, rs) } else { (rs, cs) };
    Operand { offsets, rs, cs }
}

fn plan(a: &Tensor, b: &Tensor, ta: bool, tb: bool) -> Result<Plan> {
    if a.ndim() < 2 || b.ndim() < 2 {
        return Err(Error::Value(format!(
            "matmul: expected operands of rank >= 2, got shapes {:?} and {:?}",
            a.shape, b.shape
        )));
    }
    let (na, nb) = (a.ndim(), b.ndim());
    let (m, ka) = if ta {
        (a.shape[na - 1], a.shape[na - 2])
    } else {
        (a.shape[na - 2], a.shape[na - 1])
    };
    let (kb, n) = if tb {
        (b.shape[nb - 1], b.shape[nb - 2])
    } else {
        (b.shape[nb - 2], b.shape[nb - 1])
    };
    if ka != kb {
        return Err(Error::Value(format!(
            "matmul: shapes {:?} and {:?} are not aligned: the contracted dimensions differ ({ka} != {kb})",
            a.shape, b.shape
        )));
    }
    let batch_shape = broadcast_shapes("matmul", &a.shape[..na - 2], &b.shape[..nb - 2])?;
    let out: Vec<usize> = batch_shape.iter().copied().chain([m, n]).collect();
    crate::tensor::check_alloc("matmul", &out, DType::promote(a.dtype(), b.dtype()))?;
    Ok(Plan {
        m,
        n,
        k: ka,
        a: operand(a, &batch_shape, ta),
        b: operand(b, &batch_shape, tb),
        batch_shape,
    })
}

/// Rows `rows` of batch product `i` into `dst` (row-major, `rows.len()` x n).
fn gemm_into<T: FloatElem>(
    dst: &mut [T],
    a: &[T],
    b: &[T],
    p: &Plan,
    i: usize,
    rows: std::ops::Range<usize>,
    par: gemm::Parallelism,
) {
    let (m, n, k) = (rows.len(), p.n, p.k);
    let a_offset = p.a.offsets[i] + rows.start as isize * p.a.rs;
    if k == 0 {
        dst.fill(T::zero());
        return;
    }
    // SAFETY: `operand` derived offsets and strides from the tensors' own layouts, so every
    // element gemm addresses lies inside `a` and `b`; `dst` holds m*n elements.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr().offset(a_offset),
            p.a.cs,
            p.a.rs,
            b.as_ptr().offset(p.b.offsets[i]),
            p.b.cs,
            p.b.rs,
            T::zero(),
            T::one(),
            false,
            false,
            false,
            par,
        );
    }
}

fn int_gemm<T: Copy + Default + std::ops::Add<Output = T> + std::ops::Mul<Output = T>>(
    dst: &mut [T],
    a: &[T],
    b: &[T],
    p: &Plan,
    i: usize,
) {
    let (m, n, k) = (p.m, p.n, p.k);
    let (oa, ob) = (p.a.offsets[i], p.b.offsets[i]);
    let at = |r: usize, c: usize| a[(oa + r as isize * p.a.rs + c as isize * p.a.cs) as usize];
    let bt = |r: usize, c: usize| b[(ob + r as isize * p.b.rs + c as isize * p.b.cs) as usize];
    let token = crate::interrupt::current();
    for r in 0..m {
        if token.fired() {
            return; // the caller drops the result
        }
        for c in 0..n {
            let mut acc = T::default();
            for q in 0..k {
                acc = acc + at(r, q) * bt(q, c);
            }
            dst[r * n + c] = acc;
        }
    }
}

/// All batch products into `out`, threaded as the measured thresholds say.
fn float_matmul<T: FloatElem>(out: &mut [T], av: &[T], bv: &[T], p: &Plan) {
    let (m, n, k) = (p.m, p.n, p.k);
    let mat = m * n;
    if mat == 0 {
        return;
    }
    let nbatch = p.a.offsets.len();
    let big = m * n * k >= PAR_FLOPS;
    let run = |i: usize, dst: &mut [T], par| gemm_into(dst, av, bv, p, i, 0..m, par);
    if nbatch > 1 && !big && nbatch * m * n * k >= PAR_FLOPS {
        pool::par(|| {
            out.par_chunks_mut(mat)
                .enumerate()
                .for_each(|(i, d)| run(i, d, gemm::Parallelism::None))
        });
    } else if big {
        // Blocks of rows of about BLOCK_FLOPS each (tens of milliseconds), so that Ctrl-C is
        // noticed between them; a block this size keeps gemm at full speed.
        let threads = pool::num_threads();
        let token = crate::interrupt::current();
        let block = (BLOCK_FLOPS / (n * k).max(1)).max(64);
        pool::par(|| {
            for (i, d) in out.chunks_mut(mat).enumerate() {
                for (j, rows) in d.chunks_mut(block * n).enumerate() {
                    if token.fired() {
                        return;
                    }
                    let r0 = j * block;
                    let par = gemm::Parallelism::Rayon(threads);
                    gemm_into(rows, av, bv, p, i, r0..r0 + rows.len() / n, par);
                }
            }
        });
    } else {
        out.chunks_mut(mat)
            .enumerate()
            .for_each(|(i, d)| run(i, d, gemm::Parallelism::None));
    }
}

/// All batch products of integer operands (exact, wrapping like NumPy).
fn int_matmul<T>(av: &[T], bv: &[T], p: &Plan) -> Vec<T>
where
    T: Copy + Default + std::ops::Add<Output = T> + std::ops::Mul<Output = T>,
{
    let mat = p.m * p.n;
    let mut out = crate::tensor::reuse::filled(T::default(), p.a.offsets.len() * mat);
    if mat > 0 {
        out.chunks_mut(mat)
            .enumerate()
            .for_each(|(i, d)| int_gemm(d, av, bv, p, i));
    }
    out
}

/// Whether gemm can read `x` in place: forward (positive) strides on the matrix axes.
fn readable_in_place(x: &Tensor) -> bool {
    let (st, _) = x.strided();
    let nd = x.ndim();
    (nd - 2..nd).all(|i| x.shape[i] <= 1 || st[i] > 0)
}

pub(crate) fn cpu_matmul(a: &Tensor, b: &Tensor, ta: bool, tb: bool) -> Result<Tensor> {
    let in_place = |x: &Tensor| {
        if x.ndim() < 2 || readable_in_place(x) {
            x.clone()
        } else {
            x.contiguous()
        }
    };
    let (a, b) = (&in_place(a), &in_place(b));
    let p = plan(a, b, ta, tb)?;
    let (m, n) = (p.m, p.n);
    let mut shape = p.batch_shape.clone();
    shape.extend([m, n]);
    let mat = m * n;
    let nbatch = p.a.offsets.len();
    let data = match (&*a.data, &*b.data) {
        (Buffer::F32(av), Buffer::F32(bv)) => {
            let mut out = crate::tensor::reuse::take_f32(nbatch * mat);
            float_matmul(&mut out, av, bv, &p);
            Buffer::F32(out)
        }
        (Buffer::F64(av), Buffer::F64(bv)) => {
            let mut out = crate::tensor::reuse::zeros(nbatch * mat);
            float_matmul(&mut out, av, bv, &p);
            Buffer::F64(out)
        }
        (Buffer::I32(av), Buffer::I32(bv)) => Buffer::I32(int_matmul(av, bv, &p)),
        (Buffer::I64(av), Buffer::I64(bv)) => Buffer::I64(int_matmul(av, bv, &p)),
        _ => unreachable!("matmul promotes its operands"),
    };
    Ok(Tensor::new(shape, data))
}

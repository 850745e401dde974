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
use crate::tensor::{broadcast_shapes, broadcast_strides, numel, Buffer, DType, Tensor};

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

struct Plan {
    m: usize,
    n: usize,
    k: usize,
    batch_shape: Vec<usize>,
    a_offsets: Vec<usize>,
    b_offsets: Vec<usize>,
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
    let (ba, bb) = (&a.shape[..na - 2], &b.shape[..nb - 2]);
    let batch_shape = broadcast_shapes("matmul", ba, bb)?;
    let (sa, sb) = (
        broadcast_strides(ba, &batch_shape),
        broadcast_strides(bb, &batch_shape),
    );
    let nbatch = numel(&batch_shape);
    let (mut a_offsets, mut b_offsets) = (Vec::with_capacity(nbatch), Vec::with_capacity(nbatch));
    for i in 0..nbatch {
        let (mut oa, mut ob, mut r) = (0, 0, i);
        for d in (0..batch_shape.len()).rev() {
            let idx = r % batch_shape[d];
            r /= batch_shape[d];
            oa += idx * sa[d];
            ob += idx * sb[d];
        }
        a_offsets.push(oa * m * ka);
        b_offsets.push(ob * ka * n);
    }
    Ok(Plan {
        m,
        n,
        k: ka,
        batch_shape,
        a_offsets,
        b_offsets,
    })
}

/// One (m x k) @ (k x n) product into `dst` (row-major m x n).
fn gemm_into<T: FloatElem>(
    dst: &mut [T],
    a: &[T],
    b: &[T],
    p: &Plan,
    ta: bool,
    tb: bool,
    par: gemm::Parallelism,
) {
    let (m, n, k) = (p.m, p.n, p.k);
    if k == 0 {
        dst.fill(T::zero());
        return;
    }
    let (a_rs, a_cs) = if ta { (1, m as isize) } else { (k as isize, 1) };
    let (b_rs, b_cs) = if tb { (1, k as isize) } else { (n as isize, 1) };
    // SAFETY: the strides above address exactly the m*k, k*n and m*n elements the slices hold.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
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
    ta: bool,
    tb: bool,
) {
    let (m, n, k) = (p.m, p.n, p.k);
    for i in 0..m {
        for j in 0..n {
            let mut acc = T::default();
            for q in 0..k {
                let x = if ta { a[q * m + i] } else { a[i * k + q] };
                let y = if tb { b[j * k + q] } else { b[q * n + j] };
                acc = acc + x * y;
            }
            dst[i * n + j] = acc;
        }
    }
}

/// All batch products into `out`, threaded as the measured thresholds say.
fn float_matmul<T: FloatElem>(out: &mut [T], av: &[T], bv: &[T], p: &Plan, ta: bool, tb: bool) {
    let (m, n, k) = (p.m, p.n, p.k);
    let mat = m * n;
    if mat == 0 {
        return;
    }
    let nbatch = p.a_offsets.len();
    let big = m * n * k >= PAR_FLOPS;
    let run = |i: usize, dst: &mut [T], par| {
        gemm_into(
            dst,
            &av[p.a_offsets[i]..][..m * k],
            &bv[p.b_offsets[i]..][..k * n],
            p,
            ta,
            tb,
            par,
        )
    };
    if nbatch > 1 && !big && nbatch * m * n * k >= PAR_FLOPS {
        pool::par(|| {
            out.par_chunks_mut(mat)
                .enumerate()
                .for_each(|(i, d)| run(i, d, gemm::Parallelism::None))
        });
    } else if big {
        let threads = pool::num_threads();
        pool::par(|| {
            out.chunks_mut(mat)
                .enumerate()
                .for_each(|(i, d)| run(i, d, gemm::Parallelism::Rayon(threads)))
        });
    } else {
        out.chunks_mut(mat)
            .enumerate()
            .for_each(|(i, d)| run(i, d, gemm::Parallelism::None));
    }
}

/// All batch products of integer operands (exact, wrapping like NumPy).
fn int_matmul<T>(av: &[T], bv: &[T], p: &Plan, ta: bool, tb: bool) -> Vec<T>
where
    T: Copy + Default + std::ops::Add<Output = T> + std::ops::Mul<Output = T>,
{
    let (m, n, k) = (p.m, p.n, p.k);
    let mat = m * n;
    let mut out = vec![T::default(); p.a_offsets.len() * mat];
    if mat > 0 {
        out.chunks_mut(mat).enumerate().for_each(|(i, d)| {
            int_gemm(
                d,
                &av[p.a_offsets[i]..][..m * k],
                &bv[p.b_offsets[i]..][..k * n],
                p,
                ta,
                tb,
            )
        });
    }
    out
}

pub(crate) fn cpu_matmul(a: &Tensor, b: &Tensor, ta: bool, tb: bool) -> Result<Tensor> {
    let p = plan(a, b, ta, tb)?;
    let (m, n) = (p.m, p.n);
    let mut shape = p.batch_shape.clone();
    shape.extend([m, n]);
    let mat = m * n;
    let nbatch = p.a_offsets.len();
    let data = match (&*a.data, &*b.data) {
        (Buffer::F32(av), Buffer::F32(bv)) => {
            let mut out = crate::tensor::reuse::take_f32(nbatch * mat);
            float_matmul(&mut out, av, bv, &p, ta, tb);
            Buffer::F32(out)
        }
        (Buffer::F64(av), Buffer::F64(bv)) => {
            let mut out = vec![0f64; nbatch * mat];
            float_matmul(&mut out, av, bv, &p, ta, tb);
            Buffer::F64(out)
        }
        (Buffer::I32(av), Buffer::I32(bv)) => Buffer::I32(int_matmul(av, bv, &p, ta, tb)),
        (Buffer::I64(av), Buffer::I64(bv)) => Buffer::I64(int_matmul(av, bv, &p, ta, tb)),
        _ => unreachable!("matmul promotes its operands"),
    };
    Ok(Tensor::new(shape, data))
}

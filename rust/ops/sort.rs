//! Sorting: `argsort` (the int32 order of each row along an axis; `sort` and `top_k` in
//! `python/rskeras/ops/` are built on it). Its GPU kernel is `shaders/sort.wgsl`, launched
//! by `python/rskeras/backend/webgpu/kernels/sort.py`.

use crate::device;
use crate::error::Result;
use crate::ops::shape::reshape_to;
use crate::ops::Op;
use crate::tensor::{normalize_axis, Buffer, Tensor};

/// Indices (int32) that sort `x` along `axis`; stable, NaN last when ascending (NumPy).
pub fn argsort(x: &Tensor, axis: isize, descending: bool) -> Result<Tensor> {
    if x.ndim() == 0 {
        return reshape_to(&Tensor::new(vec![1], Buffer::I32(vec![0])), vec![]);
    }
    let axis = normalize_axis("argsort", axis, x.ndim())?;
    device::execute(&Op::ArgSort { axis, descending }, &[x])
}

// ---------------------------------------------------------------------------------------------
// CPU kernel

/// Stable sort order of each row: ties keep their index order; NaN after every number when
/// ascending and, since `descending` reverses the comparison, before every number when
/// descending.
pub(crate) fn cpu_argsort(x: &Tensor, axis: usize, descending: bool) -> Result<Tensor> {
    let outer: usize = x.shape[..axis].iter().product();
    let inner: usize = x.shape[axis + 1..].iter().product();
    let len = x.shape[axis];
    fn order<T: Copy + PartialOrd>(
        v: &[T],
        outer: usize,
        len: usize,
        inner: usize,
        descending: bool,
        is_nan: impl Fn(T) -> bool,
    ) -> Vec<i32> {
        let mut out = crate::tensor::reuse::zeros(v.len());
        let mut idx: Vec<usize> = Vec::with_capacity(len);
        for o in 0..outer {
            for i in 0..inner {
                let at = |j: usize| v[(o * len + j) * inner + i];
                idx.clear();
                idx.extend(0..len);
                // NaN sorts last ascending (NumPy) and first descending (the reverse order).
                idx.sort_by(|&a, &b| {
                    let (p, q) = (at(a), at(b));
                    let ord = match (is_nan(p), is_nan(q)) {
                        (true, true) => std::cmp::Ordering::Equal,
                        (true, false) => std::cmp::Ordering::Greater,
                        (false, true) => std::cmp::Ordering::Less,
                        _ => p.partial_cmp(&q).unwrap_or(std::cmp::Ordering::Equal),
                    };
                    if descending {
                        ord.reverse()
                    } else {
                        ord
                    }
                });
                for (j, &src) in idx.iter().enumerate() {
                    out[(o * len + j) * inner + i] = src as i32;
                }
            }
        }
        out
    }
    let out = match &*x.data {
        Buffer::F32(v) => order(v, outer, len, inner, descending, f32::is_nan),
        Buffer::F64(v) => order(v, outer, len, inner, descending, f64::is_nan),
        Buffer::I32(v) => order(v, outer, len, inner, descending, |_| false),
        Buffer::I64(v) => order(v, outer, len, inner, descending, |_| false),
        Buffer::Bool(v) => order(v, outer, len, inner, descending, |_| false),
        _ => unreachable!("narrow dtypes are widened by the dispatcher"),
    };
    Ok(Tensor::new(x.shape.clone(), Buffer::I32(out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(shape: &[usize], v: Vec<f32>, axis: usize, descending: bool) -> Vec<i32> {
        let x = Tensor::new(shape.to_vec(), Buffer::F32(v));
        match &*cpu_argsort(&x, axis, descending).unwrap().data {
            Buffer::I32(o) => o.clone(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn ties_keep_index_order_both_ways() {
        let v = vec![1.0, 0.0, 1.0, -0.0, 0.0];
        assert_eq!(order(&[5], v.clone(), 0, false), [1, 3, 4, 0, 2]);
        assert_eq!(order(&[5], v, 0, true), [0, 2, 1, 3, 4]);
    }

    #[test]
    fn nan_goes_last_ascending_and_first_descending() {
        let v = vec![f32::NAN, 2.0, f32::NEG_INFINITY, f32::NAN, f32::INFINITY];
        assert_eq!(order(&[5], v.clone(), 0, false), [2, 1, 4, 0, 3]);
        assert_eq!(order(&[5], v, 0, true), [0, 3, 4, 1, 2]);
    }

    #[test]
    fn empty_and_single_rows() {
        assert!(order(&[3, 0], vec![], 1, false).is_empty());
        assert_eq!(order(&[3, 1], vec![5.0, f32::NAN, 1.0], 1, true), [0, 0, 0]);
    }

    #[test]
    fn sorts_along_a_leading_axis() {
        // Columns [3, 1, 2] and [0, 0, -1].
        let v = vec![3.0, 0.0, 1.0, 0.0, 2.0, -1.0];
        assert_eq!(order(&[3, 2], v, 0, false), [1, 2, 2, 0, 0, 1]);
    }
}

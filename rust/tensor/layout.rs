//! Strided views: how a tensor that shares another tensor's buffer addresses its elements.
//!
//! `transpose`, basic slicing (`x[1:, ::2]`, `x[0]`) and `broadcast_to` return views that
//! share the input's buffer and only change strides and offset, so they cost O(rank) instead
//! of a copy. Kernels that read their inputs as row-major slices get a contiguous copy from
//! the dispatcher ([`Tensor::contiguous`]); `matmul` and NumPy export read views directly.

use std::sync::Arc;

use super::{numel, strides, Buffer, Tensor};

/// Element strides (negative for reversed slices, 0 along broadcast axes) and the offset of
/// element `[0, 0, ...]` in the shared buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub strides: Vec<isize>,
    pub offset: usize,
}

impl Tensor {
    /// Whether the elements are the whole buffer in row-major order.
    pub fn is_contiguous(&self) -> bool {
        self.layout.is_none()
    }

    /// Strides and offset of this tensor's elements in its buffer (row-major when not a view).
    pub fn strided(&self) -> (Vec<isize>, usize) {
        match &self.layout {
            Some(l) => (l.strides.clone(), l.offset),
            None => (
                strides(&self.shape).iter().map(|&s| s as isize).collect(),
                0,
            ),
        }
    }

    /// A view of this tensor's buffer with `shape`, `strides` and `offset` (a fresh identity).
    pub fn view(&self, shape: Vec<usize>, strides: Vec<isize>, offset: usize) -> Tensor {
        let row_major = offset == 0
            && numel(&shape) == self.data.len()
            && strides.iter().zip(super::strides(&shape)).zip(&shape).all(
                // Strides of size-1 axes never move, so any value is row-major there.
                |((&s, r), &d)| d == 1 || s == r as isize,
            );
        let mut out = self.with_data(shape, self.data.clone());
        out.layout = (!row_major).then(|| Arc::new(Layout { strides, offset }));
        out
    }

    /// The same values in a row-major buffer of their own (the tensor itself when it already
    /// is). Keeps the identity: it is the same value, only stored differently.
    pub fn contiguous(&self) -> Tensor {
        let Some(l) = &self.layout else {
            return self.clone();
        };
        let (shape, st, base) = (&self.shape, &l.strides, l.offset as isize);
        let data = match &*self.data {
            Buffer::Bool(v) => Buffer::Bool(strided_copy(v, shape, st, base)),
            Buffer::U8(v) => Buffer::U8(strided_copy(v, shape, st, base)),
            Buffer::I8(v) => Buffer::I8(strided_copy(v, shape, st, base)),
            Buffer::I16(v) => Buffer::I16(strided_copy(v, shape, st, base)),
            Buffer::I32(v) => Buffer::I32(strided_copy(v, shape, st, base)),
            Buffer::I64(v) => Buffer::I64(strided_copy(v, shape, st, base)),
            Buffer::F16(v) => Buffer::F16(strided_copy(v, shape, st, base)),
            Buffer::BF16(v) => Buffer::BF16(strided_copy(v, shape, st, base)),
            Buffer::F32(v) => Buffer::F32(strided_copy(v, shape, st, base)),
            Buffer::F64(v) => Buffer::F64(strided_copy(v, shape, st, base)),
        };
        let out = Tensor {
            data: Arc::new(data),
            layout: None,
            ..self.clone()
        };
        if crate::trace::active() {
            crate::trace::on_contiguous(self, &out);
        }
        out
    }

    /// Strides for `new_shape` over the same elements without a copy, when it only inserts or
    /// removes size-1 axes (`x[0]`, `expand_dims`, `squeeze` on a view); `None` otherwise.
    pub fn reshaped_strides(&self, new_shape: &[usize]) -> Option<Vec<isize>> {
        let (st, _) = self.strided();
        let kept: Vec<(usize, isize)> = self
            .shape
            .iter()
            .zip(st)
            .filter(|(&d, _)| d != 1)
            .map(|(&d, s)| (d, s))
            .collect();
        let mut kept = kept.into_iter();
        let out: Vec<isize> = new_shape
            .iter()
            .map(|&d| match d {
                1 => Some(0),
                _ => kept.next().filter(|&(k, _)| k == d).map(|(_, s)| s),
            })
            .collect::<Option<_>>()?;
        kept.next().is_none().then_some(out)
    }
}

/// Strides of a view of `shape` (strides `st`) read inside the NumPy broadcast `out` shape:
/// 0 along new leading axes and along broadcast size-1 axes.
pub fn broadcast_strides_of(shape: &[usize], st: &[isize], out: &[usize]) -> Vec<isize> {
    let lead = out.len() - shape.len();
    (0..out.len())
        .map(|i| match i.checked_sub(lead) {
            Some(j) if shape[j] != 1 => st[j],
            _ => 0,
        })
        .collect()
}

/// Gather the elements a strided view addresses into a new row-major vector.
pub(crate) fn strided_copy<T: crate::tensor::reuse::ZeroBits + Send + Sync>(
    src: &[T],
    shape: &[usize],
    st: &[isize],
    base: isize,
) -> Vec<T> {
    let n = numel(shape);
    let mut out = crate::tensor::reuse::zeros(n);
    if n == 0 {
        return out;
    }
    let nd = shape.len();
    if nd == 0 {
        out[0] = src[base as usize];
        return out;
    }
    let inner = shape[nd - 1];
    let inner_stride = st[nd - 1];
    crate::device::pool::fill_rows(&mut out, inner, |row, o| {
        let (mut off, mut r) = (base, row);
        for d in (0..nd - 1).rev() {
            off += (r % shape[d]) as isize * st[d];
            r /= shape[d];
        }
        match inner_stride {
            1 => o.copy_from_slice(&src[off as usize..off as usize + inner]),
            0 => o.fill(src[off as usize]),
            _ => {
                for (j, v) in o.iter_mut().enumerate() {
                    *v = src[(off + j as isize * inner_stride) as usize];
                }
            }
        }
    });
    out
}

//! Shape ops: reshape, transpose, broadcast_to / sum_to, strided slicing (`__getitem__`),
//! take (gather) and one_hot, with their gradient rules and CPU kernels.

use std::sync::Arc;

use crate::autodiff::record;
use crate::device;
use crate::error::{Error, Result};
use crate::ops::elementwise::FloatElem;
use crate::ops::{reduce, Op, ReduceKind};
use crate::tensor::layout::broadcast_strides_of;
use crate::tensor::{broadcast_shapes, normalize_axis, numel, strides, Buffer, DType, Tensor};

/// Same elements, new shape; one dimension may be -1 (inferred).
pub fn reshape(x: &Tensor, new_shape: &[isize]) -> Result<Tensor> {
    let n = x.numel();
    let unknown: Vec<usize> = (0..new_shape.len())
        .filter(|&i| new_shape[i] == -1)
        .collect();
    if unknown.len() > 1 || new_shape.iter().any(|&d| d < -1) {
        return Err(Error::Value(format!(
            "reshape: invalid target shape {new_shape:?}: at most one -1 and no other negative size"
        )));
    }
    let known: usize = new_shape
        .iter()
        .filter(|&&d| d >= 0)
        .map(|&d| d as usize)
        .product();
    let mut shape: Vec<usize> = new_shape.iter().map(|&d| d.max(0) as usize).collect();
    if let Some(&i) = unknown.first() {
        if known == 0 || !n.is_multiple_of(known) {
            return Err(Error::Value(format!(
                "reshape: cannot reshape a tensor of shape {:?} ({n} elements) into {new_shape:?}",
                x.shape
            )));
        }
        shape[i] = n / known;
    }
    // Sizes that do not multiply without overflow (even beside a 0) are refused, as in NumPy:
    // strides over them would wrap.
    crate::tensor::check_alloc("reshape", &shape, x.dtype())?;
    if numel(&shape) != n {
        return Err(Error::Value(format!(
            "reshape: cannot reshape a tensor of shape {:?} ({n} elements) into {new_shape:?} ({} elements)",
            x.shape,
            numel(&shape)
        )));
    }
    reshape_to(x, shape)
}

pub(crate) fn reshape_to(x: &Tensor, shape: Vec<usize>) -> Result<Tensor> {
    if shape == x.shape {
        return Ok(x.clone());
    }
    let out = x.with_shape(shape);
    let sx = x.shape.clone();
    record(&[x], &out, move || {
        Arc::new(move |g: &Tensor, _needs: &[bool]| Ok(vec![Some(reshape_to(g, sx.clone())?)]))
    });
    Ok(out)
}

/// Permute axes (`perm` None reverses them, as NumPy does).
pub fn transpose(x: &Tensor, perm: Option<&[isize]>) -> Result<Tensor> {
    let nd = x.ndim();
    let perm: Vec<usize> = match perm {
        None => (0..nd).rev().collect(),
        Some(p) => {
            let p: Vec<usize> = p
                .iter()
                .map(|&a| normalize_axis("transpose", a, nd))
                .collect::<Result<_>>()?;
            let mut seen = vec![false; nd];
            if p.len() != nd || p.iter().any(|&a| std::mem::replace(&mut seen[a], true)) {
                return Err(Error::Value(format!(
                    "transpose: axes {p:?} are not a permutation of the {nd} axes of shape {:?}",
                    x.shape
                )));
            }
            p
        }
    };
    if perm.iter().enumerate().all(|(i, &a)| i == a) {
        return Ok(x.clone());
    }
    let out = device::execute(&Op::Transpose(perm.clone()), &[x])?;
    let mut inverse = vec![0isize; nd];
    for (i, &a) in perm.iter().enumerate() {
        inverse[a] = i as isize;
    }
    record(&[x], &out, move || {
        Arc::new(move |g: &Tensor, _needs: &[bool]| Ok(vec![Some(transpose(g, Some(&inverse))?)]))
    });
    Ok(out)
}

pub fn broadcast_to(x: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if x.shape == shape {
        return Ok(x.clone());
    }
    let b = broadcast_shapes("broadcast_to", &x.shape, shape)?;
    // A broadcast is a view, but one that no op could ever materialize is refused here.
    crate::tensor::check_alloc("broadcast_to", shape, x.dtype())?;
    if b != shape {
        return Err(Error::Value(format!(
            "broadcast_to: cannot broadcast shape {:?} to {shape:?}",
            x.shape
        )));
    }
    let out = device::execute(&Op::BroadcastTo(shape.to_vec()), &[x])?;
    let sx = x.shape.clone();
    record(&[x], &out, move || {
        Arc::new(move |g: &Tensor, _needs: &[bool]| Ok(vec![Some(sum_to(g, &sx)?)]))
    });
    Ok(out)
}

/// Sum `x` down to `shape`, undoing a NumPy broadcast (the gradient of broadcasting).
pub fn sum_to(x: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if x.shape == shape {
        return Ok(x.clone());
    }
    let lead = x.ndim() - shape.len();
    let axes: Vec<isize> = (0..x.ndim())
        .filter(|&i| i < lead || (shape[i - lead] == 1 && x.shape[i] != 1))
        .map(|i| i as isize)
        .collect();
    let s = reduce::reduce(ReduceKind::Sum, x, Some(&axes), true)?;
    reshape_to(&s, shape.to_vec())
}

/// One axis of a basic-indexing key, already resolved against the shape.
#[derive(Clone, Debug)]
pub enum Index {
    /// Keep `len` elements starting at `start` with `step` (from a Python slice).
    Range {
        start: usize,
        step: isize,
        len: usize,
    },
    /// Take one element and drop the axis (from a Python int).
    Single(usize),
    /// Insert a new axis of length 1 (from `None`).
    NewAxis,
}

/// Basic indexing (`x[1, 2:5, ::-1, None]`). `key` covers every axis of `x` (the binding
/// expands `...` and pads missing trailing axes with full ranges).
pub fn get_item(x: &Tensor, key: &[Index]) -> Result<Tensor> {
    let (mut starts, mut steps, mut shape, mut out_shape) = (vec![], vec![], vec![], vec![]);
    for ix in key {
        match *ix {
            Index::Range { start, step, len } => {
                starts.push(start);
                steps.push(step);
                shape.push(len);
                out_shape.push(len);
            }
            Index::Single(i) => {
                starts.push(i);
                steps.push(1);
                shape.push(1);
            }
            Index::NewAxis => out_shape.push(1),
        }
    }
    if shape.len() != x.ndim() {
        return Err(Error::Index(format!(
            "getitem: index has {} entries for a tensor of rank {} (shape {:?})",
            shape.len(),
            x.ndim(),
            x.shape
        )));
    }
    let full = starts.iter().all(|&s| s == 0) && steps.iter().all(|&s| s == 1) && shape == x.shape;
    let sliced = if full {
        x.clone()
    } else {
        slice(x, starts, steps, shape)?
    };
    reshape_to(&sliced, out_shape)
}

/// `x[..., start:stop, ...]` along `axis` (a differentiable view; caller checked the bounds).
pub(crate) fn slice_axis(x: &Tensor, axis: usize, start: usize, stop: usize) -> Result<Tensor> {
    let mut starts = vec![0; x.ndim()];
    starts[axis] = start;
    let mut shape = x.shape.clone();
    shape[axis] = stop - start;
    slice(x, starts, vec![1; x.ndim()], shape)
}

fn slice(x: &Tensor, starts: Vec<usize>, steps: Vec<isize>, shape: Vec<usize>) -> Result<Tensor> {
    let out = device::execute(
        &Op::Slice {
            starts: starts.clone(),
            steps: steps.clone(),
            shape,
        },
        &[x],
    )?;
    let in_shape = x.shape.clone();
    record(&[x], &out, move || {
        Arc::new(move |g: &Tensor, _needs: &[bool]| {
            Ok(vec![Some(slice_grad(
                g,
                starts.clone(),
                steps.clone(),
                in_shape.clone(),
            )?)])
        })
    });
    Ok(out)
}

fn slice_grad(
    g: &Tensor,
    starts: Vec<usize>,
    steps: Vec<isize>,
    in_shape: Vec<usize>,
) -> Result<Tensor> {
    let out = device::execute(
        &Op::SliceGrad {
            starts: starts.clone(),
            steps: steps.clone(),
            in_shape,
        },
        &[g],
    )?;
    let shape = g.shape.clone();
    record(&[g], &out, move || {
        Arc::new(move |gg: &Tensor, _needs: &[bool]| {
            Ok(vec![Some(slice(
                gg,
                starts.clone(),
                steps.clone(),
                shape.clone(),
            )?)])
        })
    });
    Ok(out)
}

/// Gather along `axis` with integer `indices` (negative indices count from the end).
/// Output shape: `x.shape[:axis] + indices.shape + x.shape[axis+1:]`.
pub fn take(x: &Tensor, indices: &Tensor, axis: isize) -> Result<Tensor> {
    let axis = normalize_axis("take", axis, x.ndim().max(1))?;
    if x.ndim() == 0 {
        return Err(Error::Value(
            "take: cannot index a scalar (rank-0) tensor".into(),
        ));
    }
    let idx = &match indices.dtype() {
        d if d.is_int() => crate::ops::cast(indices, DType::Int64)?,
        d => {
            return Err(Error::Type(format!(
                "take: indices must be an integer tensor, got {}",
                d.name()
            )))
        }
    };
    let out_shape: Vec<usize> = x.shape[..axis]
        .iter()
        .chain(&idx.shape)
        .chain(&x.shape[axis + 1..])
        .copied()
        .collect();
    crate::tensor::check_alloc("take", &out_shape, x.dtype())?;
    let out = device::execute(&Op::Take { axis }, &[x, idx])?;
    if x.dtype().is_float() {
        let (ic, dim) = (idx.clone(), x.shape[axis]);
        record(&[x, idx], &out, move || {
            Arc::new(move |g: &Tensor, _needs: &[bool]| {
                Ok(vec![Some(take_grad(g, &ic, axis, dim)?), None])
            })
        });
    }
    Ok(out)
}

/// Sum the rows of `values` (axis 0, one per index) into `dim` zero rows at integer
/// `indices` of shape `(n,)`; repeated indices add up (TensorFlow's `scatter_nd`).
/// Differentiable in `values`.
pub fn scatter_add_rows(values: &Tensor, indices: &Tensor, dim: usize) -> Result<Tensor> {
    if indices.ndim() != 1 || values.ndim() == 0 || values.shape[0] != indices.shape[0] {
        return Err(Error::Value(format!(
            "scatter: expected indices of shape (n,) and values of shape (n, ...), got {:?} and {:?}",
            indices.shape, values.shape
        )));
    }
    let idx = match indices.dtype() {
        d if d.is_int() => crate::ops::cast(indices, DType::Int64)?,
        d => {
            return Err(Error::Type(format!(
                "scatter: indices must be integers, got {}",
                d.name()
            )))
        }
    };
    let values = if values.dtype().is_float() {
        values.clone()
    } else {
        crate::ops::cast(values, DType::Float32)?
    };
    take_grad(&values, &idx, 0, dim)
}

fn take_grad(g: &Tensor, idx: &Tensor, axis: usize, dim: usize) -> Result<Tensor> {
    let mut out_shape = g.shape[..axis].to_vec();
    out_shape.push(dim);
    out_shape.extend_from_slice(&g.shape[(axis + idx.ndim()).min(g.ndim())..]);
    crate::tensor::check_alloc("scatter", &out_shape, g.dtype())?;
    let out = device::execute(&Op::TakeGrad { axis, dim }, &[g, idx])?;
    let ic = idx.clone();
    record(&[g], &out, move || {
        Arc::new(move |gg: &Tensor, _needs: &[bool]| {
            Ok(vec![Some(take(gg, &ic, axis as isize)?), None])
        })
    });
    Ok(out)
}

/// Join tensors along an existing `axis`; all other sizes must match. dtypes are promoted.
pub fn concatenate(xs: &[Tensor], axis: isize) -> Result<Tensor> {
    let first = xs
        .first()
        .ok_or_else(|| Error::Value("concatenate: needs at least one tensor".into()))?;
    if first.ndim() == 0 {
        return Err(Error::Value(
            "concatenate: zero-dimensional tensors cannot be concatenated".into(),
        ));
    }
    let axis = normalize_axis("concatenate", axis, first.ndim())?;
    let mut out = first.shape.clone();
    out[axis] = xs
        .iter()
        .try_fold(0usize, |n, x| {
            n.checked_add(x.shape.get(axis).copied().unwrap_or(0))
        })
        .unwrap_or(usize::MAX);
    crate::tensor::check_alloc("concatenate", &out, first.dtype())?;
    for x in xs {
        let same = x.ndim() == first.ndim()
            && x.shape
                .iter()
                .zip(&first.shape)
                .enumerate()
                .all(|(i, (a, b))| i == axis || a == b);
        if !same {
            return Err(Error::Value(format!(
                "concatenate: all sizes except along axis {axis} must match, got shapes {:?} and {:?}",
                first.shape, x.shape
            )));
        }
    }
    let dt = xs
        .iter()
        .skip(1)
        .fold(first.dtype(), |d, x| DType::promote(d, x.dtype()));
    let cast_xs: Vec<Tensor> = xs
        .iter()
        .map(|x| crate::ops::cast(x, dt))
        .collect::<Result<_>>()?;
    let refs: Vec<&Tensor> = cast_xs.iter().collect();
    let out = device::execute(&Op::Concatenate { axis }, &refs)?;
    if dt.is_float() {
        let sizes: Vec<usize> = cast_xs.iter().map(|x| x.shape[axis]).collect();
        record(&refs, &out, move || {
            Arc::new(move |g: &Tensor, _needs: &[bool]| {
                let mut start = 0;
                let mut grads = Vec::with_capacity(sizes.len());
                for &len in &sizes {
                    let key: Vec<Index> = (0..g.ndim())
                        .map(|d| {
                            if d == axis {
                                Index::Range {
                                    start,
                                    step: 1,
                                    len,
                                }
                            } else {
                                Index::Range {
                                    start: 0,
                                    step: 1,
                                    len: g.shape[d],
                                }
                            }
                        })
                        .collect();
                    grads.push(Some(get_item(g, &key)?));
                    start += len;
                }
                Ok(grads)
            })
        });
    }
    Ok(out)
}

/// `x` gathered along `axis` at `indices` (same rank; other axes broadcast), NumPy's
/// `take_along_axis`. Negative indices count from the end.
pub fn take_along_axis(x: &Tensor, indices: &Tensor, axis: isize) -> Result<Tensor> {
    if x.ndim() != indices.ndim() || x.ndim() == 0 {
        return Err(Error::Value(format!(
            "take_along_axis: x and indices must have the same rank >= 1, got shapes {:?} and {:?}",
            x.shape, indices.shape
        )));
    }
    if !indices.dtype().is_int() {
        return Err(Error::Type(format!(
            "take_along_axis: indices must be integers, got {}",
            indices.dtype().name()
        )));
    }
    let axis = normalize_axis("take_along_axis", axis, x.ndim())?;
    let mut xs = x.shape.clone();
    let mut is = indices.shape.clone();
    for d in 0..x.ndim() {
        if d == axis {
            continue;
        }
        let (a, b) = (x.shape[d], indices.shape[d]);
        let n = if a == b || b == 1 {
            a
        } else if a == 1 {
            b
        } else {
            return Err(Error::Value(format!(
                "take_along_axis: shapes {:?} and {:?} do not broadcast outside axis {axis}",
                x.shape, indices.shape
            )));
        };
        xs[d] = n;
        is[d] = n;
    }
    let xb = broadcast_to(x, &xs)?;
    let ib = crate::ops::cast(&broadcast_to(indices, &is)?, DType::Int64)?;
    let out = device::execute(&Op::TakeAlongAxis { axis }, &[&xb, &ib])?;
    if xb.dtype().is_float() {
        let (ic, dim) = (ib.clone(), xb.shape[axis]);
        record(&[&xb, &ib], &out, move || {
            Arc::new(move |g: &Tensor, _needs: &[bool]| {
                Ok(vec![Some(take_along_axis_grad(g, &ic, axis, dim)?), None])
            })
        });
    }
    Ok(out)
}

fn take_along_axis_grad(g: &Tensor, idx: &Tensor, axis: usize, dim: usize) -> Result<Tensor> {
    let out = device::execute(&Op::TakeAlongAxisGrad { axis, dim }, &[g, idx])?;
    let ic = idx.clone();
    record(&[g], &out, move || {
        Arc::new(move |gg: &Tensor, _needs: &[bool]| {
            Ok(vec![Some(take_along_axis(gg, &ic, axis as isize)?), None])
        })
    });
    Ok(out)
}

/// NumPy boolean-mask indexing `x[mask]`: `mask` covers the leading axes of `x`; the result
/// stacks the selected sub-arrays along a new first axis. Differentiable in `x` (a gather).
pub fn boolean_mask(x: &Tensor, mask: &Tensor) -> Result<Tensor> {
    // The output's length depends on the mask's values, so they are read on the host.
    let mask = &mask.host()?;
    let Buffer::Bool(m) = &*mask.data else {
        return Err(Error::Type("getitem: a mask must be boolean".into()));
    };
    if mask.ndim() > x.ndim() || mask.shape[..] != x.shape[..mask.ndim()] {
        return Err(Error::Index(format!(
            "getitem: boolean mask of shape {:?} does not match the leading axes of shape {:?}",
            mask.shape, x.shape
        )));
    }
    crate::trace::note_read("boolean-mask indexing, whose result's shape depends on the values");
    let picked: Vec<i64> = m
        .iter()
        .enumerate()
        .filter(|(_, &b)| b)
        .map(|(i, _)| i as i64)
        .collect();
    let mut rows = vec![m.len()];
    rows.extend(&x.shape[mask.ndim()..]);
    let flat = reshape_to(x, rows)?;
    let n = picked.len();
    take(&flat, &Tensor::new(vec![n], Buffer::I64(picked)), 0)
}

/// float32 one-hot encoding along a new last axis of length `depth`; out-of-range labels give
/// all-zero rows (as in Keras).
pub fn one_hot(x: &Tensor, depth: usize) -> Result<Tensor> {
    let out: Vec<usize> = x.shape.iter().copied().chain([depth]).collect();
    crate::tensor::check_alloc("one_hot", &out, DType::Float32)?;
    let x = &crate::ops::cast(x, DType::Int64)?;
    device::execute(&Op::OneHot { depth }, &[x])
}

// ---------------------------------------------------------------------------------------------
// CPU kernels

/// Copy the elements that `(shape, strides, base)` describe inside `src` into a new
/// row-major vector. Covers transpose, broadcast (stride 0) and negative-step slices.
macro_rules! per_dtype {
    ($buf:expr, |$v:ident| $body:expr) => {
        match $buf {
            Buffer::F32($v) => Buffer::F32($body),
            Buffer::F64($v) => Buffer::F64($body),
            Buffer::I32($v) => Buffer::I32($body),
            Buffer::I64($v) => Buffer::I64($body),
            Buffer::Bool($v) => Buffer::Bool($body),
            _ => unreachable!("narrow dtypes are widened by the dispatcher"),
        }
    };
}

/// Run a generic float kernel on an f32 or f64 buffer; other dtypes are a TypeError naming `op`.
macro_rules! per_float {
    ($t:expr, $op:expr, |$v:ident| $body:expr) => {
        match &*$t.data {
            Buffer::F32($v) => Buffer::F32($body),
            Buffer::F64($v) => Buffer::F64($body),
            other => {
                return Err(Error::Type(format!(
                    "{}: expected a float tensor, got {}",
                    $op,
                    other.dtype().name()
                )))
            }
        }
    };
}
pub(crate) use per_float;

// Transpose, broadcast_to and slice only re-address the input's elements: they return views.

pub(crate) fn cpu_transpose(x: &Tensor, perm: &[usize]) -> Result<Tensor> {
    let (st, offset) = x.strided();
    let shape = perm.iter().map(|&a| x.shape[a]).collect();
    Ok(x.view(shape, perm.iter().map(|&a| st[a]).collect(), offset))
}

pub(crate) fn cpu_broadcast_to(x: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let (st, offset) = x.strided();
    let st = broadcast_strides_of(&x.shape, &st, shape);
    Ok(x.view(shape.to_vec(), st, offset))
}

pub(crate) fn cpu_slice(
    x: &Tensor,
    starts: &[usize],
    steps: &[isize],
    shape: &[usize],
) -> Result<Tensor> {
    let (st, offset) = x.strided();
    // An empty result addresses nothing: keep the offset in bounds.
    let base = if numel(shape) == 0 {
        0
    } else {
        offset as isize
            + starts
                .iter()
                .zip(&st)
                .map(|(&s, &o)| s as isize * o)
                .sum::<isize>()
    };
    let st = steps.iter().zip(&st).map(|(&s, &o)| s * o).collect();
    Ok(x.view(shape.to_vec(), st, base as usize))
}

pub(crate) fn cpu_slice_grad(
    g: &Tensor,
    starts: &[usize],
    steps: &[isize],
    in_shape: &[usize],
) -> Result<Tensor> {
    fn scatter<T: FloatElem>(
        gv: &[T],
        g_shape: &[usize],
        starts: &[usize],
        steps: &[isize],
        in_shape: &[usize],
    ) -> Vec<T> {
        let own = strides(in_shape);
        let mut out = crate::tensor::reuse::zeros(numel(in_shape));
        let gst = strides(g_shape);
        for (i, &v) in gv.iter().enumerate() {
            let mut off = 0isize;
            for d in 0..in_shape.len() {
                let k = (i / gst[d]) % g_shape[d];
                off += (starts[d] as isize + k as isize * steps[d]) * own[d] as isize;
            }
            out[off as usize] = out[off as usize] + v;
        }
        out
    }
    let data = per_float!(g, "slice_grad", |gv| scatter(
        gv, &g.shape, starts, steps, in_shape
    ));
    Ok(Tensor::new(in_shape.to_vec(), data))
}

fn checked_indices(op: &str, idx: &Tensor, dim: usize) -> Result<Vec<usize>> {
    let Buffer::I64(iv) = &*idx.data else {
        unreachable!("indices are cast to int64")
    };
    iv.iter()
        .map(|&i| {
            let j = if i < 0 { i + dim as i64 } else { i };
            if j < 0 || j >= dim as i64 {
                Err(Error::Index(format!(
                    "{op}: index {i} is out of bounds for an axis of size {dim}"
                )))
            } else {
                Ok(j as usize)
            }
        })
        .collect()
}

pub(crate) fn cpu_take(x: &Tensor, idx: &Tensor, axis: usize) -> Result<Tensor> {
    let dim = x.shape[axis];
    let iv = checked_indices("take", idx, dim)?;
    let outer: usize = x.shape[..axis].iter().product();
    let inner: usize = x.shape[axis + 1..].iter().product();
    let mut shape = x.shape[..axis].to_vec();
    shape.extend(&idx.shape);
    shape.extend(&x.shape[axis + 1..]);
    let data = per_dtype!(&*x.data, |v| {
        let mut out = Vec::with_capacity(outer * iv.len() * inner);
        for o in 0..outer {
            for &i in &iv {
                let s = (o * dim + i) * inner;
                out.extend_from_slice(&v[s..s + inner]);
            }
        }
        out
    });
    Ok(Tensor::new(shape, data))
}

pub(crate) fn cpu_take_grad(g: &Tensor, idx: &Tensor, axis: usize, dim: usize) -> Result<Tensor> {
    let iv = checked_indices("take_grad", idx, dim)?;
    let outer: usize = g.shape[..axis].iter().product();
    let inner: usize = g.shape[axis + idx.ndim()..].iter().product();
    let mut shape = g.shape[..axis].to_vec();
    shape.push(dim);
    shape.extend(&g.shape[axis + idx.ndim()..]);
    fn scatter<T: FloatElem>(
        gv: &[T],
        iv: &[usize],
        outer: usize,
        dim: usize,
        inner: usize,
    ) -> Vec<T> {
        let mut out = crate::tensor::reuse::zeros(outer * dim * inner);
        for o in 0..outer {
            for (k, &i) in iv.iter().enumerate() {
                let src = &gv[(o * iv.len() + k) * inner..][..inner];
                let dst = &mut out[(o * dim + i) * inner..][..inner];
                dst.iter_mut().zip(src).for_each(|(d, &s)| *d = *d + s);
            }
        }
        out
    }
    let data = per_float!(g, "take_grad", |gv| scatter(gv, &iv, outer, dim, inner));
    Ok(Tensor::new(shape, data))
}

pub(crate) fn cpu_one_hot(x: &Tensor, depth: usize) -> Result<Tensor> {
    let Buffer::I64(v) = &*x.data else {
        unreachable!("labels are cast to int64")
    };
    let mut out = crate::tensor::reuse::zeros(v.len() * depth);
    for (r, &c) in v.iter().enumerate() {
        if c >= 0 && (c as usize) < depth {
            out[r * depth + c as usize] = 1.0;
        }
    }
    let mut shape = x.shape.clone();
    shape.push(depth);
    Ok(Tensor::from_f32(shape, out))
}

pub(crate) fn cpu_concatenate(xs: &[&Tensor], axis: usize) -> Result<Tensor> {
    let first = xs[0];
    let outer: usize = first.shape[..axis].iter().product();
    let inner: usize = first.shape[axis + 1..].iter().product();
    let total: usize = xs.iter().map(|x| x.shape[axis]).sum();
    let mut shape = first.shape.clone();
    shape[axis] = total;
    macro_rules! join {
        ($variant:ident) => {{
            let parts: Vec<&[_]> = xs
                .iter()
                .map(|x| match &*x.data {
                    Buffer::$variant(v) => &v[..],
                    _ => unreachable!("concatenate casts its inputs to one dtype"),
                })
                .collect();
            let mut out = Vec::with_capacity(outer * total * inner);
            for o in 0..outer {
                for (x, part) in xs.iter().zip(&parts) {
                    let block = x.shape[axis] * inner;
                    out.extend_from_slice(&part[o * block..(o + 1) * block]);
                }
            }
            Buffer::$variant(out)
        }};
    }
    let data = match &*first.data {
        Buffer::F32(_) => join!(F32),
        Buffer::F64(_) => join!(F64),
        Buffer::I32(_) => join!(I32),
        Buffer::I64(_) => join!(I64),
        Buffer::Bool(_) => join!(Bool),
        _ => unreachable!("narrow dtypes are widened by the dispatcher"),
    };
    Ok(Tensor::new(shape, data))
}

pub(crate) fn cpu_take_along_axis(x: &Tensor, idx: &Tensor, axis: usize) -> Result<Tensor> {
    let dim = x.shape[axis];
    let iv = checked_indices("take_along_axis", idx, dim)?;
    let outer: usize = x.shape[..axis].iter().product();
    let inner: usize = x.shape[axis + 1..].iter().product();
    let k = idx.shape[axis];
    let data = per_dtype!(&*x.data, |v| {
        let mut out = Vec::with_capacity(outer * k * inner);
        for o in 0..outer {
            for j in 0..k {
                for i in 0..inner {
                    let src = iv[(o * k + j) * inner + i];
                    out.push(v[(o * dim + src) * inner + i]);
                }
            }
        }
        out
    });
    Ok(Tensor::new(idx.shape.clone(), data))
}

pub(crate) fn cpu_take_along_axis_grad(
    g: &Tensor,
    idx: &Tensor,
    axis: usize,
    dim: usize,
) -> Result<Tensor> {
    let iv = checked_indices("take_along_axis_grad", idx, dim)?;
    let outer: usize = g.shape[..axis].iter().product();
    let inner: usize = g.shape[axis + 1..].iter().product();
    let k = g.shape[axis];
    let mut shape = g.shape.clone();
    shape[axis] = dim;
    fn scatter<T: FloatElem>(
        gv: &[T],
        iv: &[usize],
        outer: usize,
        k: usize,
        dim: usize,
        inner: usize,
    ) -> Vec<T> {
        let mut out = crate::tensor::reuse::zeros(outer * dim * inner);
        for o in 0..outer {
            for j in 0..k {
                for i in 0..inner {
                    let at = (o * k + j) * inner + i;
                    let to = (o * dim + iv[at]) * inner + i;
                    out[to] = out[to] + gv[at];
                }
            }
        }
        out
    }
    let data = per_float!(g, "take_along_axis_grad", |gv| scatter(
        gv, &iv, outer, k, dim, inner
    ));
    Ok(Tensor::new(shape, data))
}

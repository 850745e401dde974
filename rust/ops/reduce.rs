//! Reductions: sum, mean, max, min along axes (with keepdims), argmax/argmin, with gradient
//! rules and CPU kernels. Float sums accumulate in blocks of f32 lanes folded into f64, which
//! keeps long sums accurate while the inner loop still vectorises.

use std::sync::Arc;

use crate::autodiff::record;
use crate::device::{self, pool};
use crate::error::{Error, Result};
use crate::ops::elementwise::{binary, cast, mul, where_, BinaryOp};
use crate::ops::shape::{broadcast_to, reshape_to, transpose};
use crate::ops::Op;
use crate::tensor::{normalize_axes, normalize_axis, Buffer, DType, Tensor};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceKind {
    Sum,
    Prod,
    Mean,
    Max,
    Min,
}

impl ReduceKind {
    pub const ALL: &'static [ReduceKind] = &[
        ReduceKind::Sum,
        ReduceKind::Prod,
        ReduceKind::Mean,
        ReduceKind::Max,
        ReduceKind::Min,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ReduceKind::Sum => "sum",
            ReduceKind::Mean => "mean",
            ReduceKind::Max => "max",
            ReduceKind::Min => "min",
            ReduceKind::Prod => "prod",
        }
    }
}

fn kept_shape(shape: &[usize], axes: &[usize]) -> Vec<usize> {
    shape
        .iter()
        .enumerate()
        .map(|(i, &d)| if axes.contains(&i) { 1 } else { d })
        .collect()
}

/// Reduce `x` over `axes` (None: all axes). Sum of bool gives int32; mean of integers float32.
pub fn reduce(
    kind: ReduceKind,
    x: &Tensor,
    axes: Option<&[isize]>,
    keepdims: bool,
) -> Result<Tensor> {
    let axes = normalize_axes(kind.name(), axes, x.ndim())?;
    let x = &match (kind, x.dtype()) {
        (ReduceKind::Mean, d) if !d.is_float() => cast(x, DType::Float32)?,
        // Sums and products of bool and small integers accumulate in int32 (no uint8 wrap-around).
        (
            ReduceKind::Sum | ReduceKind::Prod,
            DType::Bool | DType::UInt8 | DType::Int8 | DType::Int16,
        ) => cast(x, DType::Int32)?,
        _ => x.clone(),
    };
    if matches!(kind, ReduceKind::Max | ReduceKind::Min) && axes.iter().any(|&a| x.shape[a] == 0) {
        return Err(Error::Value(format!(
            "{}: zero-size reduction over axes {axes:?} of shape {:?} has no identity",
            kind.name(),
            x.shape
        )));
    }
    let out = device::execute(
        &Op::Reduce {
            kind,
            axes: axes.clone(),
            keepdims,
        },
        &[x],
    )?;
    if x.dtype().is_float() {
        let (xc, oc) = (x.clone(), out.clone());
        record(&[x], &out, move || {
            Arc::new(move |g: &Tensor, _needs: &[bool]| {
                let kept = kept_shape(&xc.shape, &axes);
                let gk = reshape_to(g, kept.clone())?;
                let gx = match kind {
                    ReduceKind::Sum => broadcast_to(&gk, &xc.shape)?,
                    ReduceKind::Prod => prod_grad(&xc, &axes, &gk)?,
                    ReduceKind::Mean => {
                        let count: usize = axes.iter().map(|&a| xc.shape[a]).product();
                        let scaled = mul(&gk, &Tensor::scalar_f32(1.0 / count.max(1) as f32))?;
                        broadcast_to(&scaled, &xc.shape)?
                    }
                    ReduceKind::Max | ReduceKind::Min => {
                        // Ties share the gradient evenly.
                        let ok = reshape_to(&oc.detached(), kept)?;
                        let hit = cast(&binary(BinaryOp::Equal, &xc, &ok)?, xc.dtype())?;
                        let ax: Vec<isize> = axes.iter().map(|&a| a as isize).collect();
                        let count = reduce(ReduceKind::Sum, &hit, Some(&ax), true)?;
                        mul(&hit, &binary(BinaryOp::Div, &gk, &count)?)?
                    }
                };
                Ok(vec![Some(gx)])
            })
        });
    }
    Ok(out)
}

/// The gradient of `prod` over `axes`, exact even with zeros: for each element, the product of
/// the others, as the product of exclusive cumulative products from the left and the right
/// along the reduced axes flattened last.
fn prod_grad(x: &Tensor, axes: &[usize], gk: &Tensor) -> Result<Tensor> {
    let kept: Vec<usize> = (0..x.ndim()).filter(|a| !axes.contains(a)).collect();
    let perm: Vec<isize> = kept.iter().chain(axes).map(|&a| a as isize).collect();
    let xt = transpose(x, Some(&perm))?;
    let mut flat_shape: Vec<usize> = kept.iter().map(|&a| x.shape[a]).collect();
    let r: usize = axes.iter().map(|&a| x.shape[a]).product();
    flat_shape.push(r);
    let x2 = reshape_to(&xt, flat_shape.clone())?;
    let last = flat_shape.len() - 1;
    let left = cumulative(&x2, last, true, true, false)?;
    let right = cumulative(&x2, last, true, true, true)?;
    let mut g_shape = flat_shape.clone();
    g_shape[last] = 1;
    let g2 = reshape_to(gk, g_shape)?;
    let gx2 = mul(&mul(&left, &right)?, &g2)?;
    let gxt = reshape_to(&gx2, xt.shape.clone())?;
    let mut inverse = vec![0isize; perm.len()];
    for (i, &a) in perm.iter().enumerate() {
        inverse[a as usize] = i as isize;
    }
    transpose(&gxt, Some(&inverse))
}

/// Running sums (`prod` false) or products along `axis`; `exclusive` leaves out the element
/// itself, `reverse` runs from the end. The gradient of a running product is exact also where
/// the input holds zeros (see [`cumprod_grad`]).
pub fn cumulative(
    x: &Tensor,
    axis: usize,
    prod: bool,
    exclusive: bool,
    reverse: bool,
) -> Result<Tensor> {
    let x = &match x.dtype() {
        DType::Bool => cast(x, DType::Int32)?,
        _ => x.clone(),
    };
    let out = device::execute(
        &Op::Cumulative {
            axis,
            prod,
            exclusive,
            reverse,
        },
        &[x],
    )?;
    if x.dtype().is_float() {
        let (xc, oc) = (x.clone(), out.clone());
        record(&[x], &out, move || {
            Arc::new(move |g: &Tensor, _needs: &[bool]| {
                let gx = if prod {
                    cumprod_grad(&xc, &oc, g, axis, exclusive, reverse)?
                } else {
                    cumulative(g, axis, false, exclusive, !reverse)?
                };
                Ok(vec![Some(gx)])
            })
        });
    }
    Ok(out)
}

/// The gradient of a running product `out` of `x` along `axis`, given the output gradient `g`.
///
/// Without zeros in `x` it is `revcumsum(g * out) / x` (O(n)). With zeros that division is
/// undefined, so it uses the definition instead: `gx[i] = sum_j g[j] * d out[j] / d x[i]`, where
/// the derivative is the running product of `x` with `x[i]` replaced by one, for the `j` whose
/// product contains `x[i]` (O(n^2) along the axis).
fn cumprod_grad(
    x: &Tensor,
    out: &Tensor,
    g: &Tensor,
    axis: usize,
    exclusive: bool,
    reverse: bool,
) -> Result<Tensor> {
    let zero = Tensor::weak_scalar(0.0);
    let zeros = cast(&binary(BinaryOp::Equal, x, &zero)?, DType::Int32)?;
    let zeros = reduce(ReduceKind::Sum, &zeros, None, false)?;
    if zeros.host()?.data.get_f64(0) == 0.0 {
        let s = cumulative(&mul(g, out)?, axis, false, exclusive, !reverse)?;
        return binary(BinaryOp::Div, &s, x);
    }
    let nd = x.ndim();
    let n = x.shape[axis];
    // Move `axis` last, then lay the running products out as (..., i, j).
    let mut perm: Vec<isize> = (0..nd as isize).filter(|&a| a != axis as isize).collect();
    perm.push(axis as isize);
    let (xt, gt) = (transpose(x, Some(&perm))?, transpose(g, Some(&perm))?);
    let mut row_shape = xt.shape.clone();
    row_shape.insert(nd - 1, 1);
    let mut square = xt.shape.clone();
    square.insert(nd - 1, n);
    let xs = broadcast_to(&reshape_to(&xt, row_shape.clone())?, &square)?;
    let mask = |f: &dyn Fn(usize, usize) -> bool| {
        let m = (0..n * n).map(|q| f(q / n, q % n)).collect();
        let mut t = Tensor::new(vec![n, n], Buffer::Bool(m));
        t.device = x.device;
        t
    };
    let without_i = where_(&mask(&|i, k| i == k), &Tensor::weak_scalar(1.0), &xs)?;
    let d_out = cumulative(&without_i, nd, true, exclusive, reverse)?;
    // out[j] contains x[i] when i is in the prefix (suffix when reversed) ending at j.
    let contains = mask(&|i, j| match (reverse, exclusive) {
        (false, false) => i <= j,
        (false, true) => i < j,
        (true, false) => i >= j,
        (true, true) => i > j,
    });
    let terms = mul(&d_out, &reshape_to(&gt, row_shape)?)?;
    let terms = where_(&contains, &terms, &zero)?;
    let gxt = reduce(ReduceKind::Sum, &terms, Some(&[-1]), false)?;
    let mut inverse = vec![0isize; nd];
    for (i, &a) in perm.iter().enumerate() {
        inverse[a as usize] = i as isize;
    }
    transpose(&gxt, Some(&inverse))
}

/// Index of the largest (`max`) or smallest value along `axis` (None: of the flattened
/// tensor), as int32. The first occurrence wins; NaN counts as the extreme, as in NumPy.
pub fn arg_reduce(x: &Tensor, axis: Option<isize>, keepdims: bool, max: bool) -> Result<Tensor> {
    let name = if max { "argmax" } else { "argmin" };
    let (x, axis, all_ones) = match axis {
        None => (reshape_to(x, vec![x.numel()])?, 0, Some(vec![1; x.ndim()])),
        Some(a) => (x.clone(), normalize_axis(name, a, x.ndim())?, None),
    };
    if x.shape[axis] == 0 {
        return Err(Error::Value(format!(
            "{name}: attempt to get {name} of an empty axis (shape {:?})",
            x.shape
        )));
    }
    let x = if x.dtype() == DType::Bool {
        cast(&x, DType::Int32)?
    } else {
        x
    };
    let out = device::execute(
        &Op::ArgReduce {
            max,
            axis,
            keepdims,
        },
        &[&x],
    )?;
    match all_ones {
        // keepdims over all axes keeps the input's rank, as in NumPy
        Some(shape) if keepdims => reshape_to(&out, shape),
        _ => Ok(out),
    }
}

// ---------------------------------------------------------------------------------------------
// CPU kernels

/// Accurate, vectorisable sum of a contiguous f32 slice.
pub(crate) fn sum_f32(v: &[f32]) -> f32 {
    let mut total = 0f64;
    for block in v.chunks(1024) {
        let mut lanes = [0f32; 8];
        let mut it = block.chunks_exact(8);
        for c in &mut it {
            for k in 0..8 {
                lanes[k] += c[k];
            }
        }
        let tail: f32 = it.remainder().iter().sum();
        total += (lanes.iter().sum::<f32>() + tail) as f64;
    }
    total as f32
}

trait Reducible: Copy + Default + Send + Sync + PartialOrd {
    fn add(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    fn one() -> Self;
    fn is_nan(self) -> bool;
    fn row_sum(v: &[Self]) -> Self;
}
/// Floats: plain arithmetic, NaN from the type; `row_sum` is each width's own summation.
macro_rules! float_reducible {
    ($t:ty, |$v:ident| $row_sum:block) => {
        impl Reducible for $t {
            fn add(self, o: Self) -> Self {
                self + o
            }
            fn mul(self, o: Self) -> Self {
                self * o
            }
            fn one() -> Self {
                1.0
            }
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
            fn row_sum($v: &[Self]) -> Self $row_sum
        }
    };
}
float_reducible!(f32, |v| { sum_f32(v) });
float_reducible!(f64, |v| {
    // four independent accumulators: vectorisable and no worse than sequential summation
    let mut lanes = [0f64; 4];
    let mut it = v.chunks_exact(4);
    for c in &mut it {
        for k in 0..4 {
            lanes[k] += c[k];
        }
    }
    lanes.iter().sum::<f64>() + it.remainder().iter().sum::<f64>()
});
/// Integers wrap on overflow, as NumPy's fixed-width sums do.
macro_rules! int_reducible {
    ($($t:ty),*) => {$(
        impl Reducible for $t {
            fn add(self, o: Self) -> Self {
                self.wrapping_add(o)
            }
            fn mul(self, o: Self) -> Self {
                self.wrapping_mul(o)
            }
            fn one() -> Self {
                1
            }
            fn is_nan(self) -> bool {
                false
            }
            fn row_sum(v: &[Self]) -> Self {
                v.iter().fold(0, |a, &b| a.wrapping_add(b))
            }
        }
    )*};
}
int_reducible!(i32, i64);
impl Reducible for bool {
    fn add(self, o: Self) -> Self {
        self | o
    }
    fn mul(self, o: Self) -> Self {
        self & o
    }
    fn one() -> Self {
        true
    }
    fn is_nan(self) -> bool {
        false
    }
    fn row_sum(v: &[Self]) -> Self {
        v.iter().any(|&b| b)
    }
}

#[inline]
fn pick<T: Reducible>(max: bool, acc: T, v: T) -> T {
    if acc.is_nan() {
        acc
    } else if v.is_nan() || (max && v > acc) || (!max && v < acc) {
        v
    } else {
        acc
    }
}

/// Reduce one axis of a row-major array viewed as `(outer, len, inner)`.
fn reduce_axis<T: Reducible>(
    v: &[T],
    outer: usize,
    len: usize,
    inner: usize,
    kind: ReduceKind,
) -> Vec<T> {
    let mut out = crate::tensor::reuse::filled(T::default(), outer * inner);
    let extreme = matches!(kind, ReduceKind::Max | ReduceKind::Min);
    let max = kind == ReduceKind::Max;
    if inner == 1 {
        pool::fill_chunks(&mut out, |s, o| {
            for (k, r) in o.iter_mut().enumerate() {
                let row = &v[(s + k) * len..(s + k + 1) * len];
                *r = match kind {
                    _ if extreme => row.iter().skip(1).fold(row[0], |a, &b| pick(max, a, b)),
                    ReduceKind::Prod => row.iter().fold(T::one(), |a, &b| a.mul(b)),
                    _ => T::row_sum(row),
                };
            }
        });
    } else {
        pool::fill_rows(&mut out, inner, |o, r| {
            let base = o * len * inner;
            if extreme {
                r.copy_from_slice(&v[base..base + inner]);
            } else if kind == ReduceKind::Prod {
                r.fill(T::one());
            }
            for j in (if extreme { 1 } else { 0 })..len {
                let row = &v[base + j * inner..base + (j + 1) * inner];
                for (a, &b) in r.iter_mut().zip(row) {
                    *a = match kind {
                        _ if extreme => pick(max, *a, b),
                        ReduceKind::Prod => a.mul(b),
                        _ => a.add(b),
                    };
                }
            }
        });
    }
    out
}

pub(crate) fn cpu_reduce(
    x: &Tensor,
    kind: ReduceKind,
    axes: &[usize],
    keepdims: bool,
) -> Result<Tensor> {
    let mut shape = x.shape.clone();
    let mut reduced: Option<Buffer> = None;
    for &a in axes.iter().rev() {
        let data = reduced.as_ref().unwrap_or(&x.data);
        let outer: usize = shape[..a].iter().product();
        let inner: usize = shape[a + 1..].iter().product();
        let len = shape[a];
        let next = match data {
            Buffer::F32(v) => Buffer::F32(reduce_axis(v, outer, len, inner, kind)),
            Buffer::F64(v) => Buffer::F64(reduce_axis(v, outer, len, inner, kind)),
            Buffer::I32(v) => Buffer::I32(reduce_axis(v, outer, len, inner, kind)),
            Buffer::I64(v) => Buffer::I64(reduce_axis(v, outer, len, inner, kind)),
            Buffer::Bool(v) => {
                let k = if kind == ReduceKind::Min {
                    ReduceKind::Min
                } else {
                    ReduceKind::Max
                };
                Buffer::Bool(reduce_axis(v, outer, len, inner, k))
            }
            _ => unreachable!("narrow dtypes are widened by the dispatcher"),
        };
        reduced = Some(next);
        shape[a] = 1;
    }
    let mut data = reduced.unwrap_or_else(|| (*x.data).clone());
    if kind == ReduceKind::Mean {
        let count: usize = axes.iter().map(|&a| x.shape[a]).product();
        match &mut data {
            Buffer::F32(v) => {
                let s = 1.0 / count as f32;
                v.iter_mut()
                    .for_each(|e| *e = if count == 0 { f32::NAN } else { *e * s });
            }
            Buffer::F64(v) => {
                let s = 1.0 / count as f64;
                v.iter_mut()
                    .for_each(|e| *e = if count == 0 { f64::NAN } else { *e * s });
            }
            _ => {}
        }
    }
    if !keepdims {
        shape = shape
            .iter()
            .enumerate()
            .filter(|(i, _)| !axes.contains(i))
            .map(|(_, &d)| d)
            .collect();
    }
    Ok(Tensor::new(shape, data))
}

pub(crate) fn cpu_arg_reduce(x: &Tensor, axis: usize, keepdims: bool, max: bool) -> Result<Tensor> {
    let outer: usize = x.shape[..axis].iter().product();
    let inner: usize = x.shape[axis + 1..].iter().product();
    let len = x.shape[axis];
    fn arg<T: Reducible>(v: &[T], outer: usize, len: usize, inner: usize, max: bool) -> Vec<i32> {
        let mut out = crate::tensor::reuse::zeros(outer * inner);
        for o in 0..outer {
            for i in 0..inner {
                let (mut best, mut at) = (v[o * len * inner + i], 0);
                for j in 1..len {
                    let c = v[(o * len + j) * inner + i];
                    if !best.is_nan() && (c.is_nan() || (max && c > best) || (!max && c < best)) {
                        best = c;
                        at = j;
                    }
                }
                out[o * inner + i] = at as i32;
            }
        }
        out
    }
    let out = match &*x.data {
        Buffer::F32(v) => arg(v, outer, len, inner, max),
        Buffer::F64(v) => arg(v, outer, len, inner, max),
        Buffer::I32(v) => arg(v, outer, len, inner, max),
        Buffer::I64(v) => arg(v, outer, len, inner, max),
        Buffer::Bool(_) => unreachable!("bool is cast to int32"),
        _ => unreachable!("narrow dtypes are widened by the dispatcher"),
    };
    let mut shape = x.shape.clone();
    if keepdims {
        shape[axis] = 1;
    } else {
        shape.remove(axis);
    }
    Ok(Tensor::new(shape, Buffer::I32(out)))
}

pub(crate) fn cpu_cumulative(
    x: &Tensor,
    axis: usize,
    prod: bool,
    exclusive: bool,
    reverse: bool,
) -> Result<Tensor> {
    let outer: usize = x.shape[..axis].iter().product();
    let inner: usize = x.shape[axis + 1..].iter().product();
    let len = x.shape[axis];
    fn run<T: Reducible>(
        v: &[T],
        outer: usize,
        len: usize,
        inner: usize,
        prod: bool,
        exclusive: bool,
        reverse: bool,
    ) -> Vec<T> {
        let mut out = crate::tensor::reuse::filled(T::default(), v.len());
        let identity = if prod { T::one() } else { T::default() };
        for o in 0..outer {
            for i in 0..inner {
                let mut acc = identity;
                for step in 0..len {
                    let j = if reverse { len - 1 - step } else { step };
                    let at = (o * len + j) * inner + i;
                    let next = if prod { acc.mul(v[at]) } else { acc.add(v[at]) };
                    out[at] = if exclusive { acc } else { next };
                    acc = next;
                }
            }
        }
        out
    }
    let data = match &*x.data {
        Buffer::F32(v) => Buffer::F32(run(v, outer, len, inner, prod, exclusive, reverse)),
        Buffer::F64(v) => Buffer::F64(run(v, outer, len, inner, prod, exclusive, reverse)),
        Buffer::I32(v) => Buffer::I32(run(v, outer, len, inner, prod, exclusive, reverse)),
        Buffer::I64(v) => Buffer::I64(run(v, outer, len, inner, prod, exclusive, reverse)),
        Buffer::Bool(_) => unreachable!("bool is cast to int32"),
        _ => unreachable!("narrow dtypes are widened by the dispatcher"),
    };
    Ok(Tensor::new(x.shape.clone(), data))
}

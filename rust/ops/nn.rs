//! Neural-network ops: softmax / log_softmax along an axis and the fused sparse categorical
//! cross-entropy (from probabilities or from logits), with gradient rules and CPU kernels.

use std::sync::Arc;

use crate::autodiff::record;
use crate::device::{self, pool};
use crate::error::{Error, Result};
use crate::ops::elementwise::FloatElem;
use crate::ops::elementwise::{cast, mul, sub, unary, UnaryOp};
use crate::ops::reduce::{reduce, ReduceKind};
use crate::ops::shape::per_float;
use crate::ops::Op;
use crate::tensor::{normalize_axis, Buffer, DType, Tensor};

/// Keras's fuzz factor `backend.epsilon()`: probabilities are clipped to `[EPS, 1 - EPS]`.
pub const EPSILON: f32 = 1e-7;

/// `exp(x - max) / sum(exp(x - max))` along `axis` (or its log when `log`), computed stably.
pub fn softmax(x: &Tensor, axis: isize, log: bool) -> Result<Tensor> {
    let name = if log { "log_softmax" } else { "softmax" };
    let x = &if x.dtype().is_float() {
        x.clone()
    } else {
        cast(x, DType::Float32)?
    };
    if x.ndim() == 0 {
        return Err(Error::Value(format!(
            "{name}: expected a tensor of rank >= 1, got a scalar"
        )));
    }
    let axis = normalize_axis(name, axis, x.ndim())?;
    let out = device::execute(&Op::Softmax { axis, log }, &[x])?;
    let oc = out.clone();
    record(&[x], &out, move || {
        Arc::new(move |g: &Tensor, _needs: &[bool]| {
            let ax = [axis as isize];
            let y = &oc;
            let gx = if log {
                // d log_softmax: g - softmax * sum(g)
                let s = reduce(ReduceKind::Sum, g, Some(&ax), true)?;
                sub(g, &mul(&unary(UnaryOp::Exp, y)?, &s)?)?
            } else {
                // d softmax: y * (g - sum(g * y))
                let s = reduce(ReduceKind::Sum, &mul(g, y)?, Some(&ax), true)?;
                mul(y, &sub(g, &s)?)?
            };
            Ok(vec![Some(gx)])
        })
    });
    Ok(out)
}

/// Per-sample `-log p[label]` for `output` of shape `(..., classes)` and integer `target` of
/// shape `(...)`. From probabilities, `output` is renormalised and clipped to
/// `[EPSILON, 1 - EPSILON]` first, exactly as Keras's backend does; from logits it is
/// `logsumexp(z) - z[label]`. The gradient is a fused kernel (first order only).
pub fn sparse_categorical_crossentropy(
    target: &Tensor,
    output: &Tensor,
    from_logits: bool,
) -> Result<Tensor> {
    let name = "sparse_categorical_crossentropy";
    let output = &cast(output, DType::Float32)?;
    if output.ndim() == 0 || target.shape[..] != output.shape[..output.ndim() - 1] {
        return Err(Error::Value(format!(
            "{name}: target shape {:?} must equal output shape {:?} without its last (class) axis",
            target.shape, output.shape
        )));
    }
    let target = &match target.dtype() {
        DType::Bool => {
            return Err(Error::Type(format!(
                "{name}: target must hold integer class ids, got bool"
            )))
        }
        d if d.is_float() && target.gpu.is_none() => {
            // A NaN label would cast to an integer silently; name it instead.
            let host = target.contiguous();
            let n = host.numel();
            if let Some(i) = (0..n).find(|&i| !host.data.get_f64(i).is_finite()) {
                return Err(Error::Value(format!(
                    "{name}: label {} at index {:?} is not a class id (expected integers \
                     0 <= label < {})",
                    host.data.get_f64(i),
                    crate::tensor::unravel(i, &host.shape),
                    output.shape[output.ndim() - 1]
                )));
            }
            cast(&host, DType::Int64)?
        }
        _ => cast(target, DType::Int64)?,
    };
    let op = Op::SparseCrossEntropy { from_logits };
    let out = device::execute(&op, &[output, target])?;
    let (oc, tc) = (output.clone(), target.clone());
    record(&[output, target], &out, move || {
        Arc::new(move |g: &Tensor, _needs: &[bool]| {
            let gx = device::execute(&Op::SparseCrossEntropyGrad { from_logits }, &[&oc, &tc, g])?;
            Ok(vec![Some(gx), None])
        })
    });
    Ok(out)
}

/// View a reduction over `axis` as `(outer, len, inner)`.
fn split(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (
        shape[..axis].iter().product(),
        shape[axis],
        shape[axis + 1..].iter().product(),
    )
}

// ---------------------------------------------------------------------------------------------
// CPU kernels

fn softmax_row<T: FloatElem>(row: &mut [T], log: bool) {
    let m = row.iter().fold(
        T::neg_infinity(),
        |a, &b| if b > a || b.is_nan() { b } else { a },
    );
    // An all -inf row gives NaN (0 / 0) as NumPy's exp(x - max) / sum does; a +inf max stays,
    // so that row is NaN too (inf - inf), as in NumPy and JAX.
    let m = if m == T::neg_infinity() { T::zero() } else { m };
    if log {
        // (x - max) - log(sum): subtracting max first keeps large logits exact.
        let s = row.iter().fold(T::zero(), |acc, &v| acc + (v - m).exp());
        let l = s.ln();
        row.iter_mut().for_each(|v| *v = (*v - m) - l);
    } else {
        row.iter_mut().for_each(|v| *v = *v - m);
        T::exp_in_place(row);
        let s = row.iter().fold(T::zero(), |acc, &v| acc + v);
        let inv = T::one() / s;
        row.iter_mut().for_each(|v| *v = *v * inv);
    }
}

pub(crate) fn cpu_softmax(x: &Tensor, axis: usize, log: bool) -> Result<Tensor> {
    let (outer, len, inner) = split(&x.shape, axis);
    fn run<T: FloatElem>(v: &[T], outer: usize, len: usize, inner: usize, log: bool) -> Vec<T> {
        let mut out = v.to_vec();
        if inner == 1 {
            pool::fill_rows(&mut out, len.max(1), |_, row| softmax_row(row, log));
        } else {
            let mut col = crate::tensor::reuse::zeros(len);
            for o in 0..outer {
                for i in 0..inner {
                    for j in 0..len {
                        col[j] = out[(o * len + j) * inner + i];
                    }
                    softmax_row(&mut col, log);
                    for j in 0..len {
                        out[(o * len + j) * inner + i] = col[j];
                    }
                }
            }
        }
        out
    }
    let data = per_float!(x, "softmax", |v| run(v, outer, len, inner, log));
    Ok(Tensor::new(x.shape.clone(), data))
}

fn labels(op: &str, target: &Tensor, classes: usize) -> Result<Vec<usize>> {
    let Buffer::I64(t) = &*target.data else {
        unreachable!("labels are cast to int64")
    };
    t.iter()
        .enumerate()
        .map(|(i, &c)| {
            if c < 0 || c as usize >= classes {
                Err(Error::Value(format!(
                    "{op}: label {c} at index {:?} is out of range for {classes} classes \
                     (expected 0 <= label < {classes})",
                    crate::tensor::unravel(i, &target.shape)
                )))
            } else {
                Ok(c as usize)
            }
        })
        .collect()
}

pub(crate) fn cpu_sparse_ce(output: &Tensor, target: &Tensor, from_logits: bool) -> Result<Tensor> {
    let name = "sparse_categorical_crossentropy";
    let p = output.f32s(name)?;
    let c = *output.shape.last().unwrap();
    let y = labels(name, target, c)?;
    let mut loss = crate::tensor::reuse::zeros(y.len());
    for (r, (&label, l)) in y.iter().zip(loss.iter_mut()).enumerate() {
        let row = &p[r * c..(r + 1) * c];
        *l = if from_logits {
            let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
            let s: f32 = row.iter().map(|&v| (v - m).exp()).sum();
            s.ln() - (row[label] - m)
        } else {
            let s: f32 = row.iter().sum();
            -(row[label] / s).clamp(EPSILON, 1.0 - EPSILON).ln()
        };
    }
    Ok(Tensor::from_f32(target.shape.clone(), loss))
}

pub(crate) fn cpu_sparse_ce_grad(
    output: &Tensor,
    target: &Tensor,
    g: &Tensor,
    from_logits: bool,
) -> Result<Tensor> {
    let name = "sparse_categorical_crossentropy";
    let p = output.f32s(name)?;
    let gv = g.f32s(name)?;
    let c = *output.shape.last().unwrap();
    let y = labels(name, target, c)?;
    let mut out = crate::tensor::reuse::zeros(p.len());
    for (r, &label) in y.iter().enumerate() {
        let row = &p[r * c..(r + 1) * c];
        let o = &mut out[r * c..(r + 1) * c];
        let gr = gv[r];
        if from_logits {
            o.copy_from_slice(row);
            softmax_row(o, false);
            o[label] -= 1.0;
            o.iter_mut().for_each(|v| *v *= gr);
        } else {
            let s: f32 = row.iter().sum();
            let q = row[label] / s;
            if q > EPSILON && q < 1.0 - EPSILON {
                o.iter_mut().for_each(|v| *v = gr / s);
                o[label] -= gr / row[label];
            }
        }
    }
    Ok(Tensor::from_f32(output.shape.clone(), out))
}

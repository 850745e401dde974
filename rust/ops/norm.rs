//! Fused batch and layer normalization over the last (channels) axis, forward and backward.
//!
//! Batch normalization in training mode (Ioffe & Szegedy, 2015) normalizes each channel with
//! the mean and biased variance of that channel over all other axes; its backward pass is the
//! closed form `dx = gamma * rstd / M * (M * dy - sum(dy) - xhat * sum(dy * xhat))`, so one
//! autodiff node replaces the dozen element-wise nodes the composed formula records.
//! Layer normalization (Ba et al., 2016) does the same per row over the last axis, with
//! `dx = rstd * (g - mean(g) - xhat * mean(g * xhat))`, `g = dy * gamma`.
//! Statistics are accumulated in float64, so float32 inputs do not lose the variance to
//! cancellation. These backward rules are not themselves recorded (no second order).

use std::sync::Arc;

use rayon::prelude::*;

use crate::autodiff::record;
use crate::device::{self, pool};
use crate::error::{Error, Result};
use crate::ops::elementwise::FloatElem;
use crate::ops::shape::{per_float, slice_axis};
use crate::ops::{reshape, Op};
use crate::tensor::{Buffer, Tensor};

// ---------------------------------------------------------------------------------------------
// Public ops

/// Training-mode batch normalization of `x` `(..., channels)` over every axis but the last:
/// returns `(y, mean, variance)`, with `mean` and the biased `variance` of shape `(channels,)`.
/// `gamma` and `beta` are `(channels,)` (None: 1 and 0). Float32 or float64.
///
/// Raises ValueError for a rank-0 input, an empty batch or parameters of the wrong length.
pub fn batch_norm_train(
    x: &Tensor,
    gamma: Option<&Tensor>,
    beta: Option<&Tensor>,
    epsilon: f64,
) -> Result<(Tensor, Tensor, Tensor)> {
    let (rows, c) = rows_and_channels("batch_normalization", x)?;
    if rows == 0 {
        return Err(Error::Value(format!(
            "batch_normalization: cannot compute batch statistics of an empty input of shape {:?}",
            x.shape
        )));
    }
    let (gamma, beta) = params("batch_normalization", x, c, gamma, beta)?;
    let stats = device::execute(&Op::Moments, &[x])?;
    let eps = epsilon;
    let y = device::execute(
        &Op::BatchNormForward { epsilon: eps },
        &[x, &stats, &gamma, &beta],
    )?;
    let (xc, sc, gc) = (x.clone(), stats.clone(), gamma.clone());
    record(&[x, &gamma, &beta], &y, move || {
        Arc::new(move |dy: &Tensor, needs: &[bool]| {
            let dy = &crate::ops::cast(dy, xc.dtype())?.contiguous();
            let sums = device::execute(&Op::BatchNormGradSums { epsilon: eps }, &[&xc, dy, &sc])?;
            let dx = if needs[0] {
                let op = Op::BatchNormInputGrad { epsilon: eps };
                Some(device::execute(&op, &[&xc, dy, &sc, &gc, &sums])?)
            } else {
                None
            };
            let dgamma = row(&sums, 1)?;
            let dbeta = row(&sums, 0)?;
            Ok(vec![dx, Some(dgamma), Some(dbeta)])
        })
    });
    let mean = row(&stats, 0)?;
    let var = row(&stats, 1)?;
    Ok((y, mean, var))
}

/// Layer normalization of `x` `(..., features)` over its last axis:
/// `(x - mean) / sqrt(var + epsilon) * gamma + beta`, `gamma`/`beta` of shape `(features,)`
/// (None: 1 and 0). Float32 or float64.
pub fn layer_norm(
    x: &Tensor,
    gamma: Option<&Tensor>,
    beta: Option<&Tensor>,
    epsilon: f64,
) -> Result<Tensor> {
    let (_, d) = rows_and_channels("layer_normalization", x)?;
    let (gamma, beta) = params("layer_normalization", x, d, gamma, beta)?;
    let eps = epsilon;
    let y = device::execute(&Op::LayerNormForward { epsilon: eps }, &[x, &gamma, &beta])?;
    let (xc, gc) = (x.clone(), gamma.clone());
    record(&[x, &gamma, &beta], &y, move || {
        Arc::new(move |dy: &Tensor, needs: &[bool]| {
            let dy = &crate::ops::cast(dy, xc.dtype())?.contiguous();
            let dx = if needs[0] {
                let op = Op::LayerNormInputGrad { epsilon: eps };
                Some(device::execute(&op, &[&xc, dy, &gc])?)
            } else {
                None
            };
            let sums = device::execute(&Op::LayerNormParamGrad { epsilon: eps }, &[&xc, dy])?;
            let dgamma = row(&sums, 1)?;
            let dbeta = row(&sums, 0)?;
            Ok(vec![dx, Some(dgamma), Some(dbeta)])
        })
    });
    Ok(y)
}

/// Row `i` of a `(2, c)` statistics tensor, as a `(c,)` view.
fn row(t: &Tensor, i: usize) -> Result<Tensor> {
    reshape(&slice_axis(t, 0, i, i + 1)?, &[-1])
}

/// `(rows, channels)` of `x` viewed as a matrix over its last axis.
fn rows_and_channels(op: &str, x: &Tensor) -> Result<(usize, usize)> {
    if x.ndim() == 0 || !matches!(&*x.data, Buffer::F32(_) | Buffer::F64(_)) {
        return Err(Error::Value(format!(
            "{op}: expected a float32 or float64 input of rank >= 1, got {} of shape {:?}",
            x.dtype().name(),
            x.shape
        )));
    }
    let c = x.shape[x.ndim() - 1];
    Ok((x.numel() / c.max(1), c))
}

/// `gamma` and `beta` as `(channels,)` tensors of `x`'s dtype (ones and zeros when absent).
fn params(
    op: &str,
    x: &Tensor,
    c: usize,
    gamma: Option<&Tensor>,
    beta: Option<&Tensor>,
) -> Result<(Tensor, Tensor)> {
    let get = |p: Option<&Tensor>, fill: f64| -> Result<Tensor> {
        match p {
            Some(p) if p.shape == [c] => crate::ops::cast(p, x.dtype()),
            Some(p) => Err(Error::Value(format!(
                "{op}: expected gamma and beta of shape ({c},) for an input of shape {:?}, got {:?}",
                x.shape, p.shape
            ))),
            None => crate::ops::cast(&Tensor::full_f32(&[c], fill as f32), x.dtype()),
        }
    };
    Ok((get(gamma, 1.0)?, get(beta, 0.0)?))
}

// ---------------------------------------------------------------------------------------------
// CPU kernels (x is `rows x c`, row-major)

/// Per-channel sums over all rows of `f(row_index, row) -> (a, b)` contributions, in float64,
/// split across threads by blocks of rows: returns `(sum_a, sum_b)`.
fn channel_sums<T: FloatElem>(
    rows: usize,
    c: usize,
    f: impl Fn(usize, &mut [f64], &mut [f64]) + Sync + Send,
) -> (Vec<f64>, Vec<f64>) {
    let threads = if rows * c >= pool::PAR_THRESHOLD {
        pool::num_threads()
    } else {
        1
    };
    let per = rows.div_ceil(threads.max(1)).max(1);
    let run = |t: usize| {
        let (mut a, mut b) = (vec![0f64; c], vec![0f64; c]);
        for r in t * per..((t + 1) * per).min(rows) {
            f(r, &mut a, &mut b);
        }
        (a, b)
    };
    let parts: Vec<(Vec<f64>, Vec<f64>)> = if threads > 1 {
        pool::par(|| (0..threads).into_par_iter().map(run).collect())
    } else {
        vec![run(0)]
    };
    let (mut a, mut b) = (vec![0f64; c], vec![0f64; c]);
    for (pa, pb) in parts {
        a.iter_mut().zip(pa).for_each(|(s, v)| *s += v);
        b.iter_mut().zip(pb).for_each(|(s, v)| *s += v);
    }
    (a, b)
}

fn to_t<T: FloatElem>(v: f64) -> T {
    T::from(v).unwrap_or_else(T::nan)
}

/// `(2, c)`: the mean and biased variance of each channel.
fn moments<T: FloatElem>(x: &[T], c: usize) -> Vec<T> {
    let rows = x.len() / c.max(1);
    // Shift by the first row so E[x^2] - E[x]^2 does not cancel for data far from zero.
    let shift: Vec<f64> = x[..c].iter().map(|v| v.to_f64().unwrap_or(0.0)).collect();
    let (s, sq) = channel_sums::<T>(rows, c, |r, s, sq| {
        for ((v, a), (b, k)) in x[r * c..][..c].iter().zip(s).zip(sq.iter_mut().zip(&shift)) {
            let d = v.to_f64().unwrap_or(f64::NAN) - k;
            *a += d;
            *b += d * d;
        }
    });
    let m = rows as f64;
    let mean = s.iter().zip(&shift).map(|(a, k)| to_t(a / m + k));
    let var = s
        .iter()
        .zip(&sq)
        .map(|(a, b)| to_t((b / m - (a / m).powi(2)).max(0.0)));
    mean.chain(var).collect()
}

/// Per-channel `scale = gamma * rsqrt(var + eps)` and `shift = beta - mean * scale`.
fn affine<T: FloatElem>(stats: &[T], gamma: &[T], beta: &[T], eps: f64) -> (Vec<T>, Vec<T>) {
    let c = gamma.len();
    let eps = to_t::<T>(eps);
    let scale: Vec<T> = (0..c)
        .map(|i| gamma[i] / (stats[c + i] + eps).sqrt())
        .collect();
    let shift = (0..c).map(|i| beta[i] - stats[i] * scale[i]).collect();
    (scale, shift)
}

fn bn_forward<T: FloatElem>(x: &[T], stats: &[T], gamma: &[T], beta: &[T], eps: f64) -> Vec<T> {
    let c = gamma.len();
    let (scale, shift) = affine(stats, gamma, beta, eps);
    let mut y = crate::tensor::reuse::zeros(x.len());
    pool::fill_rows(&mut y, c, |r, o| {
        let xr = &x[r * c..][..c];
        for i in 0..c {
            o[i] = xr[i] * scale[i] + shift[i];
        }
    });
    y
}

fn rstd<T: FloatElem>(stats: &[T], c: usize, eps: f64) -> Vec<f64> {
    (0..c)
        .map(|i| 1.0 / (stats[c + i].to_f64().unwrap_or(f64::NAN) + eps).sqrt())
        .collect()
}

/// `(2, c)`: `sum(dy)` and `sum(dy * xhat)` per channel (the gradients of beta and gamma).
fn bn_grad_sums<T: FloatElem>(x: &[T], dy: &[T], stats: &[T], eps: f64) -> Vec<T> {
    let c = stats.len() / 2;
    let rows = x.len() / c.max(1);
    let r_std = rstd(stats, c, eps);
    let mean: Vec<f64> = stats[..c]
        .iter()
        .map(|v| v.to_f64().unwrap_or(0.0))
        .collect();
    let (sdy, sdyx) = channel_sums::<T>(rows, c, |r, a, b| {
        let (xr, gr) = (&x[r * c..][..c], &dy[r * c..][..c]);
        for i in 0..c {
            let g = gr[i].to_f64().unwrap_or(f64::NAN);
            a[i] += g;
            b[i] += g * (xr[i].to_f64().unwrap_or(f64::NAN) - mean[i]) * r_std[i];
        }
    });
    sdy.into_iter().chain(sdyx).map(to_t).collect()
}

fn bn_input_grad<T: FloatElem>(
    x: &[T],
    dy: &[T],
    stats: &[T],
    gamma: &[T],
    sums: &[T],
    eps: f64,
) -> Vec<T> {
    let c = gamma.len();
    let m = (x.len() / c.max(1)) as f64;
    let r_std = rstd(stats, c, eps);
    // dx = k * (dy - a - (x - mean) * b): k = gamma * rstd, a = mean(dy),
    // b = mean(dy * xhat) * rstd.
    let k: Vec<T> = (0..c)
        .map(|i| to_t(gamma[i].to_f64().unwrap_or(f64::NAN) * r_std[i]))
        .collect();
    let a: Vec<T> = (0..c)
        .map(|i| to_t(sums[i].to_f64().unwrap_or(f64::NAN) / m))
        .collect();
    let b: Vec<T> = (0..c)
        .map(|i| to_t(sums[c + i].to_f64().unwrap_or(f64::NAN) / m * r_std[i]))
        .collect();
    let mean = &stats[..c];
    let mut dx = crate::tensor::reuse::zeros(x.len());
    pool::fill_rows(&mut dx, c, |r, o| {
        let (xr, gr) = (&x[r * c..][..c], &dy[r * c..][..c]);
        for i in 0..c {
            o[i] = k[i] * (gr[i] - a[i] - (xr[i] - mean[i]) * b[i]);
        }
    });
    dx
}

/// Mean and `rsqrt(var + eps)` of one row, in float64.
fn row_stats<T: FloatElem>(row: &[T], eps: f64) -> (f64, f64) {
    let n = row.len().max(1) as f64;
    let mean = row
        .iter()
        .map(|v| v.to_f64().unwrap_or(f64::NAN))
        .sum::<f64>()
        / n;
    let var = row
        .iter()
        .map(|v| (v.to_f64().unwrap_or(f64::NAN) - mean).powi(2))
        .sum::<f64>()
        / n;
    (mean, 1.0 / (var + eps).sqrt())
}

fn ln_forward<T: FloatElem>(x: &[T], gamma: &[T], beta: &[T], eps: f64) -> Vec<T> {
    let d = gamma.len();
    let mut y = crate::tensor::reuse::zeros(x.len());
    pool::fill_rows(&mut y, d, |r, o| {
        let xr = &x[r * d..][..d];
        let (mean, rs) = row_stats(xr, eps);
        let (mean, rs) = (to_t::<T>(mean), to_t::<T>(rs));
        for i in 0..d {
            o[i] = (xr[i] - mean) * rs * gamma[i] + beta[i];
        }
    });
    y
}

fn ln_input_grad<T: FloatElem>(x: &[T], dy: &[T], gamma: &[T], eps: f64) -> Vec<T> {
    let d = gamma.len();
    let n = d.max(1) as f64;
    let mut dx = crate::tensor::reuse::zeros(x.len());
    pool::fill_rows(&mut dx, d, |r, o| {
        let (xr, gr) = (&x[r * d..][..d], &dy[r * d..][..d]);
        let (mean, rs) = row_stats(xr, eps);
        let (mut sg, mut sgx) = (0f64, 0f64);
        for i in 0..d {
            let g = (gr[i] * gamma[i]).to_f64().unwrap_or(f64::NAN);
            sg += g;
            sgx += g * (xr[i].to_f64().unwrap_or(f64::NAN) - mean) * rs;
        }
        let (a, b) = (to_t::<T>(sg / n), to_t::<T>(sgx / n));
        let (mean, rs) = (to_t::<T>(mean), to_t::<T>(rs));
        for i in 0..d {
            let xhat = (xr[i] - mean) * rs;
            o[i] = rs * (gr[i] * gamma[i] - a - xhat * b);
        }
    });
    dx
}

/// `(2, d)`: `sum(dy)` and `sum(dy * xhat)` over rows (the gradients of beta and gamma).
fn ln_param_grad<T: FloatElem>(x: &[T], dy: &[T], d: usize, eps: f64) -> Vec<T> {
    let rows = x.len() / d.max(1);
    let (sdy, sdyx) = channel_sums::<T>(rows, d, |r, a, b| {
        let (xr, gr) = (&x[r * d..][..d], &dy[r * d..][..d]);
        let (mean, rs) = row_stats(xr, eps);
        for i in 0..d {
            let g = gr[i].to_f64().unwrap_or(f64::NAN);
            a[i] += g;
            b[i] += g * (xr[i].to_f64().unwrap_or(f64::NAN) - mean) * rs;
        }
    });
    sdy.into_iter().chain(sdyx).map(to_t).collect()
}

fn last(x: &Tensor) -> usize {
    x.shape.last().copied().unwrap_or(1)
}

/// Run `$body` with the float32 or float64 slices of the named tensors.
macro_rules! same_float {
    ($op:expr, [$($t:ident),+], |$($v:ident),+| $body:expr) => {
        match ($(&*$t.data,)+) {
            ($(Buffer::F32($v),)+) => Buffer::F32(pool::simd(|| $body)),
            ($(Buffer::F64($v),)+) => Buffer::F64($body),
            _ => {
                return Err(Error::Type(format!(
                    "{}: expected float32 or float64 operands of one dtype",
                    $op
                )))
            }
        }
    };
}

pub(crate) fn cpu_norm(op: &Op, x: &[&Tensor]) -> Result<Tensor> {
    let t = x[0];
    let (c, name) = (last(t), op.name());
    Ok(match op {
        Op::Moments => {
            let data = per_float!(t, name, |v| pool::simd(|| moments(v, c)));
            Tensor::new(vec![2, c], data)
        }
        Op::BatchNormForward { epsilon } => {
            let (s, g, b) = (x[1], x[2], x[3]);
            let data = same_float!(name, [t, s, g, b], |xv, sv, gv, bv| bn_forward(
                xv, sv, gv, bv, *epsilon
            ));
            Tensor::new(t.shape.clone(), data)
        }
        Op::BatchNormGradSums { epsilon } => {
            let (dy, s) = (x[1], x[2]);
            let data = same_float!(name, [t, dy, s], |xv, gv, sv| bn_grad_sums(
                xv, gv, sv, *epsilon
            ));
            Tensor::new(vec![2, c], data)
        }
        Op::BatchNormInputGrad { epsilon } => {
            let (dy, s, g, sums) = (x[1], x[2], x[3], x[4]);
            let data = same_float!(name, [t, dy, s, g, sums], |xv, dv, sv, gv, uv| {
                bn_input_grad(xv, dv, sv, gv, uv, *epsilon)
            });
            Tensor::new(t.shape.clone(), data)
        }
        Op::LayerNormForward { epsilon } => {
            let (g, b) = (x[1], x[2]);
            let data = same_float!(name, [t, g, b], |xv, gv, bv| ln_forward(
                xv, gv, bv, *epsilon
            ));
            Tensor::new(t.shape.clone(), data)
        }
        Op::LayerNormInputGrad { epsilon } => {
            let (dy, g) = (x[1], x[2]);
            let data = same_float!(name, [t, dy, g], |xv, dv, gv| ln_input_grad(
                xv, dv, gv, *epsilon
            ));
            Tensor::new(t.shape.clone(), data)
        }
        Op::LayerNormParamGrad { epsilon } => {
            let dy = x[1];
            let data = same_float!(name, [t, dy], |xv, dv| ln_param_grad(xv, dv, c, *epsilon));
            Tensor::new(vec![2, c], data)
        }
        _ => unreachable!("cpu_norm is only dispatched norm ops"),
    })
}

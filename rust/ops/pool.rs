//! 2-D pooling on channels_last tensors: max and average pooling (`max_pool`,
//! `average_pool`), their gradient (`pool_grad`), and the argmax that max pooling keeps under
//! a tape (`max_pool_argmax`) with the scatter that is then its gradient (`max_pool_grad`).
//! Windows are described by the convolution [`Geometry`] (kernel = pool size, one channel
//! group per channel).

use std::sync::Arc;

use rayon::prelude::*;

use crate::autodiff::record;
use crate::device::{self, pool as threads};
use crate::error::{Error, Result};
use crate::ops::conv::{float_kernel, per_image_chunks, Geometry};
use crate::ops::elementwise::FloatElem;
use crate::ops::{cast, Op};
use crate::tensor::{Buffer, DType, Tensor};

/// Max (`max` true) or average pooling of `x` `(batch, height, width, channels)` over
/// `pool` windows: `(batch, out_h, out_w, channels)`. Average pooling with padding "same"
/// divides by the number of input elements in each window (padding excluded), as Keras does;
/// the max-pooling gradient goes to the first maximum of each window.
pub fn pool2d(
    x: &Tensor,
    max: bool,
    pool: (usize, usize),
    strides: (usize, usize),
    padding: &str,
) -> Result<Tensor> {
    let name = if max { "max_pool" } else { "average_pool" };
    let x = &match x.dtype() {
        DType::Float32 | DType::Float64 | DType::Float16 | DType::BFloat16 => x.clone(),
        _ => cast(x, DType::Float32)?,
    };
    let c = x.shape.get(3).copied().unwrap_or(0);
    let geo = Geometry::new(name, &x.shape, pool, c, strides, (1, 1), padding)?;
    let forward = Op::Pool2d {
        geometry: geo.clone(),
        max,
    };
    if max
        && crate::autodiff::tape::tracks(&[x])
        && matches!(x.dtype(), DType::Float32 | DType::Float64)
    {
        // Under a tape, the forward pass also keeps each window's argmax: the backward pass is
        // then a scatter-add of the output gradient, with no second scan of the windows.
        let idx = device::execute(&Op::Pool2dArgmax(geo.clone()), &[x])?;
        let out = device::execute(&forward, &[x])?;
        let dt = x.dtype();
        record(&[x], &out, move || {
            Arc::new(move |g: &Tensor, _needs: &[bool]| {
                let g = &cast(g, dt)?;
                let op = Op::Pool2dArgmaxGrad(geo.clone());
                Ok(vec![Some(device::execute(&op, &[g, &idx])?)])
            })
        });
        return Ok(out);
    }
    let out = device::execute(&forward, &[x])?;
    let xc = x.clone();
    record(&[x], &out, move || {
        Arc::new(move |g: &Tensor, _needs: &[bool]| {
            let op = Op::Pool2dGrad {
                geometry: geo.clone(),
                max,
            };
            Ok(vec![Some(device::execute(&op, &[&xc, g])?)])
        })
    });
    Ok(out)
}

/// Pooling forward: each output is the max or the mean of its window's valid taps.
fn pool_forward<T: FloatElem>(g: &Geometry, x: &[T], max: bool) -> Vec<T> {
    let (c, img) = (g.c, g.h * g.w * g.c);
    let mut out = crate::tensor::reuse::zeros(g.n * g.oh * g.ow * c);
    threads::fill_rows(&mut out, c, |r, o| {
        let (i, oy, ox) = (r / (g.oh * g.ow), r / g.ow % g.oh, r % g.ow);
        let src = &x[i * img..][..img];
        let mut count = 0usize;
        o.fill(if max { T::neg_infinity() } else { T::zero() });
        for ky in g.taps_y(oy) {
            for kx in g.taps_x(ox) {
                if let Some((y, xx)) = g.tap(oy, ox, ky, kx) {
                    count += 1;
                    let v = &src[(y * g.w + xx) * c..][..c];
                    if max {
                        // `!(a >= b)` keeps NaN, like NumPy's maximum.
                        o.iter_mut()
                            .zip(v)
                            .for_each(|(a, &b)| *a = if *a >= b || a.is_nan() { *a } else { b });
                    } else {
                        o.iter_mut().zip(v).for_each(|(a, &b)| *a = *a + b);
                    }
                }
            }
        }
        if !max {
            let inv = T::one() / T::from(count.max(1)).unwrap_or_else(T::one);
            o.iter_mut().for_each(|a| *a = *a * inv);
        }
    });
    out
}

/// Pooling backward, per image (windows of one image may overlap, images never do).
fn pool_grad<T: FloatElem>(g: &Geometry, x: &[T], dy: &[T], max: bool) -> Vec<T> {
    let (c, img, orows) = (g.c, g.h * g.w * g.c, g.oh * g.ow);
    let mut dx = crate::tensor::reuse::zeros(g.n * img);
    let run = |i: usize, d: &mut [T]| {
        let src = &x[i * img..][..img];
        let mut best = vec![0usize; c];
        let mut best_v = vec![T::zero(); c];
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                let gy = &dy[(i * orows + oy * g.ow + ox) * c..][..c];
                let xs = g.taps_x(ox);
                let taps = g
                    .taps_y(oy)
                    .flat_map(move |ky| xs.clone().map(move |kx| (ky, kx)))
                    .filter_map(|(ky, kx)| g.tap(oy, ox, ky, kx));
                if max {
                    best_v.fill(T::neg_infinity());
                    best.fill(usize::MAX);
                    for (y, xx) in taps {
                        let base = (y * g.w + xx) * c;
                        for ch in 0..c {
                            let v = src[base + ch];
                            if best[ch] == usize::MAX || v > best_v[ch] {
                                best[ch] = base + ch;
                                best_v[ch] = v;
                            }
                        }
                    }
                    for ch in 0..c {
                        if best[ch] != usize::MAX {
                            d[best[ch]] = d[best[ch]] + gy[ch];
                        }
                    }
                } else {
                    let taps: Vec<(usize, usize)> = taps.collect();
                    let inv = T::one() / T::from(taps.len().max(1)).unwrap_or_else(T::one);
                    for (y, xx) in taps {
                        let dst = &mut d[(y * g.w + xx) * c..][..c];
                        dst.iter_mut().zip(gy).for_each(|(a, &b)| *a = *a + b * inv);
                    }
                }
            }
        }
    };
    if dx.len() >= threads::PAR_THRESHOLD && g.n > 1 {
        threads::par(|| {
            dx.par_chunks_mut(img)
                .enumerate()
                .for_each(|(i, d)| run(i, d))
        });
    } else {
        dx.chunks_mut(img.max(1))
            .enumerate()
            .for_each(|(i, d)| run(i, d));
    }
    dx
}

pub(crate) fn cpu_pool2d(g: &Geometry, x: &Tensor, max: bool) -> Result<Tensor> {
    let data = float_kernel!("pool", x, x, |xv, _y| pool_forward(g, xv, max));
    Ok(Tensor::new(g.out_shape(), data))
}

pub(crate) fn cpu_pool2d_grad(g: &Geometry, x: &Tensor, dy: &Tensor, max: bool) -> Result<Tensor> {
    let data = float_kernel!("pool_grad", x, dy, |xv, dv| pool_grad(g, xv, dv, max));
    Ok(Tensor::new(g.in_shape(), data))
}

/// For each max-pooling output, the index into its image `(h, w, c)` of the first maximum of
/// its window (NaN wins, as in the forward kernel): the backward pass scatters `dy` there.
#[inline(always)]
fn argmax_step<T: FloatElem>(best: &mut [T], idx: &mut [i32], v: &[T], base: i32) {
    for (k, ((bv, bi), &b)) in best.iter_mut().zip(idx.iter_mut()).zip(v).enumerate() {
        // A later tap wins when strictly larger, or NaN over a non-NaN (the forward rule).
        let wins = b > *bv || (b.is_nan() && !bv.is_nan());
        let mask = -(wins as i32);
        *bi = (*bi & !mask) | ((base + k as i32) & mask);
        *bv = if mask != 0 { b } else { *bv };
    }
}

fn pool_argmax<T: FloatElem>(g: &Geometry, x: &[T]) -> Vec<i32> {
    let (c, img, per_out) = (g.c, g.h * g.w * g.c, g.oh * g.ow * g.c);
    let mut out = crate::tensor::reuse::zeros(g.n * per_out);
    let run = |best: &mut Vec<T>, i: usize, o: &mut [i32]| {
        let src = &x[i * img..][..img];
        for (r, orow) in o.chunks_mut(c.max(1)).enumerate() {
            let (oy, ox) = (r / g.ow, r % g.ow);
            let mut taps = (0..g.kh)
                .flat_map(|ky| (0..g.kw).map(move |kx| (ky, kx)))
                .filter_map(|(ky, kx)| g.tap(oy, ox, ky, kx))
                .map(|(y, xx)| (y * g.w + xx) * c);
            let Some(first) = taps.next() else { continue };
            best.clear();
            best.extend_from_slice(&src[first..][..c]);
            orow.iter_mut()
                .zip(first as i32..)
                .for_each(|(o, j)| *o = j);
            for base in taps {
                // Branch-free select, so it vectorises: a later tap wins only when strictly
                // larger, or NaN over a non-NaN (the forward kernel's rule).
                argmax_step(best, orow, &src[base..][..c], base as i32);
            }
        }
    };
    if out.len() >= threads::PAR_THRESHOLD && g.n > 1 {
        threads::par(|| {
            out.par_chunks_mut(per_out.max(1))
                .enumerate()
                .for_each_init(Vec::new, |best, (i, o)| threads::simd(|| run(best, i, o)))
        });
    } else {
        let mut best = Vec::new();
        for (i, o) in out.chunks_mut(per_out.max(1)).enumerate() {
            threads::simd(|| run(&mut best, i, o));
        }
    }
    out
}

/// The max-pooling gradient: `dy` scatter-added at each output's argmax within its image.
fn pool_argmax_grad<T: FloatElem>(g: &Geometry, dy: &[T], idx: &[i32]) -> Vec<T> {
    let (img, per_out) = (g.h * g.w * g.c, g.oh * g.ow * g.c);
    let mut dx = crate::tensor::reuse::zeros(g.n * img);
    per_image_chunks(&mut dx, img, |i, d| {
        let (gi, ii) = (
            &dy[i * per_out..][..per_out],
            &idx[i * per_out..][..per_out],
        );
        for (&gv, &j) in gi.iter().zip(ii) {
            if let Some(slot) = usize::try_from(j).ok().and_then(|j| d.get_mut(j)) {
                *slot = *slot + gv;
            }
        }
    });
    dx
}

pub(crate) fn cpu_pool2d_argmax(g: &Geometry, x: &Tensor) -> Result<Tensor> {
    let idx = match &*x.data {
        Buffer::F32(v) => pool_argmax(g, v),
        Buffer::F64(v) => pool_argmax(g, v),
        b => {
            return Err(Error::Type(format!(
                "max_pool: expected a float32 or float64 input, got {}",
                b.dtype().name()
            )))
        }
    };
    Ok(Tensor::new(g.out_shape(), Buffer::I32(idx)))
}

pub(crate) fn cpu_pool2d_argmax_grad(g: &Geometry, dy: &Tensor, idx: &Tensor) -> Result<Tensor> {
    let Buffer::I32(iv) = &*idx.data else {
        return Err(Error::Type(
            "max_pool_grad: expected int32 argmax indices".into(),
        ));
    };
    let data = match &*dy.data {
        Buffer::F32(v) => Buffer::F32(pool_argmax_grad(g, v, iv)),
        Buffer::F64(v) => Buffer::F64(pool_argmax_grad(g, v, iv)),
        b => {
            return Err(Error::Type(format!(
                "max_pool_grad: expected a float32 or float64 gradient, got {}",
                b.dtype().name()
            )))
        }
    };
    Ok(Tensor::new(g.in_shape(), data))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geometry(shape: &[usize], window: usize, stride: usize, padding: &str) -> Geometry {
        let c = shape[3];
        Geometry::new(
            "pool",
            shape,
            (window, window),
            c,
            (stride, stride),
            (1, 1),
            padding,
        )
        .unwrap()
    }

    fn f32s(t: &Tensor) -> Vec<f32> {
        t.f32s("test").unwrap().to_vec()
    }

    #[test]
    fn max_pool_propagates_nan_and_average_pool_skips_padding() {
        // One 3x3 image, one channel: 2x2 windows, stride 2, "same" padding (2x2 output).
        let v = vec![1.0, f32::NAN, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
        let x = Tensor::new(vec![1, 3, 3, 1], Buffer::F32(v));
        let g = geometry(&x.shape, 2, 2, "same");
        let max = f32s(&cpu_pool2d(&g, &x, true).unwrap());
        assert!(max[0].is_nan());
        assert_eq!(&max[1..], [6.0, 8.0, 9.0]);
        // The windows at the edge hold 2 and 1 input elements: the mean of those only.
        let avg = f32s(&cpu_pool2d(&g, &x, false).unwrap());
        assert!(avg[0].is_nan());
        assert_eq!(&avg[1..], [4.5, 7.5, 9.0]);
    }

    #[test]
    fn argmax_picks_the_first_maximum_and_its_gradient_scatters_there() {
        let x = Tensor::new(vec![1, 2, 2, 1], Buffer::F32(vec![2.0, 5.0, 5.0, 1.0]));
        let g = geometry(&x.shape, 2, 2, "valid");
        let idx = cpu_pool2d_argmax(&g, &x).unwrap();
        assert!(matches!(&*idx.data, Buffer::I32(v) if v == &[1]));
        let dy = Tensor::new(vec![1, 1, 1, 1], Buffer::F32(vec![3.0]));
        let dx = f32s(&cpu_pool2d_argmax_grad(&g, &dy, &idx).unwrap());
        assert_eq!(dx, [0.0, 3.0, 0.0, 0.0]);
        // The gradient of the plain max-pool kernel agrees.
        assert_eq!(f32s(&cpu_pool2d_grad(&g, &x, &dy, true).unwrap()), dx);
    }

    #[test]
    fn an_empty_batch_gives_empty_outputs() {
        let x = Tensor::new(vec![0, 4, 4, 2], Buffer::F32(vec![]));
        let g = geometry(&x.shape, 2, 2, "valid");
        assert_eq!(cpu_pool2d(&g, &x, true).unwrap().shape, [0, 2, 2, 2]);
        assert!(f32s(
            &cpu_pool2d_argmax_grad(
                &g,
                &Tensor::new(vec![0, 2, 2, 2], Buffer::F32(vec![])),
                &Tensor::new(vec![0, 2, 2, 2], Buffer::I32(vec![])),
            )
            .unwrap()
        )
        .is_empty());
    }
}

//! 2-D convolution (regular, transposed, depthwise) on channels_last tensors, with their
//! gradients and CPU kernels. Pooling, which shares the window [`Geometry`], is in `pool.rs`.
//!
//! Convolution is im2col + gemm: each image's receptive fields are gathered into a
//! `(out_h * out_w, kh * kw * in_c)` matrix whose column order matches the Keras kernel layout
//! `(kh, kw, in_c, out_c)`, so the kernel is used as a `(kh * kw * in_c, out_c)` matrix without
//! a copy and the product is already the `(out_h, out_w, out_c)` output. 1x1 convolutions with
//! stride 1 and no padding skip the gather. The input gradient is the transposed product
//! scattered back (col2im); the kernel gradient is `cols^T @ dy` summed over images.
//! Padding "same" splits the total padding as TensorFlow/Keras do (the extra row or column
//! goes to the bottom/right).

use std::sync::Arc;

use rayon::prelude::*;

use crate::autodiff::record;
use crate::device::{self, pool};
use crate::error::{Error, Result};
use crate::ops::elementwise::FloatElem;
use crate::ops::shape::{concatenate, slice_axis};
use crate::ops::{cast, Op};
use crate::tensor::{numel, Buffer, DType, Tensor};

/// The shapes and strides of one convolution or pooling window walk (NHWC).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub n: usize,
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub kh: usize,
    pub kw: usize,
    pub out_c: usize,
    pub oh: usize,
    pub ow: usize,
    pub sh: usize,
    pub sw: usize,
    pub dh: usize,
    pub dw: usize,
    pub pad_top: usize,
    pub pad_left: usize,
}

impl Geometry {
    /// Output size and padding along one axis for `padding` "valid" or "same".
    fn axis(
        op: &str,
        size: usize,
        k: usize,
        s: usize,
        d: usize,
        same: bool,
    ) -> Result<(usize, usize)> {
        let too_big = || {
            Error::Value(format!(
                "{op}: the window (size {k}, dilation {d}, stride {s}) over an input dimension \
                 of {size} spans more positions than can be counted"
            ))
        };
        let span = (k - 1)
            .checked_mul(d)
            .and_then(|v| v.checked_add(1))
            .ok_or_else(too_big)?;
        if same {
            let out = size.div_ceil(s);
            let reach = (out.max(1) - 1)
                .checked_mul(s)
                .and_then(|v| v.checked_add(span))
                .ok_or_else(too_big)?;
            let total = reach.saturating_sub(size);
            Ok((out, total / 2))
        } else if size < span {
            Err(Error::Value(format!(
                "{op}: the window (size {k}, dilation {d}, spanning {span}) is larger than the \
                 input dimension {size} with padding='valid'"
            )))
        } else {
            Ok(((size - span) / s + 1, 0))
        }
    }

    /// The window taps `k` along one axis whose input position `o * s + k * d - pad` lies
    /// inside `0..size`: a kernel walks only these, so a huge window over a small input (with
    /// padding "same") costs the input's size, not the window's.
    #[inline]
    fn valid_taps(
        o: usize,
        s: usize,
        d: usize,
        pad: usize,
        size: usize,
        k: usize,
    ) -> std::ops::Range<usize> {
        let start = o * s; // <= the reach checked in `axis`
        let lo = pad.saturating_sub(start).div_ceil(d);
        let hi = (size + pad).saturating_sub(start).div_ceil(d).min(k);
        lo.min(hi)..hi
    }

    /// The rows `ky` of the window at output row `oy` that read inside the input.
    #[inline]
    pub fn taps_y(&self, oy: usize) -> std::ops::Range<usize> {
        Self::valid_taps(oy, self.sh, self.dh, self.pad_top, self.h, self.kh)
    }

    /// The columns `kx` of the window at output column `ox` that read inside the input.
    #[inline]
    pub fn taps_x(&self, ox: usize) -> std::ops::Range<usize> {
        Self::valid_taps(ox, self.sw, self.dw, self.pad_left, self.w, self.kw)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn new(
        op: &str,
        x_shape: &[usize],
        window: (usize, usize),
        out_c: usize,
        strides: (usize, usize),
        dilation: (usize, usize),
        padding: &str,
    ) -> Result<Geometry> {
        if x_shape.len() != 4 {
            return Err(Error::Value(format!(
                "{op}: expected an input of rank 4 (batch, height, width, channels), got shape {x_shape:?}"
            )));
        }
        let same = match padding {
            "same" => true,
            "valid" => false,
            p => {
                return Err(Error::Value(format!(
                    "{op}: padding must be 'valid' or 'same', got {p:?}"
                )))
            }
        };
        let ones = [
            window.0, window.1, strides.0, strides.1, dilation.0, dilation.1,
        ];
        if ones.contains(&0) {
            return Err(Error::Value(format!(
                "{op}: window {window:?}, strides {strides:?} and dilation {dilation:?} must be positive"
            )));
        }
        let (oh, pad_top) = Self::axis(op, x_shape[1], window.0, strides.0, dilation.0, same)?;
        let (ow, pad_left) = Self::axis(op, x_shape[2], window.1, strides.1, dilation.1, same)?;
        crate::tensor::check_alloc(op, &[x_shape[0], oh, ow, out_c], DType::Float32)?;
        Ok(Geometry {
            n: x_shape[0],
            h: x_shape[1],
            w: x_shape[2],
            c: x_shape[3],
            kh: window.0,
            kw: window.1,
            out_c,
            oh,
            ow,
            sh: strides.0,
            sw: strides.1,
            dh: dilation.0,
            dw: dilation.1,
            pad_top,
            pad_left,
        })
    }

    /// Refuse a convolution whose im2col scratch (one row per output position of an image,
    /// one column per tap) the machine cannot hold.
    fn check_scratch(&self, op: &str) -> Result<()> {
        let scratch = [self.oh, self.ow, self.kh, self.kw, self.c];
        crate::tensor::check_alloc(op, &scratch, DType::Float32)
    }

    pub(crate) fn out_shape(&self) -> Vec<usize> {
        vec![self.n, self.oh, self.ow, self.out_c]
    }

    pub(crate) fn in_shape(&self) -> Vec<usize> {
        vec![self.n, self.h, self.w, self.c]
    }

    /// Columns of one im2col row: the receptive field of one output position.
    fn patch(&self) -> usize {
        self.kh * self.kw * self.c
    }

    /// The input row and column a window tap reads, or None in the padding.
    #[inline]
    pub(crate) fn tap(&self, oy: usize, ox: usize, ky: usize, kx: usize) -> Option<(usize, usize)> {
        let y = (oy * self.sh + ky * self.dh).checked_sub(self.pad_top)?;
        let x = (ox * self.sw + kx * self.dw).checked_sub(self.pad_left)?;
        (y < self.h && x < self.w).then_some((y, x))
    }

    /// Whether the receptive field of each output position is the input pixel itself.
    fn is_pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.sh == 1 && self.sw == 1 && self.oh == self.h
    }
}

// ---------------------------------------------------------------------------------------------
// Public ops

/// 2-D convolution of `x` `(batch, height, width, in_c)` with `kernel`
/// `(kh, kw, in_c / groups, out_c)`: `(batch, out_h, out_w, out_c)`. Float32 or float64.
///
/// Raises ValueError for ranks, channel counts that do not match the kernel or do not divide
/// into `groups`, windows larger than a "valid" input, or an unknown padding.
pub fn conv2d(
    x: &Tensor,
    kernel: &Tensor,
    strides: (usize, usize),
    padding: &str,
    dilation: (usize, usize),
    groups: usize,
) -> Result<Tensor> {
    if kernel.ndim() != 4 {
        return Err(Error::Value(format!(
            "conv: expected a kernel of rank 4 (kh, kw, in_channels, out_channels), got shape {:?}",
            kernel.shape
        )));
    }
    let (c, kc, out_c) = (
        x.shape.get(3).copied().unwrap_or(0),
        kernel.shape[2],
        kernel.shape[3],
    );
    if groups == 0 || kc.checked_mul(groups) != Some(c) || out_c % groups != 0 {
        return Err(Error::Value(format!(
            "conv: input channels ({c}) must equal kernel in_channels ({kc}) x groups ({groups}), \
             and output channels ({out_c}) must be divisible by groups; input shape {:?}, kernel shape {:?}",
            x.shape, kernel.shape
        )));
    }
    let dt = float_dtype(x, kernel)?;
    let (x, kernel) = (&cast(x, dt)?, &cast(kernel, dt)?);
    if groups > 1 {
        // Grouped convolution as one convolution per group, joined on the channel axis.
        let (cg, og) = (kc, out_c / groups);
        let parts = (0..groups)
            .map(|g| {
                let xg = slice_axis(x, 3, g * cg, (g + 1) * cg)?;
                let kg = slice_axis(kernel, 3, g * og, (g + 1) * og)?;
                conv2d(&xg, &kg, strides, padding, dilation, 1)
            })
            .collect::<Result<Vec<_>>>()?;
        return concatenate(&parts, 3);
    }
    let geo = Geometry::new(
        "conv",
        &x.shape,
        (kernel.shape[0], kernel.shape[1]),
        out_c,
        strides,
        dilation,
        padding,
    )?;
    geo.check_scratch("conv")?;
    let out = device::execute(&Op::Conv2d(geo.clone()), &[x, kernel])?;
    record_conv_grads(x, kernel, &out, geo, false);
    Ok(out)
}

/// Transposed 2-D convolution (the input gradient of `conv2d`) of `x` `(batch, h, w, in_c)`
/// with `kernel` `(kh, kw, out_c, in_c)`: `(batch, out_h, out_w, out_c)`, where
/// `out = h * stride + max(span - stride, 0)` with padding "valid" (`span = (kh - 1) *
/// dilation + 1`) and `h * stride` with "same" (Keras `deconv_output_length`, no output_padding).
pub fn conv2d_transpose(
    x: &Tensor,
    kernel: &Tensor,
    strides: (usize, usize),
    padding: &str,
    dilation: (usize, usize),
) -> Result<Tensor> {
    if x.ndim() != 4 || kernel.ndim() != 4 || x.shape[3] != kernel.shape[3] {
        return Err(Error::Value(format!(
            "conv_transpose: expected an input (batch, h, w, in_c) and a kernel (kh, kw, out_c, in_c) \
             with matching in_c, got shapes {:?} and {:?}",
            x.shape, kernel.shape
        )));
    }
    // Keras `deconv_output_length`: a stride larger than the window adds zero rows at the end.
    let out_len = |size: usize, k: usize, s: usize, d: usize| {
        let span = (k.max(1) - 1).saturating_mul(d).saturating_add(1);
        match padding {
            "same" => size.saturating_mul(s),
            _ => size
                .saturating_mul(s)
                .saturating_add(span.saturating_sub(s)),
        }
    };
    let out_shape = [
        x.shape[0],
        out_len(x.shape[1], kernel.shape[0], strides.0, dilation.0),
        out_len(x.shape[2], kernel.shape[1], strides.1, dilation.1),
        kernel.shape[2],
    ];
    crate::tensor::check_alloc("conv_transpose", &out_shape, DType::Float32)?;
    if x.numel() == 0 {
        // Nothing to spread: the output (possibly empty too) is zeros, as the definition gives.
        let dt = float_dtype(x, kernel)?;
        let zeros = Tensor::new(out_shape.to_vec(), Buffer::zeros(dt, numel(&out_shape)));
        return crate::device::gpu::to_device(&zeros, x.device);
    }
    let geo = Geometry::new(
        "conv_transpose",
        &out_shape,
        (kernel.shape[0], kernel.shape[1]),
        x.shape[3],
        strides,
        dilation,
        padding,
    )?;
    if (geo.oh, geo.ow) != (x.shape[1], x.shape[2]) {
        return Err(Error::Value(format!(
            "conv_transpose: input shape {:?} cannot come from a strided convolution with kernel \
             {:?}, strides {strides:?} and padding {padding:?}",
            x.shape, kernel.shape
        )));
    }
    geo.check_scratch("conv_transpose")?;
    let dt = float_dtype(x, kernel)?;
    let (x, kernel) = (&cast(x, dt)?, &cast(kernel, dt)?);
    let out = device::execute(&Op::Conv2dInputGrad(geo.clone()), &[x, kernel])?;
    record_conv_grads(x, kernel, &out, geo, true);
    Ok(out)
}

/// Depthwise 2-D convolution of `x` `(batch, height, width, channels)` with `kernel`
/// `(kh, kw, channels, multiplier)`: `(batch, out_h, out_w, channels * multiplier)`, output
/// channel `ch * multiplier + j` being channel `ch` convolved with `kernel[.., ch, j]`
/// (Keras `depthwise_conv`). Float32 or float64.
pub fn depthwise_conv2d(
    x: &Tensor,
    kernel: &Tensor,
    strides: (usize, usize),
    padding: &str,
    dilation: (usize, usize),
) -> Result<Tensor> {
    if kernel.ndim() != 4 || x.ndim() != 4 || x.shape[3] != kernel.shape[2] {
        return Err(Error::Value(format!(
            "depthwise_conv: expected an input (batch, h, w, channels) and a kernel (kh, kw, \
             channels, multiplier) with the same channels, got shapes {:?} and {:?}",
            x.shape, kernel.shape
        )));
    }
    let dt = float_dtype(x, kernel)?;
    let (x, kernel) = (&cast(x, dt)?, &cast(kernel, dt)?);
    let window = (kernel.shape[0], kernel.shape[1]);
    let out_c = kernel.shape[2] * kernel.shape[3];
    let geo = Geometry::new(
        "depthwise_conv",
        &x.shape,
        window,
        out_c,
        strides,
        dilation,
        padding,
    )?;
    let out = device::execute(&Op::DepthwiseConv2d(geo.clone()), &[x, kernel])?;
    let (xc, kc) = (x.clone(), kernel.clone());
    record(&[x, kernel], &out, move || {
        Arc::new(move |g: &Tensor, needs: &[bool]| {
            let g = &cast(g, xc.dtype())?;
            let gx = match needs[0] {
                true => Some(device::execute(
                    &Op::DepthwiseInputGrad(geo.clone()),
                    &[g, &kc],
                )?),
                false => None,
            };
            let gk = match needs[1] {
                true => Some(device::execute(
                    &Op::DepthwiseKernelGrad(geo.clone()),
                    &[&xc, g],
                )?),
                false => None,
            };
            Ok(vec![gx, gk])
        })
    });
    Ok(out)
}

/// Record the gradients of a convolution (`transposed` false) or a transposed convolution
/// of `x` with `kernel`: each is the other's input gradient, and both share the kernel
/// gradient with the roles of image and output gradient swapped.
fn record_conv_grads(x: &Tensor, kernel: &Tensor, out: &Tensor, geo: Geometry, transposed: bool) {
    let (xc, kc) = (x.clone(), kernel.clone());
    record(&[x, kernel], out, move || {
        Arc::new(move |g: &Tensor, needs: &[bool]| {
            let gx = if needs[0] {
                let op = if transposed {
                    Op::Conv2d(geo.clone())
                } else {
                    Op::Conv2dInputGrad(geo.clone())
                };
                Some(device::execute(&op, &[g, &kc])?)
            } else {
                None
            };
            let gk = if needs[1] {
                let (image, dy) = if transposed { (g, &xc) } else { (&xc, g) };
                Some(device::execute(
                    &Op::Conv2dKernelGrad(geo.clone()),
                    &[image, dy],
                )?)
            } else {
                None
            };
            Ok(vec![gx, gk])
        })
    });
}

fn float_dtype(x: &Tensor, k: &Tensor) -> Result<DType> {
    let dt = DType::promote(x.dtype(), k.dtype());
    Ok(if dt.is_float() { dt } else { DType::Float32 })
}

// ---------------------------------------------------------------------------------------------
// CPU kernels

/// `dst (m x n, row stride ldd) (+)= a (m x k, row-major) @ b`, where `b` is `k x n` row-major
/// or, with `b_t`, the transpose of an `n x k` row-major matrix.
#[allow(clippy::too_many_arguments)]
fn gemm_rm<T: FloatElem>(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [T],
    accumulate: bool,
    a: &[T],
    a_t: bool,
    b: &[T],
    b_t: bool,
    par: gemm::Parallelism,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst[..m * n].fill(T::zero());
        }
        return;
    }
    let (a_rs, a_cs) = if a_t {
        (1, m as isize)
    } else {
        (k as isize, 1)
    };
    let (b_rs, b_cs) = if b_t {
        (1, k as isize)
    } else {
        (n as isize, 1)
    };
    // SAFETY: the strides address the m*k, k*n and m*n elements the slices hold.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            T::one(),
            T::one(),
            false,
            false,
            false,
            par,
        );
    }
}

/// Gather image `img` `(h, w, c)` into `cols` `(oh * ow, kh * kw * c)`.
fn im2col<T: FloatElem>(g: &Geometry, img: &[T], cols: &mut [T]) {
    let (c, patch) = (g.c, g.patch());
    for oy in 0..g.oh {
        for ox in 0..g.ow {
            let row = &mut cols[(oy * g.ow + ox) * patch..][..patch];
            for ky in 0..g.kh {
                for kx in 0..g.kw {
                    let dst = &mut row[(ky * g.kw + kx) * c..][..c];
                    match g.tap(oy, ox, ky, kx) {
                        Some((y, x)) => dst.copy_from_slice(&img[(y * g.w + x) * c..][..c]),
                        None => dst.fill(T::zero()),
                    }
                }
            }
        }
    }
}

/// Scatter-add `cols` `(oh * ow, kh * kw * c)` back into image `img` `(h, w, c)`.
fn col2im<T: FloatElem>(g: &Geometry, cols: &[T], img: &mut [T]) {
    img.fill(T::zero());
    let (c, patch) = (g.c, g.patch());
    for oy in 0..g.oh {
        for ox in 0..g.ow {
            let row = &cols[(oy * g.ow + ox) * patch..][..patch];
            for ky in 0..g.kh {
                for kx in 0..g.kw {
                    if let Some((y, x)) = g.tap(oy, ox, ky, kx) {
                        let src = &row[(ky * g.kw + kx) * c..][..c];
                        let dst = &mut img[(y * g.w + x) * c..][..c];
                        dst.iter_mut().zip(src).for_each(|(d, &s)| *d = *d + s);
                    }
                }
            }
        }
    }
}

/// Run `f(image_index, out_chunk, scratch)` for every image, images spread over threads
/// (each thread with its own scratch buffer of `scratch_len`), or a single image with gemm's
/// own threads.
fn per_image<T: FloatElem>(
    out: &mut [T],
    per_out: usize,
    n: usize,
    scratch_len: usize,
    f: impl Fn(usize, &mut [T], &mut Vec<T>, gemm::Parallelism) + Sync + Send,
) {
    // Images are the unit of work an interrupt stops between (see `crate::interrupt`).
    let token = crate::interrupt::current();
    if n == 1 || per_out == 0 {
        let mut scratch = crate::tensor::reuse::zeros(scratch_len);
        let par = gemm::Parallelism::Rayon(pool::num_threads());
        for (i, o) in out.chunks_mut(per_out.max(1)).enumerate().take(n) {
            if token.fired() {
                return;
            }
            pool::par(|| f(i, o, &mut scratch, par));
        }
        return;
    }
    pool::par(|| {
        out.par_chunks_mut(per_out).enumerate().for_each_init(
            || crate::tensor::reuse::zeros(scratch_len),
            |scratch, (i, o)| {
                if !token.fired() {
                    f(i, o, scratch, gemm::Parallelism::None)
                }
            },
        )
    });
}

fn conv_forward<T: FloatElem>(g: &Geometry, x: &[T], k: &[T]) -> Vec<T> {
    let (rows, patch, img) = (g.oh * g.ow, g.patch(), g.h * g.w * g.c);
    let mut out = crate::tensor::reuse::zeros(g.n * rows * g.out_c);
    let pointwise = g.is_pointwise();
    let scratch = if pointwise { 0 } else { rows * patch };
    per_image(&mut out, rows * g.out_c, g.n, scratch, |i, o, cols, par| {
        let src = &x[i * img..][..img];
        let cols: &[T] = if pointwise {
            src
        } else {
            im2col(g, src, cols);
            cols
        };
        gemm_rm(rows, g.out_c, patch, o, false, cols, false, k, false, par);
    });
    out
}

fn conv_input_grad<T: FloatElem>(g: &Geometry, dy: &[T], k: &[T]) -> Vec<T> {
    let (rows, patch, img) = (g.oh * g.ow, g.patch(), g.h * g.w * g.c);
    let mut dx = crate::tensor::reuse::zeros(g.n * img);
    let pointwise = g.is_pointwise();
    let scratch = if pointwise { 0 } else { rows * patch };
    per_image(&mut dx, img, g.n, scratch, |i, o, cols, par| {
        let dyi = &dy[i * rows * g.out_c..][..rows * g.out_c];
        if pointwise {
            gemm_rm(rows, patch, g.out_c, o, false, dyi, false, k, true, par);
        } else {
            gemm_rm(rows, patch, g.out_c, cols, false, dyi, false, k, true, par);
            col2im(g, cols, o);
        }
    });
    dx
}

fn conv_kernel_grad<T: FloatElem>(g: &Geometry, x: &[T], dy: &[T]) -> Vec<T> {
    let (rows, patch, img) = (g.oh * g.ow, g.patch(), g.h * g.w * g.c);
    let ksize = patch * g.out_c;
    let pointwise = g.is_pointwise();
    // Each thread sums cols^T @ dy over a run of images into its own partial kernel gradient.
    let threads = pool::num_threads().min(g.n).max(1);
    let per = g.n.div_ceil(threads);
    let partials: Vec<Vec<T>> = pool::par(|| {
        (0..threads)
            .into_par_iter()
            .map(|t| {
                let mut dk = crate::tensor::reuse::zeros(ksize);
                let mut cols =
                    crate::tensor::reuse::zeros(if pointwise { 0 } else { rows * patch });
                for i in t * per..((t + 1) * per).min(g.n) {
                    let xi = &x[i * img..][..img];
                    let a: &[T] = if pointwise {
                        xi
                    } else {
                        im2col(g, xi, &mut cols);
                        &cols
                    };
                    let dyi = &dy[i * rows * g.out_c..][..rows * g.out_c];
                    let par = gemm::Parallelism::None;
                    gemm_rm(
                        patch, g.out_c, rows, &mut dk, true, a, true, dyi, false, par,
                    );
                }
                dk
            })
            .collect()
    });
    let mut out = crate::tensor::reuse::zeros(ksize);
    for p in partials {
        out.iter_mut().zip(p).for_each(|(o, v)| *o = *o + v);
    }
    out
}

macro_rules! float_kernel {
    ($op:expr, $a:expr, $b:expr, |$x:ident, $y:ident| $body:expr) => {
        match (&*$a.data, &*$b.data) {
            (Buffer::F32($x), Buffer::F32($y)) => Buffer::F32($body),
            (Buffer::F64($x), Buffer::F64($y)) => Buffer::F64($body),
            (a, b) => {
                return Err(Error::Type(format!(
                    "{}: expected float32 or float64 operands of one dtype, got {} and {}",
                    $op,
                    a.dtype().name(),
                    b.dtype().name()
                )))
            }
        }
    };
}
pub(crate) use float_kernel;

pub(crate) fn cpu_conv2d(g: &Geometry, x: &Tensor, k: &Tensor) -> Result<Tensor> {
    let data = float_kernel!("conv", x, k, |xv, kv| conv_forward(g, xv, kv));
    Ok(Tensor::new(g.out_shape(), data))
}

pub(crate) fn cpu_conv2d_input_grad(g: &Geometry, dy: &Tensor, k: &Tensor) -> Result<Tensor> {
    let data = float_kernel!("conv_input_grad", dy, k, |dv, kv| conv_input_grad(
        g, dv, kv
    ));
    Ok(Tensor::new(g.in_shape(), data))
}

pub(crate) fn cpu_conv2d_kernel_grad(g: &Geometry, x: &Tensor, dy: &Tensor) -> Result<Tensor> {
    let data = float_kernel!("conv_kernel_grad", x, dy, |xv, dv| conv_kernel_grad(
        g, xv, dv
    ));
    Ok(Tensor::new(vec![g.kh, g.kw, g.c, g.out_c], data))
}

// ---------------------------------------------------------------------------------------------
// Depthwise convolution

/// Depthwise convolution forward: `out[.., ch * m + j] = sum over taps of x[.., ch] *
/// k[ky, kx, ch, j]`, vectorised along the channels.
fn depthwise_forward<T: FloatElem>(g: &Geometry, x: &[T], k: &[T]) -> Vec<T> {
    let (c, img, oc) = (g.c, g.h * g.w * g.c, g.out_c);
    let m = oc / c.max(1);
    let mut out = crate::tensor::reuse::zeros(g.n * g.oh * g.ow * oc);
    pool::fill_rows(&mut out, oc, |r, o| {
        pool::simd(|| {
            let (i, oy, ox) = (r / (g.oh * g.ow), r / g.ow % g.oh, r % g.ow);
            for ky in 0..g.kh {
                for kx in 0..g.kw {
                    let Some((y, xx)) = g.tap(oy, ox, ky, kx) else {
                        continue;
                    };
                    let xr = &x[i * img + (y * g.w + xx) * c..][..c];
                    let kr = &k[(ky * g.kw + kx) * oc..][..oc];
                    if m == 1 {
                        fma_into(o, xr, kr);
                    } else {
                        for ch in 0..c {
                            for j in 0..m {
                                o[ch * m + j] = o[ch * m + j] + xr[ch] * kr[ch * m + j];
                            }
                        }
                    }
                }
            }
        })
    });
    out
}

/// `acc[i] += a[i] * b[i]` (kept separate so it vectorises).
#[inline(always)]
fn fma_into<T: FloatElem>(acc: &mut [T], a: &[T], b: &[T]) {
    acc.iter_mut()
        .zip(a.iter().zip(b))
        .for_each(|(o, (&p, &q))| *o = *o + p * q);
}

/// Depthwise input gradient, scattered per image (windows overlap within an image only).
fn depthwise_input_grad<T: FloatElem>(g: &Geometry, dy: &[T], k: &[T]) -> Vec<T> {
    let (c, img, oc, orows) = (g.c, g.h * g.w * g.c, g.out_c, g.oh * g.ow);
    let m = oc / c.max(1);
    let mut dx = crate::tensor::reuse::zeros(g.n * img);
    let run = |i: usize, d: &mut [T]| {
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                let gr = &dy[(i * orows + oy * g.ow + ox) * oc..][..oc];
                for ky in 0..g.kh {
                    for kx in 0..g.kw {
                        let Some((y, xx)) = g.tap(oy, ox, ky, kx) else {
                            continue;
                        };
                        let dr = &mut d[(y * g.w + xx) * c..][..c];
                        let kr = &k[(ky * g.kw + kx) * oc..][..oc];
                        if m == 1 {
                            fma_into(dr, gr, kr);
                            continue;
                        }
                        for ch in 0..c {
                            let mut s = T::zero();
                            for j in 0..m {
                                s = s + gr[ch * m + j] * kr[ch * m + j];
                            }
                            dr[ch] = dr[ch] + s;
                        }
                    }
                }
            }
        }
    };
    per_image_chunks(&mut dx, img, |i, d| pool::simd(|| run(i, d)));
    dx
}

/// Depthwise kernel gradient `(kh, kw, c, m)`: per-thread partial sums over runs of images.
fn depthwise_kernel_grad<T: FloatElem>(g: &Geometry, x: &[T], dy: &[T]) -> Vec<T> {
    let (c, img, oc, orows) = (g.c, g.h * g.w * g.c, g.out_c, g.oh * g.ow);
    let m = oc / c.max(1);
    let ksize = g.kh * g.kw * oc;
    let threads = pool::num_threads().min(g.n).max(1);
    let per = g.n.div_ceil(threads);
    let partials: Vec<Vec<T>> = pool::par(|| {
        (0..threads)
            .into_par_iter()
            .map(|t| {
                pool::simd(|| {
                    let mut dk = crate::tensor::reuse::zeros(ksize);
                    for i in t * per..((t + 1) * per).min(g.n) {
                        for oy in 0..g.oh {
                            for ox in 0..g.ow {
                                let gr = &dy[(i * orows + oy * g.ow + ox) * oc..][..oc];
                                for ky in 0..g.kh {
                                    for kx in 0..g.kw {
                                        let Some((y, xx)) = g.tap(oy, ox, ky, kx) else {
                                            continue;
                                        };
                                        let xr = &x[i * img + (y * g.w + xx) * c..][..c];
                                        let kr = &mut dk[(ky * g.kw + kx) * oc..][..oc];
                                        if m == 1 {
                                            fma_into(kr, xr, gr);
                                            continue;
                                        }
                                        for ch in 0..c {
                                            for j in 0..m {
                                                kr[ch * m + j] =
                                                    kr[ch * m + j] + xr[ch] * gr[ch * m + j];
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    dk
                })
            })
            .collect()
    });
    let mut out = crate::tensor::reuse::zeros(ksize);
    for p in partials {
        out.iter_mut().zip(p).for_each(|(o, v)| *o = *o + v);
    }
    out
}

/// Run `f(image, chunk)` over the `img`-sized chunks of `out`, in parallel when large.
pub(crate) fn per_image_chunks<T: FloatElem>(
    out: &mut [T],
    img: usize,
    f: impl Fn(usize, &mut [T]) + Sync + Send,
) {
    if out.len() >= pool::PAR_THRESHOLD && out.len() > img {
        pool::par(|| {
            out.par_chunks_mut(img)
                .enumerate()
                .for_each(|(i, d)| f(i, d))
        });
    } else {
        out.chunks_mut(img.max(1))
            .enumerate()
            .for_each(|(i, d)| f(i, d));
    }
}

pub(crate) fn cpu_depthwise(op: &Op, x: &Tensor, y: &Tensor) -> Result<Tensor> {
    Ok(match op {
        Op::DepthwiseConv2d(g) => {
            let data = float_kernel!("depthwise_conv", x, y, |xv, kv| pool::simd(|| {
                depthwise_forward(g, xv, kv)
            }));
            Tensor::new(g.out_shape(), data)
        }
        Op::DepthwiseInputGrad(g) => {
            let data = float_kernel!("depthwise_conv_input_grad", x, y, |dv, kv| pool::simd(
                || depthwise_input_grad(g, dv, kv)
            ));
            Tensor::new(g.in_shape(), data)
        }
        Op::DepthwiseKernelGrad(g) => {
            let data = float_kernel!("depthwise_conv_kernel_grad", x, y, |xv, dv| pool::simd(
                || depthwise_kernel_grad(g, xv, dv)
            ));
            Tensor::new(vec![g.kh, g.kw, g.c, g.out_c / g.c.max(1)], data)
        }
        _ => unreachable!("cpu_depthwise is only dispatched depthwise ops"),
    })
}

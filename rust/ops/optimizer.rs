//! Fused optimizer steps: one call updates every variable and its slot variables in place,
//! instead of a dozen small ops per variable. Formulas follow Keras 3's `update_step`s
//! (keras/src/optimizers/{sgd,adam,rmsprop}.py).

use rayon::prelude::*;

use crate::device::{self, pool};
use crate::error::{Error, Result};
use crate::ops::Op;
use crate::tensor::{Buffer, Tensor};

/// Slot variables each model variable carries for `op` (the variable itself excluded).
pub fn slots_per_variable(op: &Op) -> usize {
    match *op {
        Op::Sgd { momentum, .. } => (momentum != 0.0) as usize,
        Op::Adam { amsgrad, .. } => 2 + amsgrad as usize,
        Op::Rmsprop {
            momentum, centered, ..
        } => 1 + (momentum > 0.0) as usize + centered as usize,
        _ => 0,
    }
}

/// `targets` holds, per variable, the variable then its slots; `grads` one gradient per variable.
pub fn apply(op: &Op, targets: &mut [&mut Tensor], grads: &[&Tensor]) -> Result<()> {
    let per = 1 + slots_per_variable(op);
    if targets.len() != grads.len() * per {
        return Err(Error::Value(format!(
            "{}: expected {} variables and slots for {} gradients, got {}",
            op.name(),
            grads.len() * per,
            grads.len(),
            targets.len()
        )));
    }
    for (i, g) in grads.iter().enumerate() {
        for t in targets[i * per..(i + 1) * per].iter() {
            if t.shape != g.shape || !t.dtype().is_float() || !g.dtype().is_float() {
                return Err(Error::Value(format!(
                    "{}: variable of shape {:?} ({}) does not match its gradient of shape {:?} ({})",
                    op.name(),
                    t.shape,
                    t.dtype().name(),
                    g.shape,
                    g.dtype().name()
                )));
            }
        }
    }
    // The kernels walk buffers in row-major order: a variable holding a strided view (of an
    // initializer's transposed array, say) gets row-major values of its own first.
    for t in targets.iter_mut() {
        if t.layout.is_some() {
            **t = t.contiguous();
        }
    }
    device::update(op, targets, grads)
}

/// Elements above which one variable's update is split across threads. The update is bound by
/// memory bandwidth, which two cores share: measured, threads only start to pay at ~4M.
const PAR_ELEMENTS: usize = 1 << 22;

fn f32_mut(t: &mut Tensor) -> &mut [f32] {
    // Copy-on-write: a buffer still shared (say, by a persistent tape) is copied first.
    match std::sync::Arc::make_mut(&mut t.data) {
        Buffer::F32(v) => v,
        _ => unreachable!("checked float32"),
    }
}

/// Denormal floats flushed to zero (and read as zero) while it lives, on this thread: the
/// second-moment slots of Adam and RMSprop decay into the denormal range, where x86 cores
/// take a microcode assist per operation (measured: the Adam update was 60% of an MLP step on
/// a Xeon). XLA's CPU backend runs with the same flags, so Keras on JAX gives these numbers.
struct FlushDenormals(#[allow(dead_code)] u32);

impl FlushDenormals {
    #[inline]
    fn new() -> FlushDenormals {
        #[cfg(target_arch = "x86_64")]
        #[allow(deprecated)]
        // SAFETY: MXCSR is per-thread state; FTZ (bit 15) and DAZ (bit 6) only change how
        // denormals are produced and read, and Drop restores the previous value.
        unsafe {
            let old = std::arch::x86_64::_mm_getcsr();
            std::arch::x86_64::_mm_setcsr(old | 0x8040);
            return FlushDenormals(old);
        }
        #[allow(unreachable_code)]
        FlushDenormals(0)
    }
}

impl Drop for FlushDenormals {
    #[inline]
    fn drop(&mut self) {
        #[cfg(target_arch = "x86_64")]
        #[allow(deprecated)]
        // SAFETY: restores the value read in `new`.
        unsafe {
            std::arch::x86_64::_mm_setcsr(self.0)
        }
    }
}

/// Run `kernel(buffers, g)` over matching chunks of the variable, its slots and the gradient,
/// in parallel for large variables. Each kernel call sees equal-length slices, so its loop
/// over zipped slices vectorises.
fn run_chunked(
    slots: &mut [&mut Tensor],
    g: &[f32],
    kernel: impl Fn(&mut [&mut [f32]], &[f32]) + Sync + Send,
) {
    let mut bufs: Vec<&mut [f32]> = slots.iter_mut().map(|t| f32_mut(t)).collect();
    if g.len() < PAR_ELEMENTS {
        let _ftz = FlushDenormals::new();
        pool::simd(
            #[inline(always)]
            || kernel(&mut bufs, g),
        );
        return;
    }
    let mut jobs: Vec<(Vec<&mut [f32]>, &[f32])> = g
        .chunks(pool::CHUNK)
        .map(|c| (Vec::with_capacity(bufs.len()), c))
        .collect();
    for buf in bufs {
        for (job, chunk) in jobs.iter_mut().zip(buf.chunks_mut(pool::CHUNK)) {
            job.0.push(chunk);
        }
    }
    pool::par(|| {
        jobs.into_par_iter().for_each(|(mut b, gc)| {
            let _ftz = FlushDenormals::new();
            pool::simd(
                #[inline(always)]
                || kernel(&mut b, gc),
            )
        })
    });
}

/// The Adam element update over equal-length slices. Taking the slices as separate `&mut`
/// arguments tells LLVM they do not alias, so the loop vectorises (with AVX2 when present).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn adam_body(
    w: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    g: &[f32],
    alpha: f32,
    c1: f32,
    c2: f32,
    eps: f32,
) {
    let n = g.len();
    let (w, m, v) = (&mut w[..n], &mut m[..n], &mut v[..n]);
    for i in 0..n {
        m[i] += (g[i] - m[i]) * c1;
        v[i] += (g[i] * g[i] - v[i]) * c2;
        w[i] -= m[i] * alpha / (v[i].sqrt() + eps);
    }
}

#[allow(clippy::too_many_arguments)]
fn adam_step(
    w: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    g: &[f32],
    alpha: f32,
    c1: f32,
    c2: f32,
    eps: f32,
) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2,fma")]
        #[allow(clippy::too_many_arguments)]
        unsafe fn avx2(
            w: &mut [f32],
            m: &mut [f32],
            v: &mut [f32],
            g: &[f32],
            alpha: f32,
            c1: f32,
            c2: f32,
            eps: f32,
        ) {
            adam_body(w, m, v, g, alpha, c1, c2, eps)
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the features were detected at run time just above.
            return unsafe { avx2(w, m, v, g, alpha, c1, c2, eps) };
        }
    }
    adam_body(w, m, v, g, alpha, c1, c2, eps)
}

pub(crate) fn cpu_apply(op: &Op, targets: &mut [&mut Tensor], grads: &[&Tensor]) -> Result<()> {
    let per = 1 + slots_per_variable(op);
    for (i, g) in grads.iter().enumerate() {
        let g = g.f32s(op.name())?;
        let slots = &mut targets[i * per..(i + 1) * per];
        match *op {
            Op::Sgd {
                learning_rate: lr,
                momentum,
                nesterov,
            } => run_chunked(slots, g, |b, g| match b {
                [w] => w.iter_mut().zip(g).for_each(|(w, g)| *w -= lr * g),
                [w, m] => {
                    for ((w, m), g) in w.iter_mut().zip(m.iter_mut()).zip(g) {
                        *m = *m * momentum - g * lr;
                        *w += if nesterov { *m * momentum - g * lr } else { *m };
                    }
                }
                _ => unreachable!(),
            }),
            Op::Adam {
                learning_rate: lr,
                beta_1,
                beta_2,
                epsilon,
                step,
                amsgrad,
            } => {
                let t = step as i32;
                let alpha = lr * (1.0 - beta_2.powi(t)).sqrt() / (1.0 - beta_1.powi(t));
                let (c1, c2) = (1.0 - beta_1, 1.0 - beta_2);
                run_chunked(slots, g, |b, g| match b {
                    [w, m, v] => adam_step(w, m, v, g, alpha, c1, c2, epsilon),
                    [w, m, v, vhat] => {
                        let it = w
                            .iter_mut()
                            .zip(m.iter_mut())
                            .zip(v.iter_mut())
                            .zip(vhat.iter_mut())
                            .zip(g);
                        for ((((w, m), v), vhat), &g) in it {
                            *m += (g - *m) * c1;
                            *v += (g * g - *v) * c2;
                            *vhat = vhat.max(*v);
                            *w -= *m * alpha / (vhat.sqrt() + epsilon);
                        }
                    }
                    _ => unreachable!(),
                });
                let _ = amsgrad; // the slot count already encodes it
            }
            Op::Rmsprop {
                learning_rate: lr,
                rho,
                momentum,
                epsilon,
                centered,
            } => run_chunked(slots, g, |b, g| {
                // Slots: velocity, then momentum (if > 0), then the average gradient (if centered).
                let (w, rest) = b.split_first_mut().expect("variable");
                let (v, rest) = rest.split_first_mut().expect("velocity");
                let (mut mom, rest) = if momentum > 0.0 {
                    let (m, r) = rest.split_first_mut().expect("momentum");
                    (Some(m), r)
                } else {
                    (None, rest)
                };
                let mut avg = if centered { rest.first_mut() } else { None };
                for i in 0..g.len() {
                    let gi = g[i];
                    v[i] = rho * v[i] + (1.0 - rho) * gi * gi;
                    let denom = match avg.as_deref_mut() {
                        Some(a) => {
                            a[i] = rho * a[i] + (1.0 - rho) * gi;
                            v[i] - a[i] * a[i] + epsilon
                        }
                        None => v[i] + epsilon,
                    };
                    let inc = lr * gi / denom.sqrt();
                    match mom.as_deref_mut() {
                        Some(m) => {
                            m[i] = momentum * m[i] + inc;
                            w[i] -= m[i];
                        }
                        None => w[i] -= inc,
                    }
                }
            }),
            _ => return Err(Error::Value(format!("{} is not an update op", op.name()))),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[f32]) -> Tensor {
        Tensor::new(vec![v.len()], Buffer::F32(v.to_vec()))
    }

    fn values(t: &Tensor) -> Vec<f32> {
        t.f32s("test").unwrap().to_vec()
    }

    #[test]
    fn adam_first_step_follows_the_keras_formula() {
        let op = Op::Adam {
            learning_rate: 0.1,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
            step: 1,
            amsgrad: false,
        };
        let (mut w, mut m, mut v) = (t(&[1.0, -2.0]), t(&[0.0, 0.0]), t(&[0.0, 0.0]));
        let g = t(&[0.5, -4.0]);
        apply(&op, &mut [&mut w, &mut m, &mut v], &[&g]).unwrap();
        // Step 1: m = 0.1 g, v = 0.001 g^2, alpha = lr sqrt(0.001) / 0.1, so each weight moves
        // by lr * sign(g) (up to epsilon).
        let w = values(&w);
        assert!(
            (w[0] - 0.9).abs() < 1e-5 && (w[1] + 1.9).abs() < 1e-5,
            "{w:?}"
        );
        assert!((values(&m)[1] + 0.4).abs() < 1e-6);
        assert!((values(&v)[0] / 0.00025 - 1.0).abs() < 1e-4); // 1 - beta_2 rounds in f32
    }

    #[test]
    fn sgd_with_momentum_keeps_its_slot_after_the_variable() {
        let op = Op::Sgd {
            learning_rate: 0.5,
            momentum: 0.9,
            nesterov: false,
        };
        let (mut w, mut m) = (t(&[1.0]), t(&[1.0]));
        apply(&op, &mut [&mut w, &mut m], &[&t(&[2.0])]).unwrap();
        // m = 0.9 * 1 - 0.5 * 2 = -0.1; w = 1 + m.
        assert!((values(&m)[0] + 0.1).abs() < 1e-6);
        assert!((values(&w)[0] - 0.9).abs() < 1e-6);
    }

    #[test]
    fn a_missing_slot_or_a_shape_mismatch_is_a_value_error() {
        let op = Op::Rmsprop {
            learning_rate: 0.1,
            rho: 0.9,
            momentum: 0.0,
            epsilon: 1e-7,
            centered: true,
        };
        let (mut w, mut v) = (t(&[1.0]), t(&[0.0]));
        let err = apply(&op, &mut [&mut w, &mut v], &[&t(&[1.0])]).unwrap_err();
        assert!(format!("{err:?}").contains("expected 3 variables and slots"));
        let sgd = Op::Sgd {
            learning_rate: 0.1,
            momentum: 0.0,
            nesterov: false,
        };
        let err = apply(&sgd, &mut [&mut t(&[1.0, 2.0])], &[&t(&[1.0])]).unwrap_err();
        assert!(format!("{err:?}").contains("does not match its gradient"));
    }
}

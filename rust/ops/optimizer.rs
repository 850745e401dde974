//! Fused optimizer steps: one call updates every variable and its slot variables in place,
//! instead of a dozen small ops per variable. Formulas follow Keras 3's `update_step`s
//! (keras/src/optimizers/*.py), including where each constant is rounded to float32: a
//! hyperparameter combined in Python (`1 - beta_1`) is rounded after the arithmetic, one
//! cast first (`ops.cast(beta_1)`) before it. Every update first applies Keras's decoupled
//! weight decay `w -= w * weight_decay * lr` to the variables its `decay_mask` selects.

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
        Op::Adagrad { .. } | Op::Lion { .. } => 1,
        Op::Adadelta { .. }
        | Op::Adamax { .. }
        | Op::Nadam { .. }
        | Op::Ftrl { .. }
        | Op::Lamb { .. } => 2,
        _ => 0,
    }
}

/// `(learning_rate, weight_decay, decay_mask)` of an update op.
fn decay_of(op: &Op) -> Option<(f32, f32, &[usize])> {
    match op {
        Op::Sgd {
            learning_rate,
            weight_decay,
            decay_mask,
            ..
        }
        | Op::Adam {
            learning_rate,
            weight_decay,
            decay_mask,
            ..
        }
        | Op::Rmsprop {
            learning_rate,
            weight_decay,
            decay_mask,
            ..
        }
        | Op::Adagrad {
            learning_rate,
            weight_decay,
            decay_mask,
            ..
        }
        | Op::Adadelta {
            learning_rate,
            weight_decay,
            decay_mask,
            ..
        }
        | Op::Adamax {
            learning_rate,
            weight_decay,
            decay_mask,
            ..
        }
        | Op::Nadam {
            learning_rate,
            weight_decay,
            decay_mask,
            ..
        }
        | Op::Ftrl {
            learning_rate,
            weight_decay,
            decay_mask,
            ..
        }
        | Op::Lion {
            learning_rate,
            weight_decay,
            decay_mask,
            ..
        }
        | Op::Lamb {
            learning_rate,
            weight_decay,
            decay_mask,
            ..
        } => Some((*learning_rate, *weight_decay, decay_mask.as_slice())),
        _ => None,
    }
}

/// Whether variable `i` is decayed (the Keras `exclude_from_weight_decay` mask).
fn decayed(mask: &[usize], i: usize) -> bool {
    mask.is_empty() || mask.get(i).is_some_and(|&m| m != 0)
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
    if let Some((_, _, mask)) = decay_of(op) {
        if !mask.is_empty() && mask.len() != grads.len() {
            return Err(Error::Value(format!(
                "{}: decay_mask has {} entries for {} variables",
                op.name(),
                mask.len(),
                grads.len()
            )));
        }
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

/// `x^p`, through `sqrt` for FTRL's default power 1/2 (as the GPU kernel).
#[inline(always)]
fn ftrl_pow(x: f32, p: f32) -> f32 {
    if p == 0.5 {
        x.sqrt()
    } else {
        x.powf(p)
    }
}

/// `ops.sign`: -1, 0 or 1 (NaN stays NaN).
#[inline(always)]
fn sign(x: f32) -> f32 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        x
    }
}

/// Nadam's per-step scalars in float32, as Keras computes them (`nadam.py`): the momentum
/// schedule `u_t = beta_1 (1 - 0.5 * 0.96^t)` at t and t + 1, the running products.
pub struct NadamConstants {
    pub c1: f32,
    pub c2: f32,
    pub u_t: f32,
    pub u_t_1: f32,
    pub u_product_t: f32,
    pub u_product_t_1: f32,
    pub beta_2_power: f32,
}

pub fn nadam_constants(beta_1: f64, beta_2: f64, step: u64, u_product: f32) -> NadamConstants {
    let (b1, b2) = (beta_1 as f32, beta_2 as f32);
    let (t, t1) = (step as f32, (step + 1) as f32);
    let decay = 0.96f32;
    let u_t = b1 * (1.0 - 0.5 * decay.powf(t));
    let u_t_1 = b1 * (1.0 - 0.5 * decay.powf(t1));
    NadamConstants {
        c1: 1.0 - b1,
        c2: 1.0 - b2,
        u_t,
        u_t_1,
        u_product_t: u_product,
        u_product_t_1: u_product * u_t_1,
        beta_2_power: b2.powf(t),
    }
}

/// Lamb (You et al., 2020) for one variable `[w, m, v]`: the Adam direction, scaled by the
/// trust ratio `||w|| / ||update||` (1 when either norm is 0). The norms are sums in f64,
/// rounded once.
fn lamb(
    slots: &mut [&mut Tensor],
    g: &[f32],
    lr: f32,
    beta_1: f64,
    beta_2: f64,
    epsilon: f64,
    step: u64,
) {
    let _ftz = FlushDenormals::new();
    let t = step as f32;
    let (b1p, b2p) = ((beta_1 as f32).powf(t), (beta_2 as f32).powf(t));
    let (c1, c2, eps) = ((1.0 - beta_1) as f32, (1.0 - beta_2) as f32, epsilon as f32);
    let mut bufs: Vec<&mut [f32]> = slots.iter_mut().map(|t| f32_mut(t)).collect();
    let [w, m, v] = bufs.as_mut_slice() else {
        unreachable!()
    };
    let mut update = vec![0f32; g.len()];
    let (mut w2, mut u2) = (0f64, 0f64);
    for i in 0..g.len() {
        m[i] += (g[i] - m[i]) * c1;
        v[i] += (g[i] * g[i] - v[i]) * c2;
        let u = (m[i] / (1.0 - b1p)) / ((v[i] / (1.0 - b2p)).sqrt() + eps);
        update[i] = u;
        w2 += (w[i] as f64) * (w[i] as f64);
        u2 += (u as f64) * (u as f64);
    }
    let (wn, un) = ((w2 as f32).sqrt(), (u2 as f32).sqrt());
    let ratio = if wn > 0.0 && un > 0.0 { wn / un } else { 1.0 };
    let scale = ratio * lr;
    for (w, u) in w.iter_mut().zip(&update) {
        *w -= scale * u;
    }
}

pub(crate) fn cpu_apply(op: &Op, targets: &mut [&mut Tensor], grads: &[&Tensor]) -> Result<()> {
    let per = 1 + slots_per_variable(op);
    for (i, g) in grads.iter().enumerate() {
        let g = g.f32s(op.name())?;
        let slots = &mut targets[i * per..(i + 1) * per];
        if let Some((lr, wd, mask)) = decay_of(op) {
            if wd != 0.0 && decayed(mask, i) {
                // Keras: `variable - variable * wd * lr`, before the update.
                run_chunked(&mut slots[..1], g, |b, _| {
                    b[0].iter_mut().for_each(|w| *w -= *w * wd * lr)
                });
            }
        }
        match *op {
            Op::Sgd {
                learning_rate: lr,
                momentum,
                nesterov,
                ..
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
                ..
            } => {
                // Keras: `lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)` with float32 powers, and
                // `1 - beta_1` rounded from the Python float.
                let t = step as f32;
                let (b1, b2) = (beta_1 as f32, beta_2 as f32);
                let alpha = lr * (1.0 - b2.powf(t)).sqrt() / (1.0 - b1.powf(t));
                let (c1, c2) = ((1.0 - beta_1) as f32, (1.0 - beta_2) as f32);
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
                ..
            } => {
                let (rho, c) = (rho as f32, (1.0 - rho) as f32);
                run_chunked(slots, g, |b, g| {
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
                        v[i] = rho * v[i] + c * (gi * gi);
                        let denom = match avg.as_deref_mut() {
                            Some(a) => {
                                a[i] = rho * a[i] + c * gi;
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
                })
            }
            Op::Adagrad {
                learning_rate: lr,
                epsilon,
                ..
            } => {
                let eps = epsilon as f32;
                run_chunked(slots, g, |b, g| match b {
                    [w, acc] => {
                        for ((w, a), &g) in w.iter_mut().zip(acc.iter_mut()).zip(g) {
                            *a += g * g;
                            *w -= lr * g / (*a + eps).sqrt();
                        }
                    }
                    _ => unreachable!(),
                })
            }
            Op::Adadelta {
                learning_rate: lr,
                rho,
                epsilon,
                ..
            } => {
                let (r, c, eps) = (rho as f32, (1.0 - rho) as f32, epsilon as f32);
                run_chunked(slots, g, |b, g| match b {
                    [w, ag, ad] => {
                        let it = w.iter_mut().zip(ag.iter_mut()).zip(ad.iter_mut()).zip(g);
                        for (((w, ag), ad), &g) in it {
                            *ag = r * *ag + c * (g * g);
                            let delta = -((*ad + eps).sqrt() * g / (*ag + eps).sqrt());
                            *ad = r * *ad + c * (delta * delta);
                            *w += lr * delta;
                        }
                    }
                    _ => unreachable!(),
                })
            }
            Op::Adamax {
                learning_rate: lr,
                beta_1,
                beta_2,
                epsilon,
                step,
                ..
            } => {
                let b1p = (beta_1 as f32).powf(step as f32);
                let (c1, b2, eps) = ((1.0 - beta_1) as f32, beta_2 as f32, epsilon as f32);
                run_chunked(slots, g, |b, g| match b {
                    [w, m, u] => {
                        let it = w.iter_mut().zip(m.iter_mut()).zip(u.iter_mut()).zip(g);
                        for (((w, m), u), &g) in it {
                            *m += (g - *m) * c1;
                            *u = (b2 * *u).max(g.abs());
                            *w -= lr * *m / ((1.0 - b1p) * (*u + eps));
                        }
                    }
                    _ => unreachable!(),
                })
            }
            Op::Nadam {
                learning_rate: lr,
                beta_1,
                beta_2,
                epsilon,
                step,
                u_product,
                ..
            } => {
                let k = nadam_constants(beta_1, beta_2, step, u_product);
                let eps = epsilon as f32;
                run_chunked(slots, g, |b, g| match b {
                    [w, m, v] => {
                        let it = w.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(g);
                        for (((w, m), v), &g) in it {
                            *m += (g - *m) * k.c1;
                            *v += (g * g - *v) * k.c2;
                            let m_hat = k.u_t_1 * *m / (1.0 - k.u_product_t_1)
                                + (1.0 - k.u_t) * g / (1.0 - k.u_product_t);
                            let v_hat = *v / (1.0 - k.beta_2_power);
                            *w -= m_hat * lr / (v_hat.sqrt() + eps);
                        }
                    }
                    _ => unreachable!(),
                })
            }
            Op::Ftrl {
                learning_rate: lr,
                learning_rate_power,
                l1_regularization_strength,
                l2_regularization_strength,
                l2_shrinkage_regularization_strength,
                beta,
                ..
            } => {
                let l2_reg = l2_regularization_strength as f32 + beta as f32 / (2.0 * lr);
                let two_l2 = 2.0 * l2_reg;
                let shrink = (2.0 * l2_shrinkage_regularization_strength) as f32;
                let power = (-learning_rate_power) as f32;
                let l1 = l1_regularization_strength as f32;
                run_chunked(slots, g, |b, g| match b {
                    [w, acc, lin] => {
                        let it = w.iter_mut().zip(acc.iter_mut()).zip(lin.iter_mut()).zip(g);
                        for (((w, acc), lin), &g) in it {
                            let grad = g + shrink * *w;
                            let new_acc = *acc + g * g;
                            let p_new = ftrl_pow(new_acc, power);
                            *lin += grad - (p_new - ftrl_pow(*acc, power)) / lr * *w;
                            let quadratic = p_new / lr + two_l2;
                            let clipped = lin.clamp(-l1, l1);
                            *w = (clipped - *lin) / quadratic;
                            *acc = new_acc;
                        }
                    }
                    _ => unreachable!(),
                })
            }
            Op::Lion {
                learning_rate: lr,
                beta_1,
                beta_2,
                ..
            } => {
                let (b1, b2) = (beta_1 as f32, beta_2 as f32);
                let (c1, c2) = (1.0 - b1, 1.0 - b2);
                run_chunked(slots, g, |b, g| match b {
                    [w, m] => {
                        for ((w, m), &g) in w.iter_mut().zip(m.iter_mut()).zip(g) {
                            *w -= lr * sign(*m * b1 + g * c1);
                            *m = *m * b2 + g * c2;
                        }
                    }
                    _ => unreachable!(),
                })
            }
            Op::Lamb {
                learning_rate: lr,
                beta_1,
                beta_2,
                epsilon,
                step,
                ..
            } => lamb(slots, g, lr, beta_1, beta_2, epsilon, step),
            Op::Ema { momentum } => {
                // targets: the averages alone; `g` is the variable.
                let c = 1.0 - momentum;
                run_chunked(slots, g, |b, v| {
                    b[0].iter_mut()
                        .zip(v)
                        .for_each(|(a, &v)| *a = momentum * *a + c * v)
                })
            }
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
            weight_decay: 0.0,
            decay_mask: vec![],
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
            weight_decay: 0.0,
            decay_mask: vec![],
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
            weight_decay: 0.0,
            decay_mask: vec![],
        };
        let (mut w, mut v) = (t(&[1.0]), t(&[0.0]));
        let err = apply(&op, &mut [&mut w, &mut v], &[&t(&[1.0])]).unwrap_err();
        assert!(format!("{err:?}").contains("expected 3 variables and slots"));
        let sgd = Op::Sgd {
            learning_rate: 0.1,
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.0,
            decay_mask: vec![],
        };
        let err = apply(&sgd, &mut [&mut t(&[1.0, 2.0])], &[&t(&[1.0])]).unwrap_err();
        assert!(format!("{err:?}").contains("does not match its gradient"));
    }

    #[test]
    fn weight_decay_follows_the_mask_and_lamb_scales_by_the_trust_ratio() {
        let op = Op::Sgd {
            learning_rate: 0.5,
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.1,
            decay_mask: vec![1, 0],
        };
        let (mut a, mut b) = (t(&[2.0]), t(&[2.0]));
        apply(&op, &mut [&mut a, &mut b], &[&t(&[0.0]), &t(&[0.0])]).unwrap();
        assert!((values(&a)[0] - 1.9).abs() < 1e-6); // 2 - 2 * 0.1 * 0.5
        assert_eq!(values(&b)[0], 2.0);
        let lamb = Op::Lamb {
            learning_rate: 0.1,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 0.0,
            step: 1,
            weight_decay: 0.0,
            decay_mask: vec![],
        };
        let (mut w, mut m, mut v) = (t(&[3.0, 4.0]), t(&[0.0, 0.0]), t(&[0.0, 0.0]));
        apply(&lamb, &mut [&mut w, &mut m, &mut v], &[&t(&[1.0, -1.0])]).unwrap();
        // Step 1: the update is sign(g) (norm sqrt 2); ||w|| = 5: w -= 0.1 * 5 / sqrt(2) * sign(g).
        let step = 0.1 * 5.0 / 2f32.sqrt();
        let w = values(&w);
        assert!(
            (w[0] - (3.0 - step)).abs() < 1e-5 && (w[1] - (4.0 + step)).abs() < 1e-5,
            "{w:?}"
        );
    }
}

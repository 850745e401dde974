//! Fused optimizer steps: one call updates every variable and its slot variables in place,
//! instead of a dozen small ops per variable. Formulas follow Keras 3's `update_step`s
//! (keras/src/optimizers/{sgd,adam,rmsprop}.py).

use crate::device::{self, pool};
use crate::error::{Error, Result};
use crate::ops::Op;
use crate::tensor::{Buffer, Tensor};

/// Slot variables each model variable carries for `op` (the variable itself excluded).
pub fn slots_per_variable(op: &Op) -> usize {
    match *op {
        Op::SgdUpdate { momentum, .. } => (momentum != 0.0) as usize,
        Op::AdamUpdate { amsgrad, .. } => 2 + amsgrad as usize,
        Op::RmspropUpdate { momentum, centered, .. } => 1 + (momentum > 0.0) as usize + centered as usize,
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
    device::update(op, targets, grads)
}

fn f32_mut<'a>(t: &'a mut Tensor) -> &'a mut [f32] {
    // Copy-on-write: a buffer still shared (say, by a persistent tape) is copied first.
    match std::sync::Arc::make_mut(&mut t.data) {
        Buffer::F32(v) => v,
        _ => unreachable!("checked float32"),
    }
}

/// Run `f(i, [w, slots...], g)` over all elements, chunked in parallel for large variables.
fn for_each_elem<const N: usize>(slots: &mut [&mut Tensor], g: &[f32], f: impl Fn(&mut [&mut f32; N], f32) + Sync + Send) {
    let mut ptrs: Vec<usize> = slots.iter_mut().map(|t| f32_mut(t).as_mut_ptr() as usize).collect();
    ptrs.truncate(N);
    let n = g.len();
    let mut idx: Vec<u8> = vec![0; n]; // only its length drives the chunking below
    pool::fill_chunks(&mut idx, |start, c| {
        for i in start..start + c.len() {
            // SAFETY: every chunk touches the disjoint index range [start, start + len) of
            // buffers that each hold n elements and are exclusively borrowed by this call.
            let mut refs: [&mut f32; N] = std::array::from_fn(|k| unsafe { &mut *(ptrs[k] as *mut f32).add(i) });
            f(&mut refs, g[i]);
        }
    });
}

pub(crate) fn cpu_apply(op: &Op, targets: &mut [&mut Tensor], grads: &[&Tensor]) -> Result<()> {
    let per = 1 + slots_per_variable(op);
    for (i, g) in grads.iter().enumerate() {
        let g = g.f32s(op.name())?;
        let slots = &mut targets[i * per..(i + 1) * per];
        match *op {
            Op::SgdUpdate { lr, momentum, nesterov } => {
                if momentum == 0.0 {
                    for_each_elem::<1>(slots, g, |[w], g| **w -= lr * g);
                } else {
                    for_each_elem::<2>(slots, g, |[w, m], g| {
                        **m = **m * momentum - g * lr;
                        **w += if nesterov { **m * momentum - g * lr } else { **m };
                    });
                }
            }
            Op::AdamUpdate { lr, beta_1, beta_2, epsilon, step, amsgrad } => {
                let t = step as i32;
                let alpha = lr * (1.0 - beta_2.powi(t)).sqrt() / (1.0 - beta_1.powi(t));
                if amsgrad {
                    for_each_elem::<4>(slots, g, |[w, m, v, vhat], g| {
                        **m += (g - **m) * (1.0 - beta_1);
                        **v += (g * g - **v) * (1.0 - beta_2);
                        **vhat = vhat.max(**v);
                        **w -= **m * alpha / (vhat.sqrt() + epsilon);
                    });
                } else {
                    for_each_elem::<3>(slots, g, |[w, m, v], g| {
                        **m += (g - **m) * (1.0 - beta_1);
                        **v += (g * g - **v) * (1.0 - beta_2);
                        **w -= **m * alpha / (v.sqrt() + epsilon);
                    });
                }
            }
            Op::RmspropUpdate { lr, rho, momentum, epsilon, centered } => {
                let step = |v: &mut f32, avg: Option<&mut f32>, g: f32| -> f32 {
                    *v = rho * *v + (1.0 - rho) * g * g;
                    let denom = match avg {
                        Some(a) => {
                            *a = rho * *a + (1.0 - rho) * g;
                            *v - *a * *a + epsilon
                        }
                        None => *v + epsilon,
                    };
                    lr * g / denom.sqrt()
                };
                match (momentum > 0.0, centered) {
                    (false, false) => for_each_elem::<2>(slots, g, |[w, v], g| **w -= step(v, None, g)),
                    (false, true) => for_each_elem::<3>(slots, g, |[w, v, a], g| **w -= step(v, Some(&mut **a), g)),
                    (true, false) => for_each_elem::<3>(slots, g, |[w, v, m], g| {
                        **m = momentum * **m + step(v, None, g);
                        **w -= **m;
                    }),
                    (true, true) => for_each_elem::<4>(slots, g, |[w, v, m, a], g| {
                        **m = momentum * **m + step(v, Some(&mut **a), g);
                        **w -= **m;
                    }),
                }
            }
            _ => return Err(Error::Value(format!("{} is not an update op", op.name()))),
        }
    }
    Ok(())
}

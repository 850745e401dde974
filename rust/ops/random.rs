//! Counter-based random numbers: Philox 4x32-10 (Salmon et al., "Parallel random numbers: as
//! easy as 1, 2, 3", SC'11). Element block `i` of a draw depends only on (seed, counter, i), so
//! the same seed gives bit-identical numbers on any thread count and any device.

use rayon::prelude::*;

use crate::device::{self, pool};
use crate::error::{Error, Result};
use crate::ops::Op;
use crate::tensor::{numel, DType, Tensor};

const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// Philox 4x32 with 10 rounds: four random words from a 128-bit counter and a 64-bit key.
pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let (mut c, mut k) = (counter, key);
    for round in 0..10 {
        if round > 0 {
            k[0] = k[0].wrapping_add(W0);
            k[1] = k[1].wrapping_add(W1);
        }
        let p0 = (M0 as u64) * (c[0] as u64);
        let p1 = (M1 as u64) * (c[2] as u64);
        c = [
            ((p1 >> 32) as u32) ^ c[1] ^ k[0],
            p1 as u32,
            ((p0 >> 32) as u32) ^ c[3] ^ k[1],
            p0 as u32,
        ];
    }
    c
}

/// Block `i` of the stream (`seed`, `counter`).
#[inline]
fn block(seed: u64, counter: u64, i: u64) -> [u32; 4] {
    philox4x32_10(
        [
            i as u32,
            (i >> 32) as u32,
            counter as u32,
            (counter >> 32) as u32,
        ],
        [seed as u32, (seed >> 32) as u32],
    )
}

/// A float in [0, 1) from the top 24 bits of a word.
#[inline]
fn unit(x: u32) -> f32 {
    (x >> 8) as f32 * (1.0 / 16_777_216.0)
}

fn check_shape(op: &str, shape: &[usize]) -> Result<()> {
    crate::tensor::check_alloc(op, shape, DType::Float32)
}

/// Uniform floats in `[min, max)`.
pub fn uniform(shape: &[usize], min: f32, max: f32, seed: u64, counter: u64) -> Result<Tensor> {
    check_shape("random.uniform", shape)?;
    if !(min.is_finite() && max.is_finite() && min <= max) {
        return Err(Error::Value(format!(
            "random.uniform: need finite minval <= maxval, got {min} and {max}"
        )));
    }
    device::execute_on(
        device::gpu::default_device(),
        &Op::RandomUniform {
            shape: shape.to_vec(),
            min,
            max,
            seed,
            counter,
        },
    )
}

/// Normal floats with `mean` and `stddev` (Box-Muller on pairs of uniforms).
pub fn normal(shape: &[usize], mean: f32, stddev: f32, seed: u64, counter: u64) -> Result<Tensor> {
    check_shape("random.normal", shape)?;
    device::execute_on(
        device::gpu::default_device(),
        &Op::RandomNormal {
            shape: shape.to_vec(),
            mean,
            stddev,
            seed,
            counter,
        },
    )
}

// ---------------------------------------------------------------------------------------------
// CPU kernels

/// Call `fill(block_index, chunk)` for consecutive `per_block`-element chunks of `out`, on the
/// pool when large. Block i's values depend only on i, so the thread count never shows.
fn for_each_block(
    out: &mut [f32],
    per_block: usize,
    fill: impl Fn(usize, &mut [f32]) + Sync + Send,
) {
    if out.len() < pool::PAR_THRESHOLD {
        out.chunks_mut(per_block)
            .enumerate()
            .for_each(|(i, c)| fill(i, c));
    } else {
        pool::par(|| {
            out.par_chunks_mut(per_block)
                .with_min_len(4096)
                .enumerate()
                .for_each(|(i, c)| fill(i, c))
        });
    }
}

pub(crate) fn cpu_uniform(shape: &[usize], min: f32, max: f32, seed: u64, counter: u64) -> Tensor {
    let n = numel(shape);
    let mut out = crate::tensor::reuse::zeros(n);
    let fill = |i: usize, c: &mut [f32]| {
        let w = block(seed, counter, i as u64);
        for (o, &x) in c.iter_mut().zip(&w) {
            let v = min + (max - min) * unit(x);
            // Rounding can land exactly on `max`; the range is half-open.
            *o = if v >= max && max > min {
                max.next_down()
            } else {
                v
            };
        }
    };
    for_each_block(&mut out, 4, fill);
    Tensor::from_f32(shape.to_vec(), out)
}

pub(crate) fn cpu_normal(
    shape: &[usize],
    mean: f32,
    stddev: f32,
    seed: u64,
    counter: u64,
) -> Tensor {
    let n = numel(shape);
    let mut out = crate::tensor::reuse::zeros(n);
    let fill = |i: usize, c: &mut [f32]| {
        let w = block(seed, counter, i as u64);
        // 1 - unit() lies in (0, 1], so the log is finite.
        let r = (-2.0 * (1.0 - unit(w[0])).ln()).sqrt();
        let theta = std::f32::consts::TAU * unit(w[1]);
        let z = [r * theta.cos(), r * theta.sin()];
        for (o, &v) in c.iter_mut().zip(&z) {
            *o = mean + stddev * v;
        }
    };
    for_each_block(&mut out, 2, fill);
    Tensor::from_f32(shape.to_vec(), out)
}

#[cfg(test)]
mod tests {
    use super::philox4x32_10;

    // Known-answer vectors of the Random123 reference implementation.
    #[test]
    fn philox_known_answers() {
        assert_eq!(
            philox4x32_10([0; 4], [0; 2]),
            [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]
        );
        assert_eq!(
            philox4x32_10([u32::MAX; 4], [u32::MAX; 2]),
            [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]
        );
        assert_eq!(
            philox4x32_10(
                [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
                [0xa4093822, 0x299f31d0]
            ),
            [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]
        );
    }
}

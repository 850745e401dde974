//! When a kernel goes parallel. Small tensors stay on the calling thread: handing a few
//! thousand elements to rayon costs more than computing them (measured in benchmarks/).

use rayon::prelude::*;

/// Elements below which element-wise kernels run serially.
pub const PAR_THRESHOLD: usize = 1 << 18;
/// Elements per parallel chunk: large enough to amortise scheduling, small enough to balance.
pub const CHUNK: usize = 1 << 14;

/// Fill `out` chunk by chunk with `f(start_index, chunk)`, in parallel when `out` is large.
pub fn fill_chunks<U: Send>(out: &mut [U], f: impl Fn(usize, &mut [U]) + Sync + Send) {
    if out.len() < PAR_THRESHOLD {
        f(0, out);
    } else {
        out.par_chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(i, c)| f(i * CHUNK, c));
    }
}

/// Fill `out` row by row (`row_len` elements each) with `f(row, row_slice)`, in parallel when large.
pub fn fill_rows<U: Send>(
    out: &mut [U],
    row_len: usize,
    f: impl Fn(usize, &mut [U]) + Sync + Send,
) {
    if row_len == 0 {
        return;
    }
    if out.len() < PAR_THRESHOLD {
        out.chunks_mut(row_len).enumerate().for_each(|(r, c)| f(r, c));
    } else {
        let rows_per_task = (CHUNK / row_len).max(1);
        out.par_chunks_mut(rows_per_task * row_len)
            .enumerate()
            .for_each(|(t, block)| {
                for (i, c) in block.chunks_mut(row_len).enumerate() {
                    f(t * rows_per_task + i, c);
                }
            });
    }
}

/// Run `f` in a frame compiled for AVX2 + FMA when the CPU has them, so the loops LLVM
/// inlines into it use 256-bit vectors; the wheel itself stays portable x86-64 (runtime
/// dispatch, never `target-cpu=native`). Results are bit-identical: Rust never contracts
/// `a * b + c` into an FMA on its own.
#[inline(always)]
pub fn simd<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the features were detected at run time just above.
            return unsafe { avx2(f) };
        }
    }
    f()
}


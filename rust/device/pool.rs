//! Where and when kernels run in parallel. Small tensors stay on the calling thread: handing
//! a few thousand elements to another thread costs more than computing them (measured in
//! benchmarks/README.md). Large ones run on the crate's own rayon pool, which a forked child
//! drops (a child inherits the pool's bookkeeping but not its threads, and would hang on it).

use std::sync::{Arc, RwLock};

use rayon::prelude::*;
use rayon::ThreadPool;

use crate::interrupt;

static POOL: RwLock<Option<Arc<ThreadPool>>> = RwLock::new(None);

/// Threads for the pool: `RSKERAS_NUM_THREADS`, else `RAYON_NUM_THREADS`, else every core.
fn configured_threads() -> usize {
    threads_from_env()
        .ok()
        .flatten()
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The thread count the environment asks for, or a ValueError naming the variable and its
/// value when it is not a positive integer (checked when `rskeras._core` is imported, so a
/// typo is an error, not a silent fallback to every core).
pub fn threads_from_env() -> crate::error::Result<Option<usize>> {
    for name in ["RSKERAS_NUM_THREADS", "RAYON_NUM_THREADS"] {
        let Ok(value) = std::env::var(name) else {
            continue;
        };
        if value.trim().is_empty() {
            continue; // `RSKERAS_NUM_THREADS=` in a script means unset
        }
        return match value.trim().parse::<usize>() {
            Ok(n) if (1..=4096).contains(&n) => Ok(Some(n)),
            _ => Err(crate::error::Error::Value(format!(
                "{name}={value:?} is not a valid thread count: expected an integer from 1 to 4096"
            ))),
        };
    }
    Ok(None)
}

fn pool() -> Arc<ThreadPool> {
    if let Some(p) = POOL.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        return p.clone();
    }
    let mut slot = POOL.write().unwrap_or_else(|e| e.into_inner());
    slot.get_or_insert_with(|| {
        let built = rayon::ThreadPoolBuilder::new()
            .num_threads(configured_threads())
            .thread_name(|i| format!("rskeras-{i}"))
            .build();
        // Building threads can only fail when the OS refuses them; fall back to one thread.
        Arc::new(built.unwrap_or_else(|_| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .build()
                .expect("one thread")
        }))
    })
    .clone()
}

/// Run `f` on the crate's thread pool, so the rayon calls inside it (and gemm's) use it.
/// The caller's interrupt token goes along (see `crate::interrupt`).
pub fn par<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    let token = interrupt::current();
    pool().install(move || interrupt::with_token(token, f))
}

/// Number of threads parallel kernels use.
pub fn num_threads() -> usize {
    pool().current_num_threads()
}

/// Forget the pool in a forked child: its threads do not exist there. The old pool is leaked
/// on purpose; joining threads that are not there would hang.
pub fn reset_after_fork() {
    let mut slot = POOL.write().unwrap_or_else(|e| e.into_inner());
    if let Some(old) = slot.take() {
        std::mem::forget(old);
    }
}

/// Elements below which element-wise kernels run serially.
pub const PAR_THRESHOLD: usize = 1 << 18;
/// Elements per parallel chunk: large enough to amortise scheduling, small enough to balance.
pub const CHUNK: usize = 1 << 14;

/// Fill `out` chunk by chunk with `f(start_index, chunk)`, in parallel when `out` is large.
/// Once an interrupt fires, the remaining chunks are skipped (the caller drops the result).
pub fn fill_chunks<U: Send>(out: &mut [U], f: impl Fn(usize, &mut [U]) + Sync + Send) {
    if out.len() < PAR_THRESHOLD {
        f(0, out);
    } else {
        let token = interrupt::current();
        par(|| {
            out.par_chunks_mut(CHUNK).enumerate().for_each(|(i, c)| {
                if !token.fired() {
                    f(i * CHUNK, c)
                }
            })
        });
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
    let token = interrupt::current();
    if out.len() < PAR_THRESHOLD {
        // Few elements can still be long work (a huge pooling window): poll per row.
        for (r, c) in out.chunks_mut(row_len).enumerate() {
            if token.fired() {
                return;
            }
            f(r, c);
        }
    } else {
        let rows_per_task = (CHUNK / row_len).max(1);
        par(|| {
            out.par_chunks_mut(rows_per_task * row_len)
                .enumerate()
                .for_each(|(t, block)| {
                    for (i, c) in block.chunks_mut(row_len).enumerate() {
                        if token.fired() {
                            return;
                        }
                        f(t * rows_per_task + i, c);
                    }
                })
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

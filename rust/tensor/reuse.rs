//! A reuse pool for large float32 buffers. A training step frees and re-allocates buffers of
//! the same sizes every step; going through the system allocator each time maps fresh pages
//! and pays a page fault per 4 KiB (measured: 30% of an MLP step). Freed buffers of at least
//! `MIN_LEN` elements wait here, keyed by length, for the next request of that length.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Mutex;

/// Buffers below this many elements (64 KiB) are cheap for malloc and are not pooled.
const MIN_LEN: usize = 1 << 14;
/// Upper bound on the bytes the pool holds, so idle memory stays bounded.
const MAX_BYTES: usize = 256 << 20;
/// Buffers kept per exact length.
const PER_LEN: usize = 4;

struct Pool {
    free: HashMap<usize, Vec<Vec<f32>>>,
    bytes: usize,
}

static POOL: Mutex<Option<Pool>> = Mutex::new(None);

fn with_pool<R>(f: impl FnOnce(&mut Pool) -> R) -> R {
    let mut guard = POOL.lock().unwrap_or_else(|p| p.into_inner());
    f(guard.get_or_insert_with(|| Pool {
        free: HashMap::new(),
        bytes: 0,
    }))
}

/// A vector of `n` f32 whose contents are unspecified (old values or zeros): for kernels that
/// overwrite every element.
pub fn take_f32(n: usize) -> Vec<f32> {
    if n >= MIN_LEN {
        if let Some(v) = with_pool(|p| {
            let v = p.free.get_mut(&n).and_then(|list| list.pop());
            if v.is_some() {
                p.bytes -= n * 4;
            }
            v
        }) {
            return v;
        }
    }
    zeros(n)
}

/// A vector of `n` zeros.
pub fn zeros_f32(n: usize) -> Vec<f32> {
    let mut v = take_f32(n);
    v.fill(0.0);
    v
}

/// A vector of `n` elements of type `T` for a kernel that overwrites them all: pooled when `T`
/// is f32, a plain allocation otherwise.
pub fn take<T: ZeroBits + 'static>(n: usize) -> Vec<T> {
    if std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>() && n >= MIN_LEN {
        let boxed: Box<dyn Any> = Box::new(take_f32(n));
        if let Ok(v) = boxed.downcast::<Vec<T>>() {
            return *v;
        }
    }
    zeros(n)
}

/// The panic payload of an allocation the system refused (see [`zeros`]); `error::guard`
/// turns it into MemoryError. Rust's own `vec![..]` would abort the process instead.
#[derive(Debug)]
pub struct OutOfMemory {
    pub bytes: usize,
}

#[cold]
fn out_of_memory(n: usize, size: usize) -> ! {
    std::panic::panic_any(OutOfMemory {
        bytes: n.saturating_mul(size),
    })
}

/// Types whose all-zero bit pattern is the value 0 (`false`).
///
/// # Safety
/// Implement only for such types: [`zeros`] hands out zeroed memory as values of `T`.
pub unsafe trait ZeroBits: Copy {}
// SAFETY: zero bits are 0, 0.0 or false for each of these.
unsafe impl ZeroBits for f32 {}
unsafe impl ZeroBits for f64 {}
unsafe impl ZeroBits for half::f16 {}
unsafe impl ZeroBits for half::bf16 {}
unsafe impl ZeroBits for i8 {}
unsafe impl ZeroBits for u8 {}
unsafe impl ZeroBits for i16 {}
unsafe impl ZeroBits for i32 {}
unsafe impl ZeroBits for i64 {}
unsafe impl ZeroBits for usize {}
unsafe impl ZeroBits for bool {}
// SAFETY: a pair of ZeroBits types is all zero bits when both halves are (padding is never read).
unsafe impl<A: ZeroBits, B: ZeroBits> ZeroBits for (A, B) {}

/// `n` zeros from zeroed memory (calloc: pages are zeroed lazily, as `vec![0.0; n]` does), or
/// an [`OutOfMemory`] panic when the system refuses the allocation.
pub fn zeros<T: ZeroBits>(n: usize) -> Vec<T> {
    let size = std::mem::size_of::<T>();
    if n == 0 || size == 0 {
        return Vec::new();
    }
    let Ok(layout) = std::alloc::Layout::array::<T>(n) else {
        out_of_memory(n, size)
    };
    // SAFETY: a non-zero-sized layout; the memory is zeroed, a valid `T` (ZeroBits), and was
    // allocated by the global allocator with the layout Vec uses for capacity `n`.
    unsafe {
        let ptr = std::alloc::alloc_zeroed(layout) as *mut T;
        if ptr.is_null() {
            out_of_memory(n, size)
        }
        Vec::from_raw_parts(ptr, n, n)
    }
}

/// `n` copies of `value`, or an [`OutOfMemory`] panic.
pub fn filled<T: Clone>(value: T, n: usize) -> Vec<T> {
    let mut v = Vec::new();
    if v.try_reserve_exact(n).is_err() {
        out_of_memory(n, std::mem::size_of::<T>())
    }
    v.resize(n, value);
    v
}

/// The items of an exact-size iterator, or an [`OutOfMemory`] panic.
pub fn collect_exact<T>(it: impl ExactSizeIterator<Item = T>) -> Vec<T> {
    let mut v = Vec::new();
    if v.try_reserve_exact(it.len()).is_err() {
        out_of_memory(it.len(), std::mem::size_of::<T>())
    }
    v.extend(it);
    v
}

/// Hand a no longer used buffer back for reuse.
pub fn give_f32(v: Vec<f32>) {
    let n = v.len();
    if n < MIN_LEN || v.capacity() != n {
        return;
    }
    with_pool(|p| {
        if p.bytes + n * 4 > MAX_BYTES {
            return;
        }
        let list = p.free.entry(n).or_default();
        if list.len() < PER_LEN {
            list.push(v);
            p.bytes += n * 4;
        }
    });
}

//! `Tensor`: a shape, a device and a reference-counted typed buffer, plus the shape helpers
//! (sizes, strides, NumPy broadcasting, axis normalisation) every op family uses.

pub mod buffer;
pub mod dtype;
pub mod layout;
pub mod pytensor;
pub mod reuse;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub use buffer::Buffer;
pub use dtype::DType;
pub use layout::Layout;

use crate::device::Device;
use crate::error::{Error, Result};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A fresh identity for a tensor value; the autodiff tape keys gradients by it.
pub fn fresh_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// An n-dimensional array. Cloning is cheap (the buffer is shared) and keeps the identity.
#[derive(Clone, Debug)]
pub struct Tensor {
    pub id: u64,
    pub shape: Vec<usize>,
    pub data: Arc<Buffer>,
    pub device: Device,
    /// Set on trainable `Variable`s: a recording tape watches them without an explicit `watch`.
    pub trainable_variable: bool,
    /// A constant that takes the dtype of the float operand it meets (like a Python float), so
    /// the constants inside gradient rules do not widen float16 or float64 gradients.
    pub weak: bool,
    /// `Some` for a strided view of a buffer shared with another tensor (see [`layout`]);
    /// `None` when the elements are the whole buffer in row-major order.
    pub layout: Option<Arc<Layout>>,
    /// The device buffer of a tensor on the GPU (then `data` is an empty buffer that only
    /// carries the dtype): a handle owned by the registered GPU executor.
    pub gpu: Option<Arc<crate::device::gpu::GpuBuffer>>,
}

impl Tensor {
    pub fn new(shape: Vec<usize>, data: Buffer) -> Tensor {
        debug_assert_eq!(numel(&shape), data.len());
        Tensor {
            id: fresh_id(),
            shape,
            data: Arc::new(data),
            device: Device::Cpu,
            trainable_variable: false,
            weak: false,
            layout: None,
            gpu: None,
        }
    }

    pub fn from_f32(shape: Vec<usize>, v: Vec<f32>) -> Tensor {
        Tensor::new(shape, Buffer::F32(v))
    }

    /// A weakly typed float constant (see `weak`).
    /// Held in float64, so it is exact in float64 gradients and rounds once for float32.
    pub fn scalar_f32(x: f32) -> Tensor {
        Tensor::weak_scalar(x as f64)
    }

    pub fn weak_scalar(x: f64) -> Tensor {
        Tensor {
            weak: true,
            ..Tensor::new(vec![], Buffer::F64(vec![x]))
        }
    }

    pub fn full_f32(shape: &[usize], x: f32) -> Tensor {
        Tensor::from_f32(shape.to_vec(), vec![x; numel(shape)])
    }

    pub fn dtype(&self) -> DType {
        self.data.dtype()
    }

    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    pub fn numel(&self) -> usize {
        numel(&self.shape)
    }

    /// The f32 elements, or a TypeError naming `op` when the tensor holds another dtype.
    pub fn f32s(&self, op: &str) -> Result<&[f32]> {
        debug_assert!(
            self.is_contiguous(),
            "{op}: kernels read contiguous tensors"
        );
        match &*self.data {
            Buffer::F32(v) => Ok(v),
            other => Err(Error::Type(format!(
                "{op}: expected a float32 tensor, got {} with shape {:?}",
                other.dtype().name(),
                self.shape
            ))),
        }
    }

    /// The same values under a new identity (what `stop_gradient` returns).
    pub fn detached(&self) -> Tensor {
        Tensor {
            id: fresh_id(),
            trainable_variable: false,
            weak: false,
            ..self.clone()
        }
    }

    /// Same elements, new shape (caller checked the element count): a view when only size-1
    /// axes change, otherwise over a contiguous copy of a view.
    pub fn with_shape(&self, shape: Vec<usize>) -> Tensor {
        if self.is_contiguous() {
            return self.with_data(shape, self.data.clone());
        }
        match self.reshaped_strides(&shape) {
            Some(st) => self.view(shape, st, self.layout.as_ref().map_or(0, |l| l.offset)),
            None => {
                let c = self.contiguous();
                c.with_data(shape, c.data.clone())
            }
        }
    }

    /// A new tensor (fresh identity, row-major) over `data` and, on the GPU, this tensor's
    /// device buffer.
    pub fn with_data(&self, shape: Vec<usize>, data: Arc<Buffer>) -> Tensor {
        Tensor {
            id: fresh_id(),
            shape,
            data,
            device: self.device,
            trainable_variable: false,
            weak: false,
            layout: None,
            gpu: self.gpu.clone(),
        }
    }

    /// `self`'s values under `other`'s identity and variable flag (a value moved in place).
    pub fn with_identity_of(self, other: &Tensor) -> Tensor {
        Tensor {
            id: other.id,
            trainable_variable: other.trainable_variable,
            ..self
        }
    }

    /// This tensor with its values in host memory (a download for a GPU tensor; the same
    /// identity, as `contiguous` keeps it).
    pub fn host(&self) -> Result<Tensor> {
        match self.device {
            Device::Cpu => Ok(self.contiguous()),
            Device::Gpu => crate::device::gpu::download(self),
        }
    }
}

/// Elements of `shape`; `usize::MAX` when the product overflows, which every allocation check
/// ([`check_alloc`]) then refuses.
pub fn numel(shape: &[usize]) -> usize {
    shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .unwrap_or(usize::MAX)
}

/// Bytes the machine could ever give one tensor: its RAM plus swap (an allocation beyond that
/// would abort the process, or fail later inside a kernel), at most `isize::MAX`.
pub fn memory_limit() -> usize {
    use std::sync::OnceLock;
    static LIMIT: OnceLock<usize> = OnceLock::new();
    *LIMIT.get_or_init(|| {
        #[cfg(target_os = "linux")]
        {
            // SAFETY: sysinfo fills the zeroed struct it is given.
            let mut info: libc::sysinfo = unsafe { std::mem::zeroed() };
            if unsafe { libc::sysinfo(&mut info) } == 0 {
                let unit = (info.mem_unit as usize).max(1);
                let total = (info.totalram as usize).saturating_add(info.totalswap as usize);
                return total.saturating_mul(unit).min(isize::MAX as usize);
            }
        }
        isize::MAX as usize
    })
}

/// Bytes this process may still map: its address-space limit (`RLIMIT_AS`, `ulimit -v`) less
/// what it maps now; `usize::MAX` without a limit. Read only for large requests.
fn address_space_left() -> usize {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: getrlimit fills the struct it is given.
        let mut lim: libc::rlimit = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut lim) } == 0
            && lim.rlim_cur != libc::RLIM_INFINITY
        {
            let mapped = std::fs::read_to_string("/proc/self/statm")
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse::<usize>().ok())
                .unwrap_or(0)
                .saturating_mul(4096);
            return (lim.rlim_cur as usize).saturating_sub(mapped);
        }
    }
    usize::MAX
}

/// Refuse, before any memory is touched, a tensor of `shape` and `dtype` that op `op` would
/// allocate when its size overflows or exceeds what the machine or the process's limits allow
/// (MemoryError). As in NumPy, the sizes must multiply without overflow even when one is 0.
pub fn check_alloc(op: &str, shape: &[usize], dtype: DType) -> Result<()> {
    check_alloc_items(op, shape, dtype.itemsize(), dtype.name())
}

/// [`check_alloc`] for `itemsize`-byte elements of a dtype named `dtype`.
pub fn check_alloc_items(op: &str, shape: &[usize], itemsize: usize, dtype: &str) -> Result<()> {
    let nonzero = shape
        .iter()
        .try_fold(itemsize, |n, &d| n.checked_mul(d.max(1)))
        .filter(|&b| b <= isize::MAX as usize);
    let bytes = nonzero.and_then(|_| shape.iter().try_fold(itemsize, |n, &d| n.checked_mul(d)));
    let fits = |b: usize| b <= memory_limit() && (b < 1 << 26 || b <= address_space_left());
    match bytes {
        Some(b) if fits(b) => Ok(()),
        _ => Err(Error::Memory(format!(
            "{op}: a {dtype} tensor of shape {shape:?} needs {} bytes, more than this machine's \
             memory ({} bytes) or this process's limits allow",
            bytes.map_or_else(|| "over 2**64".to_string(), |b| b.to_string()),
            memory_limit()
        ))),
    }
}

/// The multi-index of flat (row-major) position `i` in `shape`, for error messages.
pub fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for (k, &d) in shape.iter().enumerate().rev() {
        if d > 0 {
            idx[k] = i % d;
            i /= d;
        }
    }
    idx
}

/// Row-major strides in elements.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// NumPy broadcasting of two shapes, or a ValueError naming `op` and both shapes.
pub fn broadcast_shapes(op: &str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return Err(Error::Value(format!(
                "{op}: shapes {a:?} and {b:?} cannot be broadcast together \
                 (dimension {da} vs {db} at axis {})",
                i as isize - n as isize
            )));
        };
    }
    Ok(out)
}

/// Strides of `shape` seen inside the broadcast `out` shape: 0 along broadcast axes.
pub fn broadcast_strides(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let own = strides(shape);
    let off = out.len() - shape.len();
    (0..out.len())
        .map(|i| {
            if i < off || shape[i - off] == 1 {
                0
            } else {
                own[i - off]
            }
        })
        .collect()
}

/// A possibly negative axis as an index in `0..ndim`, or a ValueError naming `op`.
pub fn normalize_axis(op: &str, axis: isize, ndim: usize) -> Result<usize> {
    let a = if axis < 0 { axis + ndim as isize } else { axis };
    if a < 0 || a >= ndim as isize {
        return Err(Error::Value(format!(
            "{op}: axis {axis} is out of bounds for a tensor of rank {ndim}"
        )));
    }
    Ok(a as usize)
}

/// `None` means every axis; the result is sorted and free of duplicates.
pub fn normalize_axes(op: &str, axes: Option<&[isize]>, ndim: usize) -> Result<Vec<usize>> {
    let mut out: Vec<usize> = match axes {
        None => (0..ndim).collect(),
        Some(list) => list
            .iter()
            .map(|&a| normalize_axis(op, a, ndim))
            .collect::<Result<_>>()?,
    };
    out.sort_unstable();
    let before = out.len();
    out.dedup();
    if out.len() != before {
        return Err(Error::Value(format!("{op}: repeated axis in {axes:?}")));
    }
    Ok(out)
}

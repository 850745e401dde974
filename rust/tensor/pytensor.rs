//! The Python `Tensor` class and conversions between Python values, NumPy arrays and tensors.

use std::sync::{Arc, Mutex, RwLock, RwLockWriteGuard, TryLockError};

use numpy::ndarray::{ArrayViewD, IxDyn, ShapeBuilder};
use numpy::{
    Element, PyArray, PyArrayDescrMethods, PyReadonlyArrayDyn, PyUntypedArray,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyIndexError, PyMemoryError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyEllipsis, PyFloat, PyInt, PyNone, PySlice, PySliceMethods, PyTuple};

use super::{Buffer, DType, Tensor};
use crate::ops;
use crate::ops::shape::Index;

/// A tensor: an n-dimensional array of float32, int32, int64 or bool living on a device.
///
/// Build one with `rskeras.ops.convert_to_tensor(x)` or `Tensor(x, dtype=None)` from a NumPy
/// array, a nested list or a Python scalar. `np.asarray(t)` returns a read-only view of the
/// tensor's buffer without copying; `t.numpy()` returns a writable copy.
///
/// Tensors are safe to share between threads: the value sits behind a lock that readers hold
/// only to clone it (the buffer is shared, not copied), and that a fused optimizer update
/// holds for writing while it runs with the GIL released, so a reader sees the values of
/// before or after an update, never a mix.
#[pyclass(module = "rskeras._core", name = "Tensor", subclass, frozen)]
pub struct PyTensor {
    t: RwLock<Tensor>,
    /// The Keras mask a layer attached to this tensor (a boolean tensor), or None. Ops never
    /// read or propagate it; `Layer.__call__` does (Keras 3 masking).
    keras_mask: Mutex<Option<Py<PyAny>>>,
}

impl PyTensor {
    pub fn new(t: Tensor) -> PyTensor {
        PyTensor {
            t: RwLock::new(t),
            keras_mask: Mutex::new(None),
        }
    }

    /// The current value (cheap: the buffer is shared). While an update holds the value for
    /// writing, waits for it with the GIL released (the update may need the GIL to finish).
    pub fn get(&self) -> Tensor {
        match self.t.try_read() {
            Ok(t) => t.clone(),
            Err(TryLockError::Poisoned(p)) => p.into_inner().clone(),
            Err(TryLockError::WouldBlock) => Python::attach(|py| {
                py.detach(|| self.t.read().unwrap_or_else(|p| p.into_inner()).clone())
            }),
        }
    }

    /// The value for writing, waiting as `get` does.
    pub fn write(&self) -> RwLockWriteGuard<'_, Tensor> {
        match self.t.try_write() {
            Ok(t) => t,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => {
                Python::attach(|py| {
                    py.detach(|| SendGuard(self.t.write().unwrap_or_else(|p| p.into_inner())))
                })
                .0
            }
        }
    }

    /// The value for writing, or None while another thread holds it.
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, Tensor>> {
        match self.t.try_write() {
            Ok(t) => Some(t),
            Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }
}

/// Carries a write guard out of `Python::detach` (it only moves between the frames of one thread).
struct SendGuard<'a>(RwLockWriteGuard<'a, Tensor>);
// SAFETY: the guard is created and used on the same thread; detach runs its closure inline.
unsafe impl Send for SendGuard<'_> {}

/// Keeps a tensor buffer alive while NumPy views it.
#[pyclass(module = "rskeras._core", frozen)]
struct BufferOwner {
    _data: Arc<Buffer>,
}

/// A Python value as a tensor. Python scalars take `like` when given (so `x + 1` keeps x's
/// dtype); otherwise int -> int32, float -> float32, bool -> bool. float64 arrays become float32
/// (the default floatx); other integer widths become int32 or int64.
pub fn to_tensor(obj: &Bound<'_, PyAny>, like: Option<DType>) -> PyResult<Tensor> {
    if let Ok(t) = obj.cast::<PyTensor>() {
        return Ok(t.get().get());
    }
    if obj.is_instance_of::<PyBool>() {
        let b: bool = obj.extract()?;
        return Ok(scalar(b as u8 as f64, like.unwrap_or(DType::Bool)));
    }
    if obj.is_instance_of::<PyInt>() {
        let v: i64 = obj.extract().map_err(|_| {
            PyValueError::new_err(format!(
                "integer {} does not fit in int64",
                obj.repr().map(|r| r.to_string()).unwrap_or_default()
            ))
        })?;
        let fits32 = i32::try_from(v).is_ok();
        // A value the integer operand's dtype cannot hold (uint8 > -1, int8 / 300) is taken
        // as int64, so it is compared and divided exactly (NumPy 2) rather than wrapped.
        let fits_like = match like {
            Some(DType::UInt8) => u8::try_from(v).is_ok(),
            Some(DType::Int8) => i8::try_from(v).is_ok(),
            Some(DType::Int16) => i16::try_from(v).is_ok(),
            _ => true,
        };
        let dt = match like {
            Some(DType::Float32) => DType::Float32,
            Some(DType::Int64) => DType::Int64,
            _ if !fits32 || !fits_like => DType::Int64,
            Some(DType::Bool) | None => DType::Int32,
            Some(d) => d,
        };
        return Ok(match dt {
            DType::Int64 => Tensor::new(vec![], Buffer::I64(vec![v])),
            d => scalar(v as f64, d),
        });
    }
    if obj.is_instance_of::<PyFloat>() {
        let v: f64 = obj.extract()?;
        // Weak typing: a Python float takes a float tensor's dtype (float16 stays float16).
        let dt = like.filter(|d| d.is_float()).unwrap_or(DType::Float32);
        return Ok(scalar(v, dt));
    }
    if let Ok(arr) = obj.cast::<PyUntypedArray>() {
        return from_numpy(arr, false);
    }
    let np = obj.py().import("numpy")?;
    let arr = np.call_method1("asarray", (obj,)).map_err(|e| {
        PyTypeError::new_err(format!(
            "cannot convert {} to a tensor: {e}",
            obj.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })?;
    from_numpy(arr.cast::<PyUntypedArray>()?, true)
}

fn scalar(v: f64, dtype: DType) -> Tensor {
    Tensor::new(vec![], Buffer::F64(vec![v]).cast(dtype))
}

fn copy_out<T: Element + Copy>(arr: &Bound<'_, PyUntypedArray>) -> PyResult<Vec<T>> {
    let a: PyReadonlyArrayDyn<'_, T> = arr.extract()?;
    // `as_slice` also accepts Fortran order, whose memory order is not our row-major order.
    if arr.is_c_contiguous() {
        if let Ok(s) = a.as_slice() {
            return Ok(s.to_vec());
        }
    }
    Ok(a.as_array().iter().copied().collect())
}

/// Copy a NumPy array into a new tensor. `from_sequence`: the array came from a Python list,
/// whose ints NumPy makes int64; Keras gives int32 there.
pub fn from_numpy(arr: &Bound<'_, PyUntypedArray>, from_sequence: bool) -> PyResult<Tensor> {
    let shape = arr.shape().to_vec();
    let d = arr.dtype();
    let (kind, size) = (d.kind(), d.itemsize());
    if kind != b'b' && size > 1 && !d.getattr("isnative")?.extract::<bool>()? {
        // Big-endian data (from a file or another machine): converted to this machine's order.
        let native = d.call_method1("newbyteorder", ("=",))?;
        return from_numpy(
            arr.call_method1("astype", (native,))?.cast()?,
            from_sequence,
        );
    }
    // A NumPy view can describe more elements than memory holds (np.broadcast_to): copying
    // it must fail as a MemoryError, before the copy.
    let fits = crate::tensor::check_alloc_items("convert_to_tensor", &shape, size.max(1), "");
    if let Err(crate::error::Error::Memory(m)) = fits {
        // The dtype's name (a Python call) only for the message.
        let named = format!("a {} tensor", d.str()?);
        return Err(PyMemoryError::new_err(m.replacen("a  tensor", &named, 1)));
    }
    if shape.len() > RUST_NUMPY_MAX_DIMS {
        // Views on the Rust side hold at most 32 dimensions: go through a flat copy.
        let np = arr.py().import("numpy")?;
        let flat = np
            .call_method1("ascontiguousarray", (arr,))?
            .call_method1("reshape", (-1,))?;
        let t = from_numpy(flat.cast()?, from_sequence)?;
        return Ok(Tensor { shape, ..t });
    }
    let data = match (kind, size) {
        (b'f', 4) => {
            let a: PyReadonlyArrayDyn<'_, f32> = arr.extract()?;
            match (arr.is_c_contiguous(), a.as_slice()) {
                (true, Ok(s)) => {
                    let mut v = super::reuse::take_f32(s.len());
                    v.copy_from_slice(s);
                    Buffer::F32(v)
                }
                _ => Buffer::F32(copy_out::<f32>(arr)?),
            }
        }
        (b'i', 4) => Buffer::I32(copy_out::<i32>(arr)?),
        (b'i', 8) if from_sequence => {
            // Python ints become int32 as in Keras, unless a value needs 64 bits.
            let v = copy_out::<i64>(arr)?;
            if v.iter().all(|&x| i32::try_from(x).is_ok()) {
                Buffer::I32(v.iter().map(|&x| x as i32).collect())
            } else {
                Buffer::I64(v)
            }
        }
        (b'i', 8) => Buffer::I64(copy_out::<i64>(arr)?),
        (b'b', 1) => Buffer::Bool(copy_out::<bool>(arr)?),
        // Python floats (lists) are float32 as in Keras; NumPy float64 arrays stay float64.
        (b'f', 8) if from_sequence => {
            Buffer::F32(copy_out::<f64>(arr)?.iter().map(|&v| v as f32).collect())
        }
        (b'f', 8) => Buffer::F64(copy_out::<f64>(arr)?),
        (b'f', 2) => Buffer::F16(copy_out::<half::f16>(arr)?),
        (b'i', 2) => Buffer::I16(copy_out::<i16>(arr)?),
        (b'i', 1) => Buffer::I8(copy_out::<i8>(arr)?),
        (b'u', 1) => Buffer::U8(copy_out::<u8>(arr)?),
        // other float widths compute in float32 (the default floatx)
        (b'f', _) => return from_numpy(arr.call_method1("astype", ("float32",))?.cast()?, false),
        (b'u', 2) => return from_numpy(arr.call_method1("astype", ("int32",))?.cast()?, false),
        (b'u', 4) => return from_numpy(arr.call_method1("astype", ("int64",))?.cast()?, false),
        (b'u', 8) => {
            // No uint64 here: values up to 2**63 - 1 become int64; a larger one is refused
            // rather than wrapped to a negative number.
            let limit = i64::MAX as u64;
            let a: PyReadonlyArrayDyn<'_, u64> = arr.extract()?;
            if let Some((i, v)) = a.as_array().iter().enumerate().find(|(_, &v)| v > limit) {
                return Err(PyValueError::new_err(format!(
                    "cannot convert a uint64 array: the value {v} at flat index {i} does not fit \
                     in int64, the widest integer type (largest: {limit})"
                )));
            }
            Buffer::I64(a.as_array().iter().map(|&v| v as i64).collect())
        }
        _ => {
            return Err(PyTypeError::new_err(format!(
                "cannot convert a NumPy array of dtype {} to a tensor (supported: bool, int8 to \
                 int64, uint8 to uint64, float16 to float64)",
                d.str()?
            )))
        }
    };
    Ok(Tensor::new(shape, data))
}

/// NumPy 2's `NPY_MAXDIMS`.
const NUMPY_MAX_DIMS: usize = 64;
/// The most dimensions the `numpy` crate's arrays hold (NumPy 1's limit).
const RUST_NUMPY_MAX_DIMS: usize = 32;

/// A read-only NumPy view of `t`'s buffer (no copy).
pub fn to_numpy<'py>(py: Python<'py>, t: &Tensor) -> PyResult<Bound<'py, PyAny>> {
    crate::trace::note_read("np.asarray, .numpy() or printing");
    // What NumPy accepts, checked before the unsafe view below is built.
    if t.ndim() > RUST_NUMPY_MAX_DIMS && t.ndim() <= NUMPY_MAX_DIMS {
        let flat = t.host()?.contiguous();
        let flat = Tensor {
            shape: vec![t.numel()],
            layout: None,
            ..flat
        };
        return to_numpy(py, &flat)?.call_method1("reshape", (PyTuple::new(py, &t.shape)?,));
    }
    if t.ndim() > NUMPY_MAX_DIMS {
        return Err(PyValueError::new_err(format!(
            "cannot convert a tensor of rank {} to NumPy, which allows at most {NUMPY_MAX_DIMS} \
             dimensions",
            t.ndim()
        )));
    }
    let bytes = t
        .shape
        .iter()
        .try_fold(t.dtype().itemsize(), |n, &d| n.checked_mul(d))
        .filter(|&b| b <= isize::MAX as usize);
    if bytes.is_none() {
        return Err(PyValueError::new_err(format!(
            "cannot convert a tensor of shape {:?} to NumPy: too many elements",
            t.shape
        )));
    }
    if t.gpu.is_some() {
        return to_numpy(py, &t.host()?);
    }
    let (st, offset) = t.strided();
    if st.iter().any(|&s| s < 0) {
        // Reversed views are handed out as a copy.
        return to_numpy(py, &t.contiguous());
    }
    let owner = Bound::new(
        py,
        BufferOwner {
            _data: t.data.clone(),
        },
    )?
    .into_any();
    let st: Vec<usize> = st.iter().map(|&s| s as usize).collect();
    let shape = IxDyn(&t.shape).strides(IxDyn(&st));
    macro_rules! view {
        ($v:expr) => {{
            // SAFETY: shape, strides and offset address elements of a buffer that `owner` keeps
            // alive and that is never written while shared (updates are copy-on-write).
            let view = unsafe { ArrayViewD::from_shape_ptr(shape, $v.as_ptr().add(offset)) };
            unsafe { PyArray::borrow_from_array(&view, owner) }.into_any()
        }};
    }
    let arr = match &*t.data {
        Buffer::F32(v) => view!(v),
        Buffer::F64(v) => view!(v),
        Buffer::F16(v) => view!(v),
        Buffer::I32(v) => view!(v),
        Buffer::I64(v) => view!(v),
        Buffer::I16(v) => view!(v),
        Buffer::I8(v) => view!(v),
        Buffer::U8(v) => view!(v),
        Buffer::Bool(v) => view!(v),
        // NumPy has no bfloat16: hand out a float32 copy.
        Buffer::BF16(_) => {
            return to_numpy(
                py,
                &Tensor::new(t.shape.clone(), t.contiguous().data.cast(DType::Float32)),
            )
        }
    };
    arr.call_method1("setflags", (false,))?;
    Ok(arr)
}

/// A dtype argument ("float32", np.float32, np.dtype(...)) or None.
pub fn parse_dtype(dtype: Option<&Bound<'_, PyAny>>) -> PyResult<Option<DType>> {
    match dtype {
        None => Ok(None),
        Some(d) if d.is_none() => Ok(None),
        Some(d) => {
            // Accept "float32", np.float32 and np.dtype("float32") alike.
            let name: String = match d.extract::<String>() {
                Ok(s) => s,
                Err(_) => d
                    .py()
                    .import("numpy")?
                    .call_method1("dtype", (d,))?
                    .getattr("name")?
                    .extract()?,
            };
            Ok(Some(DType::parse(&name)?))
        }
    }
}

/// Resolve a Python indexing key against `shape` (basic indexing only).
fn parse_key(key: &Bound<'_, PyAny>, shape: &[usize]) -> PyResult<Vec<Index>> {
    let items: Vec<Bound<'_, PyAny>> = match key.cast::<PyTuple>() {
        Ok(t) => t.iter().collect(),
        Err(_) => vec![key.clone()],
    };
    let consumes =
        |k: &Bound<'_, PyAny>| !(k.is_instance_of::<PyNone>() || k.is_instance_of::<PyEllipsis>());
    let used = items.iter().filter(|k| consumes(k)).count();
    if items
        .iter()
        .filter(|k| k.is_instance_of::<PyEllipsis>())
        .count()
        > 1
    {
        return Err(PyIndexError::new_err(
            "getitem: an index can only have a single ellipsis ('...')",
        ));
    }
    if used > shape.len() {
        return Err(PyIndexError::new_err(format!(
            "getitem: too many indices: tensor of shape {shape:?} is {}-dimensional, but {used} were indexed",
            shape.len()
        )));
    }
    let full = |d: usize| Index::Range {
        start: 0,
        step: 1,
        len: d,
    };
    let mut out = Vec::new();
    let mut axis = 0;
    for k in &items {
        if k.is_instance_of::<PyNone>() {
            out.push(Index::NewAxis);
        } else if k.is_instance_of::<PyEllipsis>() {
            for _ in 0..shape.len() - used {
                out.push(full(shape[axis]));
                axis += 1;
            }
        } else if let Ok(s) = k.cast::<PySlice>() {
            let ix = s.indices(shape[axis] as isize)?;
            let start = if ix.slicelength == 0 {
                0
            } else {
                ix.start as usize
            };
            out.push(Index::Range {
                start,
                step: ix.step,
                len: ix.slicelength,
            });
            axis += 1;
        } else if let (false, Ok(i)) = (k.is_instance_of::<PyBool>(), k.extract::<isize>()) {
            let d = shape[axis] as isize;
            let j = if i < 0 { i + d } else { i };
            if j < 0 || j >= d {
                return Err(PyIndexError::new_err(format!(
                    "getitem: index {i} is out of bounds for axis {axis} with size {d}"
                )));
            }
            out.push(Index::Single(j as usize));
            axis += 1;
        } else {
            return Err(PyIndexError::new_err(format!(
                "getitem: unsupported index {}; use ints, slices, None and '...', or ops.take for integer arrays",
                k.repr()?
            )));
        }
    }
    while axis < shape.len() {
        out.push(full(shape[axis]));
        axis += 1;
    }
    Ok(out)
}

/// Run the kernel `f`: with the GIL released when `work` (elements touched, or an estimate of
/// the operations for kernels whose cost is not their size) is large enough to be worth it,
/// and then interruptible by Ctrl-C from the main thread (see `crate::interrupt`).
pub fn maybe_detach<T: Send>(
    py: Python<'_>,
    work: usize,
    f: impl FnOnce() -> crate::error::Result<T> + Send,
) -> crate::error::Result<T> {
    if work >= 1 << 14 {
        py.detach(|| crate::interrupt::run(f))
    } else {
        f()
    }
}

/// Whether `other` asks to take this binary operator itself: NumPy's protocol, a type whose
/// `__array_ufunc__` is None (KerasTensor) gets `tensor + kt` through its reflected method.
fn defers_to(other: &Bound<'_, PyAny>) -> bool {
    !other.is_instance_of::<PyTensor>()
        && other
            .get_type()
            .getattr("__array_ufunc__")
            .is_ok_and(|v| v.is_none())
}

fn binop(
    py: Python<'_>,
    op: ops::BinaryOp,
    a: &Tensor,
    other: &Bound<'_, PyAny>,
    reflected: bool,
) -> PyResult<Py<PyAny>> {
    if defers_to(other) {
        return Ok(py.NotImplemented());
    }
    let out = crate::error::guard(op.name(), || {
        let b = to_tensor(other, Some(a.dtype()))?;
        let (x, y) = if reflected { (&b, a) } else { (a, &b) };
        let n = x.numel().max(y.numel());
        Ok(PyTensor::new(maybe_detach(py, n, || {
            ops::binary(op, x, y)
        })?))
    })?;
    Ok(Py::new(py, out)?.into_any())
}

#[pymethods]
impl PyTensor {
    #[new]
    #[pyo3(signature = (value, dtype=None))]
    fn py_new(value: &Bound<'_, PyAny>, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        crate::error::guard("Tensor", || {
            let t = to_tensor(value, None)?;
            let t = match parse_dtype(dtype)? {
                Some(d) => ops::cast(&t, d)?,
                None => t,
            };
            // A fresh identity: Tensor(x) is a new value even when x already was a tensor; a view
            // becomes row-major values of its own (a Variable is updated in place).
            Ok(PyTensor::new(t.contiguous().detached()))
        })
    }

    /// The shape as a tuple of ints.
    #[getter]
    fn shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, &self.get().shape)
    }

    /// The element type name: "float32", "int32", "int64" or "bool".
    #[getter]
    fn dtype(&self) -> &'static str {
        self.get().dtype().name()
    }

    #[getter]
    fn ndim(&self) -> usize {
        self.get().ndim()
    }

    #[getter]
    fn size(&self) -> usize {
        self.get().numel()
    }

    /// Where the tensor lives: "cpu" or "gpu".
    #[getter]
    fn device(&self) -> &'static str {
        self.get().device.name()
    }

    /// Move this tensor's values to `device` in place, keeping its identity (used by
    /// `Variable` to live on the default device).
    fn _move_to(&self, py: Python<'_>, device: &str) -> PyResult<()> {
        crate::error::guard("Tensor._move_to", || {
            let d = crate::device::Device::parse(device)?;
            let t = self.get();
            let moved = py.detach(|| crate::device::gpu::to_device(&t, d))?;
            let mut slot = self.write();
            *slot = moved.with_identity_of(&slot);
            Ok(())
        })
    }

    /// This tensor on `device` ("cpu" or "gpu"): the tensor itself when it is already there,
    /// else a copy (a transfer is not differentiated, as `stop_gradient`).
    ///
    /// Raises ValueError for an unknown device name, RuntimeError when no GPU is set up.
    fn to(&self, py: Python<'_>, device: &str) -> PyResult<PyTensor> {
        crate::error::guard("Tensor.to", || {
            let d = crate::device::Device::parse(device)?;
            let t = self.get();
            Ok(PyTensor::new(
                py.detach(|| crate::device::gpu::to_device(&t, d))?,
            ))
        })
    }

    /// The identity the autodiff tape uses (stable across `Variable.assign`).
    #[getter]
    fn _id(&self) -> u64 {
        self.get().id
    }

    /// How many tensors share this buffer (1 = none; used by tests that check no graph or
    /// buffer outlives a training step).
    #[getter]
    fn _buffer_refs(&self) -> usize {
        Arc::strong_count(&self.t.read().unwrap_or_else(|p| p.into_inner()).data)
    }

    /// Address of the first element (tests check in-place updates do not reallocate).
    #[getter]
    fn _buffer_address(&self) -> usize {
        self.t
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .data
            .address()
    }

    #[getter]
    fn _trainable_variable(&self) -> bool {
        self.get().trainable_variable
    }

    #[setter(_trainable_variable)]
    fn set_trainable_variable(&self, v: bool) {
        self.write().trainable_variable = v;
    }

    #[getter(_keras_mask)]
    fn keras_mask(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        let mask = self.keras_mask.lock().unwrap_or_else(|p| p.into_inner());
        mask.as_ref().map(|m| m.clone_ref(py))
    }

    #[setter(_keras_mask)]
    fn set_keras_mask(&self, mask: Option<Py<PyAny>>) {
        let old = std::mem::replace(
            &mut *self.keras_mask.lock().unwrap_or_else(|p| p.into_inner()),
            mask,
        );
        drop(old); // outside the lock: dropping a Python object may run arbitrary code
    }

    /// Replace the values (same shape and dtype), keeping the identity. Used by `Variable.assign`.
    fn _assign(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::error::guard("assign", || {
            let cur = self.get();
            let v = to_tensor(value, Some(cur.dtype()))?;
            let v = ops::cast(&v, cur.dtype())?;
            if v.shape != cur.shape {
                return Err(PyValueError::new_err(format!(
                    "assign: value of shape {:?} does not match the variable's shape {:?}",
                    v.shape, cur.shape
                )));
            }
            // The new values go where the variable lives, row-major (a buffer still shared
            // with another tensor is copied by the optimizer before it writes: copy-on-write).
            let v = crate::device::gpu::to_device(&v, cur.device)?.contiguous();
            let mut slot = self.write();
            slot.data = v.data.clone();
            slot.gpu = v.gpu.clone();
            slot.layout = None;
            if crate::trace::active() {
                crate::trace::on_assign(&v, &slot);
            }
            Ok(())
        })
    }

    /// A writable NumPy copy.
    fn numpy<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        crate::error::guard("Tensor.numpy", || {
            to_numpy(py, &self.get())?.call_method0("copy")
        })
    }

    #[pyo3(signature = (dtype=None, copy=None))]
    fn __array__<'py>(
        &self,
        py: Python<'py>,
        dtype: Option<&Bound<'py, PyAny>>,
        copy: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        crate::error::guard("Tensor.__array__", || {
            let mut arr = to_numpy(py, &self.get())?;
            if let Some(d) = dtype.filter(|d| !d.is_none()) {
                arr = arr.call_method1("astype", (d,))?;
            } else if copy == Some(true) {
                arr = arr.call_method0("copy")?;
            }
            Ok(arr)
        })
    }

    #[classattr]
    fn __array_priority__() -> f64 {
        // Makes `ndarray + tensor` call Tensor.__radd__ instead of converting the tensor.
        1000.0
    }

    /// The single element as a Python number.
    fn item<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        crate::error::guard("Tensor.item", || {
            crate::trace::note_read("float(), int() or .item()");
            let t = self.get();
            if t.numel() != 1 {
                return Err(PyValueError::new_err(format!(
                    "item: only tensors with one element can be converted to a Python scalar, got shape {:?}",
                    t.shape
                )));
            }
            let d = t.dtype();
            Ok(match &*t.host()?.data {
                Buffer::I64(v) => v[0].into_pyobject(py)?.into_any(),
                Buffer::Bool(v) => PyBool::new(py, v[0]).to_owned().into_any(),
                data if d.is_int() => (data.get_f64(0) as i64).into_pyobject(py)?.into_any(),
                data => data.get_f64(0).into_pyobject(py)?.into_any(),
            })
        })
    }

    fn __float__(&self, py: Python<'_>) -> PyResult<f64> {
        self.item(py)?.extract()
    }

    fn __int__(&self, py: Python<'_>) -> PyResult<i64> {
        let v: f64 = self.item(py)?.extract()?;
        Ok(v as i64)
    }

    fn __bool__(&self) -> PyResult<bool> {
        crate::trace::note_read("bool(), or a tensor in an `if` or `while`");
        let t = self.get();
        if t.numel() != 1 {
            return Err(PyValueError::new_err(format!(
                "the truth value of a tensor with shape {:?} is ambiguous; use ops.any or ops.all",
                t.shape
            )));
        }
        Ok(t.host()?.data.get_f64(0) != 0.0)
    }

    fn __len__(&self) -> PyResult<usize> {
        self.get()
            .shape
            .first()
            .copied()
            .ok_or_else(|| PyTypeError::new_err("len() of a 0-d tensor"))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        crate::error::guard("Tensor.__repr__", || {
            let t = self.get();
            let arr = to_numpy(py, &t)?;
            Ok(format!(
                "<Tensor shape={}, dtype={}, device={}, numpy=\n{}>",
                PyTuple::new(py, &t.shape)?.repr()?,
                t.dtype().name(),
                t.device.name(),
                arr.repr()?
            ))
        })
    }

    fn __getitem__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        crate::error::guard("getitem", || self.getitem(py, key))
    }

    fn __add__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binop(py, ops::BinaryOp::Add, &self.get(), o, false)
    }
    fn __radd__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binop(py, ops::BinaryOp::Add, &self.get(), o, true)
    }
    fn __sub__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binop(py, ops::BinaryOp::Sub, &self.get(), o, false)
    }
    fn __rsub__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binop(py, ops::BinaryOp::Sub, &self.get(), o, true)
    }
    fn __mul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binop(py, ops::BinaryOp::Mul, &self.get(), o, false)
    }
    fn __rmul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binop(py, ops::BinaryOp::Mul, &self.get(), o, true)
    }
    fn __truediv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binop(py, ops::BinaryOp::Div, &self.get(), o, false)
    }
    fn __rtruediv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binop(py, ops::BinaryOp::Div, &self.get(), o, true)
    }
    fn __pow__(
        &self,
        py: Python<'_>,
        o: &Bound<'_, PyAny>,
        _modulo: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        binop(py, ops::BinaryOp::Power, &self.get(), o, false)
    }
    fn __rpow__(
        &self,
        py: Python<'_>,
        o: &Bound<'_, PyAny>,
        _modulo: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        binop(py, ops::BinaryOp::Power, &self.get(), o, true)
    }
    fn __floordiv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binop(py, ops::BinaryOp::FloorDivide, &self.get(), o, false)
    }
    fn __rfloordiv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binop(py, ops::BinaryOp::FloorDivide, &self.get(), o, true)
    }
    fn __mod__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binop(py, ops::BinaryOp::Mod, &self.get(), o, false)
    }
    fn __rmod__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binop(py, ops::BinaryOp::Mod, &self.get(), o, true)
    }
    fn __lt__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binop(py, ops::BinaryOp::Less, &self.get(), o, false)
    }
    fn __le__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binop(py, ops::BinaryOp::LessEqual, &self.get(), o, false)
    }
    fn __gt__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binop(py, ops::BinaryOp::Greater, &self.get(), o, false)
    }
    fn __ge__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binop(py, ops::BinaryOp::GreaterEqual, &self.get(), o, false)
    }
    fn __eq__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binop(py, ops::BinaryOp::Equal, &self.get(), o, false)
    }
    fn __ne__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binop(py, ops::BinaryOp::NotEqual, &self.get(), o, false)
    }

    fn __matmul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        if defers_to(o) {
            return Ok(py.NotImplemented());
        }
        let out = crate::error::guard("matmul", || {
            let b = to_tensor(o, None)?;
            let n = self.get().numel().max(b.numel());
            Ok(PyTensor::new(maybe_detach(py, n, || {
                ops::matmul::matmul(&self.get(), &b)
            })?))
        });
        Ok(Py::new(py, out?)?.into_any())
    }

    fn __rmatmul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        if defers_to(o) {
            return Ok(py.NotImplemented());
        }
        let out = crate::error::guard("matmul", || {
            let a = to_tensor(o, None)?;
            let n = self.get().numel().max(a.numel());
            Ok(PyTensor::new(maybe_detach(py, n, || {
                ops::matmul::matmul(&a, &self.get())
            })?))
        });
        Ok(Py::new(py, out?)?.into_any())
    }

    fn __neg__(&self) -> PyResult<PyTensor> {
        crate::error::guard("negative", || Ok(PyTensor::new(ops::neg(&self.get())?)))
    }

    fn __pos__(&self) -> PyTensor {
        PyTensor::new(self.get())
    }

    fn __abs__(&self) -> PyResult<PyTensor> {
        crate::error::guard("absolute", || {
            Ok(PyTensor::new(ops::unary(ops::UnaryOp::Abs, &self.get())?))
        })
    }

    /// Transposed (all axes reversed).
    #[getter(T)]
    fn transposed(&self) -> PyResult<PyTensor> {
        crate::error::guard("transpose", || {
            Ok(PyTensor::new(ops::transpose(&self.get(), None)?))
        })
    }
}

impl PyTensor {
    fn getitem(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let is_array = |k: &Bound<'_, PyAny>| {
            k.cast::<PyTensor>().is_ok()
                || k.cast::<PyUntypedArray>().is_ok()
                || k.is_instance_of::<pyo3::types::PyList>()
        };
        if let Ok(items) = key.cast::<PyTuple>() {
            // `x[..., idx]`, `x[:, idx]`: one integer array among full slices and an ellipsis
            // is a `take` along its axis (other mixes of advanced indexing are not supported).
            let items: Vec<_> = items.iter().collect();
            if let Some(pos) = items.iter().position(is_array) {
                let t = self.get();
                let full = |k: &Bound<'_, PyAny>| {
                    k.cast::<PySlice>().is_ok_and(|s| {
                        s.getattr("start").is_ok_and(|v| v.is_none())
                            && s.getattr("stop").is_ok_and(|v| v.is_none())
                            && s.getattr("step").is_ok_and(|v| v.is_none())
                    })
                };
                let ellipses = items
                    .iter()
                    .filter(|k| k.is_instance_of::<PyEllipsis>())
                    .count();
                let others_ok = items
                    .iter()
                    .enumerate()
                    .all(|(i, k)| i == pos || full(k) || k.is_instance_of::<PyEllipsis>());
                if others_ok && ellipses <= 1 && items.len() - ellipses <= t.ndim() {
                    let before_ellipsis = items[..pos]
                        .iter()
                        .any(|k| k.is_instance_of::<PyEllipsis>());
                    let axis = if before_ellipsis {
                        t.ndim() - (items.len() - pos)
                    } else {
                        pos
                    };
                    let idx = to_tensor(&items[pos], None)?;
                    return Ok(PyTensor::new(ops::shape::take(&t, &idx, axis as isize)?));
                }
            }
        }
        if is_array(key) {
            let mut idx = to_tensor(key, None)?;
            if idx.numel() == 0 && idx.dtype() == DType::Float32 {
                idx = ops::cast(&idx, DType::Int64)?; // `x[[]]`: an empty index list
            }
            if idx.dtype() == DType::Bool {
                return Ok(PyTensor::new(ops::shape::boolean_mask(&self.get(), &idx)?));
            }
            return Ok(PyTensor::new(ops::shape::take(&self.get(), &idx, 0)?));
        }
        let t = self.get();
        let spec = parse_key(key, &t.shape)?;
        let n = t.numel();
        Ok(PyTensor::new(maybe_detach(py, n, || {
            ops::shape::get_item(&t, &spec)
        })?))
    }
}

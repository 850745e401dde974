//! The Python `Tensor` class and conversions between Python values, NumPy arrays and tensors.

use std::sync::Arc;

use numpy::ndarray::{ArrayViewD, IxDyn, ShapeBuilder};
use numpy::{
    Element, PyArray, PyArrayDescrMethods, PyReadonlyArrayDyn, PyUntypedArray,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyIndexError, PyTypeError, PyValueError};
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
#[pyclass(module = "rskeras._core", name = "Tensor", subclass)]
pub struct PyTensor {
    pub t: Tensor,
    /// The Keras mask a layer attached to this tensor (a boolean tensor), or None. Ops never
    /// read or propagate it; `Layer.__call__` does (Keras 3 masking).
    #[pyo3(get, set, name = "_keras_mask")]
    keras_mask: Option<Py<PyAny>>,
}

impl PyTensor {
    pub fn new(t: Tensor) -> PyTensor {
        PyTensor {
            t,
            keras_mask: None,
        }
    }
}

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
        return Ok(t.borrow().t.clone());
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
        let dt = match like {
            Some(DType::Float32) => DType::Float32,
            Some(DType::Int64) => DType::Int64,
            _ if !fits32 => DType::Int64,
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
        (b'f', 8) if from_sequence => Buffer::F32(copy_out::<f64>(arr)?.iter().map(|&v| v as f32).collect()),
        (b'f', 8) => Buffer::F64(copy_out::<f64>(arr)?),
        (b'f', 2) => Buffer::F16(copy_out::<half::f16>(arr)?),
        (b'i', 2) => Buffer::I16(copy_out::<i16>(arr)?),
        (b'i', 1) => Buffer::I8(copy_out::<i8>(arr)?),
        (b'u', 1) => Buffer::U8(copy_out::<u8>(arr)?),
        // other float widths compute in float32 (the default floatx)
        (b'f', _) => return from_numpy(arr.call_method1("astype", ("float32",))?.cast()?, false),
        (b'u', 2) => return from_numpy(arr.call_method1("astype", ("int32",))?.cast()?, false),
        (b'u', _) => return from_numpy(arr.call_method1("astype", ("int64",))?.cast()?, false),
        _ => {
            return Err(PyTypeError::new_err(format!(
                "cannot convert a NumPy array of dtype {} to a tensor (supported: float, int, uint, bool)",
                d.str()?
            )))
        }
    };
    Ok(Tensor::new(shape, data))
}

/// A read-only NumPy view of `t`'s buffer (no copy).
pub fn to_numpy<'py>(py: Python<'py>, t: &Tensor) -> PyResult<Bound<'py, PyAny>> {
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

/// Run `f` with the GIL released when the work is large enough to be worth it.
pub fn maybe_detach<T: Send>(py: Python<'_>, elements: usize, f: impl FnOnce() -> T + Send) -> T {
    if elements >= 1 << 14 {
        py.detach(f)
    } else {
        f()
    }
}

fn binop(
    py: Python<'_>,
    op: ops::BinaryOp,
    a: &Tensor,
    other: &Bound<'_, PyAny>,
    reflected: bool,
) -> PyResult<PyTensor> {
    let b = to_tensor(other, Some(a.dtype()))?;
    let (x, y) = if reflected { (&b, a) } else { (a, &b) };
    let n = x.numel().max(y.numel());
    Ok(PyTensor::new(maybe_detach(py, n, || {
        ops::binary(op, x, y)
    })?))
}

#[pymethods]
impl PyTensor {
    #[new]
    #[pyo3(signature = (value, dtype=None))]
    fn py_new(value: &Bound<'_, PyAny>, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let t = to_tensor(value, None)?;
        let t = match parse_dtype(dtype)? {
            Some(d) => ops::cast(&t, d)?,
            None => t,
        };
        // A fresh identity: Tensor(x) is a new value even when x already was a tensor.
        Ok(PyTensor::new(t.detached()))
    }

    /// The shape as a tuple of ints.
    #[getter]
    fn shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, &self.t.shape)
    }

    /// The element type name: "float32", "int32", "int64" or "bool".
    #[getter]
    fn dtype(&self) -> &'static str {
        self.t.dtype().name()
    }

    #[getter]
    fn ndim(&self) -> usize {
        self.t.ndim()
    }

    #[getter]
    fn size(&self) -> usize {
        self.t.numel()
    }

    /// Where the tensor lives: "cpu" or "gpu".
    #[getter]
    fn device(&self) -> &'static str {
        self.t.device.name()
    }

    /// Move this tensor's values to `device` in place, keeping its identity (used by
    /// `Variable` to live on the default device).
    fn _move_to(&mut self, py: Python<'_>, device: &str) -> PyResult<()> {
        let d = crate::device::Device::parse(device)?;
        let t = self.t.clone();
        let moved = py.detach(|| crate::device::gpu::to_device(&t, d))?;
        self.t = moved.with_identity_of(&self.t);
        Ok(())
    }

    /// This tensor on `device` ("cpu" or "gpu"): the tensor itself when it is already there,
    /// else a copy (a transfer is not differentiated, as `stop_gradient`).
    ///
    /// Raises ValueError for an unknown device name, RuntimeError when no GPU is set up.
    fn to(&self, py: Python<'_>, device: &str) -> PyResult<PyTensor> {
        let d = crate::device::Device::parse(device)?;
        let t = self.t.clone();
        Ok(PyTensor::new(
            py.detach(|| crate::device::gpu::to_device(&t, d))?,
        ))
    }

    /// The identity the autodiff tape uses (stable across `Variable.assign`).
    #[getter]
    fn _id(&self) -> u64 {
        self.t.id
    }

    /// How many tensors share this buffer (1 = none; used by tests that check no graph or
    /// buffer outlives a training step).
    #[getter]
    fn _buffer_refs(&self) -> usize {
        Arc::strong_count(&self.t.data)
    }

    /// Address of the first element (tests check in-place updates do not reallocate).
    #[getter]
    fn _buffer_address(&self) -> usize {
        self.t.data.address()
    }

    #[getter]
    fn _trainable_variable(&self) -> bool {
        self.t.trainable_variable
    }

    #[setter(_trainable_variable)]
    fn set_trainable_variable(&mut self, v: bool) {
        self.t.trainable_variable = v;
    }

    /// Replace the values (same shape and dtype), keeping the identity. Used by `Variable.assign`.
    fn _assign(&mut self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let v = to_tensor(value, Some(self.t.dtype()))?;
        let v = ops::cast(&v, self.t.dtype())?;
        if v.shape != self.t.shape {
            return Err(PyValueError::new_err(format!(
                "assign: value of shape {:?} does not match the variable's shape {:?}",
                v.shape, self.t.shape
            )));
        }
        // The new values go where the variable lives.
        let v = crate::device::gpu::to_device(&v, self.t.device)?.contiguous();
        self.t.data = v.data;
        self.t.gpu = v.gpu;
        self.t.layout = None;
        Ok(())
    }

    /// A writable NumPy copy.
    fn numpy<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_numpy(py, &self.t)?.call_method0("copy")
    }

    #[pyo3(signature = (dtype=None, copy=None))]
    fn __array__<'py>(
        &self,
        py: Python<'py>,
        dtype: Option<&Bound<'py, PyAny>>,
        copy: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut arr = to_numpy(py, &self.t)?;
        if let Some(d) = dtype.filter(|d| !d.is_none()) {
            arr = arr.call_method1("astype", (d,))?;
        } else if copy == Some(true) {
            arr = arr.call_method0("copy")?;
        }
        Ok(arr)
    }

    #[classattr]
    fn __array_priority__() -> f64 {
        // Makes `ndarray + tensor` call Tensor.__radd__ instead of converting the tensor.
        1000.0
    }

    /// The single element as a Python number.
    fn item<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        if self.t.numel() != 1 {
            return Err(PyValueError::new_err(format!(
                "item: only tensors with one element can be converted to a Python scalar, got shape {:?}",
                self.t.shape
            )));
        }
        let d = self.t.dtype();
        Ok(match &*self.t.host()?.data {
            Buffer::I64(v) => v[0].into_pyobject(py)?.into_any(),
            Buffer::Bool(v) => PyBool::new(py, v[0]).to_owned().into_any(),
            data if d.is_int() => (data.get_f64(0) as i64).into_pyobject(py)?.into_any(),
            data => data.get_f64(0).into_pyobject(py)?.into_any(),
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
        if self.t.numel() != 1 {
            return Err(PyValueError::new_err(format!(
                "the truth value of a tensor with shape {:?} is ambiguous; use ops.any or ops.all",
                self.t.shape
            )));
        }
        Ok(self.t.host()?.data.get_f64(0) != 0.0)
    }

    fn __len__(&self) -> PyResult<usize> {
        self.t
            .shape
            .first()
            .copied()
            .ok_or_else(|| PyTypeError::new_err("len() of a 0-d tensor"))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let arr = to_numpy(py, &self.t)?;
        Ok(format!(
            "<Tensor shape={}, dtype={}, device={}, numpy=\n{}>",
            PyTuple::new(py, &self.t.shape)?.repr()?,
            self.t.dtype().name(),
            self.t.device.name(),
            arr.repr()?
        ))
    }

    fn __getitem__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let is_array = key.cast::<PyTensor>().is_ok()
            || key.cast::<PyUntypedArray>().is_ok()
            || key.is_instance_of::<pyo3::types::PyList>();
        if is_array {
            let mut idx = to_tensor(key, None)?;
            if idx.numel() == 0 && idx.dtype() == DType::Float32 {
                idx = ops::cast(&idx, DType::Int64)?; // `x[[]]`: an empty index list
            }
            if idx.dtype() == DType::Bool {
                return Ok(PyTensor::new(ops::shape::boolean_mask(&self.t, &idx)?));
            }
            return Ok(PyTensor::new(ops::shape::take(&self.t, &idx, 0)?));
        }
        let spec = parse_key(key, &self.t.shape)?;
        let n = self.t.numel();
        Ok(PyTensor::new(maybe_detach(py, n, || {
            ops::shape::get_item(&self.t, &spec)
        })?))
    }

    fn __add__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        binop(py, ops::BinaryOp::Add, &self.t, o, false)
    }
    fn __radd__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        binop(py, ops::BinaryOp::Add, &self.t, o, true)
    }
    fn __sub__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        binop(py, ops::BinaryOp::Sub, &self.t, o, false)
    }
    fn __rsub__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        binop(py, ops::BinaryOp::Sub, &self.t, o, true)
    }
    fn __mul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        binop(py, ops::BinaryOp::Mul, &self.t, o, false)
    }
    fn __rmul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        binop(py, ops::BinaryOp::Mul, &self.t, o, true)
    }
    fn __truediv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        binop(py, ops::BinaryOp::Div, &self.t, o, false)
    }
    fn __rtruediv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        binop(py, ops::BinaryOp::Div, &self.t, o, true)
    }
    fn __pow__(
        &self,
        py: Python<'_>,
        o: &Bound<'_, PyAny>,
        _modulo: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        binop(py, ops::BinaryOp::Power, &self.t, o, false)
    }
    fn __rpow__(
        &self,
        py: Python<'_>,
        o: &Bound<'_, PyAny>,
        _modulo: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        binop(py, ops::BinaryOp::Power, &self.t, o, true)
    }
    fn __floordiv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        binop(py, ops::BinaryOp::FloorDivide, &self.t, o, false)
    }
    fn __rfloordiv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        binop(py, ops::BinaryOp::FloorDivide, &self.t, o, true)
    }
    fn __mod__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        binop(py, ops::BinaryOp::Mod, &self.t, o, false)
    }
    fn __rmod__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        binop(py, ops::BinaryOp::Mod, &self.t, o, true)
    }
    fn __lt__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        binop(py, ops::BinaryOp::Less, &self.t, o, false)
    }
    fn __le__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        binop(py, ops::BinaryOp::LessEqual, &self.t, o, false)
    }
    fn __gt__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        binop(py, ops::BinaryOp::Greater, &self.t, o, false)
    }
    fn __ge__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        binop(py, ops::BinaryOp::GreaterEqual, &self.t, o, false)
    }
    fn __eq__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        binop(py, ops::BinaryOp::Equal, &self.t, o, false)
    }
    fn __ne__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        binop(py, ops::BinaryOp::NotEqual, &self.t, o, false)
    }

    fn __matmul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let b = to_tensor(o, None)?;
        let n = self.t.numel().max(b.numel());
        Ok(PyTensor::new(maybe_detach(py, n, || {
            ops::matmul::matmul(&self.t, &b)
        })?))
    }

    fn __rmatmul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let a = to_tensor(o, None)?;
        let n = self.t.numel().max(a.numel());
        Ok(PyTensor::new(maybe_detach(py, n, || {
            ops::matmul::matmul(&a, &self.t)
        })?))
    }

    fn __neg__(&self) -> PyResult<PyTensor> {
        Ok(PyTensor::new(ops::neg(&self.t)?))
    }

    fn __pos__(&self) -> PyTensor {
        PyTensor::new(self.t.clone())
    }

    fn __abs__(&self) -> PyResult<PyTensor> {
        Ok(PyTensor::new(ops::unary(ops::UnaryOp::Abs, &self.t)?))
    }

    /// Transposed (all axes reversed).
    #[getter(T)]
    fn transposed(&self) -> PyResult<PyTensor> {
        Ok(PyTensor::new(ops::transpose(&self.t, None)?))
    }
}

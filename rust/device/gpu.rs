//! The bridge to the GPU executor (`rskeras.backend.webgpu`, WGSL through wgpu-py). Python
//! registers one executor object; every op with an input on the GPU is sent to it as an op
//! name, a dict of the op's parameters and its inputs, and comes back as a device buffer
//! handle. The name and the parameters (the op's fields, by name) both come from the op table
//! in `ops/mod.rs`, so nothing here changes when an op is added. Host inputs (a batch, the
//! constants of gradient rules) travel as NumPy arrays.
//!
//! Executor protocol (all called with the GIL held):
//! - `execute(op, params, inputs) -> handle`, where `inputs` is a list of
//!   `(handle_or_ndarray, shape, dtype)` and `handle` has `.shape` (tuple) and `.dtype` (str);
//! - `update(op, params, targets, inputs)`: overwrite the target buffers in place;
//! - `upload(ndarray) -> handle`, `download(handle, shape, dtype) -> ndarray`, `copy(handle)`.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use pyo3::exceptions::{PyIndexError, PyNotImplementedError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use super::Device;
use crate::error::{Error, Result};
use crate::ops::conv::Geometry;
use crate::ops::{Op, Param};
use crate::tensor::pytensor::{to_numpy, to_tensor};
use crate::tensor::{fresh_id, Buffer, DType, Tensor};

/// A device buffer: the executor's handle object.
pub struct GpuBuffer(pub Py<PyAny>);

impl std::fmt::Debug for GpuBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GpuBuffer")
    }
}

static EXECUTOR: Mutex<Option<Py<PyAny>>> = Mutex::new(None);
static DEFAULT_DEVICE: AtomicU8 = AtomicU8::new(0);

/// Register the executor that runs GPU ops (replacing any earlier one).
pub fn register(executor: Py<PyAny>) {
    *EXECUTOR.lock().unwrap_or_else(|p| p.into_inner()) = Some(executor);
}

/// The device that ops without tensor inputs (random fills) create their result on.
pub fn default_device() -> Device {
    match DEFAULT_DEVICE.load(Ordering::Relaxed) {
        1 => Device::Gpu,
        _ => Device::Cpu,
    }
}

pub fn set_default_device(d: Device) {
    DEFAULT_DEVICE.store(matches!(d, Device::Gpu) as u8, Ordering::Relaxed);
}

fn executor(py: Python<'_>) -> Result<Py<PyAny>> {
    EXECUTOR
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .map(|e| e.clone_ref(py))
        .ok_or_else(|| {
            Error::Runtime(
                "no GPU executor is registered: use rskeras.config.set_device('gpu') or \
                 tensor.to('gpu'), which start the WebGPU backend"
                    .into(),
            )
        })
}

/// A Python exception from the executor as the core's error, keeping its kind.
fn from_py(py: Python<'_>, e: PyErr) -> Error {
    let msg = e.value(py).to_string();
    if e.is_instance_of::<PyNotImplementedError>(py) {
        Error::NotImplemented(msg)
    } else if e.is_instance_of::<PyValueError>(py) {
        Error::Value(msg)
    } else if e.is_instance_of::<PyTypeError>(py) {
        Error::Type(msg)
    } else if e.is_instance_of::<PyIndexError>(py) {
        Error::Index(msg)
    } else {
        Error::Runtime(format!("GPU executor: {msg}"))
    }
}

/// `(handle_or_ndarray, shape, dtype)` for one input.
fn input<'py>(py: Python<'py>, t: &Tensor) -> PyResult<Bound<'py, PyAny>> {
    let data = match &t.gpu {
        Some(g) => g.0.bind(py).clone(),
        None => to_numpy(py, &t.contiguous())?,
    };
    let shape = PyTuple::new(py, &t.shape)?;
    Ok(PyTuple::new(
        py,
        [
            data,
            shape.into_any(),
            t.dtype().name().into_pyobject(py)?.into_any(),
        ],
    )?
    .into_any())
}

fn inputs<'py>(py: Python<'py>, ts: &[&Tensor]) -> PyResult<Bound<'py, PyList>> {
    let items = ts
        .iter()
        .map(|t| input(py, t))
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, items)
}

/// A GPU tensor around the handle the executor returned.
fn from_handle(py: Python<'_>, handle: Bound<'_, PyAny>) -> Result<Tensor> {
    let read = || -> PyResult<(Vec<usize>, String)> {
        Ok((
            handle.getattr("shape")?.extract()?,
            handle.getattr("dtype")?.extract()?,
        ))
    };
    let (shape, dtype) = read().map_err(|e| from_py(py, e))?;
    let dtype = DType::parse(&dtype)?;
    Ok(Tensor {
        id: fresh_id(),
        shape,
        data: Arc::new(Buffer::zeros(dtype, 0)),
        device: Device::Gpu,
        trainable_variable: false,
        weak: false,
        layout: None,
        gpu: Some(Arc::new(GpuBuffer(handle.unbind()))),
    })
}

pub fn execute(op: &Op, ts: &[&Tensor]) -> Result<Tensor> {
    Python::attach(|py| {
        let ex = executor(py)?;
        let run = || -> PyResult<Bound<'_, PyAny>> {
            let params = params(py, op)?;
            ex.bind(py)
                .call_method1("execute", (op.name(), params, inputs(py, ts)?))
        };
        let handle = run().map_err(|e| from_py(py, e))?;
        from_handle(py, handle)
    })
}

pub fn update(op: &Op, targets: &mut [&mut Tensor], ts: &[&Tensor]) -> Result<()> {
    // Targets must be on the GPU and own their buffers: a buffer shared with another tensor
    // is copied first, so the in-place update never changes that tensor (copy-on-write).
    for t in targets.iter_mut() {
        let shared = t.gpu.as_ref().map(|g| Arc::strong_count(g) > 1);
        match shared {
            None => **t = to_device(t, Device::Gpu)?.with_identity_of(t),
            Some(true) => {
                let copy = Python::attach(|py| -> Result<Py<PyAny>> {
                    let ex = executor(py)?;
                    let g = t.gpu.as_ref().map(|g| g.0.clone_ref(py));
                    ex.bind(py)
                        .call_method1("copy", (g,))
                        .map(|h| h.unbind())
                        .map_err(|e| from_py(py, e))
                })?;
                t.gpu = Some(Arc::new(GpuBuffer(copy)));
            }
            Some(false) => {}
        }
    }
    Python::attach(|py| {
        let ex = executor(py)?;
        let run = || -> PyResult<()> {
            let tref: Vec<&Tensor> = targets.iter().map(|t| &**t).collect();
            ex.bind(py).call_method1(
                "update",
                (
                    op.name(),
                    params(py, op)?,
                    inputs(py, &tref)?,
                    inputs(py, ts)?,
                ),
            )?;
            Ok(())
        };
        run().map_err(|e| from_py(py, e))
    })
}

/// `t` on `device` (the tensor itself when it is already there). Keeps no identity: a
/// transfer is a new value for autodiff, as in other frameworks' `.to()`.
pub fn to_device(t: &Tensor, device: Device) -> Result<Tensor> {
    match (t.device, device) {
        (a, b) if a == b => Ok(t.clone()),
        (Device::Cpu, Device::Gpu) => Python::attach(|py| {
            let ex = executor(py)?;
            let run = || -> PyResult<Bound<'_, PyAny>> {
                ex.bind(py)
                    .call_method1("upload", (to_numpy(py, &t.contiguous())?,))
            };
            let handle = run().map_err(|e| from_py(py, e))?;
            let mut out = from_handle(py, handle)?;
            // The executor stores some dtypes narrower (int64 as int32); keep the logical one.
            out.data = Arc::new(Buffer::zeros(t.dtype(), 0));
            out.shape = t.shape.clone();
            Ok(out)
        }),
        _ => {
            let mut out = download(t)?;
            out.id = fresh_id();
            Ok(out)
        }
    }
}

/// A host copy of GPU tensor `t` with the same identity, shape and dtype.
pub fn download(t: &Tensor) -> Result<Tensor> {
    let Some(g) = &t.gpu else {
        return Ok(t.contiguous());
    };
    Python::attach(|py| {
        let ex = executor(py)?;
        let run = || -> PyResult<Tensor> {
            let arr = ex.bind(py).call_method1(
                "download",
                (g.0.bind(py), PyTuple::new(py, &t.shape)?, t.dtype().name()),
            )?;
            to_tensor(&arr, None)
        };
        let host = run().map_err(|e| from_py(py, e))?;
        let host = crate::ops::cast(&host.detached(), t.dtype())?;
        Ok(Tensor {
            id: t.id,
            shape: t.shape.clone(),
            data: host.contiguous().data,
            device: Device::Cpu,
            trainable_variable: t.trainable_variable,
            weak: t.weak,
            layout: None,
            gpu: None,
        })
    })
}

fn geometry<'py>(py: Python<'py>, g: &Geometry) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in [
        ("n", g.n),
        ("h", g.h),
        ("w", g.w),
        ("c", g.c),
        ("kh", g.kh),
        ("kw", g.kw),
        ("out_c", g.out_c),
        ("oh", g.oh),
        ("ow", g.ow),
        ("sh", g.sh),
        ("sw", g.sw),
        ("dh", g.dh),
        ("dw", g.dw),
        ("pad_top", g.pad_top),
        ("pad_left", g.pad_left),
    ] {
        d.set_item(k, v)?;
    }
    Ok(d)
}

fn param<'py>(py: Python<'py>, p: Param<'_>) -> PyResult<Bound<'py, PyAny>> {
    Ok(match p {
        Param::Bool(v) => v.into_pyobject(py)?.to_owned().into_any(),
        Param::Int(v) => v.into_pyobject(py)?.into_any(),
        Param::F32(v) => v.into_pyobject(py)?.into_any(),
        Param::F64(v) => v.into_pyobject(py)?.into_any(),
        Param::Ints(v) => PyList::new(py, v)?.into_any(),
        Param::SignedInts(v) => PyList::new(py, v)?.into_any(),
        Param::Name(v) => v.into_pyobject(py)?.into_any(),
        Param::Geometry(g) => geometry(py, g)?.into_any(),
    })
}

/// The parameters of `op` as a dict, keyed by the field names of its row in the op table
/// (`ops/mod.rs`).
fn params<'py>(py: Python<'py>, op: &Op) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let mut result = Ok(());
    op.params(&mut |k, v| {
        if result.is_ok() {
            result = param(py, v).and_then(|v| d.set_item(k, v));
        }
    });
    result.map(|_| d)
}

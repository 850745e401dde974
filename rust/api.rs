//! The functions `rskeras._core` exports. Each converts its arguments, runs the op (with the
//! GIL released for large inputs) and wraps the result; `rskeras.ops` gives them Keras names.

use numpy::IntoPyArray;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::error::Error;
use crate::ops::{self, BinaryOp, ReduceKind, UnaryOp};
use crate::tensor::pytensor::{maybe_detach, parse_dtype, to_tensor, PyTensor};
use crate::tensor::{DType, Tensor};

fn wrap(r: crate::error::Result<Tensor>) -> PyResult<PyTensor> {
    Ok(PyTensor::new(r?))
}

fn axes_arg(axis: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<isize>>> {
    match axis {
        None => Ok(None),
        Some(a) if a.is_none() => Ok(None),
        Some(a) => match a.extract::<isize>() {
            Ok(i) => Ok(Some(vec![i])),
            Err(_) => Ok(Some(a.extract::<Vec<isize>>()?)),
        },
    }
}

fn shape_arg(shape: &Bound<'_, PyAny>) -> PyResult<Vec<isize>> {
    match shape.extract::<isize>() {
        Ok(i) => Ok(vec![i]),
        Err(_) => shape
            .extract::<Vec<Option<isize>>>()
            .map(|v| v.into_iter().map(|d| d.unwrap_or(-1)).collect()),
    }
}

fn sizes(op: &str, shape: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
    let s = shape_arg(shape)?;
    if s.iter().any(|&d| d < 0) {
        return Err(Error::Value(format!("{op}: shape {s:?} must have non-negative sizes")).into());
    }
    Ok(s.into_iter().map(|d| d as usize).collect())
}

/// The body of the entries that run one op on one tensor: `f(x)` under the guard of `name`,
/// with the GIL released when `x` is large.
fn on_tensor(
    py: Python<'_>,
    name: &str,
    x: &Bound<'_, PyAny>,
    f: impl FnOnce(&Tensor) -> crate::error::Result<Tensor> + Send,
) -> PyResult<PyTensor> {
    crate::error::guard(name, || {
        let t = to_tensor(x, None)?;
        wrap(maybe_detach(py, t.numel(), || f(&t)))
    })
}

/// The body of the convolution entries: `f(x, kernel)` under the guard of `name`, with the GIL
/// released when `x` is large.
fn on_input_and_kernel(
    py: Python<'_>,
    name: &str,
    x: &Bound<'_, PyAny>,
    kernel: &Bound<'_, PyAny>,
    f: impl FnOnce(&Tensor, &Tensor) -> crate::error::Result<Tensor> + Send,
) -> PyResult<PyTensor> {
    crate::error::guard(name, || {
        let (t, k) = (to_tensor(x, None)?, to_tensor(kernel, None)?);
        wrap(maybe_detach(py, t.numel(), || f(&t, &k)))
    })
}

/// Two operands of an elementwise op, where a Python scalar takes the dtype of the tensor
/// operand (weak typing, as in keras.ops): `binary` and `where`.
fn weakly_typed_pair(a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>) -> PyResult<(Tensor, Tensor)> {
    let a_is_scalar =
        a.is_instance_of::<pyo3::types::PyInt>() || a.is_instance_of::<pyo3::types::PyFloat>();
    if a_is_scalar {
        let tb = to_tensor(b, None)?;
        Ok((to_tensor(a, Some(tb.dtype()))?, tb))
    } else {
        let ta = to_tensor(a, None)?;
        let tb = to_tensor(b, Some(ta.dtype()))?;
        Ok((ta, tb))
    }
}

/// `x` as a tensor (a tensor itself is returned unchanged), cast to `dtype` when given.
#[pyfunction]
#[pyo3(signature = (x, dtype=None))]
fn convert_to_tensor(x: &Bound<'_, PyAny>, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<PyTensor> {
    crate::error::guard("convert_to_tensor", || {
        let target = parse_dtype(dtype)?;
        // A Python number is made in the target dtype directly (a float64 keeps its digits).
        let t = to_tensor(x, target)?;
        wrap(match target {
            Some(d) => ops::cast(&t, d),
            None => Ok(t),
        })
    })
}

#[pyfunction]
fn cast(x: &Bound<'_, PyAny>, dtype: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
    crate::error::guard("cast", || {
        let t = to_tensor(x, None)?;
        let d = parse_dtype(Some(dtype))?
            .ok_or_else(|| PyValueError::new_err("cast: dtype must not be None"))?;
        wrap(ops::cast(&t, d))
    })
}

#[pyfunction]
fn unary(py: Python<'_>, name: &str, x: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
    crate::error::guard(name, || {
        let op = UnaryOp::from_name(name)
            .ok_or_else(|| PyValueError::new_err(format!("unknown unary op '{name}'")))?;
        let t = to_tensor(x, None)?;
        wrap(maybe_detach(py, t.numel(), || ops::unary(op, &t)))
    })
}

#[pyfunction]
fn binary(
    py: Python<'_>,
    name: &str,
    a: &Bound<'_, PyAny>,
    b: &Bound<'_, PyAny>,
) -> PyResult<PyTensor> {
    crate::error::guard(name, || {
        let op = BinaryOp::from_name(name)
            .filter(|&op| op != BinaryOp::ReluGrad)
            .ok_or_else(|| PyValueError::new_err(format!("unknown binary op '{name}'")))?;
        let (ta, tb) = weakly_typed_pair(a, b)?;
        let n = ta.numel().max(tb.numel());
        wrap(maybe_detach(py, n, || ops::binary(op, &ta, &tb)))
    })
}

#[pyfunction]
#[pyo3(name = "where_")]
fn where_py(
    condition: &Bound<'_, PyAny>,
    x1: &Bound<'_, PyAny>,
    x2: &Bound<'_, PyAny>,
) -> PyResult<PyTensor> {
    crate::error::guard("where", || {
        let c = to_tensor(condition, None)?;
        let (a, b) = weakly_typed_pair(x1, x2)?;
        wrap(ops::where_(&c, &a, &b))
    })
}

#[pyfunction]
fn clip(py: Python<'_>, x: &Bound<'_, PyAny>, x_min: f64, x_max: f64) -> PyResult<PyTensor> {
    on_tensor(py, "clip", x, |t| ops::clip(t, x_min, x_max))
}

#[pyfunction]
#[pyo3(signature = (kind, x, axis=None, keepdims=false))]
fn reduce(
    py: Python<'_>,
    kind: &str,
    x: &Bound<'_, PyAny>,
    axis: Option<&Bound<'_, PyAny>>,
    keepdims: bool,
) -> PyResult<PyTensor> {
    crate::error::guard(kind, || {
        let k = match kind {
            "sum" => ReduceKind::Sum,
            "mean" => ReduceKind::Mean,
            "max" => ReduceKind::Max,
            "min" => ReduceKind::Min,
            "prod" => ReduceKind::Prod,
            _ => return Err(PyValueError::new_err(format!("unknown reduction '{kind}'"))),
        };
        let t = to_tensor(x, None)?;
        let axes = axes_arg(axis)?;
        wrap(maybe_detach(py, t.numel(), || {
            ops::reduce(k, &t, axes.as_deref(), keepdims)
        }))
    })
}

#[pyfunction]
#[pyo3(signature = (x, axis=None, keepdims=false, largest=true))]
fn arg_reduce(
    x: &Bound<'_, PyAny>,
    axis: Option<isize>,
    keepdims: bool,
    largest: bool,
) -> PyResult<PyTensor> {
    crate::error::guard("arg_reduce", || {
        let t = to_tensor(x, None)?;
        wrap(ops::reduce::arg_reduce(&t, axis, keepdims, largest))
    })
}

#[pyfunction]
fn matmul(py: Python<'_>, x1: &Bound<'_, PyAny>, x2: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
    crate::error::guard("matmul", || {
        let (a, b) = (to_tensor(x1, None)?, to_tensor(x2, None)?);
        let n = a.numel().max(b.numel());
        wrap(maybe_detach(py, n, || ops::matmul::matmul(&a, &b)))
    })
}

#[pyfunction]
#[pyo3(signature = (x, axis=-1, log=false))]
fn softmax(py: Python<'_>, x: &Bound<'_, PyAny>, axis: isize, log: bool) -> PyResult<PyTensor> {
    on_tensor(py, "softmax", x, |t| ops::nn::softmax(t, axis, log))
}

/// 2-D convolution, NHWC input and `(kh, kw, in_c / groups, out_c)` kernel (see ops::conv).
#[pyfunction]
#[pyo3(signature = (x, kernel, strides=(1, 1), padding="valid", dilation_rate=(1, 1), groups=1))]
fn conv2d(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    kernel: &Bound<'_, PyAny>,
    strides: (usize, usize),
    padding: &str,
    dilation_rate: (usize, usize),
    groups: usize,
) -> PyResult<PyTensor> {
    on_input_and_kernel(py, "conv2d", x, kernel, |t, k| {
        ops::conv::conv2d(t, k, strides, padding, dilation_rate, groups)
    })
}

/// Transposed 2-D convolution, NHWC input and `(kh, kw, out_c, in_c)` kernel (see ops::conv).
#[pyfunction]
#[pyo3(signature = (x, kernel, strides=(1, 1), padding="valid", dilation_rate=(1, 1)))]
fn conv2d_transpose(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    kernel: &Bound<'_, PyAny>,
    strides: (usize, usize),
    padding: &str,
    dilation_rate: (usize, usize),
) -> PyResult<PyTensor> {
    on_input_and_kernel(py, "conv2d_transpose", x, kernel, |t, k| {
        ops::conv::conv2d_transpose(t, k, strides, padding, dilation_rate)
    })
}

/// Depthwise 2-D convolution, NHWC input and `(kh, kw, channels, multiplier)` kernel
/// (see ops::conv).
#[pyfunction]
#[pyo3(signature = (x, kernel, strides=(1, 1), padding="valid", dilation_rate=(1, 1)))]
fn depthwise_conv2d(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    kernel: &Bound<'_, PyAny>,
    strides: (usize, usize),
    padding: &str,
    dilation_rate: (usize, usize),
) -> PyResult<PyTensor> {
    on_input_and_kernel(py, "depthwise_conv2d", x, kernel, |t, k| {
        ops::conv::depthwise_conv2d(t, k, strides, padding, dilation_rate)
    })
}

fn optional_tensor(x: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Tensor>> {
    x.filter(|v| !v.is_none())
        .map(|v| to_tensor(v, None))
        .transpose()
}

/// The operands of the fused normalizations: x and the optional scale and offset.
type NormOperands = (Tensor, Option<Tensor>, Option<Tensor>);

fn norm_operands(
    x: &Bound<'_, PyAny>,
    gamma: Option<&Bound<'_, PyAny>>,
    beta: Option<&Bound<'_, PyAny>>,
) -> PyResult<NormOperands> {
    Ok((
        to_tensor(x, None)?,
        optional_tensor(gamma)?,
        optional_tensor(beta)?,
    ))
}

/// Fused training-mode batch normalization over the last axis: `(y, mean, variance)`
/// (see ops::norm).
#[pyfunction]
#[pyo3(signature = (x, gamma=None, beta=None, epsilon=1e-3))]
fn batch_norm_train(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    gamma: Option<&Bound<'_, PyAny>>,
    beta: Option<&Bound<'_, PyAny>>,
    epsilon: f64,
) -> PyResult<(PyTensor, PyTensor, PyTensor)> {
    crate::error::guard("batch_norm_train", || {
        let (t, g, b) = norm_operands(x, gamma, beta)?;
        let (y, m, v) = maybe_detach(py, t.numel(), || {
            ops::norm::batch_norm_train(&t, g.as_ref(), b.as_ref(), epsilon)
        })?;
        Ok((PyTensor::new(y), PyTensor::new(m), PyTensor::new(v)))
    })
}

/// Fused layer normalization over the last axis (see ops::norm).
#[pyfunction]
#[pyo3(signature = (x, gamma=None, beta=None, epsilon=1e-3))]
fn layer_norm(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    gamma: Option<&Bound<'_, PyAny>>,
    beta: Option<&Bound<'_, PyAny>>,
    epsilon: f64,
) -> PyResult<PyTensor> {
    crate::error::guard("layer_norm", || {
        let (t, g, b) = norm_operands(x, gamma, beta)?;
        wrap(maybe_detach(py, t.numel(), || {
            ops::norm::layer_norm(&t, g.as_ref(), b.as_ref(), epsilon)
        }))
    })
}

/// Max or average 2-D pooling of an NHWC input (see ops::conv).
#[pyfunction]
#[pyo3(signature = (x, max, pool_size, strides, padding="valid"))]
fn pool2d(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    max: bool,
    pool_size: (usize, usize),
    strides: (usize, usize),
    padding: &str,
) -> PyResult<PyTensor> {
    crate::error::guard("pool2d", || {
        let t = to_tensor(x, None)?;
        // The cost is the taps each output reads (inside the input), not the input's size.
        let (h, w) = (
            t.shape.get(1).copied().unwrap_or(1),
            t.shape.get(2).copied().unwrap_or(1),
        );
        let work = t
            .numel()
            .saturating_mul(pool_size.0.min(h).max(1))
            .saturating_mul(pool_size.1.min(w).max(1));
        wrap(maybe_detach(py, work, || {
            ops::pool::pool2d(&t, max, pool_size, strides, padding)
        }))
    })
}

#[pyfunction]
fn reshape(x: &Bound<'_, PyAny>, newshape: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
    crate::error::guard("reshape", || {
        let t = to_tensor(x, None)?;
        wrap(ops::reshape(&t, &shape_arg(newshape)?))
    })
}

#[pyfunction]
#[pyo3(signature = (x, axes=None))]
fn transpose(py: Python<'_>, x: &Bound<'_, PyAny>, axes: Option<Vec<isize>>) -> PyResult<PyTensor> {
    on_tensor(py, "transpose", x, |t| ops::transpose(t, axes.as_deref()))
}

#[pyfunction]
fn broadcast_to(x: &Bound<'_, PyAny>, shape: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
    crate::error::guard("broadcast_to", || {
        let t = to_tensor(x, None)?;
        wrap(ops::broadcast_to(&t, &sizes("broadcast_to", shape)?))
    })
}

#[pyfunction]
#[pyo3(signature = (x, indices, axis=None))]
fn take(
    x: &Bound<'_, PyAny>,
    indices: &Bound<'_, PyAny>,
    axis: Option<isize>,
) -> PyResult<PyTensor> {
    crate::error::guard("take", || {
        let t = to_tensor(x, None)?;
        let i = to_tensor(indices, None)?;
        match axis {
            Some(a) => wrap(ops::shape::take(&t, &i, a)),
            None => wrap(ops::reshape(&t, &[-1]).and_then(|flat| ops::shape::take(&flat, &i, 0))),
        }
    })
}

#[pyfunction]
fn one_hot(x: &Bound<'_, PyAny>, num_classes: usize) -> PyResult<PyTensor> {
    crate::error::guard("one_hot", || {
        let t = to_tensor(x, None)?;
        if t.dtype().is_float() || t.dtype() == DType::Bool {
            return Err(Error::Type(format!(
                "one_hot: expected integer class ids, got {}",
                t.dtype().name()
            ))
            .into());
        }
        wrap(ops::shape::one_hot(&t, num_classes))
    })
}

#[pyfunction]
#[pyo3(signature = (target, output, from_logits=false))]
fn sparse_categorical_crossentropy(
    py: Python<'_>,
    target: &Bound<'_, PyAny>,
    output: &Bound<'_, PyAny>,
    from_logits: bool,
) -> PyResult<PyTensor> {
    crate::error::guard("sparse_categorical_crossentropy", || {
        let (t, o) = (to_tensor(target, None)?, to_tensor(output, None)?);
        wrap(maybe_detach(py, o.numel(), || {
            ops::nn::sparse_categorical_crossentropy(&t, &o, from_logits)
        }))
    })
}

/// Rows `indices` (int64, along axis 0) of a NumPy array, as a tensor: one copy, straight from
/// the array's memory for C-contiguous float32 data (how `fit` draws shuffled batches).
#[pyfunction]
fn gather_rows(
    py: Python<'_>,
    array: &Bound<'_, PyAny>,
    indices: numpy::PyReadonlyArray1<'_, i64>,
) -> PyResult<PyTensor> {
    crate::error::guard("gather_rows", || {
        use numpy::{PyArrayDescrMethods, PyUntypedArrayMethods};
        let idx = indices.as_slice()?;
        if let Ok(arr) = array.cast::<numpy::PyUntypedArray>() {
            let d = arr.dtype();
            if d.kind() == b'f' && d.itemsize() == 4 && arr.is_c_contiguous() && arr.ndim() >= 1 {
                let a: numpy::PyReadonlyArrayDyn<'_, f32> = arr.extract()?;
                let data = a.as_slice()?;
                let shape = arr.shape().to_vec();
                let rows = shape[0];
                let row: usize = shape[1..].iter().product();
                if let Some(&bad) = idx.iter().find(|&&i| i < 0 || i as usize >= rows) {
                    return Err(Error::Index(format!(
                        "gather_rows: index {bad} is out of bounds for {rows} rows"
                    ))
                    .into());
                }
                let mut out_shape = shape;
                out_shape[0] = idx.len();
                crate::tensor::check_alloc("gather_rows", &out_shape, DType::Float32)?;
                let out = maybe_detach(py, idx.len() * row, || {
                    let mut out = crate::tensor::reuse::take_f32(idx.len() * row);
                    for (dst, &i) in out.chunks_mut(row.max(1)).zip(idx) {
                        dst.copy_from_slice(&data[i as usize * row..(i as usize + 1) * row]);
                    }
                    Ok(out)
                })?;
                return Ok(PyTensor::new(Tensor::from_f32(out_shape, out)));
            }
        }
        let picked = array.get_item(indices.as_array().to_owned().into_pyarray(py))?;
        Ok(PyTensor::new(to_tensor(&picked, None)?))
    })
}

/// Running sums or products along `axis` (`prod`, `exclusive`, `reverse` flags).
#[pyfunction]
#[pyo3(signature = (x, axis, prod=false, exclusive=false, reverse=false))]
fn cumulative(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    axis: isize,
    prod: bool,
    exclusive: bool,
    reverse: bool,
) -> PyResult<PyTensor> {
    crate::error::guard("cumulative", || {
        let t = to_tensor(x, None)?;
        let name = if prod { "cumprod" } else { "cumsum" };
        let axis = crate::tensor::normalize_axis(name, axis, t.ndim())?;
        wrap(maybe_detach(py, t.numel(), || {
            ops::reduce::cumulative(&t, axis, prod, exclusive, reverse)
        }))
    })
}

/// Stable sorting indices (int32) along `axis`.
#[pyfunction]
#[pyo3(signature = (x, axis=-1, descending=false))]
fn argsort(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    axis: isize,
    descending: bool,
) -> PyResult<PyTensor> {
    on_tensor(py, "argsort", x, |t| {
        ops::sort::argsort(t, axis, descending)
    })
}

/// Join a sequence of tensors along `axis`.
#[pyfunction]
#[pyo3(signature = (xs, axis=0))]
fn concatenate(py: Python<'_>, xs: &Bound<'_, PyAny>, axis: isize) -> PyResult<PyTensor> {
    crate::error::guard("concatenate", || {
        let ts: Vec<Tensor> = xs
            .try_iter()?
            .map(|x| to_tensor(&x?, None))
            .collect::<PyResult<_>>()?;
        let n: usize = ts.iter().map(|t| t.numel()).sum();
        wrap(maybe_detach(py, n, || ops::shape::concatenate(&ts, axis)))
    })
}

/// Rows of `values` summed into `num_rows` zero rows at `indices` (scatter-add).
#[pyfunction]
fn scatter_add_rows(
    values: &Bound<'_, PyAny>,
    indices: &Bound<'_, PyAny>,
    num_rows: usize,
) -> PyResult<PyTensor> {
    crate::error::guard("scatter_add_rows", || {
        let (v, i) = (to_tensor(values, None)?, to_tensor(indices, None)?);
        wrap(ops::shape::scatter_add_rows(&v, &i, num_rows))
    })
}

/// NumPy `take_along_axis`.
#[pyfunction]
fn take_along_axis(
    x: &Bound<'_, PyAny>,
    indices: &Bound<'_, PyAny>,
    axis: isize,
) -> PyResult<PyTensor> {
    crate::error::guard("take_along_axis", || {
        let (t, i) = (to_tensor(x, None)?, to_tensor(indices, None)?);
        wrap(ops::shape::take_along_axis(&t, &i, axis))
    })
}

/// The promoted dtype of two dtype names.
#[pyfunction]
fn result_type(a: &str, b: &str) -> PyResult<&'static str> {
    crate::error::guard("result_type", || {
        Ok(DType::promote(DType::parse(a)?, DType::parse(b)?).name())
    })
}

/// The same values as a new tensor that no tape traces through.
#[pyfunction]
fn stop_gradient(x: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
    crate::error::guard("stop_gradient", || {
        Ok(PyTensor::new(to_tensor(x, None)?.detached()))
    })
}

/// The body of the random fills: `f(shape)` under the guard of `name`, always without the GIL
/// (`op` names the Keras function in a shape error).
fn random_fill(
    py: Python<'_>,
    name: &str,
    op: &str,
    shape: &Bound<'_, PyAny>,
    f: impl FnOnce(&[usize]) -> crate::error::Result<Tensor> + Send,
) -> PyResult<PyTensor> {
    crate::error::guard(name, || {
        let s = sizes(op, shape)?;
        wrap(py.detach(|| f(&s)))
    })
}

#[pyfunction]
fn random_uniform(
    py: Python<'_>,
    shape: &Bound<'_, PyAny>,
    minval: f32,
    maxval: f32,
    seed: u64,
    counter: u64,
) -> PyResult<PyTensor> {
    random_fill(py, "random_uniform", "random.uniform", shape, |s| {
        ops::random::uniform(s, minval, maxval, seed, counter)
    })
}

#[pyfunction]
fn random_normal(
    py: Python<'_>,
    shape: &Bound<'_, PyAny>,
    mean: f32,
    stddev: f32,
    seed: u64,
    counter: u64,
) -> PyResult<PyTensor> {
    random_fill(py, "random_normal", "random.normal", shape, |s| {
        ops::random::normal(s, mean, stddev, seed, counter)
    })
}

/// Register the object that runs ops on GPU tensors (see `device::gpu` for its protocol).
#[pyfunction]
fn register_gpu_executor(executor: Py<PyAny>) {
    crate::device::gpu::register(executor);
}

/// Set the device ("cpu" or "gpu") that random fills create their tensors on.
#[pyfunction]
fn set_default_device(device: &str) -> PyResult<()> {
    crate::error::guard("set_default_device", || {
        crate::device::gpu::set_default_device(crate::device::Device::parse(device)?);
        Ok(())
    })
}

/// The WGSL source of `shaders/<family>.wgsl` compiled into the extension.
#[pyfunction]
fn shader_source(family: &str) -> PyResult<&'static str> {
    crate::error::guard("shader_source", || {
        crate::device::shaders::source(family)
            .ok_or_else(|| PyValueError::new_err(format!("no shader family {family:?}")))
    })
}

#[pyfunction]
fn get_default_device() -> &'static str {
    crate::device::gpu::default_device().name()
}

/// Drop the thread pool in a forked child (registered with `os.register_at_fork`).
#[pyfunction]
fn _reset_thread_pool_after_fork() {
    crate::device::pool::reset_after_fork();
}

/// Threads the parallel kernels use (`RSKERAS_NUM_THREADS`, else all cores).
#[pyfunction]
fn num_threads() -> usize {
    crate::device::pool::num_threads()
}

#[pyfunction]
fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    ops::random::philox4x32_10(counter, key)
}

/// One fused optimizer step `op` in place over every variable at once. `slots` are the slot
/// variable lists in the kernel's order (`ops::optimizer::slots_per_variable`), each with one
/// entry per gradient, as are `variables`.
fn fused_update(
    py: Python<'_>,
    op: ops::Op,
    variables: &Bound<'_, PyList>,
    gradients: &Bound<'_, PyList>,
    slots: &[(&str, &Bound<'_, PyList>)],
) -> PyResult<()> {
    let name = op.name();
    crate::error::guard(name, || {
        let n = gradients.len();
        for (what, list) in [("variables", variables)].iter().chain(slots) {
            if list.len() != n {
                return Err(PyValueError::new_err(format!(
                    "{name}: expected {n} {what} for {n} gradients, got {}",
                    list.len()
                )));
            }
        }
        let gs: Vec<Tensor> = gradients
            .iter()
            .map(|g| to_tensor(&g, None))
            .collect::<PyResult<_>>()?;
        // Per variable: the variable, then its slots (the layout the kernels walk).
        let mut cells: Vec<Bound<'_, PyTensor>> = Vec::with_capacity(n * (1 + slots.len()));
        for i in 0..n {
            for list in [variables].into_iter().chain(slots.iter().map(|s| s.1)) {
                cells.push(list.get_item(i)?.cast::<PyTensor>()?.clone());
            }
        }
        for (i, c) in cells.iter().enumerate() {
            if cells[..i].iter().any(|d| d.is(c)) {
                return Err(PyValueError::new_err(format!(
                    "{name}: target {i} appears twice in the list of variables and slots"
                )));
            }
        }
        // Every variable and slot is held for writing while the update runs (readers in other
        // threads wait for it, then see the new values): all or none, so two updates in two
        // threads never hold half of each other's variables.
        let mut guards = loop {
            let got: Vec<_> = cells.iter().map(|c| c.get().try_write()).collect();
            if got.iter().all(Option::is_some) {
                break got.into_iter().flatten().collect::<Vec<_>>();
            }
            drop(got);
            py.detach(|| std::thread::sleep(std::time::Duration::from_micros(50)));
        };
        let mut ts: Vec<&mut Tensor> = guards.iter_mut().map(|g| &mut **g).collect();
        let grefs: Vec<&Tensor> = gs.iter().collect();
        let numel: usize = gs.iter().map(|g| g.numel()).sum();
        // Not interruptible: an update stopped halfway would leave the weights torn.
        let mut run = || ops::optimizer::apply(&op, &mut ts, &grefs);
        if numel >= 1 << 14 {
            py.detach(run)?;
        } else {
            run()?;
        }
        Ok(())
    })
}

/// A slot list the step needs when `needed`, and must not be given otherwise.
fn slot_list<'a, 'py>(
    op: &str,
    what: &'static str,
    list: Option<&'a Bound<'py, PyList>>,
    needed: bool,
    because: &str,
) -> PyResult<Option<(&'static str, &'a Bound<'py, PyList>)>> {
    match (list, needed) {
        (Some(l), true) => Ok(Some((what, l))),
        (None, false) => Ok(None),
        (None, true) => Err(PyValueError::new_err(format!(
            "{op}: {what} are needed when {because}"
        ))),
        (Some(_), false) => Err(PyValueError::new_err(format!(
            "{op}: {what} are only used when {because}"
        ))),
    }
}

/// SGD (`keras.optimizers.SGD`) in place over all `variables` at once; `momentums` (one slot
/// per variable) exactly when `momentum != 0`.
#[pyfunction]
#[pyo3(signature = (variables, gradients, momentums=None, *, learning_rate, momentum=0.0, nesterov=false, weight_decay=0.0, decay_mask=None))]
#[allow(clippy::too_many_arguments)]
fn sgd_update(
    py: Python<'_>,
    variables: &Bound<'_, PyList>,
    gradients: &Bound<'_, PyList>,
    momentums: Option<&Bound<'_, PyList>>,
    learning_rate: f32,
    momentum: f32,
    nesterov: bool,
    weight_decay: f32,
    decay_mask: Option<Vec<bool>>,
) -> PyResult<()> {
    let slots = [slot_list(
        "sgd",
        "momentums",
        momentums,
        momentum != 0.0,
        "momentum != 0",
    )?];
    let op = ops::Op::Sgd {
        learning_rate,
        momentum,
        nesterov,
        weight_decay,
        decay_mask: mask(decay_mask),
    };
    let slots: Vec<_> = slots.into_iter().flatten().collect();
    fused_update(py, op, variables, gradients, &slots)
}

/// Adam (`keras.optimizers.Adam`) in place over all `variables` at once, at `step` (from 1);
/// `velocity_hats` exactly when `amsgrad`.
#[pyfunction]
#[pyo3(signature = (variables, gradients, momentums, velocities, velocity_hats=None, *, learning_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=false, step=1, weight_decay=0.0, decay_mask=None))]
#[allow(clippy::too_many_arguments)]
fn adam_update(
    py: Python<'_>,
    variables: &Bound<'_, PyList>,
    gradients: &Bound<'_, PyList>,
    momentums: &Bound<'_, PyList>,
    velocities: &Bound<'_, PyList>,
    velocity_hats: Option<&Bound<'_, PyList>>,
    learning_rate: f32,
    beta_1: f64,
    beta_2: f64,
    epsilon: f32,
    amsgrad: bool,
    step: u64,
    weight_decay: f32,
    decay_mask: Option<Vec<bool>>,
) -> PyResult<()> {
    let hats = slot_list("adam", "velocity_hats", velocity_hats, amsgrad, "amsgrad")?;
    let op = ops::Op::Adam {
        learning_rate,
        beta_1,
        beta_2,
        epsilon,
        step,
        amsgrad,
        weight_decay,
        decay_mask: mask(decay_mask),
    };
    let slots: Vec<_> = [("momentums", momentums), ("velocities", velocities)]
        .into_iter()
        .chain(hats)
        .collect();
    fused_update(py, op, variables, gradients, &slots)
}

/// RMSprop (`keras.optimizers.RMSprop`) in place over all `variables` at once; `momentums`
/// exactly when `momentum > 0`, `average_gradients` exactly when `centered`.
#[pyfunction]
#[pyo3(signature = (variables, gradients, velocities, momentums=None, average_gradients=None, *, learning_rate, rho=0.9, momentum=0.0, epsilon=1e-7, centered=false, weight_decay=0.0, decay_mask=None))]
#[allow(clippy::too_many_arguments)]
fn rmsprop_update(
    py: Python<'_>,
    variables: &Bound<'_, PyList>,
    gradients: &Bound<'_, PyList>,
    velocities: &Bound<'_, PyList>,
    momentums: Option<&Bound<'_, PyList>>,
    average_gradients: Option<&Bound<'_, PyList>>,
    learning_rate: f32,
    rho: f64,
    momentum: f32,
    epsilon: f32,
    centered: bool,
    weight_decay: f32,
    decay_mask: Option<Vec<bool>>,
) -> PyResult<()> {
    let moms = slot_list(
        "rmsprop",
        "momentums",
        momentums,
        momentum > 0.0,
        "momentum > 0",
    )?;
    let avgs = slot_list(
        "rmsprop",
        "average_gradients",
        average_gradients,
        centered,
        "centered",
    )?;
    let op = ops::Op::Rmsprop {
        learning_rate,
        rho,
        momentum,
        epsilon,
        centered,
        weight_decay,
        decay_mask: mask(decay_mask),
    };
    let slots: Vec<_> = [("velocities", velocities)]
        .into_iter()
        .chain(moms)
        .chain(avgs)
        .collect();
    fused_update(py, op, variables, gradients, &slots)
}

/// The per-variable weight-decay flags as the op table carries them (empty: all decayed).
fn mask(decay_mask: Option<Vec<bool>>) -> Vec<usize> {
    decay_mask
        .map(|m| m.into_iter().map(usize::from).collect())
        .unwrap_or_default()
}

/// Adagrad (`keras.optimizers.Adagrad`) in place over all `variables` at once.
#[pyfunction]
#[pyo3(signature = (variables, gradients, accumulators, *, learning_rate, epsilon=1e-7, weight_decay=0.0, decay_mask=None))]
#[allow(clippy::too_many_arguments)]
fn adagrad_update(
    py: Python<'_>,
    variables: &Bound<'_, PyList>,
    gradients: &Bound<'_, PyList>,
    accumulators: &Bound<'_, PyList>,
    learning_rate: f32,
    epsilon: f64,
    weight_decay: f32,
    decay_mask: Option<Vec<bool>>,
) -> PyResult<()> {
    let op = ops::Op::Adagrad {
        learning_rate,
        epsilon,
        weight_decay,
        decay_mask: mask(decay_mask),
    };
    fused_update(
        py,
        op,
        variables,
        gradients,
        &[("accumulators", accumulators)],
    )
}

/// Adadelta (`keras.optimizers.Adadelta`) in place over all `variables` at once.
#[pyfunction]
#[pyo3(signature = (variables, gradients, accumulated_grads, accumulated_delta_vars, *, learning_rate, rho=0.95, epsilon=1e-7, weight_decay=0.0, decay_mask=None))]
#[allow(clippy::too_many_arguments)]
fn adadelta_update(
    py: Python<'_>,
    variables: &Bound<'_, PyList>,
    gradients: &Bound<'_, PyList>,
    accumulated_grads: &Bound<'_, PyList>,
    accumulated_delta_vars: &Bound<'_, PyList>,
    learning_rate: f32,
    rho: f64,
    epsilon: f64,
    weight_decay: f32,
    decay_mask: Option<Vec<bool>>,
) -> PyResult<()> {
    let op = ops::Op::Adadelta {
        learning_rate,
        rho,
        epsilon,
        weight_decay,
        decay_mask: mask(decay_mask),
    };
    let slots = [
        ("accumulated_grads", accumulated_grads),
        ("accumulated_delta_vars", accumulated_delta_vars),
    ];
    fused_update(py, op, variables, gradients, &slots)
}

/// Adamax (`keras.optimizers.Adamax`) in place over all `variables` at once, at `step`.
#[pyfunction]
#[pyo3(signature = (variables, gradients, momentums, norms, *, learning_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-7, step=1, weight_decay=0.0, decay_mask=None))]
#[allow(clippy::too_many_arguments)]
fn adamax_update(
    py: Python<'_>,
    variables: &Bound<'_, PyList>,
    gradients: &Bound<'_, PyList>,
    momentums: &Bound<'_, PyList>,
    norms: &Bound<'_, PyList>,
    learning_rate: f32,
    beta_1: f64,
    beta_2: f64,
    epsilon: f64,
    step: u64,
    weight_decay: f32,
    decay_mask: Option<Vec<bool>>,
) -> PyResult<()> {
    let op = ops::Op::Adamax {
        learning_rate,
        beta_1,
        beta_2,
        epsilon,
        step,
        weight_decay,
        decay_mask: mask(decay_mask),
    };
    let slots = [("momentums", momentums), ("norms", norms)];
    fused_update(py, op, variables, gradients, &slots)
}

/// Nadam (`keras.optimizers.Nadam`) in place over all `variables` at once, at `step`, with
/// `u_product` Keras's scalar state already updated for this step.
#[pyfunction]
#[pyo3(signature = (variables, gradients, momentums, velocities, *, learning_rate, u_product, beta_1=0.9, beta_2=0.999, epsilon=1e-7, step=1, weight_decay=0.0, decay_mask=None))]
#[allow(clippy::too_many_arguments)]
fn nadam_update(
    py: Python<'_>,
    variables: &Bound<'_, PyList>,
    gradients: &Bound<'_, PyList>,
    momentums: &Bound<'_, PyList>,
    velocities: &Bound<'_, PyList>,
    learning_rate: f32,
    u_product: f32,
    beta_1: f64,
    beta_2: f64,
    epsilon: f64,
    step: u64,
    weight_decay: f32,
    decay_mask: Option<Vec<bool>>,
) -> PyResult<()> {
    let op = ops::Op::Nadam {
        learning_rate,
        beta_1,
        beta_2,
        epsilon,
        step,
        u_product,
        weight_decay,
        decay_mask: mask(decay_mask),
    };
    let slots = [("momentums", momentums), ("velocities", velocities)];
    fused_update(py, op, variables, gradients, &slots)
}

/// FTRL (`keras.optimizers.Ftrl`) in place over all `variables` at once.
#[pyfunction]
#[pyo3(signature = (variables, gradients, accumulators, linears, *, learning_rate, learning_rate_power=-0.5, l1_regularization_strength=0.0, l2_regularization_strength=0.0, l2_shrinkage_regularization_strength=0.0, beta=0.0, weight_decay=0.0, decay_mask=None))]
#[allow(clippy::too_many_arguments)]
fn ftrl_update(
    py: Python<'_>,
    variables: &Bound<'_, PyList>,
    gradients: &Bound<'_, PyList>,
    accumulators: &Bound<'_, PyList>,
    linears: &Bound<'_, PyList>,
    learning_rate: f32,
    learning_rate_power: f64,
    l1_regularization_strength: f64,
    l2_regularization_strength: f64,
    l2_shrinkage_regularization_strength: f64,
    beta: f64,
    weight_decay: f32,
    decay_mask: Option<Vec<bool>>,
) -> PyResult<()> {
    let op = ops::Op::Ftrl {
        learning_rate,
        learning_rate_power,
        l1_regularization_strength,
        l2_regularization_strength,
        l2_shrinkage_regularization_strength,
        beta,
        weight_decay,
        decay_mask: mask(decay_mask),
    };
    let slots = [("accumulators", accumulators), ("linears", linears)];
    fused_update(py, op, variables, gradients, &slots)
}

/// Lion (`keras.optimizers.Lion`) in place over all `variables` at once.
#[pyfunction]
#[pyo3(signature = (variables, gradients, momentums, *, learning_rate, beta_1=0.9, beta_2=0.99, weight_decay=0.0, decay_mask=None))]
#[allow(clippy::too_many_arguments)]
fn lion_update(
    py: Python<'_>,
    variables: &Bound<'_, PyList>,
    gradients: &Bound<'_, PyList>,
    momentums: &Bound<'_, PyList>,
    learning_rate: f32,
    beta_1: f64,
    beta_2: f64,
    weight_decay: f32,
    decay_mask: Option<Vec<bool>>,
) -> PyResult<()> {
    let op = ops::Op::Lion {
        learning_rate,
        beta_1,
        beta_2,
        weight_decay,
        decay_mask: mask(decay_mask),
    };
    fused_update(py, op, variables, gradients, &[("momentums", momentums)])
}

/// Lamb (`keras.optimizers.Lamb`) in place over all `variables` at once, at `step`; each
/// variable's trust ratio comes from its own norms, inside the kernel.
#[pyfunction]
#[pyo3(signature = (variables, gradients, momentums, velocities, *, learning_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-7, step=1, weight_decay=0.0, decay_mask=None))]
#[allow(clippy::too_many_arguments)]
fn lamb_update(
    py: Python<'_>,
    variables: &Bound<'_, PyList>,
    gradients: &Bound<'_, PyList>,
    momentums: &Bound<'_, PyList>,
    velocities: &Bound<'_, PyList>,
    learning_rate: f32,
    beta_1: f64,
    beta_2: f64,
    epsilon: f64,
    step: u64,
    weight_decay: f32,
    decay_mask: Option<Vec<bool>>,
) -> PyResult<()> {
    let op = ops::Op::Lamb {
        learning_rate,
        beta_1,
        beta_2,
        epsilon,
        step,
        weight_decay,
        decay_mask: mask(decay_mask),
    };
    let slots = [("momentums", momentums), ("velocities", velocities)];
    fused_update(py, op, variables, gradients, &slots)
}

/// The exponential moving average of `variables` into `averages` in place, all at once
/// (`use_ema`): `average = momentum * average + (1 - momentum) * variable`.
#[pyfunction]
#[pyo3(signature = (averages, variables, *, momentum))]
fn ema_update(
    py: Python<'_>,
    averages: &Bound<'_, PyList>,
    variables: &Bound<'_, PyList>,
    momentum: f32,
) -> PyResult<()> {
    fused_update(py, ops::Op::Ema { momentum }, averages, variables, &[])
}

/// Every op name in the core (the `ops/mod.rs` table): the keys the GPU executor's kernel
/// table is checked against (`tests/ops/test_op_contract.py`).
#[pyfunction]
fn op_names() -> Vec<&'static str> {
    ops::Op::names()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(op_names, m)?)?;
    m.add_function(wrap_pyfunction!(convert_to_tensor, m)?)?;
    m.add_function(wrap_pyfunction!(cast, m)?)?;
    m.add_function(wrap_pyfunction!(unary, m)?)?;
    m.add_function(wrap_pyfunction!(binary, m)?)?;
    m.add_function(wrap_pyfunction!(where_py, m)?)?;
    m.add_function(wrap_pyfunction!(clip, m)?)?;
    m.add_function(wrap_pyfunction!(reduce, m)?)?;
    m.add_function(wrap_pyfunction!(arg_reduce, m)?)?;
    m.add_function(wrap_pyfunction!(matmul, m)?)?;
    m.add_function(wrap_pyfunction!(softmax, m)?)?;
    m.add_function(wrap_pyfunction!(conv2d, m)?)?;
    m.add_function(wrap_pyfunction!(conv2d_transpose, m)?)?;
    m.add_function(wrap_pyfunction!(pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(depthwise_conv2d, m)?)?;
    m.add_function(wrap_pyfunction!(batch_norm_train, m)?)?;
    m.add_function(wrap_pyfunction!(layer_norm, m)?)?;
    m.add_function(wrap_pyfunction!(reshape, m)?)?;
    m.add_function(wrap_pyfunction!(transpose, m)?)?;
    m.add_function(wrap_pyfunction!(broadcast_to, m)?)?;
    m.add_function(wrap_pyfunction!(take, m)?)?;
    m.add_function(wrap_pyfunction!(one_hot, m)?)?;
    m.add_function(wrap_pyfunction!(sparse_categorical_crossentropy, m)?)?;
    m.add_function(wrap_pyfunction!(stop_gradient, m)?)?;
    m.add_function(wrap_pyfunction!(gather_rows, m)?)?;
    m.add_function(wrap_pyfunction!(cumulative, m)?)?;
    m.add_function(wrap_pyfunction!(argsort, m)?)?;
    m.add_function(wrap_pyfunction!(concatenate, m)?)?;
    m.add_function(wrap_pyfunction!(take_along_axis, m)?)?;
    m.add_function(wrap_pyfunction!(scatter_add_rows, m)?)?;
    m.add_function(wrap_pyfunction!(result_type, m)?)?;
    m.add_function(wrap_pyfunction!(random_uniform, m)?)?;
    m.add_function(wrap_pyfunction!(random_normal, m)?)?;
    m.add_function(wrap_pyfunction!(philox4x32_10, m)?)?;
    m.add_function(wrap_pyfunction!(_reset_thread_pool_after_fork, m)?)?;
    m.add_function(wrap_pyfunction!(register_gpu_executor, m)?)?;
    m.add_function(wrap_pyfunction!(set_default_device, m)?)?;
    m.add_function(wrap_pyfunction!(get_default_device, m)?)?;
    m.add_function(wrap_pyfunction!(shader_source, m)?)?;
    m.add_function(wrap_pyfunction!(num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(sgd_update, m)?)?;
    m.add_function(wrap_pyfunction!(adam_update, m)?)?;
    m.add_function(wrap_pyfunction!(rmsprop_update, m)?)?;
    m.add_function(wrap_pyfunction!(adagrad_update, m)?)?;
    m.add_function(wrap_pyfunction!(adadelta_update, m)?)?;
    m.add_function(wrap_pyfunction!(adamax_update, m)?)?;
    m.add_function(wrap_pyfunction!(nadam_update, m)?)?;
    m.add_function(wrap_pyfunction!(ftrl_update, m)?)?;
    m.add_function(wrap_pyfunction!(lion_update, m)?)?;
    m.add_function(wrap_pyfunction!(lamb_update, m)?)?;
    m.add_function(wrap_pyfunction!(ema_update, m)?)?;
    Ok(())
}

//! `rskeras.GradientTape`: the `tf.GradientTape` surface (`watch`, `gradient`, `persistent`,
//! `watch_accessed_variables`) over the Rust tape.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use super::tape::{self, SharedTape};
use crate::tensor::pytensor::{to_tensor, PyTensor};

/// Records operations for automatic differentiation.
///
/// Inside `with GradientTape() as tape:`, every op on a watched tensor is recorded; trainable
/// `Variable`s are watched automatically (`watch_accessed_variables=True`). `tape.gradient(target,
/// sources)` returns d(sum(target))/d(source) for a tensor or a list of tensors, with `None` for
/// sources the target does not depend on. A non-persistent tape can compute gradients once.
#[pyclass(module = "rskeras._core", name = "GradientTape")]
pub struct PyGradientTape {
    tape: SharedTape,
}

fn tensors(obj: &Bound<'_, PyAny>) -> PyResult<(Vec<crate::tensor::Tensor>, bool)> {
    if obj.cast::<PyList>().is_ok() || obj.cast::<PyTuple>().is_ok() {
        let v = obj
            .try_iter()?
            .map(|x| {
                let x = x?;
                x.cast::<PyTensor>().map(|t| t.get().get()).map_err(|_| {
                    PyTypeError::new_err(format!(
                        "GradientTape: expected tensors or variables, got {}",
                        x.get_type()
                            .name()
                            .map(|n| n.to_string())
                            .unwrap_or_default()
                    ))
                })
            })
            .collect::<PyResult<_>>()?;
        Ok((v, true))
    } else {
        Ok((vec![to_tensor(obj, None)?], false))
    }
}

#[pymethods]
impl PyGradientTape {
    #[new]
    #[pyo3(signature = (persistent=false, watch_accessed_variables=true))]
    fn new(persistent: bool, watch_accessed_variables: bool) -> Self {
        PyGradientTape {
            tape: tape::new_tape(persistent, watch_accessed_variables),
        }
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        tape::push(&slf.tape);
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, PyTuple>) -> bool {
        tape::pop(&self.tape);
        false
    }

    /// Track `tensor` (a tensor or a list of tensors) so ops on it are recorded.
    fn watch(&self, tensor: &Bound<'_, PyAny>) -> PyResult<()> {
        for t in tensors(tensor)?.0 {
            tape::watch(&self.tape, &t);
        }
        Ok(())
    }

    /// Gradients of `target` with respect to `sources` (a tensor, or a list/tuple of them).
    #[pyo3(signature = (target, sources, output_gradients=None))]
    fn gradient<'py>(
        &self,
        py: Python<'py>,
        target: &Bound<'py, PyAny>,
        sources: &Bound<'py, PyAny>,
        output_gradients: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let target = target
            .cast::<PyTensor>()
            .map_err(|_| {
                PyValueError::new_err(
                    "GradientTape.gradient: target must be a tensor computed inside the tape",
                )
            })?
            .get()
            .get();
        let (srcs, is_list) = tensors(sources)?;
        let og = match output_gradients {
            Some(g) if !g.is_none() => Some(to_tensor(g, None)?),
            _ => None,
        };
        let grads = crate::error::guard("GradientTape.gradient", || {
            Ok(py.detach(|| {
                crate::interrupt::run(|| tape::gradient(&self.tape, &target, &srcs, og))
            })?)
        })?;
        let objs: Vec<Py<PyAny>> = grads
            .into_iter()
            .map(|g| match g {
                Some(t) => Ok(Py::new(py, PyTensor::new(t))?.into_any()),
                None => Ok(py.None()),
            })
            .collect::<PyResult<_>>()?;
        if is_list {
            Ok(PyList::new(py, objs)?.into_any())
        } else {
            Ok(objs.into_iter().next().unwrap().into_bound(py))
        }
    }
}

//! rskeras core: tensors, reverse-mode autodiff and CPU kernels, exposed to Python as
//! `rskeras._core`. Layout: `tensor/` (Tensor, dtypes, NumPy interop), `ops/` (op families with
//! their kernels and gradient rules), `autodiff/` (tape, GradientTape), `device/` (dispatch).

pub mod api;
pub mod autodiff;
pub mod device;
pub mod error;
pub mod interrupt;
pub mod ops;
pub mod scan;
pub mod tensor;
pub mod trace;

use pyo3::prelude::*;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    device::pool::threads_from_env()?;
    error::install_panic_hook();
    m.add_class::<tensor::pytensor::PyTensor>()?;
    m.add_class::<autodiff::gradient_tape::PyGradientTape>()?;
    m.add_function(wrap_pyfunction!(scan::find_all, m)?)?;
    trace::register(m)?;
    api::register(m)
}

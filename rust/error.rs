//! The core's error type, and the guard every extension entry point runs its body in. Every
//! fallible op returns `Result<T>`; the bindings turn an `Error` into the matching Python
//! exception, and [`guard`] turns a Rust panic into a RuntimeError, so no failure reaches
//! Python as a `PanicException` (a BaseException that `except Exception` does not catch).

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::exceptions::{
    PyIndexError, PyKeyboardInterrupt, PyMemoryError, PyNotImplementedError, PyRuntimeError,
    PyTypeError, PyValueError,
};
use pyo3::{PyErr, PyResult, Python};

#[derive(Debug, Clone)]
pub enum Error {
    Value(String),
    Type(String),
    Index(String),
    Runtime(String),
    /// An allocation the machine cannot make (MemoryError).
    Memory(String),
    /// A kernel stopped early because SIGINT arrived (see `crate::interrupt`).
    Interrupted,
    /// An op the device has no kernel for.
    NotImplemented(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        match e {
            Error::Value(m) => PyValueError::new_err(m),
            Error::Type(m) => PyTypeError::new_err(m),
            Error::Index(m) => PyIndexError::new_err(m),
            Error::Runtime(m) => PyRuntimeError::new_err(m),
            Error::Memory(m) => PyMemoryError::new_err(m),
            // Python's own handler decides what SIGINT means (KeyboardInterrupt by default).
            Error::Interrupted => Python::attach(|py| match py.check_signals() {
                Err(e) => e,
                Ok(()) => PyKeyboardInterrupt::new_err("interrupted"),
            }),
            Error::NotImplemented(m) => PyNotImplementedError::new_err(m),
        }
    }
}

/// `bail!(Value, "fmt", args)` returns early with that error kind.
#[macro_export]
macro_rules! bail {
    ($kind:ident, $($arg:tt)*) => {
        return Err($crate::error::Error::$kind(format!($($arg)*)))
    };
}

/// Run the body of the entry point `op`. A panic anywhere below (the calling thread or a pool
/// thread) becomes `RuntimeError("internal error in <op>: ...")`, a bug report rather than a
/// crash; a panic from a size computation that overflowed becomes a MemoryError. A conversion
/// error that does not name an op is prefixed with `op`.
pub fn guard<T>(op: &str, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(name_conversion_error(op, e)),
        Err(payload) => {
            if let Some(oom) = payload.downcast_ref::<crate::tensor::reuse::OutOfMemory>() {
                return Err(PyMemoryError::new_err(format!(
                    "{op}: the system refused an allocation of {} bytes",
                    oom.bytes
                )));
            }
            let msg = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("unknown panic");
            if msg.contains("capacity overflow") || msg.contains("overflow") {
                return Err(PyMemoryError::new_err(format!(
                    "{op}: a size computation overflowed ({msg}): the result would not fit in memory"
                )));
            }
            Err(PyRuntimeError::new_err(format!(
                "internal error in {op}: {msg} (a bug in rskeras; please report it with the call \
                 that caused it)"
            )))
        }
    }
}

/// Keep the panic message of an [`OutOfMemory`](crate::tensor::reuse::OutOfMemory) payload
/// off stderr (it becomes a MemoryError); every other panic is reported as before.
pub fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !info.payload().is::<crate::tensor::reuse::OutOfMemory>() {
            default(info)
        }
    }));
}

/// Errors from converting arguments (see `tensor::pytensor::to_tensor`) do not know the op.
fn name_conversion_error(op: &str, e: PyErr) -> PyErr {
    Python::attach(|py| {
        if e.is_instance_of::<PyTypeError>(py) {
            let msg = e.value(py).to_string();
            if msg.starts_with("cannot convert") {
                return PyTypeError::new_err(format!("{op}: {msg}"));
            }
        }
        e
    })
}

//! The core's error type. Every fallible op returns `Result<T>`; the bindings turn
//! an `Error` into the matching Python exception, so no failure reaches Python as a panic.

use pyo3::exceptions::{
    PyIndexError, PyNotImplementedError, PyRuntimeError, PyTypeError, PyValueError,
};
use pyo3::PyErr;

#[derive(Debug, Clone)]
pub enum Error {
    Value(String),
    Type(String),
    Index(String),
    Runtime(String),
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

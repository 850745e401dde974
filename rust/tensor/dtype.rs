//! Element types and the promotion rule for mixed-dtype binary ops.

use crate::error::{Error, Result};

/// The element types a tensor can hold. Order is the promotion lattice:
/// bool < int32 < int64 < float32 < float64 (a float always wins, as in keras.ops).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DType {
    Bool,
    Int32,
    Int64,
    Float32,
    Float64,
}

impl DType {
    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::Int32 => "int32",
            DType::Int64 => "int64",
            DType::Float32 => "float32",
            DType::Float64 => "float64",
        }
    }

    pub fn parse(name: &str) -> Result<DType> {
        Ok(match name {
            "bool" => DType::Bool,
            "int32" => DType::Int32,
            "int64" => DType::Int64,
            "float32" => DType::Float32,
            "float64" => DType::Float64,
            other => return Err(Error::Type(format!(
                "unsupported dtype '{other}': expected one of bool, int32, int64, float32, float64"
            ))),
        })
    }

    pub fn is_float(self) -> bool {
        matches!(self, DType::Float32 | DType::Float64)
    }

    /// The result dtype of a binary op on `a` and `b`.
    pub fn promote(a: DType, b: DType) -> DType {
        a.max(b)
    }
}

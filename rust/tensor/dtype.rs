//! Element types and the promotion rule for mixed-dtype operands.

use crate::error::{Error, Result};

/// The element types a tensor can hold. float16 and bfloat16 are storage types: ops compute
/// on them in float32 and store the result back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    Bool,
    UInt8,
    Int8,
    Int16,
    Int32,
    Int64,
    Float16,
    BFloat16,
    Float32,
    Float64,
}

impl DType {
    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::UInt8 => "uint8",
            DType::Int8 => "int8",
            DType::Int16 => "int16",
            DType::Int32 => "int32",
            DType::Int64 => "int64",
            DType::Float16 => "float16",
            DType::BFloat16 => "bfloat16",
            DType::Float32 => "float32",
            DType::Float64 => "float64",
        }
    }

    pub fn parse(name: &str) -> Result<DType> {
        Ok(match name {
            "bool" => DType::Bool,
            "uint8" => DType::UInt8,
            "int8" => DType::Int8,
            "int16" => DType::Int16,
            "int32" => DType::Int32,
            "int64" => DType::Int64,
            "float16" => DType::Float16,
            "bfloat16" => DType::BFloat16,
            "float32" => DType::Float32,
            "float64" => DType::Float64,
            other => {
                return Err(Error::Type(format!(
                    "unsupported dtype '{other}': expected one of bool, uint8, int8, int16, int32, \
                     int64, float16, bfloat16, float32, float64"
                )))
            }
        })
    }

    pub fn is_float(self) -> bool {
        matches!(
            self,
            DType::Float16 | DType::BFloat16 | DType::Float32 | DType::Float64
        )
    }

    /// float16 / bfloat16: stored in 16 bits, computed in float32.
    pub fn is_half(self) -> bool {
        matches!(self, DType::Float16 | DType::BFloat16)
    }

    pub fn is_int(self) -> bool {
        matches!(
            self,
            DType::UInt8 | DType::Int8 | DType::Int16 | DType::Int32 | DType::Int64
        )
    }

    /// Bytes per element in memory.
    pub fn itemsize(self) -> usize {
        (self.bits() as usize).div_ceil(8)
    }

    /// Bits of an integer or float type (bool: 1).
    fn bits(self) -> u32 {
        match self {
            DType::Bool => 1,
            DType::UInt8 | DType::Int8 => 8,
            DType::Int16 | DType::Float16 | DType::BFloat16 => 16,
            DType::Int32 | DType::Float32 => 32,
            DType::Int64 | DType::Float64 => 64,
        }
    }

    /// The result dtype of an op on `a` and `b`, following the keras.ops lattice: bool is the
    /// weakest; mixing signed and unsigned integers widens (uint8 + int8 -> int16); any float
    /// beats any integer (int64 + float16 -> float16); float16 + bfloat16 -> float32;
    /// otherwise the wider type wins.
    pub fn promote(a: DType, b: DType) -> DType {
        use DType::*;
        if a == b {
            return a;
        }
        match (a, b) {
            (Bool, x) | (x, Bool) => x,
            (Float16, BFloat16) | (BFloat16, Float16) => Float32,
            (x, y) if x.is_float() && y.is_float() => {
                if x.bits() >= y.bits() {
                    x
                } else {
                    y
                }
            }
            (x, _) if x.is_float() => x,
            (_, y) if y.is_float() => y,
            // two integers
            (UInt8, Int8) | (Int8, UInt8) => Int16,
            (UInt8, y) => y,
            (x, UInt8) => x,
            (x, y) => {
                if x.bits() >= y.bits() {
                    x
                } else {
                    y
                }
            }
        }
    }
}

//! Typed, contiguous, row-major element storage shared between tensors through `Arc`.

use super::dtype::DType;

#[derive(Clone, Debug)]
pub enum Buffer {
    Bool(Vec<bool>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl Drop for Buffer {
    fn drop(&mut self) {
        if let Buffer::F32(v) = self {
            super::reuse::give_f32(std::mem::take(v));
        }
    }
}

impl Buffer {
    pub fn dtype(&self) -> DType {
        match self {
            Buffer::Bool(_) => DType::Bool,
            Buffer::I32(_) => DType::Int32,
            Buffer::I64(_) => DType::Int64,
            Buffer::F32(_) => DType::Float32,
            Buffer::F64(_) => DType::Float64,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn len(&self) -> usize {
        match self {
            Buffer::Bool(v) => v.len(),
            Buffer::I32(v) => v.len(),
            Buffer::I64(v) => v.len(),
            Buffer::F32(v) => v.len(),
            Buffer::F64(v) => v.len(),
        }
    }

    pub fn zeros(dtype: DType, n: usize) -> Buffer {
        match dtype {
            DType::Bool => Buffer::Bool(vec![false; n]),
            DType::Int32 => Buffer::I32(vec![0; n]),
            DType::Int64 => Buffer::I64(vec![0; n]),
            DType::Float32 => Buffer::F32(vec![0.0; n]),
            DType::Float64 => Buffer::F64(vec![0.0; n]),
        }
    }

    /// Every element converted to f64 (for scalars and small host-side reads).
    pub fn get_f64(&self, i: usize) -> f64 {
        match self {
            Buffer::Bool(v) => v[i] as u8 as f64,
            Buffer::I32(v) => v[i] as f64,
            Buffer::I64(v) => v[i] as f64,
            Buffer::F32(v) => v[i] as f64,
            Buffer::F64(v) => v[i],
        }
    }

    /// Element-wise conversion to `dtype` (NumPy `astype` semantics: floats truncate toward zero,
    /// anything non-zero is `true`).
    pub fn cast(&self, dtype: DType) -> Buffer {
        macro_rules! conv {
            ($v:expr, $t:ty) => {
                match dtype {
                    DType::Bool => Buffer::Bool($v.iter().map(|&x| x as f64 != 0.0).collect()),
                    DType::Int32 => Buffer::I32($v.iter().map(|&x| x as $t as i32).collect()),
                    DType::Int64 => Buffer::I64($v.iter().map(|&x| x as $t as i64).collect()),
                    DType::Float32 => Buffer::F32($v.iter().map(|&x| x as $t as f32).collect()),
                    DType::Float64 => Buffer::F64($v.iter().map(|&x| x as $t as f64).collect()),
                }
            };
        }
        match self {
            Buffer::Bool(v) => {
                let u: Vec<u8> = v.iter().map(|&b| b as u8).collect();
                conv!(u, u8)
            }
            Buffer::I32(v) => conv!(v, i32),
            Buffer::I64(v) => conv!(v, i64),
            Buffer::F32(v) => conv!(v, f32),
            Buffer::F64(v) => conv!(v, f64),
        }
    }
}

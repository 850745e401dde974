//! Typed, contiguous, row-major element storage shared between tensors through `Arc`.

use half::{bf16, f16};

use super::dtype::DType;
use super::reuse::{collect_exact, zeros};

#[derive(Clone, Debug)]
pub enum Buffer {
    Bool(Vec<bool>),
    U8(Vec<u8>),
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F16(Vec<f16>),
    BF16(Vec<bf16>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

/// Apply `$body` to the vector inside any buffer variant (read-only).
macro_rules! with_vec {
    ($buf:expr, |$v:ident| $body:expr) => {
        match $buf {
            Buffer::Bool($v) => $body,
            Buffer::U8($v) => $body,
            Buffer::I8($v) => $body,
            Buffer::I16($v) => $body,
            Buffer::I32($v) => $body,
            Buffer::I64($v) => $body,
            Buffer::F16($v) => $body,
            Buffer::BF16($v) => $body,
            Buffer::F32($v) => $body,
            Buffer::F64($v) => $body,
        }
    };
}

impl Drop for Buffer {
    fn drop(&mut self) {
        if let Buffer::F32(v) = self {
            super::reuse::give_f32(std::mem::take(v));
        }
    }
}

/// Conversion of one element to every storage type, with NumPy's `astype` results on x86-64:
/// non-zero is `true`, integers wrap, floats truncate toward zero, and a float that is NaN or
/// outside the target's range becomes the smallest value of int32 (for int32 and narrower,
/// which then wrap: int8 and uint8 get 0) or of int64 (NumPy documents these casts as
/// undefined; this is what it returns on x86-64, where they compile to `cvttss2si`).
trait Elem: Copy {
    fn to_f64(self) -> f64;
    fn to_i64(self) -> i64;
    /// The value as NumPy casts it to int32 and narrower (before wrapping to 8 or 16 bits).
    fn to_i32(self) -> i32 {
        self.to_i64() as i32
    }
}
macro_rules! int_elem {
    ($($t:ty),*) => { $(impl Elem for $t {
        fn to_f64(self) -> f64 { self as f64 }
        fn to_i64(self) -> i64 { self as i64 }
    })* };
}
int_elem!(u8, i8, i16, i32, i64);

/// `x` truncated toward zero when it lies in `[-2**(bits-1), 2**(bits-1))`, else the
/// "integer indefinite" value x86 gives (the most negative of that width).
fn float_to_int(x: f64, bits: u32) -> i64 {
    let bound = (1u64 << (bits - 1)) as f64;
    if x.is_nan() || x >= bound || x < -bound {
        if bits == 64 {
            i64::MIN
        } else {
            -(1i64 << (bits - 1))
        }
    } else {
        x as i64
    }
}
macro_rules! float_elem {
    ($t:ty, $to_f64:expr) => {
        impl Elem for $t {
            fn to_f64(self) -> f64 {
                $to_f64(self)
            }
            fn to_i64(self) -> i64 {
                float_to_int(self.to_f64(), 64)
            }
            fn to_i32(self) -> i32 {
                float_to_int(self.to_f64(), 32) as i32
            }
        }
    };
}
float_elem!(f32, |x: f32| x as f64);
float_elem!(f64, |x: f64| x);
float_elem!(f16, f16::to_f64);
float_elem!(bf16, bf16::to_f64);
impl Elem for bool {
    fn to_f64(self) -> f64 {
        self as u8 as f64
    }
    fn to_i64(self) -> i64 {
        self as i64
    }
}

fn convert<T: Elem>(v: &[T], dtype: DType) -> Buffer {
    match dtype {
        DType::Bool => Buffer::Bool(collect_exact(v.iter().map(|&x| x.to_f64() != 0.0))),
        DType::UInt8 => Buffer::U8(collect_exact(v.iter().map(|&x| x.to_i32() as u8))),
        DType::Int8 => Buffer::I8(collect_exact(v.iter().map(|&x| x.to_i32() as i8))),
        DType::Int16 => Buffer::I16(collect_exact(v.iter().map(|&x| x.to_i32() as i16))),
        DType::Int32 => Buffer::I32(collect_exact(v.iter().map(|&x| x.to_i32()))),
        DType::Int64 => Buffer::I64(collect_exact(v.iter().map(|&x| x.to_i64()))),
        DType::Float16 => Buffer::F16(collect_exact(v.iter().map(|&x| f16::from_f64(x.to_f64())))),
        DType::BFloat16 => {
            Buffer::BF16(collect_exact(v.iter().map(|&x| bf16::from_f64(x.to_f64()))))
        }
        DType::Float32 => Buffer::F32(collect_exact(v.iter().map(|&x| x.to_f64() as f32))),
        DType::Float64 => Buffer::F64(collect_exact(v.iter().map(|&x| x.to_f64()))),
    }
}

impl Buffer {
    pub fn dtype(&self) -> DType {
        match self {
            Buffer::Bool(_) => DType::Bool,
            Buffer::U8(_) => DType::UInt8,
            Buffer::I8(_) => DType::Int8,
            Buffer::I16(_) => DType::Int16,
            Buffer::I32(_) => DType::Int32,
            Buffer::I64(_) => DType::Int64,
            Buffer::F16(_) => DType::Float16,
            Buffer::BF16(_) => DType::BFloat16,
            Buffer::F32(_) => DType::Float32,
            Buffer::F64(_) => DType::Float64,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn len(&self) -> usize {
        with_vec!(self, |v| v.len())
    }

    /// Address of the first element (identity checks in tests).
    pub fn address(&self) -> usize {
        with_vec!(self, |v| v.as_ptr() as usize)
    }

    pub fn zeros(dtype: DType, n: usize) -> Buffer {
        match dtype {
            DType::Float32 => Buffer::F32(zeros(n)),
            DType::Float64 => Buffer::F64(zeros(n)),
            DType::Int32 => Buffer::I32(zeros(n)),
            DType::Int64 => Buffer::I64(zeros(n)),
            DType::Bool => Buffer::Bool(zeros(n)),
            _ => convert::<u8>(&zeros(n), dtype),
        }
    }

    /// One element as f64 (for scalars and small host-side reads).
    pub fn get_f64(&self, i: usize) -> f64 {
        with_vec!(self, |v| v[i].to_f64())
    }

    /// Element-wise conversion to `dtype`.
    pub fn cast(&self, dtype: DType) -> Buffer {
        with_vec!(self, |v| convert(v, dtype))
    }
}

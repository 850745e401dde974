//! Element-wise ops: unary math, binary arithmetic and comparisons with NumPy broadcasting,
//! `where`, `clip` and `cast`, with their gradient rules and CPU kernels.

use std::sync::Arc;

use crate::autodiff::record;
use crate::device::{self, pool};
use crate::error::{Error, Result};
use crate::ops::{shape::sum_to, Op};
use num_traits::Float;

use crate::tensor::{broadcast_shapes, broadcast_strides, numel, reuse, Buffer, DType, Tensor};

/// Declares an op-kind enum (`UnaryOp`, `BinaryOp`) with each op's keras.ops name, in one
/// table: the enum, `ALL`, `name` and `from_name`.
macro_rules! named_ops {
    ($kind:ident { $($variant:ident => $name:literal),* $(,)? }) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $kind { $($variant),* }

        impl $kind {
            /// Every op of the kind, in table order.
            pub const ALL: &'static [$kind] = &[$($kind::$variant),*];

            pub fn name(self) -> &'static str {
                match self { $($kind::$variant => $name),* }
            }

            pub fn from_name(name: &str) -> Option<$kind> {
                match name { $($name => Some($kind::$variant),)* _ => None }
            }
        }
    };
}

named_ops! {
    UnaryOp {
        Neg => "negative", Abs => "abs", Sign => "sign", Square => "square", Sqrt => "sqrt",
        Rsqrt => "rsqrt", Reciprocal => "reciprocal", Exp => "exp", Expm1 => "expm1", Log => "log",
        Log1p => "log1p", Log2 => "log2", Log10 => "log10", Sin => "sin", Cos => "cos",
        Tan => "tan", Arcsin => "arcsin", Arccos => "arccos", Arctan => "arctan", Sinh => "sinh",
        Cosh => "cosh", Tanh => "tanh", Arcsinh => "arcsinh", Arccosh => "arccosh",
        Arctanh => "arctanh", Floor => "floor", Ceil => "ceil", Round => "round", Erf => "erf",
        Relu => "relu", Sigmoid => "sigmoid", Softplus => "softplus", IsNan => "isnan",
        IsInf => "isinf", IsFinite => "isfinite", LogicalNot => "logical_not",
    }
}

impl UnaryOp {
    /// Ops that keep integer dtypes; the others compute in float32 (as keras.ops does).
    fn keeps_int(self) -> bool {
        matches!(
            self,
            UnaryOp::Neg | UnaryOp::Abs | UnaryOp::Sign | UnaryOp::Square
        )
    }

    /// Ops returning bool: where each element is NaN / infinite / finite.
    fn is_predicate(self) -> bool {
        matches!(self, UnaryOp::IsNan | UnaryOp::IsInf | UnaryOp::IsFinite)
    }

    /// Ops that are the identity on integers (rounding).
    fn is_rounding(self) -> bool {
        matches!(self, UnaryOp::Floor | UnaryOp::Ceil | UnaryOp::Round)
    }
}

named_ops! {
    BinaryOp {
        Add => "add", Sub => "subtract", Mul => "multiply", Div => "divide",
        FloorDivide => "floor_divide", Mod => "mod", Power => "power", Arctan2 => "arctan2",
        DivideNoNan => "divide_no_nan", Maximum => "maximum", Minimum => "minimum",
        Equal => "equal", NotEqual => "not_equal", Less => "less", LessEqual => "less_equal",
        Greater => "greater", GreaterEqual => "greater_equal", LogicalAnd => "logical_and",
        LogicalOr => "logical_or",
        // `g` where `x > 0`, else 0: the gradient of relu, as one pass (internal).
        ReluGrad => "relu_grad",
    }
}

impl BinaryOp {
    fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Equal
                | BinaryOp::NotEqual
                | BinaryOp::Less
                | BinaryOp::LessEqual
                | BinaryOp::Greater
                | BinaryOp::GreaterEqual
        )
    }

    fn is_logical(self) -> bool {
        matches!(self, BinaryOp::LogicalAnd | BinaryOp::LogicalOr)
    }
}

// ---------------------------------------------------------------------------------------------
// Public ops

pub fn cast(x: &Tensor, dtype: DType) -> Result<Tensor> {
    if x.dtype() == dtype {
        return Ok(x.clone());
    }
    let out = device::execute(&Op::Cast(dtype), &[x])?;
    if dtype.is_float() && x.dtype().is_float() {
        record(&[x], &out, || {
            Arc::new(|g: &Tensor, _needs: &[bool]| Ok(vec![Some(g.clone())]))
        });
    }
    Ok(out)
}

pub fn unary(op: UnaryOp, x: &Tensor) -> Result<Tensor> {
    if !x.dtype().is_float() && op != UnaryOp::LogicalNot {
        if op.is_predicate() {
            // Integers are never NaN or infinite.
            let v = op == UnaryOp::IsFinite;
            return Ok(Tensor::new(
                x.shape.clone(),
                Buffer::Bool(vec![v; x.numel()]),
            ));
        }
        if op.is_rounding() && x.dtype() != DType::Bool {
            return Ok(x.clone());
        }
    }
    let x = &match op {
        UnaryOp::LogicalNot => cast(x, DType::Bool)?,
        _ if x.dtype() == DType::Bool || (!x.dtype().is_float() && !op.keeps_int()) => {
            cast(x, DType::Float32)?
        }
        _ => x.clone(),
    };
    let out = device::execute(&Op::Unary(op), &[x])?;
    if out.dtype().is_float() {
        let (xc, oc) = (x.clone(), out.clone());
        record(&[x], &out, move || {
            Arc::new(move |g: &Tensor, _needs: &[bool]| Ok(vec![unary_grad(op, &xc, &oc, g)?]))
        });
    }
    Ok(out)
}

fn scalar(v: f64) -> Tensor {
    Tensor::weak_scalar(v)
}

fn div(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(BinaryOp::Div, a, b)
}

/// d(op(x))/dx times `g`, written with ops so it can be differentiated again.
fn unary_grad(op: UnaryOp, x: &Tensor, out: &Tensor, g: &Tensor) -> Result<Option<Tensor>> {
    use UnaryOp::*;
    let u = |o, t: &Tensor| unary(o, t);
    let one = scalar(1.0);
    Ok(Some(match op {
        Neg => neg(g)?,
        Abs => mul(g, &u(Sign, x)?)?,
        Sign | LogicalNot | IsNan | IsInf | IsFinite => return Ok(None),
        // Piecewise constant: the gradient is zero almost everywhere.
        Floor | Ceil | Round => mul(g, &scalar(0.0))?,
        Square => mul(g, &mul(x, &scalar(2.0))?)?,
        Sqrt => div(&mul(g, &scalar(0.5))?, out)?,
        Rsqrt => mul(g, &mul(&scalar(-0.5), &mul(out, &mul(out, out)?)?)?)?,
        Reciprocal => neg(&mul(g, &mul(out, out)?)?)?,
        Exp => mul(g, out)?,
        Expm1 => mul(g, &add(out, &one)?)?,
        Log => div(g, x)?,
        Log1p => div(g, &add(x, &one)?)?,
        Log2 => div(g, &mul(x, &scalar(std::f64::consts::LN_2))?)?,
        Log10 => div(g, &mul(x, &scalar(std::f64::consts::LN_10))?)?,
        Sin => mul(g, &u(Cos, x)?)?,
        Cos => neg(&mul(g, &u(Sin, x)?)?)?,
        Tan => mul(g, &add(&one, &mul(out, out)?)?)?,
        Arcsin => div(g, &u(Sqrt, &sub(&one, &mul(x, x)?)?)?)?,
        Arccos => neg(&div(g, &u(Sqrt, &sub(&one, &mul(x, x)?)?)?)?)?,
        Arctan => div(g, &add(&one, &mul(x, x)?)?)?,
        Sinh => mul(g, &u(Cosh, x)?)?,
        Cosh => mul(g, &u(Sinh, x)?)?,
        Tanh => mul(g, &sub(&one, &mul(out, out)?)?)?,
        Arcsinh => div(g, &u(Sqrt, &add(&mul(x, x)?, &one)?)?)?,
        Arccosh => div(g, &u(Sqrt, &sub(&mul(x, x)?, &one)?)?)?,
        Arctanh => div(g, &sub(&one, &mul(x, x)?)?)?,
        // d erf = 2 / sqrt(pi) * exp(-x^2)
        Erf => mul(
            g,
            &mul(
                &scalar(std::f64::consts::FRAC_2_SQRT_PI),
                &u(Exp, &neg(&mul(x, x)?)?)?,
            )?,
        )?,
        Relu => binary(BinaryOp::ReluGrad, x, g)?,
        Sigmoid => mul(g, &mul(out, &sub(&one, out)?)?)?,
        Softplus => mul(g, &u(Sigmoid, x)?)?,
    }))
}

pub fn neg(x: &Tensor) -> Result<Tensor> {
    unary(UnaryOp::Neg, x)
}
pub fn add(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(BinaryOp::Add, a, b)
}
pub fn sub(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(BinaryOp::Sub, a, b)
}
pub fn mul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(BinaryOp::Mul, a, b)
}

/// The dtype both operands are converted to before `op` runs.
fn operand_dtype(op: BinaryOp, a: DType, b: DType) -> DType {
    if op.is_logical() {
        DType::Bool
    } else if matches!(
        op,
        BinaryOp::Div | BinaryOp::ReluGrad | BinaryOp::Arctan2 | BinaryOp::DivideNoNan
    ) {
        // true division is float: integer operands divide in float32, floats keep their dtype
        match DType::promote(a, b) {
            d if d.is_float() => d,
            _ => DType::Float32,
        }
    } else {
        let d = DType::promote(a, b);
        // bool arithmetic is done in int32 (True + True == 2), as NumPy-like backends do
        if d == DType::Bool
            && !op.is_comparison()
            && !matches!(op, BinaryOp::Maximum | BinaryOp::Minimum)
        {
            DType::Int32
        } else {
            d
        }
    }
}

/// The dtype a weak constant contributes: that of the float operand it meets.
fn effective_dtype(x: &Tensor, other: &Tensor) -> DType {
    match (x.weak, other.dtype().is_float()) {
        (true, true) => other.dtype(),
        (true, false) => DType::Float32,
        _ => x.dtype(),
    }
}

pub fn binary(op: BinaryOp, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let dt = operand_dtype(op, effective_dtype(a, b), effective_dtype(b, a));
    let (a, b) = (&cast(a, dt)?, &cast(b, dt)?);
    let out = device::execute(&Op::Binary(op), &[a, b])?;
    if out.dtype().is_float() && dt.is_float() {
        let (ac, bc, oc) = (a.clone(), b.clone(), out.clone());
        record(&[a, b], &out, move || {
            Arc::new(move |g: &Tensor, _needs: &[bool]| binary_grad(op, &ac, &bc, &oc, g))
        });
    }
    Ok(out)
}

fn binary_grad(
    op: BinaryOp,
    a: &Tensor,
    b: &Tensor,
    out: &Tensor,
    g: &Tensor,
) -> Result<Vec<Option<Tensor>>> {
    let (sa, sb) = (&a.shape, &b.shape);
    Ok(match op {
        BinaryOp::Add => vec![Some(sum_to(g, sa)?), Some(sum_to(g, sb)?)],
        BinaryOp::Sub => vec![Some(sum_to(g, sa)?), Some(sum_to(&neg(g)?, sb)?)],
        BinaryOp::Mul => vec![
            Some(sum_to(&mul(g, b)?, sa)?),
            Some(sum_to(&mul(g, a)?, sb)?),
        ],
        BinaryOp::Div => {
            let ga = binary(BinaryOp::Div, g, b)?;
            let gb = neg(&mul(&ga, out)?)?; // -g * a / b^2 == -(g / b) * out
            vec![Some(sum_to(&ga, sa)?), Some(sum_to(&gb, sb)?)]
        }
        BinaryOp::Maximum | BinaryOp::Minimum => {
            // Ties send the whole gradient to the first operand.
            let cmp = if op == BinaryOp::Maximum {
                BinaryOp::GreaterEqual
            } else {
                BinaryOp::LessEqual
            };
            let pick_a = binary(cmp, a, b)?;
            let zero = Tensor::scalar_f32(0.0);
            vec![
                Some(sum_to(&where_(&pick_a, g, &zero)?, sa)?),
                Some(sum_to(&where_(&pick_a, &zero, g)?, sb)?),
            ]
        }
        BinaryOp::Power => {
            // d/da = b a^(b-1); d/db = a^b log(a), taken as 0 where a <= 0.
            let one = scalar(1.0);
            // b a^(b-1), taken as 0 where b == 0 (a^0 is constant, even at a = 0)
            let slope = mul(b, &binary(BinaryOp::Power, a, &sub(b, &one)?)?)?;
            let b_zero = binary(BinaryOp::Equal, b, &scalar(0.0))?;
            let ga = mul(g, &where_(&b_zero, &scalar(0.0), &slope)?)?;
            let positive = binary(BinaryOp::Greater, a, &scalar(0.0))?;
            let safe_a = where_(&positive, a, &one)?;
            let log_a = where_(&positive, &unary(UnaryOp::Log, &safe_a)?, &scalar(0.0))?;
            let gb = mul(g, &mul(out, &log_a)?)?;
            vec![Some(sum_to(&ga, sa)?), Some(sum_to(&gb, sb)?)]
        }
        BinaryOp::Mod => {
            // a mod b = a - floor(a / b) b
            let q = unary(UnaryOp::Floor, &div(a, b)?)?;
            vec![Some(sum_to(g, sa)?), Some(sum_to(&neg(&mul(g, &q)?)?, sb)?)]
        }
        BinaryOp::FloorDivide => {
            let zero = mul(g, &scalar(0.0))?;
            vec![Some(sum_to(&zero, sa)?), Some(sum_to(&zero, sb)?)]
        }
        BinaryOp::Arctan2 => {
            // atan2(y, x): dy = x / (x^2 + y^2), dx = -y / (x^2 + y^2)
            let r2 = add(&mul(a, a)?, &mul(b, b)?)?;
            vec![
                Some(sum_to(&mul(g, &div(b, &r2)?)?, sa)?),
                Some(sum_to(&neg(&mul(g, &div(a, &r2)?)?)?, sb)?),
            ]
        }
        BinaryOp::DivideNoNan => {
            let zero_b = binary(BinaryOp::Equal, b, &scalar(0.0))?;
            let safe_b = where_(&zero_b, &scalar(1.0), b)?;
            let ga = where_(&zero_b, &scalar(0.0), &div(g, &safe_b)?)?;
            let gb = where_(
                &zero_b,
                &scalar(0.0),
                &neg(&div(&mul(g, a)?, &mul(&safe_b, &safe_b)?)?)?,
            )?;
            vec![Some(sum_to(&ga, sa)?), Some(sum_to(&gb, sb)?)]
        }
        // relu_grad(x, g) is linear in g and flat in x.
        BinaryOp::ReluGrad => vec![None, Some(sum_to(&binary(BinaryOp::ReluGrad, a, g)?, sb)?)],
        _ => vec![None, None],
    })
}

/// `x` where `condition` is true, else `y`, broadcasting all three (NumPy `where`).
pub fn where_(condition: &Tensor, x: &Tensor, y: &Tensor) -> Result<Tensor> {
    let c = &cast(condition, DType::Bool)?;
    let dt = DType::promote(effective_dtype(x, y), effective_dtype(y, x));
    let (x, y) = (&cast(x, dt)?, &cast(y, dt)?);
    let out = device::execute(&Op::Where, &[c, x, y])?;
    if dt.is_float() {
        let (cc, sx, sy) = (c.clone(), x.shape.clone(), y.shape.clone());
        record(&[c, x, y], &out, move || {
            Arc::new(move |g: &Tensor, _needs: &[bool]| {
                let zero = Tensor::scalar_f32(0.0);
                Ok(vec![
                    None,
                    Some(sum_to(&where_(&cc, g, &zero)?, &sx)?),
                    Some(sum_to(&where_(&cc, &zero, g)?, &sy)?),
                ])
            })
        });
    }
    Ok(out)
}

/// Values limited to `[min, max]`; the gradient passes where `min <= x <= max`.
pub fn clip(x: &Tensor, min: f64, max: f64) -> Result<Tensor> {
    let x = &if x.dtype().is_float() {
        x.clone()
    } else {
        cast(x, DType::Float32)?
    };
    let out = device::execute(&Op::Clip { min, max }, &[x])?;
    let xc = x.clone();
    record(&[x], &out, move || {
        Arc::new(move |g: &Tensor, _needs: &[bool]| {
            let inside = binary(
                BinaryOp::LogicalAnd,
                &binary(BinaryOp::GreaterEqual, &xc, &Tensor::weak_scalar(min))?,
                &binary(BinaryOp::LessEqual, &xc, &Tensor::weak_scalar(max))?,
            )?;
            Ok(vec![Some(where_(&inside, g, &Tensor::scalar_f32(0.0))?)])
        })
    });
    Ok(out)
}

/// A tensor shaped like `x`, every element `value`: of `x`'s dtype when that is a float,
/// else float32 (no gradient).
pub fn fill_like(x: &Tensor, value: f32) -> Result<Tensor> {
    let mut t = Tensor::full_f32(&x.shape, value);
    if x.dtype().is_float() && x.dtype() != DType::Float32 {
        t = Tensor::new(t.shape.clone(), t.data.cast(x.dtype()));
    }
    crate::device::gpu::to_device(&t, x.device)
}

// ---------------------------------------------------------------------------------------------
// CPU kernels

fn map_unary<
    T: Copy + Send + Sync,
    U: crate::tensor::reuse::ZeroBits + Default + Send + 'static,
>(
    x: &[T],
    f: impl Fn(T) -> U + Sync + Send,
) -> Vec<U> {
    let mut out = reuse::take::<U>(x.len());
    pool::fill_chunks(&mut out, |start, c| {
        let n = c.len();
        pool::simd(
            #[inline(always)]
            || {
                for (o, &v) in c.iter_mut().zip(&x[start..start + n]) {
                    *o = f(v);
                }
            },
        )
    });
    out
}

pub(crate) fn cpu_cast(x: &Tensor, dtype: DType) -> Result<Tensor> {
    Ok(Tensor::new(x.shape.clone(), x.data.cast(dtype)))
}

/// Element types the float kernels are written for (f32 and f64).
pub(crate) trait FloatElem:
    Float + Default + Send + Sync + crate::tensor::reuse::ZeroBits + 'static
{
    /// `v[i] = exp(v[i])` for a whole slice (vectorised for f32).
    fn exp_in_place(v: &mut [Self]) {
        v.iter_mut().for_each(|x| *x = x.exp());
    }
}
impl FloatElem for f32 {
    fn exp_in_place(v: &mut [f32]) {
        exp_f32_in_place(v);
    }
}
impl FloatElem for f64 {}

fn float_predicate<T: FloatElem>(op: UnaryOp, v: &[T]) -> Vec<bool> {
    match op {
        UnaryOp::IsNan => map_unary(v, T::is_nan),
        UnaryOp::IsInf => map_unary(v, T::is_infinite),
        _ => map_unary(v, T::is_finite),
    }
}

fn float_unary<T: FloatElem>(op: UnaryOp, v: &[T]) -> Vec<T> {
    let (zero, one) = (T::zero(), T::one());
    match op {
        UnaryOp::Neg => map_unary(v, |a| -a),
        UnaryOp::Abs => map_unary(v, T::abs),
        UnaryOp::Sign => map_unary(v, |a| {
            if a > zero {
                one
            } else if a < zero {
                -one
            } else {
                a
            }
        }),
        UnaryOp::Square => map_unary(v, |a| a * a),
        UnaryOp::Sqrt => map_unary(v, T::sqrt),
        UnaryOp::Rsqrt => map_unary(v, |a| one / a.sqrt()),
        UnaryOp::Reciprocal => map_unary(v, |a| one / a),
        UnaryOp::Exp => map_unary(v, T::exp),
        UnaryOp::Expm1 => map_unary(v, T::exp_m1),
        UnaryOp::Log => map_unary(v, T::ln),
        UnaryOp::Log1p => map_unary(v, T::ln_1p),
        UnaryOp::Log2 => map_unary(v, T::log2),
        UnaryOp::Log10 => map_unary(v, T::log10),
        UnaryOp::Sin => map_unary(v, T::sin),
        UnaryOp::Cos => map_unary(v, T::cos),
        UnaryOp::Tan => map_unary(v, T::tan),
        UnaryOp::Arcsin => map_unary(v, T::asin),
        UnaryOp::Arccos => map_unary(v, T::acos),
        UnaryOp::Arctan => map_unary(v, T::atan),
        UnaryOp::Sinh => map_unary(v, T::sinh),
        UnaryOp::Cosh => map_unary(v, T::cosh),
        UnaryOp::Tanh => map_unary(v, T::tanh),
        UnaryOp::Arcsinh => map_unary(v, asinh),
        UnaryOp::Arccosh => map_unary(v, acosh),
        UnaryOp::Arctanh => map_unary(v, atanh),
        UnaryOp::Floor => map_unary(v, T::floor),
        UnaryOp::Ceil => map_unary(v, T::ceil),
        UnaryOp::Round => map_unary(v, round_half_even),
        UnaryOp::Erf => map_unary(v, |a| {
            T::from(erf_f64(a.to_f64().unwrap_or(f64::NAN))).unwrap_or(a)
        }),
        // NaN propagates, as in NumPy's maximum(x, 0).
        UnaryOp::Relu => map_unary(v, |a| if a > zero || a.is_nan() { a } else { zero }),
        UnaryOp::Sigmoid => map_unary(v, sigmoid),
        // max(x, 0) + log1p(exp(-|x|)): never overflows.
        UnaryOp::Softplus => map_unary(v, |a| a.max(zero) + (-a.abs()).exp().ln_1p()),
        UnaryOp::LogicalNot | UnaryOp::IsNan | UnaryOp::IsInf | UnaryOp::IsFinite => {
            unreachable!("handled before the float kernels")
        }
    }
}

/// e^x for float32 slices in a loop LLVM vectorises (the libm `expf` call does not):
/// Cody-Waite reduction x = n ln2 + r, Cephes' degree-6 polynomial for e^r (relative error
/// about 1.2e-7, close to libm), 2^n from the exponent bits. Inputs outside [-87, 88] (near
/// underflow or overflow, and NaN) are recomputed with libm in a second pass.
fn exp_f32(x: &[f32]) -> Vec<f32> {
    let mut out = reuse::take_f32(x.len());
    pool::fill_chunks(&mut out, |start, c| {
        let src = &x[start..start + c.len()];
        pool::simd(
            #[inline(always)]
            || {
                for (o, &v) in c.iter_mut().zip(src) {
                    *o = exp_fast(v);
                }
            },
        );
        for (o, &v) in c.iter_mut().zip(src) {
            if !(-87.0..=88.0).contains(&v) {
                *o = v.exp();
            }
        }
    });
    out
}

/// [`exp_f32`] in place, for kernels that already own the values (softmax).
pub(crate) fn exp_f32_in_place(v: &mut [f32]) {
    // Remember the inputs the fast path does not cover before overwriting them.
    let edges: Vec<(usize, f32)> = v
        .iter()
        .enumerate()
        .filter(|(_, x)| !(-87.0..=88.0).contains(*x))
        .map(|(i, &x)| (i, x))
        .collect();
    pool::simd(
        #[inline(always)]
        || {
            for o in v.iter_mut() {
                *o = exp_fast(*o);
            }
        },
    );
    for (i, x) in edges {
        v[i] = x.exp();
    }
}

/// The vectorisable body of [`exp_f32`], valid (about 1 ulp) for inputs in [-87, 88].
#[inline(always)]
fn exp_fast(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const C1: f32 = 0.693_359_4;
    const C2: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.0, 88.0);
    let v = x * LOG2E + 0.5;
    // SAFETY: |v| < 128 after the clamp, so the conversion is exact and in range.
    let t: i32 = unsafe { v.to_int_unchecked() };
    let n = t - ((t as f32 > v) as i32); // floor without a libm call
    let nf = n as f32;
    let r = x - nf * C1 - nf * C2;
    let z = r * r;
    let p = (((((1.987_569_2e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2)
        * r
        + 1.666_666_5e-1)
        * r
        + 0.5)
        * z
        + r
        + 1.0;
    p * f32::from_bits(((n + 127) as u32) << 23)
}

/// asinh without overflow for huge |x| and without cancellation near 0.
fn asinh<T: FloatElem>(x: T) -> T {
    let a = x.abs();
    let one = T::one();
    let r = if a > T::from(1e15).unwrap_or(a) {
        a.ln() + T::from(std::f64::consts::LN_2).unwrap_or(one)
    } else {
        // log1p(a + a^2 / (1 + sqrt(1 + a^2)))
        (a + a * a / (one + (one + a * a).sqrt())).ln_1p()
    };
    r.copysign(x)
}

/// acosh accurate near 1 and without overflow for huge x.
fn acosh<T: FloatElem>(x: T) -> T {
    let one = T::one();
    if x < one {
        return T::nan();
    }
    if x > T::from(1e15).unwrap_or(x) {
        return x.ln() + T::from(std::f64::consts::LN_2).unwrap_or(one);
    }
    let t = x - one;
    // log1p(t + sqrt(t * (t + 2)))
    (t + (t * (t + one + one)).sqrt()).ln_1p()
}

/// atanh as 0.5 * log1p(2x / (1 - x)), odd by construction.
fn atanh<T: FloatElem>(x: T) -> T {
    let a = x.abs();
    let half = T::from(0.5).unwrap_or(a);
    (half * ((a + a) / (T::one() - a)).ln_1p()).copysign(x)
}

/// NumPy's float floor division: from the exact remainder, so `(a // b) * b + a % b == a`.
fn floor_divide<T: FloatElem>(a: T, b: T) -> T {
    let zero = T::zero();
    if b == zero {
        return a / b;
    }
    let m = a % b;
    let mut div = (a - m) / b;
    if m != zero && ((b < zero) != (m < zero)) {
        div = div - T::one();
    }
    if div == zero {
        return zero.copysign(a / b);
    }
    let f = div.floor();
    if div - f > T::from(0.5).unwrap_or(zero) {
        f + T::one()
    } else {
        f
    }
}

/// Round half to even, as NumPy does.
fn round_half_even<T: FloatElem>(a: T) -> T {
    let r = a.round();
    let two = T::one() + T::one();
    if (a - a.trunc()).abs() == T::one() / two {
        two * (a / two).round()
    } else {
        r
    }
}

pub(crate) fn cpu_unary(op: UnaryOp, x: &Tensor) -> Result<Tensor> {
    let shape = x.shape.clone();
    macro_rules! int_unary {
        ($v:expr, $variant:ident) => {
            Buffer::$variant(match op {
                UnaryOp::Neg => map_unary($v, |a| a.wrapping_neg()),
                UnaryOp::Abs => map_unary($v, |a| a.wrapping_abs()),
                UnaryOp::Sign => map_unary($v, |a| a.signum()),
                UnaryOp::Square => map_unary($v, |a| a.wrapping_mul(a)),
                _ => unreachable!("float-only ops are cast to float32 first"),
            })
        };
    }
    let data = match &*x.data {
        Buffer::F32(v) if op.is_predicate() => Buffer::Bool(float_predicate(op, v)),
        Buffer::F64(v) if op.is_predicate() => Buffer::Bool(float_predicate(op, v)),
        Buffer::F32(v) if op == UnaryOp::Exp => Buffer::F32(exp_f32(v)),
        Buffer::F32(v) => Buffer::F32(float_unary(op, v)),
        Buffer::F64(v) => Buffer::F64(float_unary(op, v)),
        Buffer::I32(v) => int_unary!(v, I32),
        Buffer::I64(v) => int_unary!(v, I64),
        Buffer::Bool(v) => match op {
            UnaryOp::LogicalNot => Buffer::Bool(map_unary(v, |a| !a)),
            _ => unreachable!("bool inputs are cast first"),
        },
        _ => unreachable!("narrow dtypes are widened by the dispatcher"),
    };
    Ok(Tensor::new(shape, data))
}

/// NumPy's `mod`: the remainder takes the sign of the divisor.
fn float_mod<T: FloatElem>(p: T, q: T) -> T {
    let r = p % q;
    let zero = T::zero();
    if r != zero && ((r < zero) != (q < zero)) {
        r + q
    } else {
        r
    }
}

fn float_binary<T: FloatElem>(
    op: BinaryOp,
    x: &[T],
    sa: &[usize],
    y: &[T],
    sb: &[usize],
    shape: &[usize],
) -> Vec<T> {
    let zero = T::zero();
    match op {
        BinaryOp::Add => broadcast_map(x, sa, y, sb, shape, |p, q| p + q),
        BinaryOp::Sub => broadcast_map(x, sa, y, sb, shape, |p, q| p - q),
        BinaryOp::Mul => broadcast_map(x, sa, y, sb, shape, |p, q| p * q),
        BinaryOp::Div => broadcast_map(x, sa, y, sb, shape, |p, q| p / q),
        BinaryOp::FloorDivide => broadcast_map(x, sa, y, sb, shape, floor_divide),
        BinaryOp::Mod => broadcast_map(x, sa, y, sb, shape, float_mod),
        BinaryOp::Power => broadcast_map(x, sa, y, sb, shape, T::powf),
        BinaryOp::Arctan2 => broadcast_map(x, sa, y, sb, shape, T::atan2),
        BinaryOp::DivideNoNan => {
            broadcast_map(
                x,
                sa,
                y,
                sb,
                shape,
                |p, q| if q == zero { zero } else { p / q },
            )
        }
        // NaN propagates, as in NumPy's maximum/minimum
        BinaryOp::Maximum => broadcast_map(x, sa, y, sb, shape, |p, q| {
            if p.is_nan() || p >= q {
                p
            } else {
                q
            }
        }),
        BinaryOp::Minimum => broadcast_map(x, sa, y, sb, shape, |p, q| {
            if p.is_nan() || p <= q {
                p
            } else {
                q
            }
        }),
        BinaryOp::ReluGrad => {
            broadcast_map(x, sa, y, sb, shape, |p, q| if p > zero { q } else { zero })
        }
        _ => unreachable!("comparisons and logical ops are handled by the caller"),
    }
}

/// The error function to double precision: its Maclaurin series below 2.5, and 1 - erfc(x)
/// with erfc from its continued fraction (evaluated by Lentz's method) above.
pub(crate) fn erf_f64(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    let z = x.abs();
    let r = if z < 2.5 {
        // erf(z) = 2/sqrt(pi) * sum_n (-1)^n z^(2n+1) / (n! (2n+1))
        let (z2, mut term, mut sum) = (z * z, z, z);
        for n in 1..200 {
            term *= -z2 / n as f64;
            let add = term / (2 * n + 1) as f64;
            sum += add;
            if add.abs() < 1e-17 * sum.abs() {
                break;
            }
        }
        sum * std::f64::consts::FRAC_2_SQRT_PI
    } else if z > 6.0 {
        1.0
    } else {
        // erfc(z) = exp(-z^2)/sqrt(pi) * 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + ...))))
        let tiny = 1e-300;
        let mut f = z;
        let (mut c, mut d) = (z, 0.0);
        for n in 1..300 {
            let a = n as f64 / 2.0;
            d = z + a * d;
            d = if d.abs() < tiny { tiny } else { d };
            c = z + a / c;
            c = if c.abs() < tiny { tiny } else { c };
            d = 1.0 / d;
            let delta = c * d;
            f *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        1.0 - (-z * z).exp() / (f * std::f64::consts::PI.sqrt())
    };
    r.copysign(x)
}

/// `1 / (1 + exp(-a))`, split by sign so exp never overflows.
#[inline]
pub(crate) fn sigmoid<T: FloatElem>(a: T) -> T {
    let one = T::one();
    if a >= T::zero() {
        one / (one + (-a).exp())
    } else {
        let e = a.exp();
        e / (one + e)
    }
}

pub(crate) fn cpu_clip(x: &Tensor, min: f64, max: f64) -> Result<Tensor> {
    fn run<T: FloatElem>(v: &[T], min: T, max: T) -> Vec<T> {
        // NumPy: minimum(maximum(x, min), max), NaN propagating; min > max gives max.
        map_unary(v, |a| {
            let lo = if a < min || min.is_nan() { min } else { a };
            if lo > max || max.is_nan() {
                max
            } else {
                lo
            }
        })
    }
    let data = match &*x.data {
        Buffer::F32(v) => Buffer::F32(run(v, min as f32, max as f32)),
        Buffer::F64(v) => Buffer::F64(run(v, min, max)),
        other => {
            return Err(Error::Type(format!(
                "clip: expected a float tensor, got {}",
                other.dtype().name()
            )))
        }
    };
    Ok(Tensor::new(x.shape.clone(), data))
}

/// Apply `f` element-wise over the NumPy broadcast of `a` (shape `sa`) and `b` (shape `sb`).
pub(crate) fn broadcast_map<A, B, U>(
    a: &[A],
    sa: &[usize],
    b: &[B],
    sb: &[usize],
    out_shape: &[usize],
    f: impl Fn(A, B) -> U + Sync + Send,
) -> Vec<U>
where
    A: Copy + Send + Sync,
    B: Copy + Send + Sync,
    U: crate::tensor::reuse::ZeroBits + Default + Send + 'static,
{
    let n = numel(out_shape);
    let mut out = reuse::take::<U>(n);
    if n == 0 {
        return out;
    }
    if sa == sb {
        pool::fill_chunks(&mut out, |s, c| {
            let n = c.len();
            pool::simd(
                #[inline(always)]
                || {
                    for ((o, &x), &y) in c.iter_mut().zip(&a[s..s + n]).zip(&b[s..s + n]) {
                        *o = f(x, y);
                    }
                },
            )
        });
        return out;
    }
    if b.len() == 1 {
        let y = b[0];
        pool::fill_chunks(&mut out, |s, c| {
            let n = c.len();
            for (o, &x) in c.iter_mut().zip(&a[s..s + n]) {
                *o = f(x, y);
            }
        });
        return out;
    }
    if a.len() == 1 {
        let x = a[0];
        pool::fill_chunks(&mut out, |s, c| {
            let n = c.len();
            for (o, &y) in c.iter_mut().zip(&b[s..s + n]) {
                *o = f(x, y);
            }
        });
        return out;
    }
    // General case: walk rows of the last output axis; each operand steps by 0 or 1 inside a row.
    let nd = out_shape.len();
    let (ta, tb) = (
        broadcast_strides(sa, out_shape),
        broadcast_strides(sb, out_shape),
    );
    let inner = out_shape[nd - 1];
    let (ia, ib) = (ta[nd - 1], tb[nd - 1]);
    let outer_shape = &out_shape[..nd - 1];
    pool::fill_rows(&mut out, inner, |row, o| {
        let (mut oa, mut ob, mut r) = (0usize, 0usize, row);
        for d in (0..outer_shape.len()).rev() {
            let i = r % outer_shape[d];
            r /= outer_shape[d];
            oa += i * ta[d];
            ob += i * tb[d];
        }
        match (ia, ib) {
            (0, 0) => o.iter_mut().for_each(|v| *v = f(a[oa], b[ob])),
            (0, _) => {
                let x = a[oa];
                for (v, &y) in o.iter_mut().zip(&b[ob..ob + inner]) {
                    *v = f(x, y);
                }
            }
            (_, 0) => {
                let y = b[ob];
                for (v, &x) in o.iter_mut().zip(&a[oa..oa + inner]) {
                    *v = f(x, y);
                }
            }
            _ => {
                for ((v, &x), &y) in o.iter_mut().zip(&a[oa..oa + inner]).zip(&b[ob..ob + inner]) {
                    *v = f(x, y);
                }
            }
        }
    });
    out
}

pub(crate) fn cpu_binary(op: BinaryOp, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let shape = broadcast_shapes(op.name(), &a.shape, &b.shape)?;
    crate::tensor::check_alloc(op.name(), &shape, DType::promote(a.dtype(), b.dtype()))?;
    let (sa, sb) = (&a.shape[..], &b.shape[..]);
    macro_rules! compare {
        ($x:expr, $y:expr) => {
            Buffer::Bool(match op {
                BinaryOp::Equal => broadcast_map($x, sa, $y, sb, &shape, |p, q| p == q),
                BinaryOp::NotEqual => broadcast_map($x, sa, $y, sb, &shape, |p, q| p != q),
                BinaryOp::Less => broadcast_map($x, sa, $y, sb, &shape, |p, q| p < q),
                BinaryOp::LessEqual => broadcast_map($x, sa, $y, sb, &shape, |p, q| p <= q),
                BinaryOp::Greater => broadcast_map($x, sa, $y, sb, &shape, |p, q| p > q),
                BinaryOp::GreaterEqual => broadcast_map($x, sa, $y, sb, &shape, |p, q| p >= q),
                _ => unreachable!(),
            })
        };
    }
    macro_rules! int_arith {
        ($x:expr, $y:expr, $variant:ident) => {
            Buffer::$variant(match op {
                BinaryOp::Add => broadcast_map($x, sa, $y, sb, &shape, |p, q| p.wrapping_add(q)),
                BinaryOp::Sub => broadcast_map($x, sa, $y, sb, &shape, |p, q| p.wrapping_sub(q)),
                // Integer division by zero gives 0, as NumPy does (with a warning there).
                BinaryOp::FloorDivide => broadcast_map($x, sa, $y, sb, &shape, |p, q| {
                    if q == 0 {
                        0
                    } else {
                        let d = p.wrapping_div(q);
                        if p.wrapping_rem(q) != 0 && ((p < 0) != (q < 0)) { d - 1 } else { d }
                    }
                }),
                BinaryOp::Mod => broadcast_map($x, sa, $y, sb, &shape, |p, q| if q == 0 { 0 } else { let r = p.wrapping_rem(q); if r != 0 && ((r < 0) != (q < 0)) { r + q } else { r } }),
                BinaryOp::Power => {
                    if $y.iter().any(|&q| q < 0) {
                        return Err(Error::Value("power: integers to negative integer powers are not allowed; cast to float first".into()));
                    }
                    // Squaring with wrapping products over the whole exponent (NumPy's
                    // result; a plain `pow(q as u32)` would cut exponents of 2**32 and more).
                    broadcast_map($x, sa, $y, sb, &shape, |p, q| {
                        let (mut base, mut e, mut acc) = (p, q as u64, p.wrapping_pow(0));
                        while e > 0 {
                            if e & 1 == 1 {
                                acc = acc.wrapping_mul(base);
                            }
                            base = base.wrapping_mul(base);
                            e >>= 1;
                        }
                        acc
                    })
                }
                BinaryOp::Mul => broadcast_map($x, sa, $y, sb, &shape, |p, q| p.wrapping_mul(q)),
                BinaryOp::Maximum => broadcast_map($x, sa, $y, sb, &shape, |p, q| p.max(q)),
                BinaryOp::Minimum => broadcast_map($x, sa, $y, sb, &shape, |p, q| p.min(q)),
                _ => unreachable!(),
            })
        };
    }
    let data = match (&*a.data, &*b.data) {
        (Buffer::F32(x), Buffer::F32(y)) if op.is_comparison() => compare!(x, y),
        (Buffer::F64(x), Buffer::F64(y)) if op.is_comparison() => compare!(x, y),
        (Buffer::F32(x), Buffer::F32(y)) => Buffer::F32(float_binary(op, x, sa, y, sb, &shape)),
        (Buffer::F64(x), Buffer::F64(y)) => Buffer::F64(float_binary(op, x, sa, y, sb, &shape)),
        (Buffer::I32(x), Buffer::I32(y)) if op.is_comparison() => compare!(x, y),
        (Buffer::I64(x), Buffer::I64(y)) if op.is_comparison() => compare!(x, y),
        (Buffer::I32(x), Buffer::I32(y)) => int_arith!(x, y, I32),
        (Buffer::I64(x), Buffer::I64(y)) => int_arith!(x, y, I64),
        (Buffer::Bool(x), Buffer::Bool(y)) => Buffer::Bool(match op {
            BinaryOp::LogicalAnd | BinaryOp::Minimum => {
                broadcast_map(x, sa, y, sb, &shape, |p, q| p & q)
            }
            BinaryOp::LogicalOr | BinaryOp::Maximum => {
                broadcast_map(x, sa, y, sb, &shape, |p, q| p | q)
            }
            BinaryOp::Equal => broadcast_map(x, sa, y, sb, &shape, |p, q| p == q),
            BinaryOp::NotEqual => broadcast_map(x, sa, y, sb, &shape, |p, q| p != q),
            BinaryOp::Less => broadcast_map(x, sa, y, sb, &shape, |p, q| !p & q),
            BinaryOp::LessEqual => broadcast_map(x, sa, y, sb, &shape, |p, q| p <= q),
            BinaryOp::Greater => broadcast_map(x, sa, y, sb, &shape, |p, q| p & !q),
            BinaryOp::GreaterEqual => broadcast_map(x, sa, y, sb, &shape, |p, q| p >= q),
            _ => unreachable!(),
        }),
        (x, y) => {
            return Err(Error::Type(format!(
                "{}: operands must share a dtype after promotion, got {} and {}",
                op.name(),
                x.dtype().name(),
                y.dtype().name()
            )))
        }
    };
    Ok(Tensor::new(shape, data))
}

pub(crate) fn cpu_where(c: &Tensor, x: &Tensor, y: &Tensor) -> Result<Tensor> {
    let s1 = broadcast_shapes("where", &c.shape, &x.shape)?;
    let shape = broadcast_shapes("where", &s1, &y.shape)?;
    crate::tensor::check_alloc("where", &shape, DType::promote(x.dtype(), y.dtype()))?;
    let cb = crate::ops::shape::cpu_broadcast_to(c, &shape)?.contiguous();
    let Buffer::Bool(cv) = &*cb.data else {
        unreachable!()
    };
    macro_rules! pick {
        ($xv:expr, $yv:expr, $variant:ident) => {{
            let xs = broadcast_map(cv, &shape, $xv, &x.shape, &shape, |c, v| {
                if c {
                    v
                } else {
                    Default::default()
                }
            });
            Buffer::$variant(
                broadcast_map(cv, &shape, $yv, &y.shape, &shape, |c, v| (c, v))
                    .into_iter()
                    .zip(xs)
                    .map(|((c, yv), xv)| if c { xv } else { yv })
                    .collect(),
            )
        }};
    }
    let data = match (&*x.data, &*y.data) {
        (Buffer::F32(a), Buffer::F32(b)) => pick!(a, b, F32),
        (Buffer::F64(a), Buffer::F64(b)) => pick!(a, b, F64),
        (Buffer::I32(a), Buffer::I32(b)) => pick!(a, b, I32),
        (Buffer::I64(a), Buffer::I64(b)) => pick!(a, b, I64),
        (Buffer::Bool(a), Buffer::Bool(b)) => pick!(a, b, Bool),
        _ => unreachable!("where promotes its operands"),
    };
    Ok(Tensor::new(shape, data))
}

//! Element-wise ops: unary math, binary arithmetic and comparisons with NumPy broadcasting,
//! `where`, `clip` and `cast`, with their gradient rules and CPU kernels.

use std::sync::Arc;

use crate::autodiff::record;
use crate::device::{self, pool};
use crate::error::{Error, Result};
use crate::ops::{shape::sum_to, Op};
use crate::tensor::{broadcast_shapes, broadcast_strides, numel, reuse, Buffer, DType, Tensor};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Abs,
    Sign,
    Square,
    Sqrt,
    Exp,
    Log,
    Relu,
    Sigmoid,
    Tanh,
    LogicalNot,
}

impl UnaryOp {
    pub fn name(self) -> &'static str {
        match self {
            UnaryOp::Neg => "negative",
            UnaryOp::Abs => "abs",
            UnaryOp::Sign => "sign",
            UnaryOp::Square => "square",
            UnaryOp::Sqrt => "sqrt",
            UnaryOp::Exp => "exp",
            UnaryOp::Log => "log",
            UnaryOp::Relu => "relu",
            UnaryOp::Sigmoid => "sigmoid",
            UnaryOp::Tanh => "tanh",
            UnaryOp::LogicalNot => "logical_not",
        }
    }

    /// Ops that keep integer dtypes; the others compute in float32 (as keras.ops does).
    fn keeps_int(self) -> bool {
        matches!(
            self,
            UnaryOp::Neg | UnaryOp::Abs | UnaryOp::Sign | UnaryOp::Square
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Maximum,
    Minimum,
    Equal,
    NotEqual,
    Less,
    LessEqual,
    Greater,
    GreaterEqual,
    LogicalAnd,
    LogicalOr,
    /// `g` where `x > 0`, else 0: the gradient of relu, as one pass.
    ReluGrad,
}

impl BinaryOp {
    pub fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "subtract",
            BinaryOp::Mul => "multiply",
            BinaryOp::Div => "divide",
            BinaryOp::Maximum => "maximum",
            BinaryOp::Minimum => "minimum",
            BinaryOp::Equal => "equal",
            BinaryOp::NotEqual => "not_equal",
            BinaryOp::Less => "less",
            BinaryOp::LessEqual => "less_equal",
            BinaryOp::Greater => "greater",
            BinaryOp::GreaterEqual => "greater_equal",
            BinaryOp::LogicalAnd => "logical_and",
            BinaryOp::LogicalOr => "logical_or",
            BinaryOp::ReluGrad => "relu_grad",
        }
    }

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
            Arc::new(move |g: &Tensor, _needs: &[bool]| {
                let gx = match op {
                    UnaryOp::Neg => neg(g)?,
                    UnaryOp::Abs => mul(g, &unary(UnaryOp::Sign, &xc)?)?,
                    UnaryOp::Sign | UnaryOp::LogicalNot => return Ok(vec![None]),
                    UnaryOp::Square => mul(g, &mul(&xc, &Tensor::scalar_f32(2.0))?)?,
                    UnaryOp::Sqrt => {
                        binary(BinaryOp::Div, &mul(g, &Tensor::scalar_f32(0.5))?, &oc)?
                    }
                    UnaryOp::Exp => mul(g, &oc)?,
                    UnaryOp::Log => binary(BinaryOp::Div, g, &xc)?,
                    UnaryOp::Relu => binary(BinaryOp::ReluGrad, &xc, g)?,
                    UnaryOp::Sigmoid => mul(g, &mul(&oc, &sub(&Tensor::scalar_f32(1.0), &oc)?)?)?,
                    UnaryOp::Tanh => mul(g, &sub(&Tensor::scalar_f32(1.0), &mul(&oc, &oc)?)?)?,
                };
                Ok(vec![Some(gx)])
            })
        });
    }
    Ok(out)
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
    } else if op == BinaryOp::Div || op == BinaryOp::ReluGrad {
        DType::Float32
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

pub fn binary(op: BinaryOp, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let dt = operand_dtype(op, a.dtype(), b.dtype());
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
        // relu_grad(x, g) is linear in g and flat in x.
        BinaryOp::ReluGrad => vec![None, Some(sum_to(&binary(BinaryOp::ReluGrad, a, g)?, sb)?)],
        _ => vec![None, None],
    })
}

/// `x` where `condition` is true, else `y`, broadcasting all three (NumPy `where`).
pub fn where_(condition: &Tensor, x: &Tensor, y: &Tensor) -> Result<Tensor> {
    let c = &cast(condition, DType::Bool)?;
    let dt = DType::promote(x.dtype(), y.dtype());
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
pub fn clip(x: &Tensor, min: f32, max: f32) -> Result<Tensor> {
    let x = &cast(x, DType::Float32)?;
    let out = device::execute(&Op::Clip { min, max }, &[x])?;
    let xc = x.clone();
    record(&[x], &out, move || {
        Arc::new(move |g: &Tensor, _needs: &[bool]| {
            let inside = binary(
                BinaryOp::LogicalAnd,
                &binary(BinaryOp::GreaterEqual, &xc, &Tensor::scalar_f32(min))?,
                &binary(BinaryOp::LessEqual, &xc, &Tensor::scalar_f32(max))?,
            )?;
            Ok(vec![Some(where_(&inside, g, &Tensor::scalar_f32(0.0))?)])
        })
    });
    Ok(out)
}

/// A float32 tensor shaped like `x`, every element `value` (no gradient).
pub fn fill_like(x: &Tensor, value: f32) -> Result<Tensor> {
    let mut t = Tensor::full_f32(&x.shape, value);
    t.device = x.device;
    Ok(t)
}

// ---------------------------------------------------------------------------------------------
// CPU kernels

fn map_unary<T: Copy + Send + Sync, U: Copy + Default + Send + 'static>(
    x: &[T],
    f: impl Fn(T) -> U + Sync + Send,
) -> Vec<U> {
    let mut out = reuse::take::<U>(x.len());
    pool::fill_chunks(&mut out, |start, c| {
        let n = c.len();
        for (o, &v) in c.iter_mut().zip(&x[start..start + n]) {
            *o = f(v);
        }
    });
    out
}

pub(crate) fn cpu_cast(x: &Tensor, dtype: DType) -> Result<Tensor> {
    Ok(Tensor::new(x.shape.clone(), x.data.cast(dtype)))
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
        Buffer::F32(v) => Buffer::F32(match op {
            UnaryOp::Neg => map_unary(v, |a| -a),
            UnaryOp::Abs => map_unary(v, f32::abs),
            UnaryOp::Sign => map_unary(v, |a| {
                if a > 0.0 {
                    1.0
                } else if a < 0.0 {
                    -1.0
                } else {
                    a
                }
            }),
            UnaryOp::Square => map_unary(v, |a| a * a),
            UnaryOp::Sqrt => map_unary(v, f32::sqrt),
            UnaryOp::Exp => map_unary(v, f32::exp),
            UnaryOp::Log => map_unary(v, f32::ln),
            // NaN propagates, as in NumPy's maximum(x, 0).
            UnaryOp::Relu => map_unary(v, |a| if a > 0.0 || a.is_nan() { a } else { 0.0 }),
            UnaryOp::Sigmoid => map_unary(v, sigmoid),
            UnaryOp::Tanh => map_unary(v, f32::tanh),
            UnaryOp::LogicalNot => unreachable!(),
        }),
        Buffer::I32(v) => int_unary!(v, I32),
        Buffer::I64(v) => int_unary!(v, I64),
        Buffer::Bool(v) => match op {
            UnaryOp::LogicalNot => Buffer::Bool(map_unary(v, |a| !a)),
            _ => unreachable!("bool inputs are cast first"),
        },
    };
    Ok(Tensor::new(shape, data))
}

#[inline]
pub(crate) fn sigmoid(a: f32) -> f32 {
    // Split by sign so exp never overflows.
    if a >= 0.0 {
        1.0 / (1.0 + (-a).exp())
    } else {
        let e = a.exp();
        e / (1.0 + e)
    }
}

pub(crate) fn cpu_clip(x: &Tensor, min: f32, max: f32) -> Result<Tensor> {
    let v = x.f32s("clip")?;
    Ok(Tensor::from_f32(
        x.shape.clone(),
        map_unary(v, |a| {
            if a < min {
                min
            } else if a > max {
                max
            } else {
                a
            }
        }),
    ))
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
    U: Copy + Default + Send + 'static,
{
    let n = numel(out_shape);
    let mut out = reuse::take::<U>(n);
    if n == 0 {
        return out;
    }
    if sa == sb {
        pool::fill_chunks(&mut out, |s, c| {
            let n = c.len();
            for ((o, &x), &y) in c.iter_mut().zip(&a[s..s + n]).zip(&b[s..s + n]) {
                *o = f(x, y);
            }
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
                BinaryOp::Mul => broadcast_map($x, sa, $y, sb, &shape, |p, q| p.wrapping_mul(q)),
                BinaryOp::Maximum => broadcast_map($x, sa, $y, sb, &shape, |p, q| p.max(q)),
                BinaryOp::Minimum => broadcast_map($x, sa, $y, sb, &shape, |p, q| p.min(q)),
                _ => unreachable!(),
            })
        };
    }
    let data = match (&*a.data, &*b.data) {
        (Buffer::F32(x), Buffer::F32(y)) => {
            if op.is_comparison() {
                compare!(x, y)
            } else {
                Buffer::F32(match op {
                    BinaryOp::Add => broadcast_map(x, sa, y, sb, &shape, |p, q| p + q),
                    BinaryOp::Sub => broadcast_map(x, sa, y, sb, &shape, |p, q| p - q),
                    BinaryOp::Mul => broadcast_map(x, sa, y, sb, &shape, |p, q| p * q),
                    BinaryOp::Div => broadcast_map(x, sa, y, sb, &shape, |p, q| p / q),
                    // NaN propagates, as in NumPy's maximum/minimum
                    BinaryOp::Maximum => broadcast_map(x, sa, y, sb, &shape, |p, q| {
                        if p.is_nan() || p >= q {
                            p
                        } else {
                            q
                        }
                    }),
                    BinaryOp::Minimum => broadcast_map(x, sa, y, sb, &shape, |p, q| {
                        if p.is_nan() || p <= q {
                            p
                        } else {
                            q
                        }
                    }),
                    BinaryOp::ReluGrad => {
                        broadcast_map(x, sa, y, sb, &shape, |p, q| if p > 0.0 { q } else { 0.0 })
                    }
                    _ => unreachable!(),
                })
            }
        }
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
    let cb = crate::ops::shape::cpu_broadcast_to(c, &shape)?;
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
        (Buffer::I32(a), Buffer::I32(b)) => pick!(a, b, I32),
        (Buffer::I64(a), Buffer::I64(b)) => pick!(a, b, I64),
        (Buffer::Bool(a), Buffer::Bool(b)) => pick!(a, b, Bool),
        _ => unreachable!("where promotes its operands"),
    };
    Ok(Tensor::new(shape, data))
}

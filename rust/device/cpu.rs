//! The CPU backend: routes each [`Op`] to its kernel in `ops/`.

use crate::error::Result;
use crate::ops::{
    conv, elementwise as ew, matmul, nn, norm, optimizer, pool, random, reduce, shape, sort, Op,
};
use crate::tensor::{DType, Tensor};

/// The dtype kernels compute a narrow storage dtype in: small integers in int32, float16 and
/// bfloat16 in float32 (kernels are written for bool, int32, int64, float32 and float64).
fn compute_dtype(d: DType) -> DType {
    match d {
        DType::UInt8 | DType::Int8 | DType::Int16 => DType::Int32,
        DType::Float16 | DType::BFloat16 => DType::Float32,
        d => d,
    }
}

/// Ops that re-address their input (they return views) and are the same for every dtype.
fn is_view_op(op: &Op) -> bool {
    matches!(op, Op::Transpose(_) | Op::BroadcastTo(_) | Op::Slice { .. })
}

pub fn execute(op: &Op, x: &[&Tensor]) -> Result<Tensor> {
    if is_view_op(op) {
        return run(op, x);
    }
    // Kernels read row-major slices; matmul alone reads strided operands itself.
    let reads_views = matches!(op, Op::Matmul { .. });
    if !reads_views && x.iter().any(|t| !t.is_contiguous()) {
        let dense: Vec<Tensor> = x.iter().map(|t| t.contiguous()).collect();
        return execute(op, &dense.iter().collect::<Vec<_>>());
    }
    let narrow = x.iter().map(|t| t.dtype()).find(|&d| compute_dtype(d) != d);
    let (Some(narrow), false) = (narrow, matches!(op, Op::Cast(_))) else {
        return run(op, x);
    };
    // Widen, compute, and store a result of the widened type back in the narrow dtype
    // (index-valued results stay int32).
    let wide: Vec<Tensor> = x
        .iter()
        .map(|t| {
            let c = compute_dtype(t.dtype());
            if c == t.dtype() {
                (*t).clone()
            } else {
                let t = t.contiguous();
                Tensor::new(t.shape.clone(), t.data.cast(c))
            }
        })
        .collect();
    let refs: Vec<&Tensor> = wide.iter().collect();
    let out = run(op, &refs)?;
    let index_valued = matches!(
        op,
        Op::ArgReduce { .. } | Op::ArgSort { .. } | Op::OneHot { .. } | Op::Pool2dArgmax(_)
    );
    if !index_valued && out.dtype() == compute_dtype(narrow) {
        return Ok(Tensor::new(out.shape.clone(), out.data.cast(narrow)));
    }
    Ok(out)
}

fn run(op: &Op, x: &[&Tensor]) -> Result<Tensor> {
    match op {
        Op::Unary(u) => ew::cpu_unary(*u, x[0]),
        Op::Binary(b) => ew::cpu_binary(*b, x[0], x[1]),
        Op::Where => ew::cpu_where(x[0], x[1], x[2]),
        Op::Clip { min, max } => ew::cpu_clip(x[0], *min, *max),
        Op::Cast(d) => ew::cpu_cast(x[0], *d),
        Op::Reduce {
            kind,
            axes,
            keepdims,
        } => reduce::cpu_reduce(x[0], *kind, axes, *keepdims),
        Op::ArgReduce {
            max,
            axis,
            keepdims,
        } => reduce::cpu_arg_reduce(x[0], *axis, *keepdims, *max),
        Op::Cumulative {
            axis,
            prod,
            exclusive,
            reverse,
        } => reduce::cpu_cumulative(x[0], *axis, *prod, *exclusive, *reverse),
        Op::ArgSort { axis, descending } => sort::cpu_argsort(x[0], *axis, *descending),
        Op::Concatenate { axis } => shape::cpu_concatenate(x, *axis),
        Op::TakeAlongAxis { axis } => shape::cpu_take_along_axis(x[0], x[1], *axis),
        Op::TakeAlongAxisGrad { axis, dim } => {
            shape::cpu_take_along_axis_grad(x[0], x[1], *axis, *dim)
        }
        Op::Transpose(perm) => shape::cpu_transpose(x[0], perm),
        Op::BroadcastTo(s) => shape::cpu_broadcast_to(x[0], s),
        Op::Slice {
            starts,
            steps,
            shape: s,
        } => shape::cpu_slice(x[0], starts, steps, s),
        Op::SliceGrad {
            starts,
            steps,
            in_shape,
        } => shape::cpu_slice_grad(x[0], starts, steps, in_shape),
        Op::Take { axis } => shape::cpu_take(x[0], x[1], *axis),
        Op::TakeGrad { axis, dim } => shape::cpu_take_grad(x[0], x[1], *axis, *dim),
        Op::OneHot { depth } => shape::cpu_one_hot(x[0], *depth),
        Op::Matmul {
            transpose_a,
            transpose_b,
        } => matmul::cpu_matmul(x[0], x[1], *transpose_a, *transpose_b),
        Op::Softmax { axis, log } => nn::cpu_softmax(x[0], *axis, *log),
        Op::SparseCrossEntropy { from_logits } => nn::cpu_sparse_ce(x[0], x[1], *from_logits),
        Op::SparseCrossEntropyGrad { from_logits } => {
            nn::cpu_sparse_ce_grad(x[0], x[1], x[2], *from_logits)
        }
        Op::Conv2d(g) => conv::cpu_conv2d(g, x[0], x[1]),
        Op::Conv2dInputGrad(g) => conv::cpu_conv2d_input_grad(g, x[0], x[1]),
        Op::Conv2dKernelGrad(g) => conv::cpu_conv2d_kernel_grad(g, x[0], x[1]),
        Op::Pool2d { geometry, max } => pool::cpu_pool2d(geometry, x[0], *max),
        Op::Pool2dGrad { geometry, max } => pool::cpu_pool2d_grad(geometry, x[0], x[1], *max),
        Op::Pool2dArgmax(g) => pool::cpu_pool2d_argmax(g, x[0]),
        Op::Pool2dArgmaxGrad(g) => pool::cpu_pool2d_argmax_grad(g, x[0], x[1]),
        Op::DepthwiseConv2d(_) | Op::DepthwiseInputGrad(_) | Op::DepthwiseKernelGrad(_) => {
            conv::cpu_depthwise(op, x[0], x[1])
        }
        Op::Moments
        | Op::BatchNormForward { .. }
        | Op::BatchNormGradSums { .. }
        | Op::BatchNormInputGrad { .. }
        | Op::LayerNormForward { .. }
        | Op::LayerNormInputGrad { .. }
        | Op::LayerNormParamGrad { .. } => norm::cpu_norm(op, x),
        Op::RandomUniform {
            shape: s,
            min,
            max,
            seed,
            counter,
        } => Ok(random::cpu_uniform(s, *min, *max, *seed, *counter)),
        Op::RandomNormal {
            shape: s,
            mean,
            stddev,
            seed,
            counter,
        } => Ok(random::cpu_normal(s, *mean, *stddev, *seed, *counter)),
        Op::Sgd { .. }
        | Op::Adam { .. }
        | Op::Rmsprop { .. }
        | Op::Adagrad { .. }
        | Op::Adadelta { .. }
        | Op::Adamax { .. }
        | Op::Nadam { .. }
        | Op::Ftrl { .. }
        | Op::Lion { .. }
        | Op::Lamb { .. }
        | Op::Ema { .. } => Err(crate::error::Error::Value(format!(
            "{} updates variables in place; call it through device::update",
            op.name()
        ))),
    }
}

pub fn update(op: &Op, targets: &mut [&mut Tensor], inputs: &[&Tensor]) -> Result<()> {
    // Targets are variables (always contiguous); gradients may be views.
    let dense: Vec<Tensor> = inputs.iter().map(|t| t.contiguous()).collect();
    optimizer::cpu_apply(op, targets, &dense.iter().collect::<Vec<_>>())
}

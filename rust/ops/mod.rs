//! The op vocabulary. Each family file holds the public op functions (validation, dispatch,
//! gradient rule) and the CPU kernels they dispatch to.

pub mod conv;
pub mod elementwise;
pub mod matmul;
pub mod nn;
pub mod norm;
pub mod optimizer;
pub mod random;
pub mod reduce;
pub mod shape;

pub use elementwise::{
    add, binary, cast, clip, fill_like, mul, neg, sub, unary, where_, BinaryOp, UnaryOp,
};
pub use reduce::{reduce, ReduceKind};
pub use shape::{broadcast_to, reshape, sum_to, transpose};

use crate::tensor::DType;

/// One kernel invocation, as the device dispatcher sees it.
#[derive(Clone, Debug)]
pub enum Op {
    Unary(UnaryOp),
    Binary(BinaryOp),
    Where,
    Clip {
        min: f64,
        max: f64,
    },
    Cast(DType),
    Reduce {
        kind: ReduceKind,
        axes: Vec<usize>,
        keepdims: bool,
    },
    ArgReduce {
        max: bool,
        axis: usize,
        keepdims: bool,
    },
    Cumulative {
        axis: usize,
        prod: bool,
        exclusive: bool,
        reverse: bool,
    },
    /// Stable sort order along `axis` (int32), NaN last when ascending.
    ArgSort {
        axis: usize,
        descending: bool,
    },
    Concatenate {
        axis: usize,
    },
    TakeAlongAxis {
        axis: usize,
    },
    /// Scatter-add the gradient of `TakeAlongAxis` into zeros whose `axis` has length `dim`.
    TakeAlongAxisGrad {
        axis: usize,
        dim: usize,
    },
    Transpose(Vec<usize>),
    BroadcastTo(Vec<usize>),
    /// Strided slice: `starts`/`steps` per axis, output `shape` (before any axis is dropped).
    Slice {
        starts: Vec<usize>,
        steps: Vec<isize>,
        shape: Vec<usize>,
    },
    /// The transpose of `Slice`: scatter a slice's values into zeros of `in_shape`.
    SliceGrad {
        starts: Vec<usize>,
        steps: Vec<isize>,
        in_shape: Vec<usize>,
    },
    Take {
        axis: usize,
    },
    /// Scatter-add the gradient of `Take` into zeros whose `axis` has length `dim`.
    TakeGrad {
        axis: usize,
        dim: usize,
    },
    OneHot {
        depth: usize,
    },
    Matmul {
        transpose_a: bool,
        transpose_b: bool,
    },
    Softmax {
        axis: usize,
        log: bool,
    },
    SparseCrossEntropy {
        from_logits: bool,
    },
    SparseCrossEntropyGrad {
        from_logits: bool,
    },
    RandomUniform {
        shape: Vec<usize>,
        min: f32,
        max: f32,
        seed: u64,
        counter: u64,
    },
    RandomNormal {
        shape: Vec<usize>,
        mean: f32,
        stddev: f32,
        seed: u64,
        counter: u64,
    },
    /// Fused optimizer steps over many variables at once (in place).
    SgdUpdate {
        lr: f32,
        momentum: f32,
        nesterov: bool,
    },
    /// Convolution forward `(x, kernel)`, input gradient `(dy, kernel)` and kernel gradient
    /// `(x, dy)`.
    Conv2d(conv::Geometry),
    Conv2dInputGrad(conv::Geometry),
    Conv2dKernelGrad(conv::Geometry),
    /// Max (`max`) or average pooling `(x)`, and its gradient `(x, dy)`.
    Pool2d {
        geo: conv::Geometry,
        max: bool,
    },
    Pool2dGrad {
        geo: conv::Geometry,
        max: bool,
    },
    /// Int32 index into its image of each max-pooling window's first maximum, and the
    /// gradient `(dy, argmax)` that scatters `dy` there.
    Pool2dArgmax(conv::Geometry),
    Pool2dArgmaxGrad(conv::Geometry),
    /// Depthwise convolution forward `(x, kernel)`, input gradient `(dy, kernel)`, kernel
    /// gradient `(x, dy)`; the geometry's `out_c` is channels x multiplier.
    DepthwiseConv2d(conv::Geometry),
    DepthwiseInputGrad(conv::Geometry),
    DepthwiseKernelGrad(conv::Geometry),
    /// `(2, c)` mean and biased variance of each last-axis channel over all other axes.
    Moments,
    /// Fused batch normalization `(x, stats, gamma, beta)` and its backward pieces:
    /// `(x, dy, stats)` -> `(2, c)` sums of dy and dy * xhat; `(x, dy, stats, gamma, sums)` -> dx.
    BatchNormForward {
        epsilon: f64,
    },
    BatchNormGradSums {
        epsilon: f64,
    },
    BatchNormInputGrad {
        epsilon: f64,
    },
    /// Fused layer normalization over the last axis `(x, gamma, beta)`; its input gradient
    /// `(x, dy, gamma)` and `(2, d)` parameter-gradient sums `(x, dy)`.
    LayerNormForward {
        epsilon: f64,
    },
    LayerNormInputGrad {
        epsilon: f64,
    },
    LayerNormParamGrad {
        epsilon: f64,
    },
    AdamUpdate {
        lr: f32,
        beta_1: f32,
        beta_2: f32,
        epsilon: f32,
        step: u64,
        amsgrad: bool,
    },
    RmspropUpdate {
        lr: f32,
        rho: f32,
        momentum: f32,
        epsilon: f32,
        centered: bool,
    },
}

impl Op {
    pub fn name(&self) -> &'static str {
        match self {
            Op::Unary(u) => u.name(),
            Op::Binary(b) => b.name(),
            Op::Where => "where",
            Op::Clip { .. } => "clip",
            Op::Cast(_) => "cast",
            Op::Reduce { kind, .. } => kind.name(),
            Op::ArgReduce { max: true, .. } => "argmax",
            Op::ArgReduce { max: false, .. } => "argmin",
            Op::Cumulative { prod: false, .. } => "cumsum",
            Op::Cumulative { prod: true, .. } => "cumprod",
            Op::ArgSort { .. } => "argsort",
            Op::Concatenate { .. } => "concatenate",
            Op::TakeAlongAxis { .. } => "take_along_axis",
            Op::TakeAlongAxisGrad { .. } => "take_along_axis_grad",
            Op::Transpose(_) => "transpose",
            Op::BroadcastTo(_) => "broadcast_to",
            Op::Slice { .. } => "slice",
            Op::SliceGrad { .. } => "slice_grad",
            Op::Take { .. } => "take",
            Op::TakeGrad { .. } => "take_grad",
            Op::OneHot { .. } => "one_hot",
            Op::Matmul { .. } => "matmul",
            Op::Softmax { log: false, .. } => "softmax",
            Op::Softmax { log: true, .. } => "log_softmax",
            Op::SparseCrossEntropy { .. } => "sparse_categorical_crossentropy",
            Op::SparseCrossEntropyGrad { .. } => "sparse_categorical_crossentropy_grad",
            Op::Conv2d(_) => "conv",
            Op::Conv2dInputGrad(_) => "conv_input_grad",
            Op::Conv2dKernelGrad(_) => "conv_kernel_grad",
            Op::Pool2d { max: true, .. } => "max_pool",
            Op::Pool2d { max: false, .. } => "average_pool",
            Op::Pool2dGrad { .. } => "pool_grad",
            Op::Pool2dArgmax(_) => "max_pool_argmax",
            Op::Pool2dArgmaxGrad(_) => "max_pool_grad",
            Op::DepthwiseConv2d(_) => "depthwise_conv",
            Op::DepthwiseInputGrad(_) => "depthwise_conv_input_grad",
            Op::DepthwiseKernelGrad(_) => "depthwise_conv_kernel_grad",
            Op::Moments => "moments",
            Op::BatchNormForward { .. } => "batch_normalization",
            Op::BatchNormGradSums { .. } => "batch_normalization_grad_sums",
            Op::BatchNormInputGrad { .. } => "batch_normalization_input_grad",
            Op::LayerNormForward { .. } => "layer_normalization",
            Op::LayerNormInputGrad { .. } => "layer_normalization_input_grad",
            Op::LayerNormParamGrad { .. } => "layer_normalization_param_grad",
            Op::RandomUniform { .. } => "random.uniform",
            Op::RandomNormal { .. } => "random.normal",
            Op::SgdUpdate { .. } => "SGD.apply",
            Op::AdamUpdate { .. } => "Adam.apply",
            Op::RmspropUpdate { .. } => "RMSprop.apply",
        }
    }
}

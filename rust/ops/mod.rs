//! The op vocabulary. Each family file holds the public op functions (validation, dispatch,
//! gradient rule) and the CPU kernels they dispatch to.

pub mod conv;
pub mod elementwise;
pub mod matmul;
pub mod nn;
pub mod norm;
pub mod optimizer;
pub mod pool;
pub mod random;
pub mod reduce;
pub mod shape;
pub mod sort;

pub use elementwise::{
    add, binary, cast, clip, fill_like, mul, neg, sub, unary, where_, BinaryOp, UnaryOp,
};
pub use reduce::{reduce, ReduceKind};
pub use shape::{broadcast_to, reshape, sum_to, transpose};

use crate::tensor::DType;

/// One parameter of an op as the GPU executor receives it (`device/gpu.rs` turns each into a
/// Python value: a bool, an int, a float, a list, a name string or a geometry dict).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Param<'a> {
    Bool(bool),
    Int(u64),
    F32(f32),
    F64(f64),
    Ints(&'a [usize]),
    SignedInts(&'a [isize]),
    Name(&'static str),
    Geometry(&'a conv::Geometry),
}

/// A value that can travel as an op parameter (see [`Param`]).
pub trait ToParam {
    fn param(&self) -> Param<'_>;
}

macro_rules! to_param {
    ($($t:ty => |$v:ident| $e:expr),* $(,)?) => {
        $(impl ToParam for $t {
            fn param(&self) -> Param<'_> {
                let $v = self;
                $e
            }
        })*
    };
}

to_param! {
    bool => |v| Param::Bool(*v),
    usize => |v| Param::Int(*v as u64),
    u64 => |v| Param::Int(*v),
    f32 => |v| Param::F32(*v),
    f64 => |v| Param::F64(*v),
    Vec<usize> => |v| Param::Ints(v),
    Vec<isize> => |v| Param::SignedInts(v),
    DType => |v| Param::Name(v.name()),
    ReduceKind => |v| Param::Name(v.name()),
    UnaryOp => |v| Param::Name(v.name()),
    BinaryOp => |v| Param::Name(v.name()),
    conv::Geometry => |v| Param::Geometry(v),
}

/// Declares [`Op`] from one table: each variant, its fields (which are also the parameters the
/// GPU executor receives, under the field names) and its name. A name is one of:
/// - `["name"]`: a fixed name;
/// - `[field ? "if_true" : "if_false"]`: chosen by a bool field;
/// - `[field in Kind]`: the name of the field's own op kind (`Kind::ALL` lists them all).
///
/// From the table come `Op::name` (dispatch, errors, the GPU kernel table's key),
/// `Op::params` (what `device/gpu.rs` sends to the GPU executor) and `Op::names`
/// (`_core.op_names()`, which the op-contract test compares with the GPU kernels).
macro_rules! op_table {
    ($(
        $(#[$meta:meta])*
        $variant:ident
        $( ( $tf:ident : $tty:ty ) )?
        $( { $( $f:ident : $fty:ty ),* $(,)? } )?
        => [ $($name:tt)+ ]
    ),* $(,)?) => {
        /// One kernel invocation, as the device dispatcher sees it.
        #[derive(Clone, Debug)]
        pub enum Op {
            $( $(#[$meta])* $variant $( ($tty) )? $( { $( $f: $fty ),* } )? ),*
        }

        impl Op {
            /// The op's name: the key of its GPU kernel and the name errors give.
            #[allow(unused_variables)]
            pub fn name(&self) -> &'static str {
                match self {
                    $( Op::$variant $( ($tf) )? $( { $( $f ),* } )? => op_table!(@name $($name)+) ),*
                }
            }

            /// Call `visit(field name, value)` for each parameter of the op, in table order.
            pub fn params<'a>(&'a self, visit: &mut dyn FnMut(&'static str, Param<'a>)) {
                match self {
                    $( Op::$variant $( ($tf) )? $( { $( $f ),* } )? => {
                        $( visit(stringify!($tf), $tf.param()); )?
                        $( $( visit(stringify!($f), $f.param()); )* )?
                    } ),*
                }
            }

            /// Every op name in the core, in table order (no duplicates).
            pub fn names() -> Vec<&'static str> {
                let mut all: Vec<&'static str> = Vec::new();
                $( op_table!(@all all $($name)+); )*
                all
            }
        }
    };
    (@name $lit:literal) => { $lit };
    (@name $sel:ident ? $a:literal : $b:literal) => { if *$sel { $a } else { $b } };
    (@name $sel:ident in $kind:ident) => { $sel.name() };
    (@all $v:ident $lit:literal) => { $v.push($lit) };
    (@all $v:ident $sel:ident ? $a:literal : $b:literal) => {{ $v.push($a); $v.push($b); }};
    (@all $v:ident $sel:ident in $kind:ident) => { $v.extend($kind::ALL.iter().map(|k| k.name())) };
}

op_table! {
    Unary(op: UnaryOp) => [op in UnaryOp],
    Binary(op: BinaryOp) => [op in BinaryOp],
    Where => ["where"],
    Clip { min: f64, max: f64 } => ["clip"],
    Cast(dtype: DType) => ["cast"],
    Reduce { kind: ReduceKind, axes: Vec<usize>, keepdims: bool } => [kind in ReduceKind],
    ArgReduce { max: bool, axis: usize, keepdims: bool } => [max ? "argmax" : "argmin"],
    Cumulative { axis: usize, prod: bool, exclusive: bool, reverse: bool }
        => [prod ? "cumprod" : "cumsum"],
    /// Stable sort order along `axis` (int32), NaN last when ascending.
    ArgSort { axis: usize, descending: bool } => ["argsort"],
    Concatenate { axis: usize } => ["concatenate"],
    TakeAlongAxis { axis: usize } => ["take_along_axis"],
    /// Scatter-add the gradient of `TakeAlongAxis` into zeros whose `axis` has length `dim`.
    TakeAlongAxisGrad { axis: usize, dim: usize } => ["take_along_axis_grad"],
    Transpose(perm: Vec<usize>) => ["transpose"],
    BroadcastTo(shape: Vec<usize>) => ["broadcast_to"],
    /// Strided slice: `starts`/`steps` per axis, output `shape` (before any axis is dropped).
    Slice { starts: Vec<usize>, steps: Vec<isize>, shape: Vec<usize> } => ["slice"],
    /// The transpose of `Slice`: scatter a slice's values into zeros of `in_shape`.
    SliceGrad { starts: Vec<usize>, steps: Vec<isize>, in_shape: Vec<usize> } => ["slice_grad"],
    Take { axis: usize } => ["take"],
    /// Scatter-add the gradient of `Take` into zeros whose `axis` has length `dim`.
    TakeGrad { axis: usize, dim: usize } => ["take_grad"],
    OneHot { depth: usize } => ["one_hot"],
    Matmul { transpose_a: bool, transpose_b: bool } => ["matmul"],
    Softmax { axis: usize, log: bool } => [log ? "log_softmax" : "softmax"],
    SparseCrossEntropy { from_logits: bool } => ["sparse_categorical_crossentropy"],
    SparseCrossEntropyGrad { from_logits: bool } => ["sparse_categorical_crossentropy_grad"],
    RandomUniform { shape: Vec<usize>, min: f32, max: f32, seed: u64, counter: u64 }
        => ["random.uniform"],
    RandomNormal { shape: Vec<usize>, mean: f32, stddev: f32, seed: u64, counter: u64 }
        => ["random.normal"],
    /// Convolution forward `(x, kernel)`, input gradient `(dy, kernel)` and kernel gradient
    /// `(x, dy)`.
    Conv2d(geometry: conv::Geometry) => ["conv"],
    Conv2dInputGrad(geometry: conv::Geometry) => ["conv_input_grad"],
    Conv2dKernelGrad(geometry: conv::Geometry) => ["conv_kernel_grad"],
    /// Max (`max`) or average pooling `(x)`, and its gradient `(x, dy)`.
    Pool2d { geometry: conv::Geometry, max: bool } => [max ? "max_pool" : "average_pool"],
    Pool2dGrad { geometry: conv::Geometry, max: bool } => ["pool_grad"],
    /// Int32 index into its image of each max-pooling window's first maximum, and the
    /// gradient `(dy, argmax)` that scatters `dy` there.
    Pool2dArgmax(geometry: conv::Geometry) => ["max_pool_argmax"],
    Pool2dArgmaxGrad(geometry: conv::Geometry) => ["max_pool_grad"],
    /// Depthwise convolution forward `(x, kernel)`, input gradient `(dy, kernel)`, kernel
    /// gradient `(x, dy)`; the geometry's `out_c` is channels x multiplier.
    DepthwiseConv2d(geometry: conv::Geometry) => ["depthwise_conv"],
    DepthwiseInputGrad(geometry: conv::Geometry) => ["depthwise_conv_input_grad"],
    DepthwiseKernelGrad(geometry: conv::Geometry) => ["depthwise_conv_kernel_grad"],
    /// `(2, c)` mean and biased variance of each last-axis channel over all other axes.
    Moments => ["moments"],
    /// Fused batch normalization `(x, stats, gamma, beta)` and its backward pieces:
    /// `(x, dy, stats)` -> `(2, c)` sums of dy and dy * xhat; `(x, dy, stats, gamma, sums)` -> dx.
    BatchNormForward { epsilon: f64 } => ["batch_normalization"],
    BatchNormGradSums { epsilon: f64 } => ["batch_normalization_grad_sums"],
    BatchNormInputGrad { epsilon: f64 } => ["batch_normalization_input_grad"],
    /// Fused layer normalization over the last axis `(x, gamma, beta)`; its input gradient
    /// `(x, dy, gamma)` and `(2, d)` parameter-gradient sums `(x, dy)`.
    LayerNormForward { epsilon: f64 } => ["layer_normalization"],
    LayerNormInputGrad { epsilon: f64 } => ["layer_normalization_input_grad"],
    LayerNormParamGrad { epsilon: f64 } => ["layer_normalization_param_grad"],
    /// Fused optimizer steps over many variables at once, in place (`optimizer.rs`): one name
    /// from the Python class (`keras.optimizers.Adam`) through `_core.adam_update` to the
    /// shader entry point (`adam` in shaders/optimizer.wgsl).
    /// Every update takes `weight_decay` (Keras's decoupled decay `w -= w * weight_decay * lr`,
    /// applied first) and `decay_mask` (one 0/1 flag per variable, 1 = decayed; empty = all).
    Sgd {
        learning_rate: f32,
        momentum: f32,
        nesterov: bool,
        weight_decay: f32,
        decay_mask: Vec<usize>,
    } => ["sgd"],
    /// Adam's and RMSprop's decay rates are Python floats (f64): Keras rounds `1 - beta_1`
    /// and `1 - rho` to float32 after the subtraction.
    Adam {
        learning_rate: f32,
        beta_1: f64,
        beta_2: f64,
        epsilon: f32,
        step: u64,
        amsgrad: bool,
        weight_decay: f32,
        decay_mask: Vec<usize>,
    } => ["adam"],
    Rmsprop {
        learning_rate: f32,
        rho: f64,
        momentum: f32,
        epsilon: f32,
        centered: bool,
        weight_decay: f32,
        decay_mask: Vec<usize>,
    } => ["rmsprop"],
    /// The optimizers below keep their hyperparameters as Python floats (f64) so that each
    /// constant is rounded to float32 where Keras rounds it (`1 - beta_1` in double, then f32).
    Adagrad { learning_rate: f32, epsilon: f64, weight_decay: f32, decay_mask: Vec<usize> }
        => ["adagrad"],
    Adadelta {
        learning_rate: f32,
        rho: f64,
        epsilon: f64,
        weight_decay: f32,
        decay_mask: Vec<usize>,
    } => ["adadelta"],
    Adamax {
        learning_rate: f32,
        beta_1: f64,
        beta_2: f64,
        epsilon: f64,
        step: u64,
        weight_decay: f32,
        decay_mask: Vec<usize>,
    } => ["adamax"],
    /// `u_product` is Keras's scalar state after this step's update (the product of the
    /// momentum schedule `u_1 ... u_t`).
    Nadam {
        learning_rate: f32,
        beta_1: f64,
        beta_2: f64,
        epsilon: f64,
        step: u64,
        u_product: f32,
        weight_decay: f32,
        decay_mask: Vec<usize>,
    } => ["nadam"],
    Ftrl {
        learning_rate: f32,
        learning_rate_power: f64,
        l1_regularization_strength: f64,
        l2_regularization_strength: f64,
        l2_shrinkage_regularization_strength: f64,
        beta: f64,
        weight_decay: f32,
        decay_mask: Vec<usize>,
    } => ["ftrl"],
    Lion {
        learning_rate: f32,
        beta_1: f64,
        beta_2: f64,
        weight_decay: f32,
        decay_mask: Vec<usize>,
    } => ["lion"],
    /// Lamb needs each variable's norm and its update's norm (the trust ratio).
    Lamb {
        learning_rate: f32,
        beta_1: f64,
        beta_2: f64,
        epsilon: f64,
        step: u64,
        weight_decay: f32,
        decay_mask: Vec<usize>,
    } => ["lamb"],
    /// The exponential moving average of variables (`use_ema`): targets are the averages,
    /// inputs the variables; `a = momentum * a + (1 - momentum) * v`.
    Ema { momentum: f32 } => ["ema"],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_names_are_unique_and_cover_every_kind() {
        let names = Op::names();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "a name appears twice");
        for n in [
            "add",
            "relu_grad",
            "negative",
            "sum",
            "prod",
            "argmax",
            "argmin",
            "cumsum",
        ] {
            assert!(names.contains(&n), "{n}");
        }
        let kinds = UnaryOp::ALL.iter().map(|u| u.name());
        let kinds = kinds.chain(BinaryOp::ALL.iter().map(|b| b.name()));
        for n in kinds.chain(ReduceKind::ALL.iter().map(|k| k.name())) {
            assert!(names.contains(&n), "{n}");
        }
    }

    #[test]
    fn names_and_params_come_from_the_table() {
        let op = Op::ArgReduce {
            max: false,
            axis: 2,
            keepdims: true,
        };
        assert_eq!(op.name(), "argmin");
        let mut seen = Vec::new();
        op.params(&mut |k, v| seen.push((k, v)));
        assert_eq!(
            seen,
            [
                ("max", Param::Bool(false)),
                ("axis", Param::Int(2)),
                ("keepdims", Param::Bool(true))
            ]
        );
        let mut seen = Vec::new();
        Op::Cast(DType::Int32).params(&mut |k, v| seen.push((k, v)));
        assert_eq!(seen, [("dtype", Param::Name("int32"))]);
        assert_eq!(Op::Unary(UnaryOp::Neg).name(), "negative");
    }
}

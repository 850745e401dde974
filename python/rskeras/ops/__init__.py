"""`rskeras.ops`: the keras.ops vocabulary on the Rust core (numpy-style, nn, math and core ops).

Every op is also an `Operation` (`rskeras.ops.operation`): called with a KerasTensor among its
arguments, it returns KerasTensors whose shape and dtype come from its rule in
`rskeras.ops.shape_rules`, recorded as a graph node, without running a kernel."""

from rskeras.ops.operation import Operation  # noqa: F401

from rskeras.ops.core import (  # noqa: F401
    Tensor, cast, cond, convert_to_numpy, convert_to_tensor, dtype, is_tensor, scatter,
    scatter_update, shape, slice, slice_update, stop_gradient, unstack,
)
from rskeras.ops.convolution import (  # noqa: F401
    average_pool, conv, conv_transpose, depthwise_conv, max_pool, separable_conv,
)
from rskeras.ops.math import erf, in_top_k, logsumexp, top_k  # noqa: F401
from rskeras.ops.nn import (  # noqa: F401
    batch_normalization, dot_product_attention, layer_normalization,
    binary_crossentropy, categorical_crossentropy, elu, gelu, hard_sigmoid, hard_silu,
    hard_swish, leaky_relu, log_sigmoid, log_softmax, moments, multi_hot, normalize, one_hot,
    relu, relu6, selu, sigmoid, silu, softmax, softplus, softsign,
    sparse_categorical_crossentropy,
    swish,
)
from rskeras.ops.numpy import (  # noqa: F401
    abs, absolute, add, arange, argmax, argmin, average, broadcast_to, clip, count_nonzero,
    divide, dot, einsum, equal, exp, expand_dims, eye, flip, full, full_like, get_item,
    greater, greater_equal, less, less_equal, linspace, log, logical_and, logical_not,
    logical_or, matmul, max, maximum, mean, meshgrid, min, minimum, moveaxis, multiply, ndim,
    negative, not_equal, ones, ones_like, outer, repeat, reshape, sign, size, split, sqrt,
    square, squeeze, stack, std, subtract, sum, swapaxes, take, tensordot, tile, transpose,
    tril, triu, true_divide, var, where, zeros, zeros_like,
)
from rskeras.ops.numpy import (  # noqa: F401
    all, any, arccos, arccosh, arcsin, arcsinh, arctan, arctan2, arctanh, argsort, ceil,
    concatenate, cos, cosh, cumprod, cumsum, divide_no_nan, expm1, floor, floor_divide,
    isfinite, isinf, isnan, log1p, log2, log10, mod, nan_to_num, pad, power, prod, reciprocal,
    round, rsqrt, sin, sinh, sort, take_along_axis, tan, tanh,
)

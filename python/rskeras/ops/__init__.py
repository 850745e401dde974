"""`rskeras.ops`: the keras.ops vocabulary on the Rust core (numpy-style, nn, math and core ops)."""

from rskeras.ops.core import (  # noqa: F401
    Tensor, cast, convert_to_numpy, convert_to_tensor, dtype, is_tensor, shape, slice,
    stop_gradient, unstack,
)
from rskeras.ops.math import logsumexp  # noqa: F401
from rskeras.ops.nn import (  # noqa: F401
    binary_crossentropy, categorical_crossentropy, elu, gelu, hard_sigmoid, hard_silu,
    hard_swish, leaky_relu, log_sigmoid, log_softmax, moments, multi_hot, normalize, one_hot,
    relu, relu6, selu, sigmoid, silu, softmax, softsign, sparse_categorical_crossentropy,
    swish, tanh,
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

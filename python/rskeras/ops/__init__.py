"""`rskeras.ops`: the keras.ops vocabulary on the Rust core (numpy-style, nn and core ops)."""

from rskeras.ops.core import (  # noqa: F401
    Tensor, cast, convert_to_numpy, convert_to_tensor, dtype, is_tensor, shape, stop_gradient,
)
from rskeras.ops.nn import (  # noqa: F401
    binary_crossentropy, categorical_crossentropy, log_softmax, one_hot, relu, sigmoid, softmax,
    sparse_categorical_crossentropy, tanh,
)
from rskeras.ops.numpy import (  # noqa: F401
    abs, absolute, add, argmax, argmin, broadcast_to, clip, divide, equal, exp, expand_dims,
    greater, greater_equal, less, less_equal, log, logical_and, logical_not, logical_or, matmul,
    max, maximum, mean, min, minimum, multiply, negative, not_equal, ones, ones_like, reshape,
    sign, sqrt, square, squeeze, subtract, sum, take, transpose, true_divide, where, zeros,
    zeros_like,
)

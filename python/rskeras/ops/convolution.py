"""Convolution and pooling ops with `keras.ops.nn` signatures: `conv`, `conv_transpose`,
`depthwise_conv`, `separable_conv`, `max_pool`, `average_pool`.

Inputs are `(batch, steps, channels)` (1-D) or `(batch, height, width, channels)` (2-D) with
the default `data_format="channels_last"`; `"channels_first"` puts channels second. Kernels use
the Keras layouts: `(kw, in_c / groups, out_c)` / `(kh, kw, in_c / groups, out_c)`. The work is
done by the Rust im2col + gemm kernels in `rust/ops/conv.rs`; 1-D ops run as 2-D ops of height 1.
"""

from __future__ import annotations

from rskeras import _core
from rskeras.backend import config as _config
from rskeras.ops import shape_rules as R
from rskeras.ops.operation import operation
from rskeras.ops import numpy as knp

Tensor = _core.Tensor


def _tuple(value, n: int, op: str, name: str) -> tuple:
    if isinstance(value, int):
        return (value,) * n
    value = tuple(int(v) for v in value)
    if len(value) != n:
        raise ValueError(f"{op}: `{name}` must be an int or a tuple of {n} ints, got {value}")
    return value


def _spatial_rank(x, op: str) -> int:
    if x.ndim not in (3, 4):
        raise ValueError(
            f"{op}: expected an input of rank 3 (batch, steps, channels) or 4 (batch, height, "
            f"width, channels), got shape {tuple(x.shape)} (3-D convolutions are not supported)")
    return x.ndim - 2


def _prepare(x, op, data_format, window, strides, dilation_rate):
    """NHWC input, 2-tuples of window, strides and dilation, and a function undoing the layout."""
    x = _core.convert_to_tensor(x)
    rank = _spatial_rank(x, op)
    fmt = (data_format or _config.image_data_format()).lower()
    if fmt not in ("channels_last", "channels_first"):
        raise ValueError(f"{op}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    first = fmt == "channels_first"
    if first:
        x = knp.moveaxis(x, 1, -1)
    window, strides, dilation_rate = (_tuple(v, rank, op, n) for v, n in
                                      ((window, "window"), (strides, "strides"),
                                       (dilation_rate, "dilation_rate")))
    if rank == 1:
        x = knp.expand_dims(x, 1)
        window, strides, dilation_rate = ((1, *window), (1, *strides), (1, *dilation_rate))

    def finish(y):
        if rank == 1:
            y = knp.squeeze(y, 1)
        return knp.moveaxis(y, -1, 1) if first else y

    return x, window, strides, dilation_rate, finish


def _with_kernel(op, inputs, kernel, data_format, strides, dilation_rate):
    """`_prepare` for the ops with a kernel, which must have the input's rank: the NHWC input,
    the kernel with a height axis for 1-D ops, the 2-tuples and the layout-undoing function."""
    kernel = _core.convert_to_tensor(kernel)
    x = _core.convert_to_tensor(inputs)
    _spatial_rank(x, op)
    if kernel.ndim != x.ndim:
        raise ValueError(f"{op}: a rank-{x.ndim} input needs a rank-{x.ndim} kernel, got kernel "
                         f"shape {tuple(kernel.shape)} for input shape {tuple(x.shape)}")
    x, window, strides, dilation_rate, finish = _prepare(
        x, op, data_format, tuple(kernel.shape[:-2]), strides, dilation_rate)
    if kernel.ndim == 3:
        kernel = knp.expand_dims(kernel, 0)
    return x, kernel, window, strides, dilation_rate, finish


def _padding(padding, op):
    padding = str(padding).lower()
    if padding not in ("valid", "same", "causal"):
        raise ValueError(f"{op}: padding must be 'valid' or 'same', got {padding!r}")
    return padding


@operation(R.conv)
def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1) -> Tensor:
    """N-D convolution (N = 1 or 2), as `keras.ops.conv`.

    Args:
        inputs: `(batch, steps, in_c)` or `(batch, height, width, in_c)` (channels_last).
        kernel: `(kw, in_c / groups, out_c)` or `(kh, kw, in_c / groups, out_c)`; the number of
            groups is `in_c // kernel.shape[-2]`.
        strides, dilation_rate: an int or one int per spatial axis (default 1).
        padding: "valid" (no padding) or "same" (output size `ceil(size / stride)`, the extra
            padding at the end as in Keras); "causal" (1-D only) pads only the start.

    Returns: `(batch, out_steps, out_c)` or `(batch, out_h, out_w, out_c)`, float32 unless the
        operands are float64.

    Raises:
        ValueError: for ranks other than 3 or 4, channels that do not match the kernel, a window
            larger than a "valid" input, or an unknown padding or data_format.
    """
    padding = _padding(padding, "conv")
    x, kernel, window, strides, dilation_rate, finish = _with_kernel(
        "conv", inputs, kernel, data_format, strides, dilation_rate)
    if padding == "causal":
        if window[0] != 1:
            raise ValueError("conv: padding='causal' is only defined for 1-D convolutions")
        left = (window[1] - 1) * dilation_rate[1]
        x = knp.pad(x, ((0, 0), (0, 0), (left, 0), (0, 0)))
        padding = "valid"
    in_c, k_in = x.shape[-1], kernel.shape[-2]
    if k_in == 0 or in_c % k_in:
        raise ValueError(f"conv: input channels ({in_c}) must be a multiple of the kernel's input "
                         f"channels ({k_in}); kernel shape {tuple(kernel.shape)}")
    return finish(_core.conv2d(x, kernel, strides[-2:], padding, dilation_rate[-2:], in_c // k_in))


@operation(R.depthwise_conv)
def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1) -> Tensor:
    """Depthwise convolution, as `keras.ops.depthwise_conv`: each input channel is convolved
    with its own `depth_multiplier` filters.

    Args:
        kernel: `(kw, in_c, depth_multiplier)` or `(kh, kw, in_c, depth_multiplier)`.
        The rest as in `conv`.

    Returns: `(..., in_c * depth_multiplier)`; output channel `c * depth_multiplier + m` is
        channel `c` filtered by `kernel[..., c, m]`.
    """
    padding = _padding(padding, "depthwise_conv")
    if padding == "causal":
        raise ValueError("depthwise_conv: padding must be 'valid' or 'same', got 'causal'")
    x, kernel, _, strides, dilation_rate, finish = _with_kernel(
        "depthwise_conv", inputs, kernel, data_format, strides, dilation_rate)
    return finish(_core.depthwise_conv2d(x, kernel, strides[-2:], padding, dilation_rate[-2:]))


@operation(R.separable_conv)
def separable_conv(inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid",
                   data_format=None, dilation_rate=1) -> Tensor:
    """A depthwise convolution followed by a 1x1 (pointwise) convolution, as
    `keras.ops.separable_conv`. `pointwise_kernel`: `(1, in_c * depth_multiplier, out_c)` or
    `(1, 1, in_c * depth_multiplier, out_c)`."""
    y = depthwise_conv(inputs, depthwise_kernel, strides, padding, data_format, dilation_rate)
    return conv(y, pointwise_kernel, 1, "valid", data_format, 1)


@operation(R.conv_transpose)
def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None,
                   data_format=None, dilation_rate=1) -> Tensor:
    """Transposed convolution (the gradient of `conv` with respect to its input), as
    `keras.ops.conv_transpose`.

    Args:
        kernel: `(kw, out_c, in_c)` or `(kh, kw, out_c, in_c)` (Keras layout).
        Output size per spatial axis: `size * stride` with "same", `size * stride +
        max(span - stride, 0)` with "valid", where `span = (k - 1) * dilation + 1`.

    Raises:
        ValueError: for an `output_padding` (not supported by this release), or shapes as in
            `conv`.
    """
    if output_padding is not None:
        raise ValueError("conv_transpose: output_padding is not supported; leave it None")
    padding = _padding(padding, "conv_transpose")
    x, kernel, _, strides, dilation_rate, finish = _with_kernel(
        "conv_transpose", inputs, kernel, data_format, strides, dilation_rate)
    return finish(_core.conv2d_transpose(x, kernel, strides, padding, dilation_rate))


def _pool(op, max_, inputs, pool_size, strides, padding, data_format):
    padding = _padding(padding, op)
    if padding == "causal":
        raise ValueError(f"{op}: padding must be 'valid' or 'same', got 'causal'")
    strides = pool_size if strides is None else strides
    x, window, strides, _, finish = _prepare(inputs, op, data_format, pool_size, strides, 1)
    return finish(_core.pool2d(x, max_, window, strides, padding))


@operation(R.pool)
def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None) -> Tensor:
    """Max pooling, as `keras.ops.max_pool`: the largest value of each `pool_size` window,
    moved by `strides` (default: `pool_size`). The gradient goes to the first maximum of each
    window. Shapes as in `conv`, with the input's channel count."""
    return _pool("max_pool", True, inputs, pool_size, strides, padding, data_format)


@operation(R.pool)
def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None) -> Tensor:
    """Average pooling, as `keras.ops.average_pool`. With padding "same" each window is
    averaged over its input elements only (padding excluded), as in Keras."""
    return _pool("average_pool", False, inputs, pool_size, strides, padding, data_format)

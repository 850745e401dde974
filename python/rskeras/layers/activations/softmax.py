"""`Softmax`: normalized exponentials along an axis."""

from __future__ import annotations

from rskeras import ops
from rskeras.layers._layer_args import is_int
from rskeras.layers.layer import Layer


class Softmax(Layer):
    """Softmax along `axis`: `exp(x) / sum(exp(x), axis)` (Keras `keras.layers.Softmax`).

    Args:
        axis: an int or a tuple of ints, the axes the softmax normalizes over (default -1).

    Call arguments:
        mask: optional boolean tensor broadcastable to the input; False entries get a large
            negative logit (-1e9, or -3e4 in float16, as Keras) before the softmax and a 0
            probability after it.

    Shapes: any input shape `(batch, ...)`; the output has the same shape.

    Raises:
        ValueError: when `axis` is not an int or a non-empty tuple of ints, or is out of range
            for the input.
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if is_int(axis):
            axis = int(axis)
        elif (isinstance(axis, (list, tuple)) and axis and all(is_int(a) for a in axis)):
            axis = tuple(int(a) for a in axis)
        else:
            raise ValueError(f"Softmax: `axis` must be an int or a tuple of ints, got {axis!r}")
        self.axis = axis
        self.supports_masking = True
        self.built = True

    def call(self, inputs, mask=None):
        axes = (self.axis,) if isinstance(self.axis, int) else self.axis
        if any(not -inputs.ndim <= a < inputs.ndim for a in axes):
            raise ValueError(
                f'Layer "{self.name}" (Softmax): axis={self.axis} is out of range for an input '
                f"of shape {tuple(inputs.shape)}")
        if mask is not None:
            large_negative = -3e4 if inputs.dtype == "float16" else -1e9
            inputs = inputs + (1.0 - ops.cast(mask, inputs.dtype)) * large_negative
        if len(axes) == 1:
            out = ops.softmax(inputs, axis=axes[0])
        else:
            out = ops.exp(inputs - ops.logsumexp(inputs, axis=axes, keepdims=True))
        if mask is not None:
            out = out * ops.cast(mask, out.dtype)
        return out

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}

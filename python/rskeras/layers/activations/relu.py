"""`ReLU`: the rectified linear unit with optional cap, slope and threshold."""

from __future__ import annotations

from rskeras import ops
from rskeras.layers.layer import Layer


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class ReLU(Layer):
    """The rectified linear unit, element-wise (Keras `keras.layers.ReLU`, formula of
    `keras.activations.relu`):

        f(x) = max_value                          if x >= max_value
        f(x) = x                                  if threshold < x < max_value
        f(x) = negative_slope * (x - threshold)   otherwise

    (`f(threshold) = 0`). With the defaults it is `max(x, 0)`.

    Args:
        max_value: non-negative float cap, or None (default: no cap).
        negative_slope: non-negative float, the slope below the threshold (default 0.0).
        threshold: non-negative float below which values are damped (default 0.0).

    Shapes: any input shape `(batch, ...)`; the output has the same shape.

    Raises:
        ValueError: when `max_value`, `negative_slope` or `threshold` is negative or not a
            number.
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        if max_value is not None and (not _number(max_value) or max_value < 0):
            raise ValueError(f"ReLU: `max_value` cannot be negative, got max_value={max_value!r}")
        if not _number(negative_slope) or negative_slope < 0:
            raise ValueError(
                f"ReLU: `negative_slope` cannot be negative, got negative_slope={negative_slope!r}")
        if not _number(threshold) or threshold < 0:
            raise ValueError(f"ReLU: `threshold` cannot be negative, got threshold={threshold!r}")
        self.max_value = None if max_value is None else float(max_value)
        self.negative_slope = float(negative_slope)
        self.threshold = float(threshold)
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        slope, cap, t = self.negative_slope, self.max_value, self.threshold
        if cap is None and t == 0.0:
            return ops.relu(inputs) if slope == 0.0 else ops.leaky_relu(inputs, slope)
        x = ops.relu(inputs) if t == 0.0 else ops.where(ops.greater(inputs, t), inputs, 0.0)
        if cap is not None:
            x = ops.minimum(x, cap)
        if slope != 0.0:
            x = x - slope * ops.relu(t - inputs)
        return x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value,
                "negative_slope": self.negative_slope, "threshold": self.threshold}

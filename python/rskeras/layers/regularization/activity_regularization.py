"""`ActivityRegularization`: add an L1/L2 penalty on the activations to the loss."""

from __future__ import annotations

from rskeras import ops
from rskeras.layers.layer import Layer


class ActivityRegularization(Layer):
    """Return the input unchanged and add `l1 * sum(|x|) + l2 * sum(x**2)` to the layer's
    losses (Keras `keras.layers.ActivityRegularization`, whose penalty is
    `keras.regularizers.L1L2` on the output, summed over the batch, not averaged).

    The penalty of the latest call replaces the previous one in `layer.losses`; `fit` adds
    it to the training loss.

    Args:
        l1: non-negative float, the L1 factor (default 0.0).
        l2: non-negative float, the L2 factor (default 0.0).

    Shapes: any input `(batch, ...)` -> output of the same shape.

    Raises:
        ValueError: when `l1` or `l2` is negative or not a number.
    """

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("l1", l1), ("l2", l2)):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ValueError(
                    f"ActivityRegularization: `{name}` must be a non-negative float, got {value!r}")
        self.l1, self.l2 = float(l1), float(l2)
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        penalty = ops.zeros((), dtype=inputs.dtype if inputs.dtype.startswith("float") else "float32")
        if self.l1:
            penalty = penalty + self.l1 * ops.sum(ops.abs(inputs))
        if self.l2:
            penalty = penalty + self.l2 * ops.sum(ops.square(inputs))
        self._losses.clear()
        self.add_loss(penalty)
        return inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "l1": self.l1, "l2": self.l2}

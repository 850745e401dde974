"""`ActivityRegularization`: add an L1/L2 penalty on the activations to the loss."""

from __future__ import annotations

from rskeras import regularizers
from rskeras.layers.layer import Layer


class ActivityRegularization(Layer):
    """Return the input unchanged and add `l1 * sum(|x|) + l2 * sum(x**2)` to the layer's
    losses (Keras 3 `keras.layers.ActivityRegularization`: its `activity_regularizer` is
    `keras.regularizers.L1L2(l1, l2)` on the output, summed over the batch, not averaged).

    As for every layer with an activity regularizer, the outermost call of a forward pass
    replaces the penalties of the previous one in `layer.losses`; `fit` adds them to the
    training loss.

    Args:
        l1: non-negative float, the L1 factor (default 0.0).
        l2: non-negative float, the L2 factor (default 0.0).

    Shapes: any input `(batch, ...)` -> output of the same shape.

    Raises:
        ValueError: when `l1` or `l2` is negative or not a number.
    """

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        kwargs.pop("activity_regularizer", None)  # always L1L2(l1, l2), as in Keras 3
        super().__init__(activity_regularizer=regularizers.L1L2(l1=l1, l2=l2), **kwargs)
        self.l1, self.l2 = float(l1), float(l2)
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.pop("activity_regularizer", None)
        return {**config, "l1": self.l1, "l2": self.l2}

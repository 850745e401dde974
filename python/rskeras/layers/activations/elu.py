"""`ELU`: the exponential linear unit."""

from __future__ import annotations

from rskeras import ops
from rskeras.layers.layer import Layer


class ELU(Layer):
    """The exponential linear unit, element-wise (Keras `keras.layers.ELU`, Clevert et al.,
    2016): `f(x) = x if x > 0 else alpha * (exp(x) - 1)`.

    Args:
        alpha: float, the scale of the negative part (default 1.0).

    Shapes: any input shape `(batch, ...)`; the output has the same shape.

    Raises:
        ValueError: when `alpha` is not a number.
    """

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(alpha, (int, float)) or isinstance(alpha, bool):
            raise ValueError(f"ELU: `alpha` must be a float, got alpha={alpha!r}")  # noqa: TRY004
        self.alpha = float(alpha)
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        return ops.elu(inputs, self.alpha)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}

"""`Cropping1D`: drop timesteps at the start and end."""

from __future__ import annotations

from rskeras.layers._layer_args import standardize_tuple
from rskeras.layers.input_spec import InputSpec
from rskeras.layers.layer import Layer


class Cropping1D(Layer):
    """Remove `cropping[0]` timesteps at the start and `cropping[1]` at the end (Keras
    `keras.layers.Cropping1D`).

    Args:
        cropping: non-negative int (both sides) or tuple `(start, end)` (default `(1, 1)`).

    Shapes: input `(batch, steps, features)` -> output
    `(batch, steps - start - end, features)`.

    Raises:
        ValueError: for a negative or malformed `cropping`, an input that is not 3-D, or a
            cropping that leaves no timestep (`start + end >= steps`).
    """

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.cropping = standardize_tuple("Cropping1D", cropping, 2, "cropping", allow_zero=True)
        self.input_spec = InputSpec(ndim=3)
        self.built = True

    def _check(self, steps):
        if steps is not None and sum(self.cropping) >= steps:
            raise ValueError(
                f'Layer "{self.name}" (Cropping1D): cropping={self.cropping} must remove fewer '
                f"than the {steps} timesteps of the input")

    def call(self, inputs):
        steps = inputs.shape[1]
        self._check(steps)
        return inputs[:, self.cropping[0]:steps - self.cropping[1], :]

    def compute_output_shape(self, input_shape):
        self._check(input_shape[1])
        steps = None if input_shape[1] is None else input_shape[1] - sum(self.cropping)
        return (input_shape[0], steps, input_shape[2])

    def get_config(self):
        return {**super().get_config(), "cropping": self.cropping}

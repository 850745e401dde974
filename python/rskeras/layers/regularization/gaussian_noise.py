"""`GaussianNoise`: additive zero-mean Gaussian noise during training."""

from __future__ import annotations

from rskeras import random as krandom
from rskeras.layers.layer import Layer
from rskeras.random.seed_generator import SeedGenerator


class GaussianNoise(Layer):
    """During training, add noise drawn from `N(0, stddev**2)` to every input; at inference
    (training falsy) the identity (Keras `keras.layers.GaussianNoise`).

    Args:
        stddev: float in [0, 1], the standard deviation of the noise (Keras's range).
        seed: int for reproducible noise, or None.

    Shapes: any input `(batch, ...)` -> output of the same shape.

    Raises:
        ValueError: when `stddev` is not a number in [0, 1].
    """

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(stddev, (int, float)) or isinstance(stddev, bool) or not 0 <= stddev <= 1:
            raise ValueError(f"GaussianNoise: `stddev` must be a float in [0, 1], got {stddev!r}")
        self.stddev = float(stddev)
        self.seed = seed
        self.seed_generator = SeedGenerator(seed)
        self.supports_masking = True
        self.built = True

    def call(self, inputs, training=False):
        if training and self.stddev > 0:
            noise = krandom.normal(tuple(inputs.shape), 0.0, self.stddev, dtype=self.dtype,
                                   seed=self.seed_generator)
            return inputs + noise
        return inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}

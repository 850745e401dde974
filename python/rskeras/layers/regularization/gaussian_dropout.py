"""`GaussianDropout`: multiplicative one-mean Gaussian noise during training."""

from __future__ import annotations

import math

from rskeras import random as krandom
from rskeras.layers.layer import Layer
from rskeras.random.seed_generator import SeedGenerator


class GaussianDropout(Layer):
    """During training, multiply every input by noise drawn from `N(1, rate / (1 - rate))`
    (standard deviation `sqrt(rate / (1 - rate))`, Srivastava et al., 2014, section 10); at
    inference (training falsy) the identity (Keras `keras.layers.GaussianDropout`).

    Args:
        rate: float in [0, 1), the drop probability as for `Dropout`. (Keras also accepts
            1, which divides by zero; rskeras rejects it.)
        seed: int for reproducible noise, or None.

    Shapes: any input `(batch, ...)` -> output of the same shape.

    Raises:
        ValueError: when `rate` is not a number in [0, 1).
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 <= rate < 1:
            raise ValueError(f"GaussianDropout: `rate` must be a float in [0, 1), got {rate!r}")
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = SeedGenerator(seed)
        self.supports_masking = True
        self.built = True

    def call(self, inputs, training=False):
        if training and self.rate > 0:
            stddev = math.sqrt(self.rate / (1.0 - self.rate))
            noise = krandom.normal(tuple(inputs.shape), 1.0, stddev, dtype=self.dtype,
                                   seed=self.seed_generator)
            return inputs * noise
        return inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}

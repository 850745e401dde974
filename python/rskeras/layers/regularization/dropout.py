"""`Dropout`: randomly zero inputs during training."""

from rskeras import random as krandom
from rskeras.layers.layer import Layer
from rskeras.random.seed_generator import SeedGenerator


class Dropout(Layer):
    """During training, zero each input with probability `rate` and scale the rest by
    `1 / (1 - rate)` (Srivastava et al., 2014); at inference, the identity.

    Args:
        rate: float in [0, 1), the fraction of inputs to drop.
        noise_shape: shape of the binary mask, broadcast over the input (None: input shape).
        seed: int for reproducible masks.

    Raises:
        ValueError: when `rate` is outside [0, 1).
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(f"Dropout: `rate` must be a float in [0, 1), got {rate!r}")
        self.rate, self.noise_shape, self.seed = float(rate), noise_shape, seed
        self.seed_generator = SeedGenerator(seed)
        self.supports_masking = True  # the input's mask passes through (Keras)
        self.built = True

    def call(self, inputs, training=False):
        if training and self.rate > 0:
            return krandom.dropout(inputs, self.rate, self.noise_shape, seed=self.seed_generator)
        return inputs

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed,
                "noise_shape": self.noise_shape}

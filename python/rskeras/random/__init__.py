"""`rskeras.random`: random tensors from the counter-based Philox 4x32-10 generator.

The same seed gives bit-identical numbers whatever the thread count."""

from __future__ import annotations

from rskeras import _core
from rskeras.random.seed_generator import SeedGenerator, draw_stream

__all__ = ["SeedGenerator", "dropout", "normal", "uniform"]


def _check_float(op, dtype):
    if dtype not in (None, "float32"):
        raise ValueError(f"random.{op}: only float32 is supported for now, got dtype={dtype!r}")


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Floats drawn uniformly from `[minval, maxval)`, of the given `shape` (float32)."""
    _check_float("uniform", dtype)
    return _core.random_uniform(shape, float(minval), float(maxval), *draw_stream(seed))


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Floats from a normal distribution with `mean` and `stddev` (Box-Muller), float32."""
    _check_float("normal", dtype)
    return _core.random_normal(shape, float(mean), float(stddev), *draw_stream(seed))


def dropout(inputs, rate, noise_shape=None, seed=None):
    """Zero each element with probability `rate` and scale the rest by `1 / (1 - rate)`
    (inverted dropout, Srivastava et al. 2014). `noise_shape` broadcasts one mask.

    Raises:
        ValueError: when `rate` is outside `[0, 1)`.
    """
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout: rate must be in [0, 1), got {rate}")
    inputs = _core.convert_to_tensor(inputs)
    if rate == 0.0:
        return inputs
    shape = tuple(inputs.shape) if noise_shape is None else tuple(
        d if d is not None else inputs.shape[i] for i, d in enumerate(noise_shape)
    )
    keep = _core.binary("greater_equal", uniform(shape, seed=seed), rate)
    scale = _core.cast(keep, "float32") * (1.0 / (1.0 - rate))
    return inputs * scale

"""`rskeras.random`: random tensors from the counter-based Philox 4x32-10 generator.

The same seed gives bit-identical numbers whatever the thread count."""

from __future__ import annotations

from rskeras import _core
from rskeras.backend.config import FLOAT_DTYPES, floatx
from rskeras.random.seed_generator import SeedGenerator, draw_stream

__all__ = ["SeedGenerator", "categorical", "dropout", "normal", "randint", "shuffle",
           "truncated_normal", "uniform"]


def _float_dtype(op, dtype):
    """The float dtype to return (default `floatx()`), or a ValueError naming `op`."""
    dtype = dtype or floatx()
    if dtype not in FLOAT_DTYPES:
        raise ValueError(f"random.{op}: dtype must be a float type {FLOAT_DTYPES}, got {dtype!r}")
    return dtype


def _as(x, dtype):
    return x if dtype == "float32" else _core.cast(x, dtype)


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Floats drawn uniformly from `[minval, maxval)`, of the given `shape`.

    `dtype` defaults to `floatx()`; numbers are drawn in float32 and cast, so every dtype sees
    the same values for the same seed."""
    dtype = _float_dtype("uniform", dtype)
    return _as(_core.random_uniform(shape, float(minval), float(maxval), *draw_stream(seed)), dtype)


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Floats from a normal distribution with `mean` and `stddev` (Box-Muller); `dtype` as
    in `uniform`."""
    dtype = _float_dtype("normal", dtype)
    return _as(_core.random_normal(shape, float(mean), float(stddev), *draw_stream(seed)), dtype)


def dropout(inputs, rate, noise_shape=None, seed=None):
    """Zero each element with probability `rate` and scale the rest by `1 / (1 - rate)`
    (inverted dropout, Srivastava et al. 2014). `noise_shape` broadcasts one mask.

    Raises:
        ValueError: when `rate` is outside `[0, 1)`, or `noise_shape` does not broadcast to
            the input's shape.
    """
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout: rate must be in [0, 1), got {rate}")
    inputs = _core.convert_to_tensor(inputs)
    if rate == 0.0:
        return inputs
    shape = tuple(inputs.shape) if noise_shape is None else tuple(
        d if d is not None else inputs.shape[i] for i, d in enumerate(noise_shape)
    )
    if len(shape) > inputs.ndim or any(
            d not in (1, n) for d, n in zip(shape[::-1], tuple(inputs.shape)[::-1])):
        raise ValueError(f"dropout: noise_shape {tuple(noise_shape)} does not broadcast to the "
                         f"input shape {tuple(inputs.shape)}")
    keep = _core.binary("greater_equal", uniform(shape, dtype="float32", seed=seed), rate)
    dtype = inputs.dtype if inputs.dtype in FLOAT_DTYPES else "float32"
    # where(), not a product with the mask: a dropped inf or NaN is 0, as in Keras.
    kept = _core.cast(inputs, dtype) * (1.0 / (1.0 - rate))
    return _core.where_(keep, kept, 0.0)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normal floats with `mean` and `stddev`, where draws more than two standard deviations
    from the mean are drawn again (as `keras.random.truncated_normal`); `dtype` as in `uniform`.

    Every redraw is a fresh stream of the same seed, so the result is reproducible and
    independent of the thread count."""
    dtype = _float_dtype("truncated_normal", dtype)
    generator = seed if isinstance(seed, SeedGenerator) else SeedGenerator(
        seed if isinstance(seed, int) and not isinstance(seed, bool) else None)
    z = _core.random_normal(shape, 0.0, 1.0, *generator.next())
    outside = _core.binary("greater", _core.unary("abs", z), 2.0)
    while bool(_core.reduce("max", outside)) if z.size else False:
        fresh = _core.random_normal(shape, 0.0, 1.0, *generator.next())
        z = _core.where_(outside, fresh, z)
        outside = _core.binary("greater", _core.unary("abs", z), 2.0)
    return _as(z, dtype) * float(stddev) + float(mean)  # scaled in the result dtype


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers drawn uniformly from `[minval, maxval)`.

    Raises:
        ValueError: when `maxval <= minval` or `dtype` is not an integer type.
    """
    if dtype not in ("int32", "int64"):
        raise ValueError(f"random.randint: dtype must be int32 or int64, got {dtype!r}")
    minval, maxval = int(minval), int(maxval)
    if maxval <= minval:
        raise ValueError(f"random.randint: need minval < maxval, got {minval} and {maxval}")
    u = uniform(shape, 0.0, 1.0, dtype="float32", seed=seed)
    span = maxval - minval
    picked = _core.cast(_core.unary("floor", u * float(span)), dtype)
    # float32 rounding can reach `span` itself for large spans; keep the range half-open.
    return _core.binary("minimum", picked, span - 1) + minval


def shuffle(x, axis=0, seed=None):
    """`x` with its entries along `axis` in random order (a random permutation)."""
    x = _core.convert_to_tensor(x)
    if x.ndim == 0:
        raise ValueError("random.shuffle: cannot shuffle a scalar")
    keys = uniform((x.shape[axis],), dtype="float32", seed=seed)
    return _core.take(x, _core.argsort(keys), axis)


def categorical(logits, num_samples, dtype="int32", seed=None):
    """Class indices sampled from unnormalised log-probabilities `logits` of shape
    `(batch, classes)`; returns `(batch, num_samples)`. Uses the Gumbel-max trick:
    `argmax(logits + G)` with `G = -log(-log(U))` is a draw from `softmax(logits)`.

    Raises:
        ValueError: when `logits` is not 2-D.
    """
    logits = _core.convert_to_tensor(logits, "float32")
    if logits.ndim != 2:
        raise ValueError(f"random.categorical: logits must be (batch, classes), got shape {logits.shape}")
    batch, classes = logits.shape
    u = uniform((batch, num_samples, classes), 1e-20, 1.0, dtype="float32", seed=seed)
    gumbel = -_core.unary("log", -_core.unary("log", u))
    scores = _core.reshape(logits, (batch, 1, classes)) + gumbel
    return _core.cast(_core.arg_reduce(scores, -1, False, True), dtype)

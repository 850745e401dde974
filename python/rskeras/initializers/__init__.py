"""`rskeras.initializers`: weight initializers with Keras 3 names and defaults.

Fans follow Keras's `compute_fans`: for a kernel of shape `(..., fan_in, fan_out)` the leading
axes form the receptive field. Glorot: Glorot & Bengio (2010); He: He et al. (2015);
LeCun: LeCun et al. (1998)."""

from __future__ import annotations

import math


from rskeras import _core
from rskeras import random as krandom
from rskeras.backend import variables as _variables
from rskeras.backend.config import floatx
from rskeras.random.seed_generator import SeedGenerator


def _from_host(values, dtype):
    """A tensor of `dtype` (default floatx) from host values (NumPy has no bfloat16)."""
    return _core.cast(_core.convert_to_tensor(values), dtype or floatx())


def compute_fans(shape) -> tuple[float, float]:
    """`(fan_in, fan_out)` of a weight of the given shape."""
    shape = tuple(shape)
    if len(shape) == 0:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    if len(shape) == 2:
        return float(shape[0]), float(shape[1])
    receptive = math.prod(shape[:-2])
    return float(shape[-2] * receptive), float(shape[-1] * receptive)


class Initializer:
    """Base class: `initializer(shape, dtype=None)` returns a tensor."""

    def __call__(self, shape, dtype=None):
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        """An initializer from `get_config()`'s dict (unset options that a newer Keras
        writes, such as `input_axes: None`, are dropped).

        Raises:
            ValueError: for an unsupported option set to a value.
        """
        from rskeras.saving.serialization_lib import accepted_config

        return cls(**accepted_config(cls, dict(config)))


class Constant(Initializer):
    """Every element equal to `value` (default 0.0)."""

    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None):
        import numpy as np

        dtype = dtype or floatx()
        if dtype in ("float16", "float32", "float64"):  # filled in place, no float64 detour
            return _core.convert_to_tensor(np.full(tuple(shape), self.value, dtype))
        return _from_host(np.full(tuple(shape), self.value, "float64"), dtype)

    def get_config(self):
        return {"value": self.value}


class Zeros(Constant):
    """All zeros."""

    def __init__(self):
        super().__init__(0.0)

    def get_config(self):
        return {}


class Ones(Constant):
    """All ones."""

    def __init__(self):
        super().__init__(1.0)

    def get_config(self):
        return {}


class _Random(Initializer):
    def __init__(self, seed=None):
        self.seed = seed
        # An int seed fixes the stream; None draws from the global generator at each call.
        self._generator = SeedGenerator(seed) if isinstance(seed, int) else seed

    def _gen(self):
        return self._generator

    def get_config(self):
        return {"seed": self.seed if isinstance(self.seed, int) or self.seed is None else None}


class RandomUniform(_Random):
    """Uniform on `[minval, maxval)` (defaults -0.05, 0.05)."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape, dtype=None):
        return krandom.uniform(shape, self.minval, self.maxval, dtype=dtype, seed=self._gen())

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


class RandomNormal(_Random):
    """Normal with `mean` and `stddev` (defaults 0.0, 0.05)."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype=None):
        return krandom.normal(shape, self.mean, self.stddev, dtype=dtype, seed=self._gen())

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class VarianceScaling(_Random):
    """Samples with variance `scale / n`, n from `mode` ("fan_in", "fan_out", "fan_avg").

    `distribution="uniform"` draws from `[-limit, limit)` with `limit = sqrt(3 * scale / n)`;
    `"untruncated_normal"` from a normal with `stddev = sqrt(scale / n)`.

    Raises:
        ValueError: for an unknown mode or distribution, or a non-positive scale.
    """

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        super().__init__(seed)
        if scale <= 0:
            raise ValueError(f"VarianceScaling: scale must be positive, got {scale}")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"VarianceScaling: unknown mode {mode!r}")
        if distribution not in ("uniform", "untruncated_normal", "truncated_normal"):
            raise ValueError(f"VarianceScaling: unknown distribution {distribution!r}")
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        var = self.scale / max(1.0, n)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * var)
            return krandom.uniform(shape, -limit, limit, dtype=dtype, seed=self._gen())
        if self.distribution == "truncated_normal":
            # 0.8796... is the stddev of a unit normal truncated to [-2, 2]: dividing by it
            # gives the truncated draws the requested variance (as Keras does).
            stddev = math.sqrt(var) / 0.87962566103423978
            return krandom.truncated_normal(shape, 0.0, stddev, dtype=dtype, seed=self._gen())
        return krandom.normal(shape, 0.0, math.sqrt(var), dtype=dtype, seed=self._gen())

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                **super().get_config()}


class _Preset(VarianceScaling):
    """A VarianceScaling with fixed `(scale, mode, distribution)`; only `seed` is configurable."""

    _args: tuple = ()

    def __init__(self, seed=None):
        super().__init__(*self._args, seed=seed)

    def get_config(self):
        return {"seed": self.seed if isinstance(self.seed, int) or self.seed is None else None}


class GlorotUniform(_Preset):
    """Uniform on `[-limit, limit)`, `limit = sqrt(6 / (fan_in + fan_out))` (Glorot & Bengio,
    2010). The default kernel initializer of Dense and Conv layers."""

    _args = (1.0, "fan_avg", "uniform")


class GlorotNormal(_Preset):
    """Truncated normal with `stddev = sqrt(2 / (fan_in + fan_out))` (Glorot & Bengio, 2010)."""

    _args = (1.0, "fan_avg", "truncated_normal")


class HeUniform(_Preset):
    """Uniform with `limit = sqrt(6 / fan_in)` (He et al., 2015)."""

    _args = (2.0, "fan_in", "uniform")


class HeNormal(_Preset):
    """Truncated normal with `stddev = sqrt(2 / fan_in)` (He et al., 2015)."""

    _args = (2.0, "fan_in", "truncated_normal")


class LecunUniform(_Preset):
    """Uniform with `limit = sqrt(3 / fan_in)` (LeCun et al., 1998)."""

    _args = (1.0, "fan_in", "uniform")


class LecunNormal(_Preset):
    """Truncated normal with `stddev = sqrt(1 / fan_in)` (LeCun et al., 1998)."""

    _args = (1.0, "fan_in", "truncated_normal")


class TruncatedNormal(_Random):
    """Normal with `mean` and `stddev` (defaults 0.0, 0.05), redrawn beyond two standard
    deviations (`keras.random.truncated_normal`)."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype=None):
        return krandom.truncated_normal(shape, self.mean, self.stddev, dtype=dtype, seed=self._gen())

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class Orthogonal(_Random):
    """An orthogonal matrix times `gain` (Saxe et al., 2014): the Q factor of the QR
    decomposition of a normal draw, sign-corrected so it is uniformly distributed. Shapes of
    rank > 2 are flattened to `(prod(shape[:-1]), shape[-1])`. The default recurrent initializer.

    Raises:
        ValueError: for a shape of rank < 2.
    """

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = gain

    def __call__(self, shape, dtype=None):
        import numpy as np

        shape = tuple(shape)
        if len(shape) < 2:
            raise ValueError(f"Orthogonal: the shape must have rank >= 2, got {shape}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = np.asarray(krandom.normal((max(rows, cols), min(rows, cols)), dtype="float32",
                                      seed=self._gen()), np.float64)
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return _from_host((self.gain * q).reshape(shape), dtype)

    def get_config(self):
        return {"gain": self.gain, **super().get_config()}


class Identity(Initializer):
    """`gain` times the identity matrix (ones on the main diagonal of a 2-D shape).

    Raises:
        ValueError: for a shape that is not 2-D.
    """

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None):
        import numpy as np

        if len(shape) != 2:
            raise ValueError(f"Identity: the shape must be 2-D, got {tuple(shape)}")
        return _from_host(self.gain * np.eye(*shape), dtype)

    def get_config(self):
        return {"gain": self.gain}


_ALL = {cls.__name__: cls for cls in (
    Constant, Zeros, Ones, RandomUniform, RandomNormal, TruncatedNormal, VarianceScaling,
    GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal, Orthogonal,
    Identity)}
_ALIASES = {
    "constant": Constant, "zeros": Zeros, "ones": Ones, "random_uniform": RandomUniform,
    "random_normal": RandomNormal, "truncated_normal": TruncatedNormal,
    "variance_scaling": VarianceScaling, "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal, "he_uniform": HeUniform, "he_normal": HeNormal,
    "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal, "orthogonal": Orthogonal,
    "identity": Identity,
}
globals().update(_ALIASES)


def serialize(initializer) -> dict:
    """`{"module", "class_name", "config", "registered_name"}` in Keras 3's format."""
    return {"module": "keras.initializers", "class_name": type(initializer).__name__,
            "config": initializer.get_config(), "registered_name": None}


def deserialize(config):
    return get(config)


def get(identifier):
    """An initializer from a name ("glorot_uniform"), a config dict, an instance or a callable.

    Raises:
        ValueError: for an unknown name or identifier.
    """
    if identifier is None:
        return None
    if isinstance(identifier, Initializer) or callable(identifier) and not isinstance(identifier, (str, dict, type)):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if isinstance(identifier, dict):
        cls = _ALL.get(identifier.get("class_name"))
        if cls is None:
            raise ValueError(f"Unknown initializer config: {identifier!r}")
        return cls.from_config(identifier.get("config", {}))
    if isinstance(identifier, str):
        cls = _ALIASES.get(identifier) or _ALL.get(identifier)
        if cls is None:
            raise ValueError(
                f"Unknown initializer: {identifier!r}. Known names: {sorted(_ALIASES)}"
            )
        return cls()
    raise ValueError(f"Could not interpret initializer identifier: {identifier!r}")


# `Variable` (in backend, below this package) makes a value from an initializer's name with it.
_variables.set_initializer_getter(get)

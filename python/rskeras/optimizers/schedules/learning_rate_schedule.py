"""Learning-rate schedules (`keras.optimizers.schedules`): a schedule maps the optimizer's
step (its `iterations`, the number of updates already applied) to a learning rate.

Every schedule computes in float32, in the order Keras 3.15's JAX backend does
(`keras/src/optimizers/schedules/learning_rate_schedule.py`), so the rates agree with Keras's to
a few float32 ulps; the result is returned as a Python float. The schedule is evaluated on the
host once per step: it is a handful of scalar operations, not tensor work.
"""

from __future__ import annotations

import math

from rskeras.backend.lazy_numpy import np


def _F32(value):
    """`np.float32(value)` (NumPy is imported on first use)."""
    return np.float32(value)


def _f32(value) -> np.float32:
    """`value` (a Python or NumPy number, or a 0-d tensor) as a float32 scalar, as Keras's
    `ops.cast(x, "float32")`."""
    if not isinstance(value, (int, float, np.generic)):
        value = np.asarray(value).reshape(()).item()
    return _F32(value)


def _is_number(value) -> bool:
    if isinstance(value, (bool, str, bytes)):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _check_number(schedule: str, argument: str, value) -> None:
    if not _is_number(value):
        raise ValueError(f"{schedule}: argument `{argument}` must be a number. "
                         f"Received: {argument}={value!r}")


def _check_steps(schedule: str, argument: str, value) -> None:
    _check_number(schedule, argument, value)
    if not float(value) > 0:
        raise ValueError(f"{schedule}: argument `{argument}` must be > 0. "
                         f"Received: {argument}={value!r}")


class LearningRateSchedule:
    """Base class of learning-rate schedules.

    A subclass implements `__call__(step)` (the rate at `step`, the optimizer's `iterations`)
    and `get_config()` (its constructor arguments, for saving); `from_config(config)` is
    `cls(**config)`. Pass an instance as an optimizer's `learning_rate`.

    Example:
        class Halving(keras.optimizers.schedules.LearningRateSchedule):
            def __init__(self, initial):
                self.initial = initial
            def __call__(self, step):
                return self.initial / (1 + step // 100)
            def get_config(self):
                return {"initial": self.initial}
    """

    def __call__(self, step):
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `__call__(self, step)`.")

    def get_config(self) -> dict:
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `get_config()` in "
            "order to be serializable.")

    @classmethod
    def from_config(cls, config):
        """The schedule `get_config()` describes: `cls(**config)`."""
        return cls(**config)

    def __repr__(self) -> str:
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        except NotImplementedError:
            args = ""
        return f"<{type(self).__name__}({args})>"


class ExponentialDecay(LearningRateSchedule):
    """Exponential decay:

        rate(step) = initial_learning_rate * decay_rate ** (step / decay_steps)

    with the exponent floored (`step // decay_steps`) when `staircase=True`, so the rate drops
    in steps every `decay_steps` steps.

    Args:
        initial_learning_rate: the rate at step 0 (float).
        decay_steps: steps per decay period, > 0.
        decay_rate: the factor applied per period.
        staircase: floor the exponent; default False.
        name: default "ExponentialDecay".

    Raises:
        ValueError: when `decay_steps <= 0`.
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        _check_number("ExponentialDecay", "initial_learning_rate", initial_learning_rate)
        _check_steps("ExponentialDecay", "decay_steps", decay_steps)
        _check_number("ExponentialDecay", "decay_rate", decay_rate)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step) -> float:
        p = _f32(step) / _F32(self.decay_steps)
        if self.staircase:
            p = np.floor(p)
        with np.errstate(over="ignore", under="ignore"):  # inf/0 as Keras gives, silently
            return float(_F32(self.initial_learning_rate) * np.power(_F32(self.decay_rate), p))

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class PiecewiseConstantDecay(LearningRateSchedule):
    """A piecewise constant rate:

        values[0]     if step <= boundaries[0]
        values[i]     if boundaries[i-1] < step <= boundaries[i]
        values[-1]    if step > boundaries[-1]

    As in Keras, the boundaries are cast to the step's type (an integer step truncates float
    boundaries) and the rate takes the type of `values[0]`.

    Args:
        boundaries: increasing step boundaries (a list of numbers).
        values: the rates, one more than `boundaries`.
        name: default "PiecewiseConstant".

    Raises:
        ValueError: when `len(boundaries) != len(values) - 1`, or `boundaries` is empty.
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        boundaries, values = list(boundaries), list(values)
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "PiecewiseConstantDecay: the length of boundaries should be 1 less than the "
                f"length of values. Received: boundaries={boundaries} of length "
                f"{len(boundaries)}, and values={values} of length {len(values)}.")
        if not boundaries:
            raise ValueError("PiecewiseConstantDecay: boundaries must hold at least one step. "
                             f"Received: boundaries={boundaries}, values={values}.")
        for b in boundaries:
            _check_number("PiecewiseConstantDecay", "boundaries", b)
        for v in values:
            _check_number("PiecewiseConstantDecay", "values", v)
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step) -> float:
        if isinstance(step, (int, np.integer)) or (
                not isinstance(step, (float, np.floating))
                and np.issubdtype(np.asarray(step).dtype, np.integer)):
            step = int(np.asarray(step).reshape(()).item())
            bounds = [int(b) for b in self.boundaries]  # Keras casts them to the step's int type
        else:
            step = _f32(step)
            bounds = [_F32(b) for b in self.boundaries]
        kind = _F32 if isinstance(self.values[0], (float, np.floating)) else np.int32
        vals = [kind(v) for v in self.values]
        # Keras sums the value of every interval that holds the step (exactly one when the
        # boundaries increase); kept as a sum so unsorted boundaries give the same rate.
        result = kind(0)
        if step <= bounds[0]:
            result += vals[0]
        if step > bounds[-1]:
            result += vals[-1]
        for low, high, value in zip(bounds[:-1], bounds[1:], vals[1:-1]):
            if low < step <= high:
                result += value
        return float(result)

    def get_config(self) -> dict:
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """Polynomial decay from `initial_learning_rate` to `end_learning_rate` over
    `decay_steps`:

        step' = min(step, decay_steps)
        rate  = (initial_learning_rate - end_learning_rate)
                * (1 - step' / decay_steps) ** power + end_learning_rate

    With `cycle=True` the decay restarts instead of holding at the end: `decay_steps` is
    multiplied by `ceil(step / decay_steps)` (1 at step 0) and the step is not clipped.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: the length of the decay, > 0.
        end_learning_rate: the final rate; default 0.0001.
        power: the polynomial's power; default 1.0 (linear).
        cycle: restart the decay every period; default False.
        name: default "PolynomialDecay".

    Raises:
        ValueError: when `decay_steps <= 0`.
    """

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0,
                 cycle=False, name="PolynomialDecay"):
        _check_number("PolynomialDecay", "initial_learning_rate", initial_learning_rate)
        _check_steps("PolynomialDecay", "decay_steps", decay_steps)
        _check_number("PolynomialDecay", "end_learning_rate", end_learning_rate)
        _check_number("PolynomialDecay", "power", power)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name

    def __call__(self, step) -> float:
        initial = _F32(self.initial_learning_rate)
        end = _F32(self.end_learning_rate)
        step = _f32(step)
        decay_steps = _F32(self.decay_steps)
        if self.cycle:
            multiplier = _F32(1.0) if step == 0 else np.ceil(step / decay_steps)
            decay_steps = decay_steps * multiplier
        else:
            step = np.minimum(step, decay_steps)
        p = step / decay_steps
        return float((initial - end) * np.power(_F32(1) - p, _F32(self.power)) + end)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "end_learning_rate": self.end_learning_rate,
                "power": self.power, "cycle": self.cycle, "name": self.name}


class InverseTimeDecay(LearningRateSchedule):
    """Inverse time decay:

        rate(step) = initial_learning_rate / (1 + decay_rate * step / decay_steps)

    with `step / decay_steps` floored when `staircase=True`.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: how often to apply the decay, > 0.
        decay_rate: the decay rate.
        staircase: floor `step / decay_steps`; default False.
        name: default "InverseTimeDecay".

    Raises:
        ValueError: when `decay_steps <= 0`.
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="InverseTimeDecay"):
        _check_number("InverseTimeDecay", "initial_learning_rate", initial_learning_rate)
        _check_steps("InverseTimeDecay", "decay_steps", decay_steps)
        _check_number("InverseTimeDecay", "decay_rate", decay_rate)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step) -> float:
        p = _f32(step) / _F32(self.decay_steps)
        if self.staircase:
            p = np.floor(p)
        return float(_F32(self.initial_learning_rate) / (_F32(1) + _F32(self.decay_rate) * p))

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


def _cosine(fraction: np.float32, alpha, peak: np.float32) -> np.float32:
    """`peak * ((1 - alpha) * 0.5 * (1 + cos(pi * fraction)) + alpha)`; `1 - alpha` is
    computed in double precision and then rounded, as Keras's Python-scalar arithmetic does."""
    cosine = _F32(0.5) * (_F32(1) + np.cos(_F32(math.pi) * fraction))
    decayed = _F32(1 - alpha) * cosine + _F32(alpha)
    return peak * decayed


class CosineDecay(LearningRateSchedule):
    """Cosine decay (SGDR without restarts, Loshchilov & Hutter 2017), with an optional
    linear warmup.

    Without warmup (`warmup_target=None`):

        step' = min(step, decay_steps)
        rate  = initial_learning_rate * ((1 - alpha) * 0.5 * (1 + cos(pi * step' / decay_steps))
                                         + alpha)

    With `warmup_target`, the rate first climbs linearly from `initial_learning_rate` to
    `warmup_target` over `warmup_steps` steps, then decays from `warmup_target` as above
    (the step counted from the end of the warmup, clipped at `warmup_steps + decay_steps`).

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: the length of the decay, > 0.
        alpha: the final rate as a fraction of the peak; default 0.0.
        name: default "CosineDecay".
        warmup_target: the rate at the end of the warmup; default None (no warmup).
        warmup_steps: the length of the warmup; default 0.

    Raises:
        ValueError: when `decay_steps <= 0` or `warmup_steps < 0`.
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        _check_number("CosineDecay", "initial_learning_rate", initial_learning_rate)
        _check_steps("CosineDecay", "decay_steps", decay_steps)
        _check_number("CosineDecay", "alpha", alpha)
        if warmup_target is not None:
            _check_number("CosineDecay", "warmup_target", warmup_target)
        _check_number("CosineDecay", "warmup_steps", warmup_steps)
        if warmup_steps < 0:
            raise ValueError("CosineDecay: argument `warmup_steps` must be >= 0. "
                             f"Received: warmup_steps={warmup_steps!r}")
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_steps = warmup_steps
        self.warmup_target = warmup_target

    def __call__(self, step) -> float:
        initial = _F32(self.initial_learning_rate)
        decay_steps = _F32(self.decay_steps)
        step = _f32(step)
        if self.warmup_target is None:
            step = np.minimum(step, decay_steps)
            return float(_cosine(step / decay_steps, self.alpha, initial))
        target = _F32(self.warmup_target)
        warmup_steps = _F32(self.warmup_steps)
        step = np.minimum(step, decay_steps + warmup_steps)
        if step < warmup_steps:
            return float((target - initial) * (step / warmup_steps) + initial)
        return float(_cosine((step - warmup_steps) / decay_steps, self.alpha, target))

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR, Loshchilov & Hutter 2017).

    The first period lasts `first_decay_steps` steps; each next one is `t_mul` times longer and
    starts from a peak `m_mul` times the previous one. With `f = step / first_decay_steps`,
    the period index `i` and the fraction `f'` of it completed are

        t_mul == 1:  i = floor(f);                                   f' = f - i
        otherwise:   i = floor(log(1 - f * (1 - t_mul)) / log(t_mul))
                     f' = (f - (1 - t_mul**i) / (1 - t_mul)) / t_mul**i

    and `rate = initial_learning_rate * ((1 - alpha) * 0.5 * m_mul**i * (1 + cos(pi * f'))
    + alpha)`.

    Args:
        initial_learning_rate: the rate at step 0.
        first_decay_steps: the length of the first period, > 0.
        t_mul: the period-length factor; default 2.0.
        m_mul: the peak factor; default 1.0.
        alpha: the minimum rate as a fraction of `initial_learning_rate`; default 0.0.
        name: default "SGDRDecay".

    Raises:
        ValueError: when `first_decay_steps <= 0` or `t_mul <= 0`.
    """

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0,
                 alpha=0.0, name="SGDRDecay"):
        _check_number("CosineDecayRestarts", "initial_learning_rate", initial_learning_rate)
        _check_steps("CosineDecayRestarts", "first_decay_steps", first_decay_steps)
        _check_number("CosineDecayRestarts", "t_mul", t_mul)
        _check_number("CosineDecayRestarts", "m_mul", m_mul)
        _check_number("CosineDecayRestarts", "alpha", alpha)
        if not t_mul > 0:
            raise ValueError("CosineDecayRestarts: argument `t_mul` must be > 0. "
                             f"Received: t_mul={t_mul!r}")
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = first_decay_steps
        self._t_mul = t_mul
        self._m_mul = m_mul
        self.alpha = alpha
        self.name = name

    @property
    def t_mul(self):
        return self._t_mul

    @property
    def m_mul(self):
        return self._m_mul

    def __call__(self, step) -> float:
        initial = _F32(self.initial_learning_rate)
        alpha = _F32(self.alpha)
        t_mul = _F32(self._t_mul)
        m_mul = _F32(self._m_mul)
        fraction = _f32(step) / _F32(self.first_decay_steps)
        one = _F32(1)
        if t_mul == one:
            i_restart = np.floor(fraction)
            fraction = fraction - i_restart
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                i_restart = np.floor(np.log(one - fraction * (one - t_mul)) / np.log(t_mul))
                sum_r = (one - np.power(t_mul, i_restart)) / (one - t_mul)
                fraction = (fraction - sum_r) / np.power(t_mul, i_restart)
        m_fac = np.power(m_mul, i_restart)
        cosine = _F32(0.5) * m_fac * (one + np.cos(_F32(math.pi) * fraction))
        return float(initial * ((one - alpha) * cosine + alpha))

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "first_decay_steps": self.first_decay_steps, "t_mul": self._t_mul,
                "m_mul": self._m_mul, "alpha": self.alpha, "name": self.name}


# The schedules Keras writes under the module "keras.optimizers.schedules".
BUILTIN_SCHEDULES = {cls.__name__: cls for cls in (
    LearningRateSchedule, ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay,
    InverseTimeDecay, CosineDecay, CosineDecayRestarts)}
MODULE = "keras.optimizers.schedules"


def serialize(learning_rate_schedule) -> dict:
    """The config record of a schedule, as Keras's `serialize_keras_object` writes it:
    `{"module": "keras.optimizers.schedules", "class_name": "ExponentialDecay",
    "config": {...get_config()...}, "registered_name": None}` for a built-in schedule; a
    custom one gets its Python module and its registered name (`"package>Name"` when
    registered with `register_keras_serializable`, else its class name).

    Raises:
        TypeError: when the argument has no `get_config`.
    """
    from rskeras.saving import object_registration, serialization_lib

    cls = type(learning_rate_schedule)
    if BUILTIN_SCHEDULES.get(cls.__name__) is cls and cls not in (
            object_registration.GLOBAL_CUSTOM_NAMES):
        return {"module": MODULE, "class_name": cls.__name__,
                "config": serialization_lib._jsonable(learning_rate_schedule.get_config()),
                "registered_name": None}
    return serialization_lib.serialize_keras_object(learning_rate_schedule)


def deserialize(config, custom_objects=None):
    """The schedule a `serialize` record (or a Keras 2 `{"class_name", "config"}` record)
    describes. Custom classes are found in `custom_objects`, the active
    `custom_object_scope`s and the `register_keras_serializable` registry first, as in Keras.

    Raises:
        ValueError: when the record is not a dict with "class_name" and "config", or names no
            known schedule.
    """
    from rskeras.saving import object_registration, serialization_lib

    if isinstance(config, LearningRateSchedule):
        return config
    if not isinstance(config, dict) or "class_name" not in config or "config" not in config:
        raise ValueError("Could not interpret learning rate schedule config: expected a dict "
                         f"with 'class_name' and 'config', got {config!r}")
    class_name = config["class_name"]
    for key in (config.get("registered_name"), class_name):
        if isinstance(key, str) and key:
            found = object_registration.get_registered_object(key, custom_objects)
            if found is not None and isinstance(found, type):
                return serialization_lib.instantiate(found, config["config"], custom_objects)
    module = config.get("module") or ""
    cls = BUILTIN_SCHEDULES.get(class_name)
    if cls is not None and cls is not LearningRateSchedule and (
            not module or module.startswith("keras")):
        return serialization_lib.instantiate(cls, config["config"], custom_objects)
    return serialization_lib.deserialize_keras_object(
        config, custom_objects=custom_objects, module_objects_kind=MODULE)

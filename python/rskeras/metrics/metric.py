"""`Metric`, the base class of every metric (Keras 3: `keras/src/metrics/metric.py`).

A metric accumulates state over batches (`update_state`), reports it (`result`) and starts
over (`reset_state`). rskeras keeps each piece of state as a tensor on the device of the
values that updated it (none before the first update, read as zeros), so an update never
reads a value back to the host and never moves data between devices; the state is detached
from any tape, so no graph outlives a step. `variables` gives the state as Keras's
non-trainable `Variable`s, in Keras's order and with Keras's names (a copy taken when read).
"""

from __future__ import annotations

import threading
import weakref

from rskeras.backend.lazy_numpy import np

from rskeras import ops

# Per thread, while the trainer traces a step: the ids of the metrics whose state the traced
# graph carries (`carried`), and the name of a metric outside them that changed its state
# (`stray`): its Python-held state would not be updated by the replays.
TRACE = threading.local()


class _State(dict):
    """A metric's Python-held state (see `Metric._add_state`); notes writes during a trace."""

    __slots__ = ("owner",)

    def __setitem__(self, key, value):
        carried = getattr(TRACE, "carried", None)
        if carried is not None:
            owner = self.owner()  # a weak reference: no cycle between a metric and its state
            if id(owner) not in carried:
                TRACE.stray = getattr(owner, "name", type(owner).__name__)
        super().__setitem__(key, value)

    def __reduce_ex__(self, protocol):
        return (dict, (dict(self),))


class Metric:
    """Base class: `update_state(...)`, `result()`, `reset_state()`, `variables`.

    Args:
        dtype: the dtype of the state and result (default `"float32"`).
        name: the name shown in logs and History (default: the class name in snake case,
            numbered from the second one on: "auc", "auc_1", ...).

    A custom metric creates its state in `__init__` with `self.v = self.add_variable(shape,
    initializer, dtype, name)` and updates it with `self.v.assign(...)`, as in Keras. The
    built-in metrics declare theirs with `_add_state` instead (see `_accumulate`).
    """

    def __init__(self, dtype=None, name=None):
        from rskeras.backend import naming

        state = _State()
        state.owner = weakref.ref(self)
        self.__dict__["_state"] = state
        self._state_specs = {}  # name -> (shape, dtype), in declaration order
        self._variables = []  # Variables made by add_variable (custom metrics)
        self._metrics = []  # nested metrics (attributes that are Metrics)
        # An unnamed metric gets a unique default name ("auc", "auc_1", ...), as Keras's
        # auto_name gives it, so two in one compile do not share a log key.
        self.name = name or naming.uniquify(naming.to_snake_case(type(self).__name__))
        self._dtype = _standardize_dtype(dtype)

    @property
    def dtype(self) -> str:
        return self._dtype

    # -- state ---------------------------------------------------------------------------
    def add_variable(self, shape=(), initializer="zeros", dtype=None, aggregation="sum",
                     name=None):
        """A non-trainable `Variable` of state (Keras's way for custom metrics: update it
        with `assign`/`assign_add` in `update_state`; `reset_state` zeroes it)."""
        from rskeras.backend.variables import Variable

        variable = Variable(initializer, shape=tuple(shape), dtype=_standardize_dtype(dtype or self._dtype),
                            trainable=False, aggregation=aggregation, name=name)
        self._variables.append(variable)
        return variable

    def add_weight(self, shape=(), initializer=None, dtype=None, name=None):
        return self.add_variable(shape=shape, initializer=initializer or "zeros", dtype=dtype,
                                 name=name)

    def _add_state(self, name, shape=(), dtype=None):
        """Declare a piece of state of the built-in metrics (zeros until updated), read as
        `self.<name>` and updated with `_accumulate`/`_assign`: a tensor that lives where
        its updates were computed (a Variable would pin it to the default device)."""
        self._state_specs[name] = (tuple(int(d) for d in shape), _standardize_dtype(dtype or self._dtype))
        self._state[name] = None

    def __getattr__(self, name):
        state = self.__dict__.get("_state")
        if state is not None and name in state:
            return self._read(name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name, value):
        if isinstance(value, Metric) and "_metrics" in self.__dict__ and value is not self:
            self._metrics.append(value)  # a nested metric's state is part of this one's
        super().__setattr__(name, value)

    def _read(self, name):
        """The state `name` as a tensor (zeros before the first update)."""
        value = self._state[name]
        shape, dtype = self._state_specs[name]
        if value is None:
            return ops.convert_to_tensor(np.zeros(shape, dtype))
        if isinstance(value, (int, float)):
            return ops.convert_to_tensor(np.full(shape, value, dtype))
        return value

    def _accumulate(self, name, increment):
        current = self._state[name]
        if isinstance(increment, (int, float)) and not isinstance(increment, bool):
            # A host number stays one (or is added to the tensor on its device).
            self._state[name] = float(increment) + (0.0 if current is None else current)
            return
        increment = ops.stop_gradient(ops.cast(increment, self._state_specs[name][1]))
        self._state[name] = increment if current is None else current + increment

    def _assign(self, name, value):
        self._state[name] = ops.stop_gradient(ops.cast(value, self._state_specs[name][1]))

    @property
    def variables(self) -> list:
        """The state as non-trainable `Variable`s named as Keras names them, then those of
        nested metrics. The built-in metrics' state is given as copies (assigning to one
        does not change the metric); variables made by `add_variable` are themselves."""
        from rskeras.backend.variables import Variable

        out = list(self._variables)
        out.extend(Variable(self._read(n), dtype=spec[1], trainable=False, name=n)
                   for n, spec in self._state_specs.items())
        for m in self._metrics:
            out.extend(m.variables)
        return out

    def reset_state(self):
        """Every piece of state back to zeros (nested metrics too)."""
        for v in self._variables:
            v.assign(np.zeros(tuple(v.shape), v.dtype))
        for n in self._state_specs:
            self._state[n] = None
        for m in self._metrics:
            m.reset_state()

    # -- API -----------------------------------------------------------------------------
    def update_state(self, *args, **kwargs):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"

    __str__ = __repr__


def _standardize_dtype(dtype) -> str:
    if dtype is None:
        from rskeras.backend import config

        return config.floatx()
    if isinstance(dtype, dict):  # a serialized DTypePolicy
        dtype = (dtype.get("config") or {}).get("name", "float32")
    dtype = getattr(dtype, "compute_dtype", None) or getattr(dtype, "name", dtype)
    # A policy name ("mixed_float16"): metrics compute in its compute dtype.
    dtype = str(dtype).removeprefix("mixed_")
    return {"int": "int32", "float": "float32"}.get(dtype, dtype)


def __getattr__(name):
    # The reduction metrics used to live here: keep `from rskeras.metrics.metric import Mean`
    # working (resolved lazily: reduction_metrics imports this module).
    if name in ("Mean", "MeanMetricWrapper", "Sum"):
        from rskeras.metrics import reduction_metrics

        return getattr(reduction_metrics, name)
    raise AttributeError(f"module 'rskeras.metrics.metric' has no attribute {name!r}")

"""`Optimizer` base: slot variables, gradient clipping, weight decay and learning-rate
schedules, around one fused Rust update over all float32 variables per step. Variables of
other float dtypes (float64, float16, bfloat16) are updated by `update_step`, the same formula
written with `ops` in the variable's own dtype, as Keras does."""

from __future__ import annotations

import math


from rskeras import _core
from rskeras import ops
from rskeras.backend import naming
from rskeras.backend.variables import Variable
from rskeras.utils import locks


class Optimizer:
    """Base class of optimizers (Keras 3 arguments).

    Args:
        learning_rate: a float, or a callable `step -> float` (a schedule).
        weight_decay: if set, each step first does `w -= w * weight_decay * lr`.
        clipnorm: clip each gradient to this L2 norm. clipvalue: clip each element to
            `[-clipvalue, clipvalue]`. global_clipnorm: clip all gradients jointly.
        name: the optimizer name.

    Raises:
        ValueError: when more than one of clipnorm/clipvalue/global_clipnorm is set, or for
            unsupported options (use_ema, gradient_accumulation_steps, loss_scale_factor).
    """


    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected arguments {sorted(kwargs)}")
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Only one of clipnorm, clipvalue and global_clipnorm can be set")
        if use_ema or gradient_accumulation_steps or loss_scale_factor:
            raise ValueError(
                f"{type(self).__name__}: use_ema, gradient_accumulation_steps and "
                "loss_scale_factor are not supported yet"
            )
        self.name = name or naming.to_snake_case(type(self).__name__)  # Keras: "rm_sprop"
        self._learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.iterations = 0
        self.built = False
        self._slots: dict[int, list[Variable]] = {}
        self._slot_owners: dict[int, Variable] = {}  # id -> the model variable of those slots
        self._targets_cache: tuple | None = None

    # ----------------------------------------------------------------------------------------
    @property
    def learning_rate(self) -> float:
        """The current learning rate (a schedule is evaluated at `iterations`)."""
        lr = self._learning_rate
        return float(lr(self.iterations)) if callable(lr) else float(lr)

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        self._learning_rate = value

    def _slot_names(self) -> list[str]:
        return []

    def build(self, variables) -> None:
        """Create the slot variables (zeros shaped like each variable)."""
        import numpy as np
        for var in variables:
            self._slot_owners.setdefault(id(var), var)
            if id(var) not in self._slots:
                self._slots[id(var)] = [
                    Variable(np.zeros(tuple(var.shape), "float32"), dtype=var.dtype, trainable=False,
                             name=f"{getattr(var, 'name', 'variable')}_{slot}")
                    for slot in self._slot_names()
                ]
        self.built = True

    @property
    def variables(self) -> list:
        """The slot variables, in creation order."""
        return [s for slots in self._slots.values() for s in slots]

    def _clip(self, grads):
        if self.clipvalue is not None:
            return [ops.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        if self.clipnorm is not None:
            out = []
            for g in grads:
                norm = math.sqrt(float(ops.sum(ops.square(g))))
                out.append(g * (self.clipnorm / norm) if norm > self.clipnorm else g)
            return out
        if self.global_clipnorm is not None:
            norm = math.sqrt(sum(float(ops.sum(ops.square(g))) for g in grads))
            if norm > self.global_clipnorm:
                return [g * (self.global_clipnorm / norm) for g in grads]
        return grads

    def __getstate__(self):
        return locks.state_without_lock(self)

    def apply(self, grads, trainable_variables) -> None:
        """Update `trainable_variables` in place from `grads` (same order). `None` gradients
        are skipped.

        Thread-safe: the whole update (slots, weights, `iterations`) runs under the
        optimizer's re-entrant lock, which `compile` shares with the model, so two threads
        never interleave one update and a model's predict batch never sees half of one.

        Raises:
            ValueError: when no variable has a gradient, or a gradient's shape differs from its
                variable's (naming the variable).
        """
        with locks.object_lock(self):
            self._apply(grads, trainable_variables)

    def _apply(self, grads, trainable_variables) -> None:
        pairs = [(g, v) for g, v in zip(grads, trainable_variables) if g is not None]
        if not pairs:
            raise ValueError(
                "No gradients provided for any variable: "
                f"{[getattr(v, 'path', '?') for v in trainable_variables]}"
            )
        grads = [g if g.dtype == v.dtype else _core.cast(g, v.dtype) for g, v in pairs]
        variables = [v for _, v in pairs]
        for g, v in pairs:
            if tuple(g.shape) != tuple(v.shape):
                raise ValueError(
                    f"{type(self).__name__}: gradient shape {tuple(g.shape)} does not match "
                    f"variable {getattr(v, 'path', '?')} of shape {tuple(v.shape)}"
                )
        key = tuple(id(v) for v in variables)
        if self._targets_cache is None or self._targets_cache[0] != key:
            self.build(variables)
            # One list per slot name (the fused update's arguments), in `_slot_names()` order.
            slots = [[self._slots[id(v)][k] for v in variables] for k in range(len(self._slot_names()))]
            self._targets_cache = (key, slots)
        slots = self._targets_cache[1]
        grads = self._clip(grads)
        lr = self.learning_rate
        if self.weight_decay:
            for v in variables:
                v.assign(v - v * (self.weight_decay * lr))
        fused = [i for i, v in enumerate(variables) if v.dtype == "float32"]
        if len(fused) == len(variables):
            self._fused_update(variables, grads, slots, lr, self.iterations + 1)
        else:
            if fused:
                self._fused_update([variables[i] for i in fused], [grads[i] for i in fused],
                                   [[s[i] for i in fused] for s in slots], lr, self.iterations + 1)
            for i, v in enumerate(variables):
                if v.dtype != "float32":
                    self.update_step(grads[i], v, self._slots[id(v)], lr, self.iterations + 1)
        self.iterations += 1
        for v in variables:
            constraint = getattr(v, "constraint", None)
            if constraint is not None:
                v.assign(constraint(v))

    def update_step(self, gradient, variable, slots, learning_rate, step) -> None:
        """Update one non-float32 `variable` (and its `slots`) in its own dtype with `ops`;
        the formula is the fused kernel's (see the subclass docstring)."""
        raise NotImplementedError(f"{type(self).__name__}.update_step")

    def apply_gradients(self, grads_and_vars) -> None:
        """`apply` from a list of `(gradient, variable)` pairs."""
        grads_and_vars = list(grads_and_vars)
        self.apply([g for g, _ in grads_and_vars], [v for _, v in grads_and_vars])

    def _fused_update(self, variables, gradients, slots, learning_rate, step) -> None:
        """Update the float32 `variables` and their `slots` (one list per slot name) in place,
        in one call to the core's fused update of the same name (`_core.adam_update` for
        Adam, ...: rust/ops/optimizer.rs, and `adam` in shaders/optimizer.wgsl on the GPU)."""
        raise NotImplementedError(f"{type(self).__name__}._fused_update")

    # ----------------------------------------------------------------------------------------
    # State in files: Keras 3's `optimizer.variables` order.
    def _keras_slot_groups(self) -> list[list[str]]:
        """The slot names in the order Keras creates them: each group is created for all
        variables in turn, a group of several names interleaved per variable (Keras's
        `add_optimizer_variables(var_list, [names])`)."""
        names = self._slot_names()
        return [names] if names else []

    def _state_entries(self) -> list:
        """[(name, kind, value)] in Keras's order: iteration, learning_rate (absent for a
        schedule), then the slots. `kind` is "iteration", "learning_rate" or a Variable."""
        entries = [(f"{self.name}/iteration", "iteration", None)]
        if not callable(self._learning_rate):
            entries.append((f"{self.name}/learning_rate", "learning_rate", None))
        index = {n: i for i, n in enumerate(self._slot_names())}
        for group in self._keras_slot_groups():
            for var_id, slots in self._slots.items():
                owner = self._slot_owners.get(var_id)
                path = getattr(owner, "path", "variable").replace("/", "_")
                for slot in group:
                    entries.append((f"{self.name}/{path}_{slot}", "slot", slots[index[slot]]))
        return entries

    def get_state_arrays(self) -> list:
        """[(name, NumPy array)] of the state as Keras saves it (see `_state_entries`)."""
        import numpy as np

        out = []
        for name, kind, var in self._state_entries():
            if kind == "iteration":
                out.append((name, np.array(self.iterations, np.int32)))
            elif kind == "learning_rate":
                out.append((name, np.array(self.learning_rate, np.float32)))
            else:
                out.append((name, var.numpy()))
        return out

    def set_state_arrays(self, values) -> bool:
        """Restore the state from arrays in `get_state_arrays()`'s order. On a count or shape
        mismatch it warns and keeps the fresh state, as Keras does; returns whether it loaded.
        """
        import warnings

        import numpy as np

        entries = self._state_entries()
        values = list(values)
        problem = None
        if len(values) != len(entries):
            problem = (f"it has {len(entries)} variables whereas the saved optimizer has "
                       f"{len(values)} variables")
            if not self._slots and self._slot_names():
                problem += " (it has not been built for the model's variables yet)"
        else:
            for (name, kind, var), value in zip(entries, values):
                if kind == "slot" and tuple(np.shape(value)) != tuple(var.shape):
                    problem = (f"{name} has shape {tuple(var.shape)} but the file holds "
                               f"{tuple(np.shape(value))}")
                    break
        if problem:
            warnings.warn(f"Skipping variable loading for optimizer '{self.name}', because "
                          f"{problem}.", stacklevel=3)
            return False
        from rskeras.backend.variables import array_for_variable

        for (_, kind, var), value in zip(entries, values):
            value = np.asarray(value)
            if kind == "iteration":
                self.iterations = int(value)
            elif kind == "learning_rate":
                self._learning_rate = float(value)
            else:
                var.assign(array_for_variable(value, var))
        return True

    def save_own_variables(self, store) -> None:
        """Write the state into `store` as "0", "1", ... (Keras 3's layout)."""
        for i, (_, value) in enumerate(self.get_state_arrays()):
            store[str(i)] = value

    def load_own_variables(self, store) -> None:
        """Read the state `save_own_variables` wrote (a warning and no change on mismatch)."""
        self.set_state_arrays([store[str(i)] for i in range(len(store))])

    def get_config(self) -> dict:
        lr = self._learning_rate
        return {
            "name": self.name,
            "learning_rate": lr if not callable(lr) else self.learning_rate,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": False,
            "ema_momentum": 0.99,
            "ema_overwrite_frequency": None,
            "loss_scale_factor": None,
            "gradient_accumulation_steps": None,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

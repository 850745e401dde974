"""`Optimizer` base, as Keras 3's `BaseOptimizer` (keras/src/optimizers/base_optimizer.py):
slot variables, learning rates (a float, a `LearningRateSchedule` or a callable), gradient
clipping, weight decay, loss scaling, gradient accumulation and the exponential moving average
of the weights, around one fused Rust update over all float32 variables per step (weight decay
included). Variables of other float dtypes (float64, float16, bfloat16) are updated by
`update_step`, the same formula written with `ops` in the variable's own dtype, as Keras does.

One step of `apply(grads, variables)`, in Keras's order:
1. `None` gradients are dropped; gradients are divided by `loss_scale_factor` if set.
2. With `gradient_accumulation_steps=N`, the gradients are added to accumulators, and only
   every N-th call is an update, with `(g + accumulated) / N` (the mean).
3. Clipping (`clipnorm` per gradient, `global_clipnorm` jointly, or `clipvalue`).
4. The fused update: weight decay `w -= w * weight_decay * lr` on the variables not excluded
   (`exclude_from_weight_decay`), then the optimizer's own formula.
5. With `use_ema`, `average = m * average + (1 - m) * w` for every variable (m = 0 on the
   first step, else `ema_momentum`), and the weights overwritten by their averages every
   `ema_overwrite_frequency` steps.
6. Constraints, then `iterations += 1`.
"""

from __future__ import annotations

import inspect
import re
import threading
import warnings

from rskeras.backend.lazy_numpy import np

from rskeras import _core, ops
from rskeras.backend import naming
from rskeras.backend.variables import Variable
from rskeras.utils import locks


# Per thread, while the trainer traces a step: the optimizers whose `apply` ran, in order.
_TRACE = threading.local()


def _schedule_class():
    from rskeras.optimizers.schedules import LearningRateSchedule

    return LearningRateSchedule


class Optimizer:
    """Base class of optimizers (Keras 3 arguments and defaults).

    Args:
        learning_rate: a float (kept in float32, as Keras's variable), a
            `keras.optimizers.schedules.LearningRateSchedule` (called with the iteration count
            each step), or a callable taking no argument (Keras's convention; a callable taking
            one argument gets the iteration count).
        weight_decay: float or None. If set, each step first does
            `w -= w * weight_decay * lr` (decoupled weight decay, Loshchilov & Hutter, 2019)
            on every variable not excluded by `exclude_from_weight_decay`.
        clipnorm: clip each gradient to this L2 norm: `g * clipnorm / max(||g||, clipnorm)`.
        clipvalue: clip each element to `[-clipvalue, clipvalue]`.
        global_clipnorm: clip all gradients jointly to this global L2 norm.
        use_ema: keep an exponential moving average of the weights (default False).
        ema_momentum: its momentum, in [0, 1] (default 0.99).
        ema_overwrite_frequency: overwrite the weights with their averages every this many
            steps (default None: only `finalize_variable_values`, which `fit` calls at the end).
        loss_scale_factor: `scale_loss` multiplies the loss by it, and gradients are divided
            by it before the update (default None).
        gradient_accumulation_steps: int >= 2 or None: update every this many steps with the
            mean of the accumulated gradients.
        name: the optimizer name (default: the snake-case class name, "rm_sprop" as Keras).

    Raises:
        ValueError: for more than one of clipnorm/clipvalue/global_clipnorm,
            `gradient_accumulation_steps < 2`, `ema_momentum` outside [0, 1], a bad
            `ema_overwrite_frequency`, a learning rate that is neither a number, a schedule nor
            a callable, or unknown arguments (each message names the optimizer).
    """

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs):
        cls = type(self).__name__
        if kwargs.pop("decay", None) is not None:
            warnings.warn("Argument `decay` is no longer supported and will be ignored.", stacklevel=2)
        if kwargs:
            raise ValueError(f"{cls}: argument(s) not recognized: {kwargs}")
        if gradient_accumulation_steps and not gradient_accumulation_steps >= 2:
            raise ValueError(f"{cls}: `gradient_accumulation_steps` must be an integer >= 2. "
                             f"Received: gradient_accumulation_steps={gradient_accumulation_steps}")
        if use_ema:
            if ema_momentum > 1 or ema_momentum < 0:
                raise ValueError(f"{cls}: `ema_momentum` must be in the range [0, 1]. "
                                 f"Received: ema_momentum={ema_momentum}")
            if ema_overwrite_frequency and (not isinstance(ema_overwrite_frequency, int)
                                            or ema_overwrite_frequency < 1):
                raise ValueError(f"{cls}: `ema_overwrite_frequency` must be an integer >= 1 or "
                                 f"None. Received: ema_overwrite_frequency={ema_overwrite_frequency}")
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(f"{cls}: only one of `clipnorm`, `clipvalue` and `global_clipnorm` "
                             f"can be set. Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                             f"global_clipnorm={global_clipnorm}")
        self.name = name or naming.to_snake_case(cls)  # Keras: "rm_sprop", "adam_w"
        self.weight_decay = weight_decay
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.use_ema = bool(use_ema)
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self._learning_rate = self._checked_learning_rate(learning_rate)
        self._iterations = 0
        self.built = False
        # Per model variable (by id): the subclass's slot variables in `_slot_names()` order.
        self._slots: dict[int, list[Variable]] = {}
        self._slot_owners: dict[int, Variable] = {}  # id -> the model variable of those slots
        self._trainable_variables: list = []
        self._trainable_variables_indices: dict[int, int] = {}
        self._model_variables_moving_average: list = []
        self._accumulated_gradients: list = []
        self._exclude_from_weight_decay: set = set()
        self._exclude_from_weight_decay_pattern = None
        self._decay_cache: dict[int, bool] = {}
        self._targets_cache: tuple | None = None
        # Variables a Keras-style subclass creates with `add_variable*` ([(name, Variable)]).
        self._custom_variables: list = []

    # ----------------------------------------------------------------------------------------
    # Learning rate and iterations
    def _checked_learning_rate(self, learning_rate):
        if isinstance(learning_rate, _schedule_class()) or callable(learning_rate):
            return learning_rate
        if isinstance(learning_rate, (bool, str)) or not isinstance(
                learning_rate, (int, float, np.floating, np.integer)):
            try:
                return float(np.float32(np.asarray(learning_rate)))
            except (TypeError, ValueError):
                raise ValueError(
                    f"{type(self).__name__}: argument `learning_rate` should be float, or an "
                    "instance of LearningRateSchedule, or a callable (that takes in the current "
                    "iteration value and returns the corresponding learning rate value). "
                    f"Received instead: learning_rate={learning_rate!r}") from None
        return float(np.float32(learning_rate))  # Keras keeps it in a float32 variable

    @property
    def learning_rate(self) -> float:
        """The current learning rate as a float: a schedule is evaluated at the iteration
        count (Keras: `_iterations`, the calls to `apply`), a callable is called."""
        return self._current_learning_rate()

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        if (not isinstance(value, _schedule_class()) and not callable(value)
                and isinstance(self._learning_rate, _schedule_class())):
            raise TypeError(
                "This optimizer was created with a `LearningRateSchedule` object as its "
                "`learning_rate` constructor argument, hence its learning rate is not settable. "
                "If you need the learning rate to be settable, you should instantiate the "
                "optimizer with a float `learning_rate` argument.")
        self._learning_rate = self._checked_learning_rate(value)

    def _current_learning_rate(self) -> float:
        lr = self._learning_rate
        if isinstance(lr, _schedule_class()):
            return float(np.float32(np.asarray(lr(self._iterations))))
        if callable(lr):
            try:
                takes_step = any(p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                                 for p in inspect.signature(lr).parameters.values())
            except (TypeError, ValueError):
                takes_step = False
            return float(np.float32(np.asarray(lr(self._iterations) if takes_step else lr())))
        return float(lr)

    @property
    def iterations(self) -> int:
        """The number of optimizer steps: the calls to `apply`, or with
        `gradient_accumulation_steps=N` the updates made (calls // N), as Keras. Saved in
        files as Keras's `iteration` variable (the calls)."""
        if self.gradient_accumulation_steps:
            return self._iterations // self.gradient_accumulation_steps
        return self._iterations

    @iterations.setter
    def iterations(self, value) -> None:
        self._iterations = int(np.asarray(value))

    # ----------------------------------------------------------------------------------------
    # Variables
    def _slot_names(self) -> list[str]:
        return []

    def _slot_initial_value(self, slot: str) -> float:
        """The initial value of a slot (0 for all but Adagrad's and Ftrl's accumulator)."""
        return 0.0

    def _new_slot(self, var, slot: str, value=None) -> Variable:
        init = self._slot_initial_value(slot) if value is None else value
        return Variable(np.full(tuple(var.shape), init, "float32"), dtype=var.dtype,
                        trainable=False, name=f"{getattr(var, 'name', 'variable')}_{slot}")

    def build(self, variables) -> None:
        """Create the state for `variables` (the model's trainable variables): EMA averages
        (`use_ema`), gradient accumulators and the optimizer's slots, zeros shaped like each
        variable (Adagrad's and Ftrl's accumulators start at `initial_accumulator_value`).
        Variables already built for are kept; new ones are appended."""
        for var in variables:
            if id(var) in self._trainable_variables_indices:
                continue
            self._trainable_variables_indices[id(var)] = len(self._trainable_variables)
            self._trainable_variables.append(var)
            self._slot_owners[id(var)] = var
            if self.use_ema:
                self._model_variables_moving_average.append(self._new_slot(var, "average", 0.0))
            if self.gradient_accumulation_steps:
                self._accumulated_gradients.append(
                    self._new_slot(var, "gradient_accumulator", 0.0))
            self._slots[id(var)] = [self._new_slot(var, slot) for slot in self._slot_names()]
        self._build_extra()
        self.built = True

    def _build_extra(self) -> None:
        """Scalar state a subclass keeps besides the slots (Nadam's `u_product`)."""

    def _get_variable_index(self, variable) -> int:
        """The position of `variable` in the list the optimizer was built for (the index into
        `_model_variables_moving_average`, as in Keras).

        Raises:
            KeyError: for a variable the optimizer was not built for."""
        return self._trainable_variables_indices[id(variable)]

    # Keras's API for optimizers written as Keras subclasses: `build` creates variables with
    # these, `update_step(gradient, variable, learning_rate)` updates one variable with ops.
    def add_variable(self, shape, initializer="zeros", dtype=None, aggregation="none",
                     layout=None, name=None) -> Variable:
        """A new state variable of `shape` (saved after the built-in state, in creation
        order)."""
        var = Variable(initializer, shape=tuple(shape), dtype=dtype or "float32",
                       trainable=False, name=name or "variable")
        self._custom_variables.append((f"{self.name}/{name or 'variable'}", var))
        return var

    def add_variable_from_reference(self, reference_variable, name=None,
                                    initializer="zeros") -> Variable:
        """A new state variable shaped like `reference_variable`, named as Keras names it
        (`"<variable path with _>_<name>"`)."""
        var = Variable(initializer, shape=tuple(reference_variable.shape),
                       dtype=reference_variable.dtype, trainable=False,
                       name=f"{getattr(reference_variable, 'name', 'variable')}_{name}")
        path = getattr(reference_variable, "path", "variable").replace("/", "_")
        self._custom_variables.append((f"{self.name}/{path}_{name}", var))
        return var

    def add_optimizer_variables(self, var_list, name, initializer="zeros"):
        """One variable per variable of `var_list` for `name` (a list), or for each name of a
        list of names (a tuple of lists, created interleaved per variable as Keras does)."""
        names = [name] if isinstance(name, str) else list(name)
        inits = initializer if isinstance(initializer, (list, tuple)) else [initializer] * len(names)
        out = [[] for _ in names]
        for var in var_list:
            for k, (n, init) in enumerate(zip(names, inits)):
                out[k].append(self.add_variable_from_reference(var, n, initializer=init))
        return out[0] if isinstance(name, str) else tuple(out)

    def assign(self, variable, value) -> None:
        variable.assign(value)

    def assign_add(self, variable, value) -> None:
        variable.assign(ops.add(variable, value))

    def assign_sub(self, variable, value) -> None:
        variable.assign(ops.subtract(variable, value))

    def _keras_style(self) -> bool:
        """Whether `update_step` has Keras's signature `(gradient, variable, learning_rate)`
        (a user's subclass written for Keras), which is then called for every variable."""
        cached = self.__dict__.get("_keras_style_cache")
        if cached is None:
            try:
                params = inspect.signature(self.update_step).parameters
                cached = len(params) == 3
            except (TypeError, ValueError):
                cached = False
            self.__dict__["_keras_style_cache"] = cached
        return cached

    @property
    def variables(self) -> list:
        """The optimizer's state variables in Keras's creation order (EMA averages, gradient
        accumulators, then the slots), without Keras's `iteration` and `learning_rate`
        (`iterations` is an int here, and the learning rate a float or a schedule)."""
        return [var for _, kind, var in self._state_entries() if kind == "slot"]

    # ----------------------------------------------------------------------------------------
    # Weight decay
    def exclude_from_weight_decay(self, var_list=None, var_names=None) -> None:
        """Exclude variables from weight decay: those in `var_list`, and those whose name
        contains (`re.search`) any string of `var_names` (e.g. `["bias"]`), as Keras matches
        them. Keras documents calling it before the optimizer is built."""
        self._exclude_from_weight_decay = {id(v) for v in var_list or []}
        self._exclude_from_weight_decay_pattern = (
            re.compile("|".join(set(var_names))) if var_names else None)
        self._decay_cache = {}
        self._targets_cache = None

    def _use_weight_decay(self, variable) -> bool:
        key = id(variable)
        cached = self._decay_cache.get(key)
        if cached is None:
            pattern = self._exclude_from_weight_decay_pattern
            cached = key not in self._exclude_from_weight_decay and not (
                pattern is not None and re.search(pattern, getattr(variable, "name", "")) is not None)
            self._decay_cache[key] = cached
        return cached

    # ----------------------------------------------------------------------------------------
    # Gradients
    def _clip(self, grads):
        """Keras's `_clip_gradients`, with ops only (no value read back to Python)."""
        if self.clipnorm and self.clipnorm > 0:
            c = self.clipnorm
            return [ops.divide(ops.multiply(g, c), ops.maximum(ops.sqrt(ops.sum(ops.square(g))), c))
                    for g in grads]
        if self.global_clipnorm and self.global_clipnorm > 0:
            c = self.global_clipnorm
            squares = [ops.sum(ops.square(ops.cast(g, "float32"))) for g in grads]
            norm = ops.sqrt(ops.sum(ops.stack(squares)))
            # As Keras: a non-finite norm makes the scale NaN.
            scale = ops.add(ops.multiply(c, ops.minimum(ops.divide(1.0, norm), 1.0 / c)),
                            ops.subtract(norm, norm))
            return [g * ops.cast(scale, g.dtype) for g in grads]
        if self.clipvalue and self.clipvalue > 0:
            v = self.clipvalue
            return [ops.clip(g, -v, v) for g in grads]
        return grads

    def scale_loss(self, loss):
        """`loss * loss_scale_factor` when it is set (gradients are divided by it in
        `apply`), else `loss`."""
        if self.loss_scale_factor is not None:
            return loss * self.loss_scale_factor
        return loss

    def __getstate__(self):
        return locks.state_without_lock(self)

    # ----------------------------------------------------------------------------------------
    # Applying
    def apply(self, grads, trainable_variables=None) -> None:
        """Update `trainable_variables` in place from `grads` (same order). `None` gradients
        are skipped. Without `trainable_variables`, the optimizer must be built and `grads`
        match the variables it was built for.

        Thread-safe: the whole update (slots, weights, `iterations`) runs under the
        optimizer's re-entrant lock, which `compile` shares with the model, so two threads
        never interleave one update and a model's predict batch never sees half of one.

        Raises:
            ValueError: when no variable has a gradient, or a gradient's shape differs from its
                variable's (naming the optimizer and the variable).
        """
        if _core.trace_active():  # noted for the trainer's traced step
            _TRACE.applied = getattr(_TRACE, "applied", []) + [self]
        with locks.object_lock(self):
            self._apply(grads, trainable_variables)

    def apply_gradients(self, grads_and_vars) -> int:
        """`apply` from a list of `(gradient, variable)` pairs; returns `iterations`."""
        grads_and_vars = list(grads_and_vars)
        self.apply([g for g, _ in grads_and_vars], [v for _, v in grads_and_vars])
        return self.iterations

    def _pairs(self, grads, trainable_variables):
        grads = list(grads)
        if trainable_variables is None:
            if not self.built:
                raise ValueError(
                    f"{type(self).__name__}: when passing `grads` without `variables`, the "
                    "optimizer must already be built on a list of variables. Call "
                    "`optimizer.build(trainable_variables)` first.")
            trainable_variables = self._trainable_variables
            if len(grads) != len(trainable_variables):
                raise ValueError(
                    f"{type(self).__name__}: received a list of {len(grads)} gradients, but the "
                    f"optimizer is tracking {len(trainable_variables)} trainable variables.")
        trainable_variables = list(trainable_variables)
        if len(grads) != len(trainable_variables):
            raise ValueError(f"{type(self).__name__}: {len(grads)} gradients for "
                             f"{len(trainable_variables)} variables")
        pairs = [(g, v) for g, v in zip(grads, trainable_variables) if g is not None]
        if not pairs:
            raise ValueError(
                f"{type(self).__name__}: no gradients provided for any variable: "
                f"{[getattr(v, 'path', '?') for v in trainable_variables]}")
        out_g, out_v = [], []
        for g, v in pairs:
            g = g if isinstance(g, _core.Tensor) else ops.convert_to_tensor(np.asarray(g))
            if tuple(g.shape) != tuple(v.shape):
                raise ValueError(
                    f"{type(self).__name__}: gradient shape {tuple(g.shape)} does not match "
                    f"variable {getattr(v, 'path', '?')} of shape {tuple(v.shape)}")
            out_g.append(g if g.dtype == v.dtype else _core.cast(g, v.dtype))
            out_v.append(v)
        return out_g, out_v

    def _apply(self, grads, trainable_variables) -> None:
        if len(list(grads)) == 0:
            return
        grads, variables = self._pairs(grads, trainable_variables)
        if any(id(v) not in self._trainable_variables_indices for v in variables):
            self.build(variables)
        if self.loss_scale_factor is not None:
            grads = [ops.divide(g, self.loss_scale_factor) for g in grads]
        steps = self.gradient_accumulation_steps
        if steps:
            accs = [self._accumulated_gradients[self._get_variable_index(v)] for v in variables]
            if (self._iterations + 1) % steps == 0:
                grads = [ops.divide(ops.add(g, a), steps) for g, a in zip(grads, accs)]
                for a in accs:
                    a.assign(ops.zeros(tuple(a.shape), a.dtype))
                self._update(grads, variables)
            else:
                self._accumulate(grads, accs)
        else:
            self._update(grads, variables)
        if self.use_ema:
            self._update_model_variables_moving_average(self._trainable_variables)
            freq = self.ema_overwrite_frequency
            if freq and (self.iterations + 1) % freq == 0:
                self._overwrite_model_variables_with_average_value(self._trainable_variables)
        for v in variables:
            constraint = getattr(v, "constraint", None)
            if constraint is not None:
                v.assign(constraint(v))
        self._iterations += 1

    @staticmethod
    def _accumulate(grads, accs) -> None:
        fused = [k for k, a in enumerate(accs) if a.dtype == "float32"]
        if fused:
            # `acc - (-1) * g` is exactly `acc + g`: SGD's kernel adds all of them in one call.
            _core.sgd_update([accs[k] for k in fused], [grads[k] for k in fused], learning_rate=-1.0)
        for k, a in enumerate(accs):
            if a.dtype != "float32":
                a.assign(ops.add(a, grads[k]))

    def _update(self, grads, variables) -> None:
        """Clipping, weight decay and the update of `variables` (one fused call for the
        float32 ones)."""
        grads = self._clip(grads)
        lr = self.learning_rate
        step = self.iterations + 1
        wd = float(self.weight_decay) if self.weight_decay else 0.0
        self._before_update(step)
        key = tuple(id(v) for v in variables)
        if self._targets_cache is None or self._targets_cache[0] != key:
            # One list per slot name (the fused update's arguments), in `_slot_names()` order.
            fused = [i for i, v in enumerate(variables) if v.dtype == "float32"]
            slots = [[self._slots[id(variables[i])][k] for i in fused]
                     for k in range(len(self._slot_names()))]
            mask = [self._use_weight_decay(variables[i]) for i in fused]
            self._targets_cache = (key, fused, slots, None if all(mask) else mask)
        _, fused, slots, mask = self._targets_cache
        if self._keras_style():
            for g, v in zip(grads, variables):
                if wd and self._use_weight_decay(v):
                    v.assign(v - v * wd * lr)
                self.update_step(g, v, lr)
            return
        decay = {"weight_decay": wd, "decay_mask": mask} if wd else {}
        if fused:
            self._fused_update([variables[i] for i in fused], [grads[i] for i in fused],
                               slots, lr, step, **decay)
        if len(fused) != len(variables):
            for i, v in enumerate(variables):
                if v.dtype == "float32":
                    continue
                if wd and self._use_weight_decay(v):
                    v.assign(v - v * wd * lr)
                self.update_step(grads[i], v, self._slots[id(v)], lr, step)

    def _before_update(self, step) -> None:
        """Scalar state updated once per step before the variables (Nadam's `u_product`)."""

    def update_step(self, gradient, variable, slots, learning_rate, step) -> None:
        """Update one non-float32 `variable` (and its `slots`) in its own dtype with `ops`;
        the formula is the fused kernel's (see the subclass docstring)."""
        raise NotImplementedError(f"{type(self).__name__}.update_step")

    def _fused_update(self, variables, gradients, slots, learning_rate, step, **decay) -> None:
        """Update the float32 `variables` and their `slots` (one list per slot name) in place,
        in one call to the core's fused update of the same name (`_core.adam_update` for
        Adam, ...: rust/ops/optimizer.rs, and `adam` in shaders/optimizer.wgsl on the GPU).
        `decay` holds `weight_decay` and `decay_mask` when weight decay is on."""
        raise NotImplementedError(f"{type(self).__name__}._fused_update")

    # ----------------------------------------------------------------------------------------
    # Exponential moving average
    def _update_model_variables_moving_average(self, trainable_variables) -> None:
        """`average = m * average + (1 - m) * variable` for each variable, m = 0 on the first
        step (`iterations == 0`), else `ema_momentum`: one fused call for float32."""
        momentum = float(np.float32(self.ema_momentum)) if self.iterations != 0 else 0.0
        averages = self._model_variables_moving_average
        fused = [k for k, v in enumerate(trainable_variables) if v.dtype == "float32"]
        if fused:
            _core.ema_update([averages[k] for k in fused], [trainable_variables[k] for k in fused],
                             momentum=momentum)
        for k, v in enumerate(trainable_variables):
            if v.dtype != "float32":
                a = averages[k]
                a.assign(ops.add(ops.multiply(momentum, a), ops.multiply(1.0 - momentum, v)))

    def _overwrite_model_variables_with_average_value(self, trainable_variables) -> None:
        """Assign each variable its moving average (`use_ema`).

        Raises:
            ValueError: when the list's length differs from the variables built for."""
        averages = self._model_variables_moving_average
        if len(trainable_variables) != len(averages):
            raise ValueError(
                f"{type(self).__name__}: the length of model variables "
                f"({len(trainable_variables)}) to override does not match the length of model "
                f"variables stored in the optimizer ({len(averages)}). Please check if the "
                "optimizer was called on your model.")
        for var, average in zip(trainable_variables, averages):
            var.assign(average)

    def finalize_variable_values(self, var_list) -> None:
        """What `fit` calls at its end: with `use_ema`, the variables take their moving
        averages (Keras's behaviour); otherwise nothing."""
        if self.use_ema and self._model_variables_moving_average:  # never stepped: nothing
            self._overwrite_model_variables_with_average_value(list(var_list))

    # ----------------------------------------------------------------------------------------
    # State in files: Keras 3's `optimizer.variables` order.
    def _keras_slot_groups(self) -> list[list[str]]:
        """The slot names in the order Keras creates them: each group is created for all
        variables in turn, a group of several names interleaved per variable (Keras's
        `add_optimizer_variables(var_list, [names])`)."""
        names = self._slot_names()
        return [names] if names else []

    def _path_of(self, var_id) -> str:
        owner = self._slot_owners.get(var_id)
        return getattr(owner, "path", "variable").replace("/", "_")

    def _state_entries(self) -> list:
        """[(name, kind, value)] in Keras's order: iteration, learning_rate (absent for a
        schedule or callable), EMA averages, gradient accumulators, the slots, then any
        scalar state (`_extra_entries`). `kind` is "iteration", "learning_rate" or "slot"
        (value: the Variable)."""
        entries = [(f"{self.name}/iteration", "iteration", self)]
        if not callable(self._learning_rate):
            entries.append((f"{self.name}/learning_rate", "learning_rate", self))
        ids = [id(v) for v in self._trainable_variables]
        for attr, slot in ((self._model_variables_moving_average, "average"),
                           (self._accumulated_gradients, "gradient_accumulator")):
            for var_id, var in zip(ids, attr):
                entries.append((f"{self.name}/{self._path_of(var_id)}_{slot}", "slot", var))
        index = {n: i for i, n in enumerate(self._slot_names())}
        for group in self._keras_slot_groups():
            for var_id in ids:
                for slot in group:
                    entries.append((f"{self.name}/{self._path_of(var_id)}_{slot}", "slot",
                                    self._slots[var_id][index[slot]]))
        entries += [(name, "slot", var) for name, var in self._custom_variables]
        return entries + self._extra_entries()

    def _extra_entries(self) -> list:
        return []

    def get_state_arrays(self) -> list:
        """[(name, NumPy array)] of the state as Keras saves it (see `_state_entries`)."""
        out = []
        for name, kind, var in self._state_entries():
            if kind == "iteration":
                out.append((name, np.array(var._iterations, np.int32)))
            elif kind == "learning_rate":
                out.append((name, np.array(var._learning_rate, np.float32)))
            else:
                out.append((name, var.numpy()))
        return out

    def set_state_arrays(self, values) -> bool:
        """Restore the state from arrays in `get_state_arrays()`'s order. On a count or shape
        mismatch it warns and keeps the fresh state, as Keras does; returns whether it loaded.
        """
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
                var._iterations = int(value)
            elif kind == "learning_rate":
                var._learning_rate = float(np.float32(value))
            else:
                var.assign(array_for_variable(value, var))
        return True

    def set_weights(self, weights) -> None:
        """Set the state from arrays in Keras's `variables` order (iteration, learning rate,
        slots), as `get_state_arrays` gives them.

        Raises:
            ValueError: when not built yet, or on a count or shape mismatch."""
        if not self.built:
            raise ValueError(
                f"{type(self).__name__}: you are calling `set_weights()` on an optimizer that "
                "has not yet been built. Please call `optimizer.build(trainable_variables)` to "
                "create the optimizer weights before calling `set_weights()`.")
        entries = self._state_entries()
        weights = list(weights)
        if len(weights) != len(entries):
            raise ValueError(f"{type(self).__name__}: expected {len(entries)} weights, got "
                             f"{len(weights)}")
        for (name, kind, var), w in zip(entries, weights):
            if kind == "slot" and tuple(np.shape(w)) != tuple(var.shape):
                raise ValueError(f"Optimizer variable {name} has shape {tuple(var.shape)} not "
                                 f"compatible with provided weight shape {tuple(np.shape(w))}.")
        self.set_state_arrays(weights)

    def save_own_variables(self, store) -> None:
        """Write the state into `store` as "0", "1", ... (Keras 3's layout)."""
        for i, (_, value) in enumerate(self.get_state_arrays()):
            store[str(i)] = value

    def load_own_variables(self, store) -> None:
        """Read the state `save_own_variables` wrote (a warning and no change on mismatch)."""
        self.set_state_arrays([store[str(i)] for i in range(len(store))])

    # ----------------------------------------------------------------------------------------
    # Config
    def get_config(self) -> dict:
        """Keras's base config; a schedule as `schedules.serialize` gives it, a callable as
        `serialize_keras_object` does."""
        lr = self._learning_rate
        if isinstance(lr, _schedule_class()):
            from rskeras.optimizers import schedules

            lr = schedules.serialize(lr)
        elif callable(lr):
            from rskeras.saving.serialization_lib import serialize_keras_object

            lr = serialize_keras_object(lr)
        return {
            "name": self.name,
            "learning_rate": lr,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """The optimizer `get_config` describes (a learning-rate record deserialized)."""
        config = dict(config)
        lr = config.get("learning_rate")
        if isinstance(lr, dict):
            from rskeras.optimizers import schedules

            if lr.get("class_name") == "function":
                from rskeras.saving.serialization_lib import deserialize_keras_object

                config["learning_rate"] = deserialize_keras_object(lr, custom_objects)
            else:
                config["learning_rate"] = schedules.deserialize(lr, custom_objects)
        return cls(**config)

"""LossScaleOptimizer: dynamic loss scaling for mixed precision (Micikevicius et al., 2018,
"Mixed Precision Training")."""

from __future__ import annotations

from rskeras.backend.lazy_numpy import np

from rskeras import ops
from rskeras.backend.variables import Variable
from rskeras.optimizers.optimizer import Optimizer
from rskeras.utils import locks

_BASE_DEFAULTS = {
    "weight_decay": None, "clipnorm": None, "global_clipnorm": None, "clipvalue": None,
    "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
    "loss_scale_factor": None, "gradient_accumulation_steps": None,
}


class LossScaleOptimizer(Optimizer):
    """An optimizer wrapper with dynamic loss scaling, as `keras.optimizers.LossScaleOptimizer`.

    `scale_loss(loss)` multiplies the loss by the current scale (`dynamic_scale`, starting at
    `initial_scale`); `apply` divides the gradients by it. When every gradient is finite, the
    inner optimizer takes the step, and after `dynamic_growth_steps` such steps in a row the
    scale doubles. When any gradient holds inf or NaN, the step is skipped (no variable
    changes) and the scale halves. State, saved before the inner optimizer's: its own
    `iteration` and `learning_rate` (Keras keeps both at 0), `step_counter`, `dynamic_scale`.

    Args:
        inner_optimizer: the `Optimizer` to wrap (its `loss_scale_factor` is cleared).
        initial_scale: default 32768.0 (2**15). dynamic_growth_steps: default 2000.
        name: default "loss_scale_optimizer".

    Raises:
        ValueError: for a base optimizer argument other than its default (set it on the inner
            optimizer), or unknown arguments.
    """

    def __init__(self, inner_optimizer, initial_scale=2.0 ** 15, dynamic_growth_steps=2000,
                 name=None, **kwargs):
        for arg, default in _BASE_DEFAULTS.items():
            if arg in kwargs:
                value = kwargs.pop(arg)
                if (default is None and value is not None) or value != default:
                    raise ValueError(f"LossScaleOptimizer does not support `{arg}`. Instead, "
                                     f"set `{arg}` on the `inner_optimizer`.")
        if kwargs:
            raise ValueError("LossScaleOptimizer does not support arguments: "
                             f"`{'`, `'.join(kwargs)}`.")
        if isinstance(inner_optimizer, dict):
            from rskeras.optimizers import deserialize

            inner_optimizer = deserialize(inner_optimizer)
        if not isinstance(inner_optimizer, Optimizer):
            raise ValueError("LossScaleOptimizer: `inner_optimizer` must be an Optimizer, got "
                             f"{inner_optimizer!r}")
        super().__init__(learning_rate=0.0, name=name)
        self.inner_optimizer = inner_optimizer
        self.initial_scale = initial_scale
        self.dynamic_growth_steps = dynamic_growth_steps
        self.inner_optimizer.loss_scale_factor = None
        self.step_counter = None
        self.dynamic_scale = None

    def build(self, var_list) -> None:
        """Create `step_counter` and `dynamic_scale`, and build the inner optimizer."""
        if self.dynamic_scale is None:
            self.step_counter = Variable(np.array(0, "int32"), dtype="int32", trainable=False,
                                         name="step_counter")
            self.dynamic_scale = Variable(np.array(self.initial_scale, "float32"),
                                          trainable=False, name="dynamic_scale")
        self.inner_optimizer.build(var_list)
        self.built = True

    # The inner optimizer's state stands for this one's where the model's code looks.
    @property
    def _slots(self):
        return self.inner_optimizer._slots

    @_slots.setter
    def _slots(self, value):
        pass  # the base __init__ sets it; the inner optimizer owns the slots

    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self.inner_optimizer.learning_rate = value

    @property
    def iterations(self):
        return self.inner_optimizer.iterations

    @iterations.setter
    def iterations(self, value):
        self.inner_optimizer.iterations = value

    @property
    def _model_variables_moving_average(self):
        return self.inner_optimizer._model_variables_moving_average

    @_model_variables_moving_average.setter
    def _model_variables_moving_average(self, value):
        pass

    def _get_variable_index(self, variable) -> int:
        return self.inner_optimizer._get_variable_index(variable)

    def scale_loss(self, loss):
        """`loss * dynamic_scale` (`initial_scale` before the optimizer is built)."""
        scale = self.dynamic_scale if self.dynamic_scale is not None else self.initial_scale
        return ops.multiply(loss, scale)

    def check_finite(self, grads) -> bool:
        """Whether every gradient is finite (one value read back for all of them)."""
        flags = [ops.all(ops.isfinite(g)) for g in grads if g is not None]
        return bool(np.asarray(ops.all(ops.stack(flags)))) if flags else True

    def apply(self, grads, trainable_variables=None) -> None:
        """Unscale and apply `grads` through the inner optimizer, or skip the step on
        non-finite gradients (see the class docstring)."""
        with locks.object_lock(self):
            grads = list(grads)
            if not self.built or self.dynamic_scale is None:
                self.build(trainable_variables if trainable_variables is not None
                           else self.inner_optimizer._trainable_variables)
            if self.check_finite(grads):
                scale = self.dynamic_scale
                unscaled = [None if g is None else ops.divide(g, ops.cast(scale, getattr(
                    g, "dtype", "float32"))) for g in grads]
                self.inner_optimizer.apply(unscaled, trainable_variables)
                if int(self.step_counter.numpy()) == self.dynamic_growth_steps - 1:
                    self.step_counter.assign(np.array(0, "int32"))
                    self.dynamic_scale.assign(self.dynamic_scale * 2.0)
                else:
                    self.step_counter.assign(self.step_counter + 1)
            else:
                self.step_counter.assign(np.array(0, "int32"))
                self.dynamic_scale.assign(self.dynamic_scale * 0.5)

    def finalize_variable_values(self, var_list) -> None:
        self.inner_optimizer.finalize_variable_values(var_list)

    @property
    def variables(self) -> list:
        own = [] if self.dynamic_scale is None else [self.step_counter, self.dynamic_scale]
        return own + self.inner_optimizer.variables

    def _state_entries(self) -> list:
        entries = [(f"{self.name}/iteration", "iteration", self),
                   (f"{self.name}/learning_rate", "learning_rate", self)]
        if self.dynamic_scale is not None:
            entries += [(f"{self.name}/step_counter", "slot", self.step_counter),
                        (f"{self.name}/dynamic_scale", "slot", self.dynamic_scale)]
        return entries + self.inner_optimizer._state_entries()

    def get_config(self) -> dict:
        from rskeras.saving.serialization_lib import serialize_keras_object

        return {"name": self.name,
                "inner_optimizer": serialize_keras_object(self.inner_optimizer),
                "initial_scale": self.initial_scale,
                "dynamic_growth_steps": self.dynamic_growth_steps}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        inner = config.pop("inner_optimizer")
        if isinstance(inner, dict):
            from rskeras.optimizers import deserialize

            inner = deserialize(inner, custom_objects=custom_objects)
        return cls(inner, **config)

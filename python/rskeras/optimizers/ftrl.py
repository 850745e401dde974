"""FTRL-Proximal (McMahan et al., 2013, "Ad Click Prediction: a View from the Trenches")."""

from rskeras import _core, ops
from rskeras.optimizers.optimizer import Optimizer


class Ftrl(Optimizer):
    """FTRL, as `keras.optimizers.Ftrl`. With `p = -learning_rate_power`,
    `l2 = l2_regularization_strength + beta / (2 lr)`:
    `g' = g + 2 l2_shrinkage w`; `n' = n + g^2`; `z += g' - (n'^p - n^p) / lr * w`;
    `w = (clip(z, -l1, l1) - z) / (n'^p / lr + 2 l2)`; `n = n'`. Slots per variable:
    `accumulator` (n, starting at `initial_accumulator_value`) and `linear` (z).

    Args:
        learning_rate: default 0.001. learning_rate_power: <= 0, default -0.5.
        initial_accumulator_value: >= 0, default 0.1. l1_regularization_strength,
        l2_regularization_strength, l2_shrinkage_regularization_strength: >= 0, default 0.
        beta: default 0. Other arguments: the `Optimizer` base's.

    Raises:
        ValueError: for a negative initial accumulator or strength, or a positive power.
    """

    def __init__(self, learning_rate=0.001, learning_rate_power=-0.5,
                 initial_accumulator_value=0.1, l1_regularization_strength=0.0,
                 l2_regularization_strength=0.0, l2_shrinkage_regularization_strength=0.0,
                 beta=0.0, name=None, **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        checks = [("initial_accumulator_value", initial_accumulator_value, "non-negative"),
                  ("l1_regularization_strength", l1_regularization_strength, "non-negative"),
                  ("l2_regularization_strength", l2_regularization_strength, "non-negative"),
                  ("l2_shrinkage_regularization_strength", l2_shrinkage_regularization_strength,
                   "non-negative")]
        for arg, value, what in checks:
            if value < 0.0:
                raise ValueError(f"Ftrl: `{arg}` needs to be {what}, but received {arg}={value}.")
        if learning_rate_power > 0.0:
            raise ValueError("Ftrl: `learning_rate_power` needs to be negative or zero, but "
                             f"received learning_rate_power={learning_rate_power}.")
        self.learning_rate_power = learning_rate_power
        self.initial_accumulator_value = initial_accumulator_value
        self.l1_regularization_strength = l1_regularization_strength
        self.l2_regularization_strength = l2_regularization_strength
        self.l2_shrinkage_regularization_strength = l2_shrinkage_regularization_strength
        self.beta = beta

    def _slot_names(self):
        return ["accumulator", "linear"]

    def _slot_initial_value(self, slot):
        return self.initial_accumulator_value if slot == "accumulator" else 0.0

    def _fused_update(self, variables, gradients, slots, learning_rate, step, **decay):
        _core.ftrl_update(
            variables, gradients, slots[0], slots[1], learning_rate=learning_rate,
            learning_rate_power=self.learning_rate_power,
            l1_regularization_strength=self.l1_regularization_strength,
            l2_regularization_strength=self.l2_regularization_strength,
            l2_shrinkage_regularization_strength=self.l2_shrinkage_regularization_strength,
            beta=self.beta, **decay)

    def update_step(self, g, w, slots, lr, step):
        acc, lin = slots
        lr_t = ops.cast(lr, w.dtype)
        l2 = self.l2_regularization_strength + self.beta / (2.0 * lr_t)
        grad = g + 2 * self.l2_shrinkage_regularization_strength * w
        new_acc = acc + ops.square(g)
        p = -self.learning_rate_power
        lin.assign(lin + (grad - (ops.power(new_acc, p) - ops.power(acc, p)) / lr_t * w))
        quadratic = ops.power(new_acc, p) / lr_t + 2 * l2
        l1 = self.l1_regularization_strength
        w.assign((ops.clip(lin, -l1, l1) - lin) / quadratic)
        acc.assign(new_acc)

    def get_config(self):
        return {**super().get_config(),
                "learning_rate_power": self.learning_rate_power,
                "initial_accumulator_value": self.initial_accumulator_value,
                "l1_regularization_strength": self.l1_regularization_strength,
                "l2_regularization_strength": self.l2_regularization_strength,
                "l2_shrinkage_regularization_strength": self.l2_shrinkage_regularization_strength,
                "beta": self.beta}

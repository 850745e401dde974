"""Adagrad (Duchi, Hazan & Singer, 2011, "Adaptive Subgradient Methods for Online Learning and
Stochastic Optimization")."""

from rskeras import _core, ops
from rskeras.optimizers.optimizer import Optimizer


class Adagrad(Optimizer):
    """Adagrad, as `keras.optimizers.Adagrad`: per element, `acc += g^2`, then
    `w -= lr * g / sqrt(acc + epsilon)`. One slot per variable, `accumulator`, which starts at
    `initial_accumulator_value`.

    Args:
        learning_rate: default 0.001. initial_accumulator_value: default 0.1.
        epsilon: default 1e-7. Other arguments: the `Optimizer` base's.
    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 name=None, **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def _slot_names(self):
        return ["accumulator"]

    def _slot_initial_value(self, slot):
        return self.initial_accumulator_value if slot == "accumulator" else 0.0

    def _fused_update(self, variables, gradients, slots, learning_rate, step, **decay):
        _core.adagrad_update(variables, gradients, slots[0], learning_rate=learning_rate,
                             epsilon=self.epsilon, **decay)

    def update_step(self, g, w, slots, lr, step):
        acc = slots[0]
        acc.assign(acc + ops.square(g))
        w.assign(w - lr * g / ops.sqrt(acc + self.epsilon))

    def get_config(self):
        return {**super().get_config(),
                "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}

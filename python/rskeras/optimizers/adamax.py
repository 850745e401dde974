"""Adamax (Kingma & Ba, 2015, "Adam: A Method for Stochastic Optimization", section 7.1)."""

from rskeras import _core, ops
from rskeras.optimizers.optimizer import Optimizer


class Adamax(Optimizer):
    """Adamax, as `keras.optimizers.Adamax`: Adam with the infinity norm. At step t (from 1):
    `m += (g - m)(1 - beta_1)`; `u = max(beta_2 u, |g|)`;
    `w -= lr * m / ((1 - beta_1^t) (u + epsilon))`. Slots per variable: `momentum`, `norm`.

    Args:
        learning_rate: default 0.001. beta_1: default 0.9. beta_2: default 0.999.
        epsilon: default 1e-7. Other arguments: the `Optimizer` base's.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 name=None, **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def _slot_names(self):
        return ["momentum", "norm"]

    def _fused_update(self, variables, gradients, slots, learning_rate, step, **decay):
        _core.adamax_update(variables, gradients, slots[0], slots[1], learning_rate=learning_rate,
                            beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon,
                            step=step, **decay)

    def update_step(self, g, w, slots, lr, step):
        m, u = slots
        beta_1_power = ops.power(ops.cast(self.beta_1, w.dtype), ops.cast(step, w.dtype))
        m.assign(m + (g - m) * (1 - self.beta_1))
        u.assign(ops.maximum(self.beta_2 * u, ops.abs(g)))
        w.assign(w - lr * m / ((1 - beta_1_power) * (u + self.epsilon)))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}

"""Adam (Kingma & Ba, 2015, "Adam: A Method for Stochastic Optimization")."""

import math

from rskeras import _core, ops
from rskeras.optimizers.optimizer import Optimizer


class Adam(Optimizer):
    """Adam, as `keras.optimizers.Adam`. Per step t (from 1):
    `alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)`, `m += (g - m)(1 - beta_1)`,
    `v += (g^2 - v)(1 - beta_2)`, `w -= alpha * m / (sqrt(v) + epsilon)`; with `amsgrad`,
    `v_hat = max(v_hat, v)` replaces v in the denominator (Reddi et al., 2018).

    Args:
        learning_rate: default 0.001. beta_1: default 0.9. beta_2: default 0.999.
        epsilon: default 1e-7. amsgrad: default False.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 name="adam", **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, amsgrad

    def _slot_names(self):
        return ["momentum", "velocity"] + (["velocity_hat"] if self.amsgrad else [])

    def _keras_slot_groups(self):
        return [["momentum", "velocity"]] + ([["velocity_hat"]] if self.amsgrad else [])

    def _fused_update(self, variables, gradients, slots, learning_rate, step, **decay):
        _core.adam_update(variables, gradients, slots[0], slots[1], slots[2] if self.amsgrad else None,
                          learning_rate=learning_rate, beta_1=self.beta_1, beta_2=self.beta_2,
                          epsilon=self.epsilon, amsgrad=self.amsgrad, step=step, **decay)

    def update_step(self, g, w, slots, lr, step):
        alpha = lr * math.sqrt(1 - self.beta_2 ** step) / (1 - self.beta_1 ** step)
        m, v = slots[0], slots[1]
        m.assign(m + (g - m) * (1 - self.beta_1))
        v.assign(v + (ops.square(g) - v) * (1 - self.beta_2))
        if self.amsgrad:
            slots[2].assign(ops.maximum(slots[2], v))
            v = slots[2]
        w.assign(w - m * alpha / (ops.sqrt(v) + self.epsilon))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}

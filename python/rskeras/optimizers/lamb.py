"""Lamb (You et al., 2020, "Large Batch Optimization for Deep Learning: Training BERT in 76
minutes")."""

from rskeras import _core, ops
from rskeras.optimizers.optimizer import Optimizer


class Lamb(Optimizer):
    """Lamb, as `keras.optimizers.Lamb`. At step t (from 1):
    `m += (g - m)(1 - beta_1)`; `v += (g^2 - v)(1 - beta_2)`;
    `update = (m / (1 - beta_1^t)) / (sqrt(v / (1 - beta_2^t)) + epsilon)`;
    `ratio = ||w|| / ||update||` (1 when either norm is 0), per variable;
    `w -= ratio * lr * update`. The fused kernel computes each variable's two norms itself.
    Slots per variable: `momentum`, `velocity`.

    Args:
        learning_rate: default 0.001. beta_1: default 0.9. beta_2: default 0.999.
        epsilon: default 1e-7. Other arguments: the `Optimizer` base's.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 name=None, **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def _slot_names(self):
        return ["momentum", "velocity"]

    def _fused_update(self, variables, gradients, slots, learning_rate, step, **decay):
        _core.lamb_update(variables, gradients, slots[0], slots[1], learning_rate=learning_rate,
                          beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon,
                          step=step, **decay)

    def update_step(self, g, w, slots, lr, step):
        m, v = slots
        t = ops.cast(step, w.dtype)
        beta_1_power = ops.power(ops.cast(self.beta_1, w.dtype), t)
        beta_2_power = ops.power(ops.cast(self.beta_2, w.dtype), t)
        m.assign(m + (g - m) * (1 - self.beta_1))
        v.assign(v + (ops.square(g) - v) * (1 - self.beta_2))
        update = (m / (1.0 - beta_1_power)) / (ops.sqrt(v / (1.0 - beta_2_power)) + self.epsilon)
        w_norm = ops.sqrt(ops.sum(ops.square(w)))
        u_norm = ops.sqrt(ops.sum(ops.square(update)))
        ratio = ops.where(ops.greater(w_norm, 0),
                          ops.where(ops.greater(u_norm, 0), w_norm / u_norm, 1.0), 1.0)
        w.assign(w - ratio * lr * update)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}

"""Lion (Chen et al., 2023, "Symbolic Discovery of Optimization Algorithms")."""

from rskeras import _core, ops
from rskeras.optimizers.optimizer import Optimizer


class Lion(Optimizer):
    """Lion, as `keras.optimizers.Lion`: `w -= lr * sign(beta_1 m + (1 - beta_1) g)`, then
    `m = beta_2 m + (1 - beta_2) g`. One slot per variable, `momentum`.

    Args:
        learning_rate: default 0.001. beta_1: in (0, 1], default 0.9. beta_2: default 0.99.
        Other arguments: the `Optimizer` base's.

    Raises:
        ValueError: for `beta_1` outside (0, 1].
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, name=None, **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        if beta_1 <= 0 or beta_1 > 1:
            raise ValueError("Lion: argument `beta_1` must be in the [0, 1] range. Otherwise, "
                             f"the optimizer degenerates to SignSGD. Received: beta_1={beta_1}.")
        self.beta_1, self.beta_2 = beta_1, beta_2

    def _slot_names(self):
        return ["momentum"]

    def _fused_update(self, variables, gradients, slots, learning_rate, step, **decay):
        _core.lion_update(variables, gradients, slots[0], learning_rate=learning_rate,
                          beta_1=self.beta_1, beta_2=self.beta_2, **decay)

    def update_step(self, g, w, slots, lr, step):
        m = slots[0]
        b1, b2 = ops.cast(self.beta_1, w.dtype), ops.cast(self.beta_2, w.dtype)
        w.assign(w - lr * ops.sign(m * b1 + g * (1.0 - b1)))
        m.assign(m * b2 + g * (1.0 - b2))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}

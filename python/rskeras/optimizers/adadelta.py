"""Adadelta (Zeiler, 2012, "ADADELTA: An Adaptive Learning Rate Method")."""

from rskeras import _core, ops
from rskeras.optimizers.optimizer import Optimizer


class Adadelta(Optimizer):
    """Adadelta, as `keras.optimizers.Adadelta`. With `rms(x) = sqrt(x + epsilon)`:
    `acc_g = rho acc_g + (1 - rho) g^2`; `delta = -rms(acc_delta) / rms(acc_g) * g`;
    `acc_delta = rho acc_delta + (1 - rho) delta^2`; `w += lr * delta`. Slots per variable:
    `accumulated_grad`, `accumulated_delta_var`.

    Args:
        learning_rate: default 0.001 (Keras's; the paper has no learning rate, i.e. 1.0).
        rho: default 0.95. epsilon: default 1e-7. Other arguments: the `Optimizer` base's.
    """

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, name=None, **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        self.rho, self.epsilon = rho, epsilon

    def _slot_names(self):
        return ["accumulated_grad", "accumulated_delta_var"]

    def _fused_update(self, variables, gradients, slots, learning_rate, step, **decay):
        _core.adadelta_update(variables, gradients, slots[0], slots[1],
                              learning_rate=learning_rate, rho=self.rho, epsilon=self.epsilon,
                              **decay)

    def update_step(self, g, w, slots, lr, step):
        acc_g, acc_d = slots
        rho = self.rho
        acc_g.assign(rho * acc_g + (1 - rho) * ops.square(g))
        delta = -(ops.sqrt(acc_d + self.epsilon) * g / ops.sqrt(acc_g + self.epsilon))
        acc_d.assign(rho * acc_d + (1 - rho) * ops.square(delta))
        w.assign(w + lr * delta)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}

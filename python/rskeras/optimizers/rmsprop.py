"""RMSprop (Hinton, "Neural Networks for Machine Learning", lecture 6e)."""

from rskeras import _core, ops
from rskeras.optimizers.optimizer import Optimizer


class RMSprop(Optimizer):
    """RMSprop, as `keras.optimizers.RMSprop` (the `compile()` default optimizer):
    `v = rho v + (1 - rho) g^2`; `step = lr * g / sqrt(v + epsilon)` (centered: `v - mean_g^2
    + epsilon`); with momentum, `m = momentum * m + step; w -= m`, else `w -= step`.

    Args:
        learning_rate: default 0.001. rho: default 0.9. momentum: default 0.0.
        epsilon: default 1e-7. centered: default False.
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 name=None, **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, centered

    def _slot_names(self):
        # Order matches the fused kernel: velocity, then momentum, then average gradient.
        return (["velocity"] + (["momentum"] if self.momentum > 0 else [])
                + (["average_gradient"] if self.centered else []))

    def _keras_slot_groups(self):
        return [[name] for name in self._slot_names()]  # Keras creates each group in turn

    def _fused_update(self, variables, gradients, slots, learning_rate, step, **decay):
        rest = list(slots[1:])
        momentums = rest.pop(0) if self.momentum > 0 else None
        average_gradients = rest[0] if self.centered else None
        _core.rmsprop_update(variables, gradients, slots[0], momentums, average_gradients,
                             learning_rate=learning_rate, rho=self.rho, momentum=self.momentum,
                             epsilon=self.epsilon, centered=self.centered, **decay)

    def update_step(self, g, w, slots, lr, step):
        v, rest = slots[0], list(slots[1:])
        mom = rest.pop(0) if self.momentum > 0 else None
        v.assign(self.rho * v + (1 - self.rho) * ops.square(g))
        denom = v + self.epsilon
        if self.centered:
            avg = rest[0]
            avg.assign(self.rho * avg + (1 - self.rho) * g)
            denom = denom - ops.square(avg)
        inc = lr * g / ops.sqrt(denom)
        if mom is not None:
            mom.assign(self.momentum * mom + inc)
            inc = mom
        w.assign(w - inc)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}

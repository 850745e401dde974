"""Stochastic gradient descent with optional (Nesterov) momentum."""

from rskeras import _core
from rskeras.optimizers.optimizer import Optimizer


class SGD(Optimizer):
    """SGD, as `keras.optimizers.SGD`.

    With `momentum = 0`: `w -= lr * g`. Otherwise `m = momentum * m - lr * g`, then
    `w += m`, or with `nesterov=True`, `w += momentum * m - lr * g` (Sutskever et al., 2013).

    Args:
        learning_rate: default 0.01. momentum: float >= 0, default 0. nesterov: default False.

    Raises:
        ValueError: for a negative momentum.
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name=None, **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        if not isinstance(momentum, (int, float)) or momentum < 0:
            raise ValueError(f"SGD: `momentum` must be a float >= 0, got {momentum!r}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def _slot_names(self):
        return ["momentum"] if self.momentum != 0 else []

    def _fused_update(self, variables, gradients, slots, learning_rate, step, **decay):
        _core.sgd_update(variables, gradients, slots[0] if slots else None,
                         learning_rate=learning_rate, momentum=self.momentum,
                         nesterov=self.nesterov, **decay)

    def update_step(self, g, w, slots, lr, step):
        if not slots:
            w.assign(w - lr * g)
            return
        m = slots[0]
        m.assign(self.momentum * m - lr * g)
        w.assign(w + (self.momentum * m - lr * g if self.nesterov else m))

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}

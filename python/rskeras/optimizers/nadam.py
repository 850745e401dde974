"""Nadam (Dozat, 2016, "Incorporating Nesterov Momentum into Adam")."""

from rskeras.backend.lazy_numpy import np

from rskeras import _core, ops
from rskeras.backend.variables import Variable
from rskeras.optimizers.optimizer import Optimizer


class Nadam(Optimizer):
    """Nadam, as `keras.optimizers.Nadam`. At step t (from 1), with the momentum schedule
    `u_t = beta_1 (1 - 0.5 * 0.96^t)` and its running product `U_t = u_1 ... u_t` (a scalar
    state, Keras's `_u_product`, saved after the slots):
    `m += (g - m)(1 - beta_1)`; `v += (g^2 - v)(1 - beta_2)`;
    `m_hat = u_{t+1} m / (1 - U_t u_{t+1}) + (1 - u_t) g / (1 - U_t)`;
    `v_hat = v / (1 - beta_2^t)`; `w -= lr * m_hat / (sqrt(v_hat) + epsilon)`.
    Slots per variable: `momentum`, `velocity`.

    Args:
        learning_rate: default 0.001. beta_1: default 0.9. beta_2: default 0.999.
        epsilon: default 1e-7. Other arguments: the `Optimizer` base's.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 name=None, **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self._u_product = None
        self._u_product_value = None

    def _slot_names(self):
        return ["momentum", "velocity"]

    def _build_extra(self):
        if self._u_product is None:
            self._u_product = Variable(np.array(1.0, "float32"), trainable=False, name="variable")

    def _extra_entries(self):
        # Keras creates it outside the optimizer's name scope: its path is "variable".
        return [] if self._u_product is None else [("variable", "slot", self._u_product)]

    def set_state_arrays(self, values):
        loaded = super().set_state_arrays(values)
        self._u_product_value = None  # read the loaded value back once, at the next step
        return loaded

    def _before_update(self, step):
        # Keras: u_product * beta_1 * (1 - 0.5 * 0.96^t), in float32. The value is mirrored
        # on the host, so a step on the gpu device reads nothing back.
        f = np.float32
        if getattr(self, "_u_product_value", None) is None:
            self._u_product_value = float(self._u_product.numpy())
        u = f(self._u_product_value) * f(self.beta_1)
        u = f(u * f(f(1.0) - f(0.5) * np.power(f(0.96), f(step))))
        self._u_product.assign(np.array(u, "float32"))
        self._u_product_value = float(u)

    def _fused_update(self, variables, gradients, slots, learning_rate, step, **decay):
        _core.nadam_update(variables, gradients, slots[0], slots[1], learning_rate=learning_rate,
                           u_product=self._u_product_value, beta_1=self.beta_1,
                           beta_2=self.beta_2, epsilon=self.epsilon, step=step, **decay)

    def update_step(self, g, w, slots, lr, step):
        m, v = slots
        dt = w.dtype
        beta_1, beta_2 = ops.cast(self.beta_1, dt), ops.cast(self.beta_2, dt)
        decay = ops.cast(0.96, dt)
        u_t = beta_1 * (1.0 - 0.5 * ops.power(decay, ops.cast(step, dt)))
        u_t_1 = beta_1 * (1.0 - 0.5 * ops.power(decay, ops.cast(step + 1, dt)))
        u_product_t = ops.cast(self._u_product_value, dt)
        u_product_t_1 = u_product_t * u_t_1
        beta_2_power = ops.power(beta_2, ops.cast(step, dt))
        m.assign(m + (g - m) * (1 - beta_1))
        v.assign(v + (ops.square(g) - v) * (1 - beta_2))
        m_hat = u_t_1 * m / (1 - u_product_t_1) + (1 - u_t) * g / (1 - u_product_t)
        v_hat = v / (1 - beta_2_power)
        w.assign(w - m_hat * lr / (ops.sqrt(v_hat) + self.epsilon))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}

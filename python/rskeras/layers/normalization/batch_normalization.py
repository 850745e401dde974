"""`BatchNormalization` (Ioffe & Szegedy, 2015) with Keras 3 momentum semantics."""

from __future__ import annotations

from rskeras import initializers, ops
from rskeras.layers._layer_args import set_weight_options, weight_options_config
from rskeras.layers.input_spec import InputSpec
from rskeras.layers.layer import Layer
from rskeras.ops.nn import fused_batch_normalization


class BatchNormalization(Layer):
    """Normalize each feature along `axis` over the batch, as `keras.layers.BatchNormalization`.

    Training (`training=True`): `y = gamma * (x - mean_b) / sqrt(var_b + epsilon) + beta` with
    the batch mean and (biased) variance over every axis but `axis`, and the moving statistics
    updated as `moving = moving * momentum + batch * (1 - momentum)`. Inference: the moving
    mean and variance replace the batch statistics.

    Args:
        axis: the feature axis (default -1). momentum: default 0.99. epsilon: default 1e-3.
        center: learn `beta` (default True). scale: learn `gamma` (default True).
        beta/gamma/moving_mean/moving_variance initializers: zeros, ones, zeros, ones.
        beta_regularizer, gamma_regularizer: `keras.regularizers` identifiers or callables
            (default None). beta_constraint, gamma_constraint: `keras.constraints`
            identifiers or callables (default None).
        synchronized: accepted for Keras compatibility (one device: no effect).

    Shapes: any input `(batch, ..., features)`, output of the same shape. Weights (Keras order):
    gamma, beta `(features,)` trainable; moving_mean, moving_variance `(features,)`
    non-trainable.
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", moving_mean_initializer="zeros",
                 moving_variance_initializer="ones", beta_regularizer=None, gamma_regularizer=None,
                 beta_constraint=None, gamma_constraint=None, synchronized=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axis, int):
            raise ValueError(f"BatchNormalization: `axis` must be an int, got {axis!r}")
        self.axis, self.momentum, self.epsilon = axis, float(momentum), float(epsilon)
        self.center, self.scale = center, scale
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        set_weight_options(self, beta_regularizer=beta_regularizer,
                           gamma_regularizer=gamma_regularizer, beta_constraint=beta_constraint,
                           gamma_constraint=gamma_constraint)
        self.synchronized = bool(synchronized)
        self.supports_masking = True

    def build(self, input_shape):
        rank = len(input_shape)
        if not -rank <= self.axis < rank:
            raise ValueError(f'Layer "{self.name}": axis {self.axis} is out of range for input shape '
                             f"{tuple(input_shape)}")
        self._axis = self.axis % rank
        dim = input_shape[self._axis]
        shape = (dim,)
        self.gamma = (self.add_weight(shape=shape, initializer=self.gamma_initializer, name="gamma",
                                      regularizer=self.gamma_regularizer, constraint=self.gamma_constraint)
                      if self.scale else None)
        self.beta = (self.add_weight(shape=shape, initializer=self.beta_initializer, name="beta",
                                     regularizer=self.beta_regularizer, constraint=self.beta_constraint)
                     if self.center else None)
        self.moving_mean = self.add_weight(shape=shape, initializer=self.moving_mean_initializer,
                                           trainable=False, name="moving_mean")
        self.moving_variance = self.add_weight(shape=shape, initializer=self.moving_variance_initializer,
                                               trainable=False, name="moving_variance")
        self.input_spec = InputSpec(ndim=rank, axes={self._axis: dim})
        self.built = True

    def call(self, inputs, training=None):
        if training:
            if self._axis == inputs.ndim - 1 and inputs.dtype in ("float32", "float64"):
                # Channels last: one fused kernel for statistics, normalization and backward.
                y, mean, var = fused_batch_normalization(inputs, self.gamma, self.beta, self.epsilon)
            else:
                reduce_axes = tuple(a for a in range(inputs.ndim) if a != self._axis)
                mean, var = ops.moments(inputs, axes=reduce_axes)
                y = None
            m = self.momentum
            self.moving_mean.assign(self.moving_mean * m + ops.stop_gradient(mean) * (1 - m))
            self.moving_variance.assign(self.moving_variance * m + ops.stop_gradient(var) * (1 - m))
            if y is not None:
                return y
        else:
            mean, var = self.moving_mean, self.moving_variance
        return ops.batch_normalization(inputs, mean, var, self._axis, offset=self.beta,
                                       scale=self.gamma, epsilon=self.epsilon)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        ser = initializers.serialize
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": ser(self.beta_initializer),
                "gamma_initializer": ser(self.gamma_initializer),
                "moving_mean_initializer": ser(self.moving_mean_initializer),
                "moving_variance_initializer": ser(self.moving_variance_initializer),
                **weight_options_config(self, "beta_regularizer", "gamma_regularizer",
                                        "beta_constraint", "gamma_constraint"),
                "synchronized": self.synchronized}

"""`LayerNormalization` (Ba et al., 2016)."""

from __future__ import annotations

from rskeras import initializers, ops
from rskeras.layers._layer_args import set_weight_options, weight_options_config
from rskeras.layers.layer import Layer


class LayerNormalization(Layer):
    """Normalize each sample over `axis`, as `keras.layers.LayerNormalization`:
    `y = gamma * (x - mean) / sqrt(var + epsilon) + beta`, statistics over `axis` per sample.

    Args:
        axis: int or tuple of ints (default -1). epsilon: default 1e-3. center / scale: learn
            beta / gamma (default True). beta_initializer "zeros", gamma_initializer "ones".
        rms_scaling: scale without centering and without beta (default False); as in Keras 3
            the scale is `1 / sqrt(var + epsilon)` with the centered variance.
        beta_regularizer, gamma_regularizer: `keras.regularizers` identifiers or callables
            (default None). beta_constraint, gamma_constraint: `keras.constraints`
            identifiers or callables (default None).

    Shapes: any input, output of the same shape. Weights: gamma, beta of the shape of the
    normalized axes.
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, rms_scaling=False,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.axis = tuple(axis) if isinstance(axis, (list, tuple)) else axis
        self.epsilon, self.center, self.scale, self.rms_scaling = float(epsilon), center, scale, rms_scaling
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        set_weight_options(self, beta_regularizer=beta_regularizer,
                           gamma_regularizer=gamma_regularizer, beta_constraint=beta_constraint,
                           gamma_constraint=gamma_constraint)
        self.supports_masking = True

    def build(self, input_shape):
        rank = len(input_shape)
        axes = self.axis if isinstance(self.axis, tuple) else (self.axis,)
        for a in axes:
            if not -rank <= a < rank:
                raise ValueError(f'Layer "{self.name}": axis {a} is out of range for input shape '
                                 f"{tuple(input_shape)}")
        self._axes = tuple(sorted(a % rank for a in axes))
        shape = tuple(input_shape[a] for a in self._axes)
        self.gamma = (self.add_weight(shape=shape, initializer=self.gamma_initializer, name="gamma",
                                      regularizer=self.gamma_regularizer,
                                      constraint=self.gamma_constraint)
                      if self.scale or self.rms_scaling else None)
        self.beta = (self.add_weight(shape=shape, initializer=self.beta_initializer, name="beta",
                                     regularizer=self.beta_regularizer,
                                     constraint=self.beta_constraint)
                     if self.center and not self.rms_scaling else None)
        self.built = True

    def _broadcast(self, v, rank, input_shape):
        shape = [input_shape[a] if a in self._axes else 1 for a in range(rank)]
        return ops.reshape(v, tuple(shape))

    def call(self, inputs):
        rank, shape = inputs.ndim, tuple(inputs.shape)
        if self.rms_scaling:
            # Keras 3 scales by the (centered) variance here, not the mean square; match it.
            _, var = ops.moments(inputs, axes=self._axes, keepdims=True)
            return inputs * ops.rsqrt(var + self.epsilon) * self._broadcast(self.gamma, rank, shape)
        if self._axes == (rank - 1,):
            return ops.layer_normalization(inputs, self.gamma, self.beta, axis=-1, epsilon=self.epsilon)
        mean, var = ops.moments(inputs, axes=self._axes, keepdims=True)
        y = (inputs - mean) * ops.rsqrt(var + self.epsilon)
        if self.gamma is not None:
            y = y * self._broadcast(self.gamma, rank, shape)
        if self.beta is not None:
            y = y + self._broadcast(self.beta, rank, shape)
        return y

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        ser = initializers.serialize
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale, "rms_scaling": self.rms_scaling,
                "beta_initializer": ser(self.beta_initializer),
                "gamma_initializer": ser(self.gamma_initializer),
                **weight_options_config(self, "beta_regularizer", "gamma_regularizer",
                                        "beta_constraint", "gamma_constraint")}

"""`PReLU`: a leaky ReLU whose negative slope `alpha` is learned."""

from __future__ import annotations

from rskeras import initializers, ops
from rskeras.layers._layer_args import is_int, set_weight_options, weight_options_config
from rskeras.layers.input_spec import InputSpec
from rskeras.layers.layer import Layer


class PReLU(Layer):
    """The parametric rectified linear unit (Keras `keras.layers.PReLU`, He et al., 2015):
    `f(x) = x if x >= 0 else alpha * x`, computed as `relu(x) - alpha * relu(-x)`, with a
    trainable `alpha` per input position.

    Args:
        alpha_initializer: initializer of `alpha` (default "Zeros").
        alpha_regularizer: a `keras.regularizers` identifier ("l2", `L1(0.1)`, a config
            dict) or callable whose penalty on `alpha` is in `losses` (default None).
        alpha_constraint: a `keras.constraints` identifier or callable applied to `alpha`
            after each optimizer update (default None).
        shared_axes: an int or a list of ints (1-based, the batch axis is 0) along which one
            `alpha` is shared; e.g. `shared_axes=[1, 2]` for `(batch, height, width, channels)`
            images gives one slope per channel.

    Weights: `alpha` of shape `input_shape[1:]` with each shared axis set to 1 (Keras layout).

    Shapes: any input shape `(batch, d1, ..., dn)`; the output has the same shape.

    Raises:
        ValueError: when `shared_axes` holds something other than ints in `1..n`, when a
            non-shared axis of the build shape is unknown, or when the input does not match
            the build shape on the non-shared axes.
    """

    def __init__(self, alpha_initializer="Zeros", alpha_regularizer=None, alpha_constraint=None,
                 shared_axes=None, **kwargs):
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        set_weight_options(self, alpha_regularizer=alpha_regularizer,
                           alpha_constraint=alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        else:
            axes = list(shared_axes) if isinstance(shared_axes, (list, tuple)) else [shared_axes]
            if not all(is_int(a) and a >= 1 for a in axes):
                raise ValueError(
                    "PReLU: `shared_axes` must be ints >= 1 (the batch axis 0 is always shared), "
                    f"got {shared_axes!r}")
            self.shared_axes = [int(a) for a in axes]
        self.supports_masking = True

    def build(self, input_shape):
        rank = len(input_shape)
        shared = set(self.shared_axes or [])
        if any(a >= rank for a in shared):
            raise ValueError(
                f'Layer "{self.name}" (PReLU): shared_axes={self.shared_axes} is out of range for '
                f"input shape {tuple(input_shape)}")
        param_shape = [1 if i in shared else d for i, d in enumerate(input_shape) if i > 0]
        if any(d is None for d in param_shape):
            raise ValueError(
                f'Layer "{self.name}" (PReLU): the non-shared axes of the input must be known, '
                f"got input shape {tuple(input_shape)} with shared_axes={self.shared_axes}")
        self.alpha = self.add_weight(shape=param_shape, initializer=self.alpha_initializer,
                                     regularizer=self.alpha_regularizer,
                                     constraint=self.alpha_constraint, name="alpha")
        self.input_spec = InputSpec(ndim=rank, axes={i: input_shape[i] for i in range(1, rank)
                                                     if i not in shared})
        self.built = True

    def call(self, inputs):
        return ops.relu(inputs) - self.alpha * ops.relu(-inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "alpha_initializer": initializers.serialize(self.alpha_initializer),
            **weight_options_config(self, "alpha_regularizer", "alpha_constraint"),
            "shared_axes": None if self.shared_axes is None else list(self.shared_axes),
        }

"""`Dense`: `activation(inputs @ kernel + bias)`."""

from __future__ import annotations

from rskeras import ops
from rskeras.layers._layer_args import kernel_options_config, set_kernel_options, weight_options_config
from rskeras.layers.input_spec import InputSpec
from rskeras.layers.layer import Layer


class Dense(Layer):
    """A densely connected layer: `output = activation(dot(input, kernel) + bias)`.

    Args:
        units: positive int, size of the last output axis.
        activation: activation name or callable (default None: linear).
        use_bias: whether to add a bias (default True).
        kernel_initializer: default "glorot_uniform". bias_initializer: default "zeros".
        kernel_regularizer, bias_regularizer: `keras.regularizers` identifiers ("l2",
            `L1(0.1)`, a config dict) or callables; their penalties are in `losses` and added
            to the training loss (default None).
        activity_regularizer: the same, applied to the output at each call (default None).
        kernel_constraint, bias_constraint: `keras.constraints` identifiers ("non_neg",
            `MaxNorm(2)`) or callables, applied by the optimizer after each update.
        lora_rank: not supported; must be None.

    Shapes: input `(batch, ..., input_dim)` -> output `(batch, ..., units)`. Weights: kernel
    `(input_dim, units)`, bias `(units,)` (Keras layout).

    Raises:
        ValueError: when `units` is not a positive int, `lora_rank` is given, a regularizer
            or constraint identifier is unknown, or the input's last axis differs from the
            one the layer was built for.
    """

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 lora_rank=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"Dense: `units` must be a positive int, got {units!r}")
        if lora_rank:
            raise ValueError("Dense: LoRA (`lora_rank`) is not supported by rskeras")
        self.units = units
        set_kernel_options(self, activation, use_bias, kernel_initializer, bias_initializer,
                           kernel_regularizer, bias_regularizer, kernel_constraint, bias_constraint)
        self.input_spec = InputSpec(min_ndim=2)
        self.supports_masking = True  # the input's mask passes through (Keras)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f'Layer "{self.name}": the last axis of the input must be known, got {tuple(input_shape)}')
        self.kernel = self.add_weight(shape=(input_dim, self.units), initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint, name="kernel")
        self.bias = (self.add_weight(shape=(self.units,), initializer=self.bias_initializer,
                                     regularizer=self.bias_regularizer,
                                     constraint=self.bias_constraint, name="bias")
                     if self.use_bias else None)
        self.input_spec = InputSpec(min_ndim=2, axes={-1: input_dim})
        self.built = True

    def call(self, inputs):
        x = ops.matmul(inputs, self.kernel)
        if self.bias is not None:
            x = x + self.bias
        return self.activation(x)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            **kernel_options_config(self),
            # "activity_regularizer" comes from Layer.get_config when set (Keras 3).
            **weight_options_config(self, "kernel_regularizer", "bias_regularizer",
                                    "kernel_constraint", "bias_constraint"),
        }

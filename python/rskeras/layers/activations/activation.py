"""`Activation`: applies an activation function."""

from rskeras import activations
from rskeras.layers.layer import Layer


class Activation(Layer):
    """Apply `activation` (a name such as "relu" or a callable) element-wise; shape unchanged."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self.supports_masking = True  # the input's mask passes through (Keras)
        self.built = True

    def call(self, inputs):
        return self.activation(inputs)

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}

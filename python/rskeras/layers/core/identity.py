"""`Identity`: returns its input unchanged."""

from __future__ import annotations

from rskeras.layers.layer import Layer


class Identity(Layer):
    """A placeholder layer that returns its input unchanged (Keras `keras.layers.Identity`).

    Shapes: any input `(batch, ...)`; the output is the same tensor.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

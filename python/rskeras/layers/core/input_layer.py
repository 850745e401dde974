"""`Input`, `InputLayer` and the symbolic `KerasTensor` they produce."""

from __future__ import annotations

from rskeras.backend.keras_tensor import KerasTensor
from rskeras.backend.variables import standardize_shape
from rskeras.layers.layer import Layer


class InputLayer(Layer):
    """The entry point of a model: holds the input shape.

    Args:
        shape: shape of one sample, without the batch axis, e.g. `(28, 28)`.
        batch_size: optional fixed batch size.
        dtype: the input dtype (default float32).
        batch_shape: the full shape including the batch axis (instead of shape/batch_size).
        name: the layer name.
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None,
                 input_tensor=None, optional=False, name=None, **kwargs):
        super().__init__(name=name)
        if shape is None and batch_shape is None:
            raise ValueError("InputLayer: either `shape` or `batch_shape` must be given")
        if batch_shape is None:
            batch_shape = (batch_size,) + standardize_shape(shape)
        self.batch_shape = standardize_shape(batch_shape)
        self.input_dtype = dtype or "float32"
        self.output = KerasTensor(self.batch_shape, self.input_dtype, self.name)
        self.output._keras_history = self
        self.built = True

    def call(self, inputs):
        return inputs

    def get_config(self) -> dict:
        return {"batch_shape": self.batch_shape, "dtype": self.input_dtype, "sparse": False,
                "name": self.name}


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None,
          tensor=None, optional=False) -> KerasTensor:
    """A symbolic input of `shape` (one sample, no batch axis), as `keras.Input`.

    Returns:
        A `KerasTensor` of shape `(batch_size, *shape)`, to start a `Sequential` model.
    """
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, batch_shape=batch_shape,
                       name=name)
    return layer.output

"""`Sequential`: a plain stack of layers, each with one input and one output."""

from __future__ import annotations

from rskeras.backend.keras_tensor import KerasTensor
from rskeras.layers.core.input_layer import InputLayer
from rskeras.layers.layer import Layer
from rskeras.models.model import Model


class Sequential(Model):
    """A linear stack of layers, as `keras.Sequential`.

    Args:
        layers: a list of layers; the first may be `keras.Input(shape)` / `InputLayer`, or a
            layer given `input_shape=`, which builds the model at once (so `summary()` works).
        name: the model name (default "sequential", made unique).

    Shapes: input `(batch, *input_shape)`, output that of the last layer.

    Raises:
        TypeError: when adding something that is not a layer.
        ValueError: when a layer name repeats, or the input shape does not fit a layer
            (the message names the layer, the expected and the received shape).
    """

    def __init__(self, layers=None, trainable=True, name=None):
        super().__init__(trainable=trainable, name=name)
        self._input_shape = None
        for layer in layers or []:
            self.add(layer)

    def add(self, layer) -> None:
        """Append a layer (or a `keras.Input`) to the stack."""
        if isinstance(layer, KerasTensor):
            layer = layer._keras_history
        if isinstance(layer, InputLayer):
            if self._layers or self._input_shape is not None:
                raise ValueError("Sequential: an Input must be the first element of the model")
            self._input_shape = layer.batch_shape
            self._maybe_build()
            return
        if not isinstance(layer, Layer):
            raise TypeError(
                f"Sequential.add: only layers can be added, got {layer!r} of type {type(layer).__name__}"
            )
        if any(known.name == layer.name for known in self._layers):
            raise ValueError(
                f"All layers added to a Sequential model should have unique names. "
                f'Name "{layer.name}" is already the name of a layer in this model.'
            )
        self._layers.append(layer)
        if not self._layers[:-1] and self._input_shape is None and layer._batch_input_shape is not None:
            self._input_shape = layer._batch_input_shape
        self.built = False
        self._maybe_build()

    def pop(self) -> Layer:
        """Remove and return the last layer.

        Raises:
            IndexError: when the model has no layer.
        """
        if not self._layers:
            raise IndexError("Sequential.pop: there are no layers to remove")
        layer = self._layers.pop()
        self.built = False
        self._maybe_build()
        return layer

    def _maybe_build(self) -> None:
        if self._input_shape is not None and self._layers:
            self.build(self._input_shape)

    def build(self, input_shape=None) -> None:
        """Build every layer in turn for `input_shape` (batch axis included)."""
        shape = tuple(input_shape if input_shape is not None else self._input_shape)
        self._input_shape = shape
        self._output_shapes = []
        for layer in self._layers:
            layer.build_from_shape(shape)
            shape = tuple(layer.compute_output_shape(shape))
            self._output_shapes.append(shape)
        self.built = True

    def call(self, inputs, training=None, mask=None):
        x = inputs
        for layer in self._layers:
            x = layer(x, training=training)
        return x

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        for layer in self._layers:
            shape = tuple(layer.compute_output_shape(shape))
        return shape

    @property
    def input_shape(self):
        return self._input_shape

    @property
    def output_shape(self):
        return self.compute_output_shape(self._input_shape) if self._input_shape else None

    def get_config(self) -> dict:
        from rskeras.utils.serialization import serialize_layer

        layers = []
        if self._input_shape is not None:
            layers.append({"module": "keras.layers", "class_name": "InputLayer",
                           "config": {"batch_shape": self._input_shape, "dtype": "float32",
                                      "sparse": False, "name": "input_layer"},
                           "registered_name": None})
        layers.extend(serialize_layer(layer) for layer in self._layers)
        return {"name": self.name, "trainable": self.trainable,
                "dtype": {"module": "keras", "class_name": "DTypePolicy",
                          "config": {"name": "float32"}, "registered_name": None},
                "layers": layers}

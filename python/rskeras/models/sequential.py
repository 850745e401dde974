"""`Sequential`: a plain stack of layers, each with one input and one output."""

from __future__ import annotations

from rskeras import _core
from rskeras.backend import masking, naming
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
        # As in Keras: the layers attach the masks as they run (see `call`, `compute_mask`).
        self.supports_masking = False
        self._input_shape = None
        self._input_dtype = None
        self._input_name = None
        object.__setattr__(self, "_input_layer", None)
        object.__setattr__(self, "_graph", None)  # (input KerasTensor, output KerasTensor, nodes)
        for layer in layers or []:
            self.add(layer)

    def add(self, layer) -> None:
        """Append a layer (or a `keras.Input`) to the stack."""
        if isinstance(layer, KerasTensor):
            history = layer._keras_history
            if history is None or not isinstance(history.operation, InputLayer):
                raise ValueError("Sequential: only a KerasTensor from keras.Input() can be added "
                                 f"(got {layer!r}); use the Functional API for other graphs")
            layer = history.operation
        if isinstance(layer, InputLayer):
            if self._layers or self._input_shape is not None:
                raise ValueError("Sequential: an Input must be the first element of the model")
            self._input_shape = layer.batch_shape
            self._input_dtype = layer.input_dtype
            self._input_name = layer.name
            object.__setattr__(self, "_input_layer", layer)
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
        """Build every layer in turn for `input_shape` (batch axis included), calling them on
        a symbolic input as Keras 3 does, so that `model.inputs`/`model.outputs` and each
        layer's `output` exist (for `keras.Model(seq.inputs, seq.layers[i].output)`).

        Raises:
            ValueError: when a layer does not accept the shape it receives (naming the layer,
                the expected and the received shape), or returns several tensors.
        """
        shape = tuple(input_shape if input_shape is not None else self._input_shape)
        self._input_shape = shape
        self._drop_graph()
        input_layer = self._input_layer
        if input_layer is None or tuple(input_layer.batch_shape) != shape:
            input_layer = InputLayer(batch_shape=shape, dtype=self._input_dtype)
            object.__setattr__(self, "_input_layer", input_layer)
        x = inputs = input_layer.output
        nodes, shapes = [], []
        try:
            with naming.name_scope(self.name):  # "sequential/dense/kernel", as Keras
                for layer in self._layers:
                    y = layer(x)
                    nodes.append((layer, layer._inbound_nodes[-1]))
                    if not isinstance(y, KerasTensor):
                        raise ValueError(f'Sequential: layer "{layer.name}" returns several '  # noqa: TRY004
                                         "outputs; each layer of a Sequential model must "
                                         "return one tensor")
                    shapes.append(tuple(y.shape))
                    x = y
        except Exception:
            object.__setattr__(self, "_graph", (inputs, x, nodes))
            self._drop_graph()
            raise
        object.__setattr__(self, "_graph", (inputs, x, nodes))
        self._output_shapes = shapes
        self.built = True

    def _drop_graph(self) -> None:
        """Forget the nodes the previous build recorded (when still the layers' last ones)."""
        if self._graph is None:
            return
        for layer, node in reversed(self._graph[2]):
            nodes = layer.__dict__.get("_inbound_nodes")
            if nodes and nodes[-1] is node:
                nodes.pop()
        object.__setattr__(self, "_graph", None)

    def _graph_part(self, index, what):
        if self._graph is None:
            raise AttributeError(f"Sequential model '{self.name}' has no defined {what} yet: "
                                 "start it with keras.Input(shape) or call it on data first.")
        return self._graph[index]

    @property
    def inputs(self) -> list:
        return [self._graph_part(0, "inputs")]

    @property
    def outputs(self) -> list:
        return [self._graph_part(1, "outputs")]

    @property
    def input(self):
        return self._graph_part(0, "input")

    @property
    def output(self):
        return self._graph_part(1, "output")

    def call(self, inputs, training=None, mask=None):
        """Each layer on the previous one's output. Masks: `mask` (default: the input's own)
        is attached to the input, and each layer passes, uses or makes masks, so the output
        carries the mask the stack gives it (Keras 3)."""
        x = inputs
        if mask is not None and isinstance(x, _core.Tensor):
            masking.set_keras_mask(x, mask)
        for layer in self._layers:
            x = layer(x, training=training)
        return x

    def compute_output_spec(self, inputs, training=None, mask=None):
        """The output KerasTensor, with the mask the layers describe (`_keras_mask`): the
        recorded one for the built input shape, else each layer's in turn."""
        if not isinstance(inputs, KerasTensor):
            return super().compute_output_spec(inputs, training=training)
        if mask is None:
            mask = inputs._keras_mask
        if mask is None and self._graph is not None and tuple(inputs.shape) == tuple(self._input_shape):
            out = self._graph[1]
            spec = KerasTensor(out.shape, out.dtype)
            if out._keras_mask is not None:
                spec._keras_mask = KerasTensor(out._keras_mask.shape, out._keras_mask.dtype)
            return spec
        x = KerasTensor(inputs.shape, inputs.dtype)
        x._keras_mask = mask
        for layer in self._layers:
            x = layer._spec_call(x)
        return x

    def compute_mask(self, inputs, mask=None):
        """The output's mask for `inputs` with the input mask `mask` (default: the mask the
        input carries), or None. On tensors this runs the model; on KerasTensors it describes
        the mask. (Keras 3's Sequential returns the input mask here; rskeras follows the
        layers, as Keras 2 did.)"""
        if isinstance(inputs, KerasTensor):
            return masking.get_keras_mask(self.compute_output_spec(inputs, mask=mask))
        return masking.get_keras_mask(self.call(inputs, mask=mask))

    def compute_output_shape(self, input_shape):
        if self.built and self._output_shapes and tuple(input_shape) == tuple(self._input_shape):
            return self._output_shapes[-1]
        spec = KerasTensor(tuple(input_shape), self._input_dtype or "float32")
        for layer in self._layers:
            spec = layer.compute_output_spec(spec)
        return tuple(spec.shape)

    @property
    def input_shape(self):
        return self._input_shape

    @property
    def output_shape(self):
        return self.compute_output_shape(self._input_shape) if self._input_shape else None

    def get_config(self) -> dict:
        """Keras 3's Sequential config: `{"name", "trainable", "dtype", "layers": [InputLayer
        record first (when the input shape is known), then each layer's record],
        "build_input_shape"}`."""
        from rskeras.saving.serialization_lib import serialize_layer_record

        layers = []
        if self._input_shape is not None:
            layers.append({"module": "keras.layers", "class_name": "InputLayer",
                           "config": {"batch_shape": list(self._input_shape),
                                      "dtype": self._input_dtype or "float32", "sparse": False,
                                      "ragged": False, "name": self._input_name or "input_layer",
                                      "optional": False},
                           "registered_name": None})
        layers.extend(serialize_layer_record(layer) for layer in self._layers)
        config = {"name": self.name, "trainable": self.trainable,
                  "dtype": {"module": "keras", "class_name": "DTypePolicy",
                            "config": {"name": "float32"}, "registered_name": None},
                  "layers": layers}
        if self._input_shape is not None:
            config["build_input_shape"] = list(self._input_shape)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """A Sequential model from `get_config()` (or a Keras 3 Sequential config).

        Raises:
            ValueError: for unknown layer classes (pass them in `custom_objects`).
        """
        from rskeras.saving.serialization_lib import deserialize_layer

        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        records = list(config.get("layers", []))
        if records and records[0].get("class_name") == "InputLayer":
            first = InputLayer.from_config(records.pop(0)["config"])
            model.add(first)
        elif config.get("build_input_shape") is not None:
            model._input_shape = tuple(config["build_input_shape"])
        for record in records:
            model.add(deserialize_layer(record, custom_objects))
        return model

"""`Model`: a `Layer` with the training API. Subclass it and define `call`, or use
`Sequential`. (The Functional `Model(inputs, outputs)` form is not available yet.)"""

from __future__ import annotations

from rskeras.layers.layer import Layer
from rskeras.trainers.trainer import Trainer


class Model(Trainer, Layer):
    """A model: layers plus `compile`/`fit`/`evaluate`/`predict`/`summary`.

    Subclass it: create layers in `__init__` (they are tracked automatically, also inside
    lists) and define `call(inputs, training=None)`; override `train_step` for a custom loop.

    Raises:
        NotImplementedError: for `Model(inputs=..., outputs=...)` (the Functional API is
            planned, not available yet).
    """

    def __new__(cls, *args, **kwargs):
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            raise NotImplementedError(
                "Functional models (Model(inputs, outputs)) are not available yet; "
                "use keras.Sequential or subclass keras.Model"
            )
        return super().__new__(cls)

    def __init__(self, *args, **kwargs):
        trainable = kwargs.pop("trainable", True)
        name = kwargs.pop("name", None)
        Layer.__init__(self, trainable=trainable, name=name, **kwargs)
        self._init_trainer()

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Print the layer table, parameter counts and sizes, as Keras does."""
        from rskeras.utils.summary_utils import print_summary

        print_summary(self, line_length=line_length, print_fn=print_fn)

    def get_layer(self, name=None, index=None):
        """A sublayer by `name` or by `index` in `model.layers`.

        Raises:
            ValueError: when neither or both are given, or nothing matches.
        """
        if (name is None) == (index is None):
            raise ValueError("get_layer: provide exactly one of `name` or `index`")
        layers = self.layers
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"get_layer: index {index} is out of range for {len(layers)} layers")
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: {[layer.name for layer in layers]}")

"""`Input`, `InputLayer` and the symbolic `KerasTensor` they produce."""

from __future__ import annotations

from rskeras.backend.keras_tensor import KerasTensor, _standardize_dtype
from rskeras.ops.node import Node
from rskeras.backend.variables import standardize_shape
from rskeras.layers.layer import Layer


class InputLayer(Layer):
    """The entry point of a model: holds the input shape and produces its `KerasTensor`.

    Args:
        shape: shape of one sample, without the batch axis, e.g. `(28, 28)`.
        batch_size: optional fixed batch size (default None: any).
        dtype: the input dtype (default `keras.config.floatx()`, i.e. "float32"); inputs given
            to a Functional model are converted to it.
        batch_shape: the full shape including the batch axis (instead of shape/batch_size).
        name: the layer name (default "input_layer", made unique).
        sparse, ragged: must be falsy (not supported).

    Attributes:
        output: the `KerasTensor` of shape `batch_shape` this layer produces (node 0).

    Raises:
        ValueError: when neither `shape` nor `batch_shape` is given, or both are, or sparse /
            ragged inputs are requested.
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None,
                 input_tensor=None, optional=False, name=None, ragged=None, **kwargs):
        kwargs.pop("trainable", None)
        super().__init__(name=name, **{k: v for k, v in kwargs.items() if k != "dtype"})
        if sparse or ragged:
            raise ValueError("InputLayer: sparse and ragged inputs are not supported")
        if shape is not None and batch_shape is not None:
            raise ValueError("InputLayer: pass `shape` or `batch_shape`, not both")
        if input_tensor is not None:
            if not isinstance(input_tensor, KerasTensor):
                raise ValueError(f"InputLayer: `input_tensor` must be a KerasTensor, got {input_tensor!r}")
            batch_shape = input_tensor.shape if batch_shape is None and shape is None else batch_shape
            dtype = dtype or input_tensor.dtype
        if shape is None and batch_shape is None:
            raise ValueError("InputLayer: either `shape` or `batch_shape` must be given")
        if batch_shape is None:
            batch_shape = (batch_size,) + standardize_shape(shape)
        self.batch_shape = standardize_shape(batch_shape)
        self.input_dtype = _standardize_dtype(dtype)
        self.optional = bool(optional)
        self.built = True
        tensor = KerasTensor(self.batch_shape, self.input_dtype, name=self.name)
        Node(self, call_args=(), call_kwargs={}, outputs=tensor)

    @property
    def output(self):
        """The `KerasTensor` this layer produces."""
        return self._inbound_nodes[0].outputs

    def call(self, inputs):
        return inputs

    def get_config(self) -> dict:
        return {"batch_shape": list(self.batch_shape), "dtype": self.input_dtype, "sparse": False,
                "ragged": False, "name": self.name, "optional": self.optional}


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None,
          tensor=None, optional=False, ragged=None) -> KerasTensor:
    """A symbolic input, as `keras.Input`: the start of a Functional model (or a Sequential).

    Args:
        shape: shape of one sample, without the batch axis, e.g. `(784,)` or `(28, 28, 1)`;
            None entries are unknown sizes.
        batch_size: optional fixed batch size (default None: any).
        dtype: the dtype (default "float32"; "int32" for indices, e.g. before `Embedding`).
        batch_shape: the full shape with the batch axis, instead of `shape`/`batch_size`.
        name: the name of the `InputLayer` (default "input_layer", made unique); a model
            called with a dict of arrays matches its keys against these names.

    Returns:
        A `KerasTensor` of shape `(batch_size, *shape)` whose `_keras_history` points at a new
        `InputLayer`.

    Raises:
        ValueError: when neither `shape` nor `batch_shape` is given, or a size is negative.
    """
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse,
                       batch_shape=batch_shape, name=name, input_tensor=tensor, optional=optional,
                       ragged=ragged)
    return layer.output

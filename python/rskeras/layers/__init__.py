"""`rskeras.layers`: Keras 3 layers on the Rust core."""

from rskeras.layers.activations.activation import Activation
from rskeras.layers.core.dense import Dense
from rskeras.backend.keras_tensor import KerasTensor
from rskeras.layers.core.input_layer import Input, InputLayer
from rskeras.layers.input_spec import InputSpec
from rskeras.layers.layer import Layer
from rskeras.layers.regularization.dropout import Dropout
from rskeras.layers.reshaping.flatten import Flatten

__all__ = ["Activation", "Dense", "Dropout", "Flatten", "Input", "InputLayer", "InputSpec",
           "KerasTensor", "Layer"]

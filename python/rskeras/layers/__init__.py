"""`rskeras.layers`: Keras 3 layers on the Rust core."""

from rskeras.layers.activations.activation import Activation
from rskeras.layers.core.dense import Dense
from rskeras.backend.keras_tensor import KerasTensor
from rskeras.layers.core.input_layer import Input, InputLayer
from rskeras.layers.input_spec import InputSpec
from rskeras.layers.layer import Layer
from rskeras.layers.regularization.dropout import Dropout
from rskeras.layers.reshaping.flatten import Flatten

from rskeras.layers.activations.elu import ELU
from rskeras.layers.activations.leaky_relu import LeakyReLU
from rskeras.layers.activations.prelu import PReLU
from rskeras.layers.activations.relu import ReLU
from rskeras.layers.activations.softmax import Softmax
from rskeras.layers.core.embedding import Embedding
from rskeras.layers.core.identity import Identity
from rskeras.layers.core.lambda_layer import Lambda
from rskeras.layers.core.masking import Masking
from rskeras.layers.merging.add import Add, add
from rskeras.layers.merging.average import Average, average
from rskeras.layers.merging.base_merge import Merge
from rskeras.layers.merging.concatenate import Concatenate, concatenate
from rskeras.layers.merging.dot import Dot, dot
from rskeras.layers.merging.maximum import Maximum, maximum
from rskeras.layers.merging.minimum import Minimum, minimum
from rskeras.layers.merging.multiply import Multiply, multiply
from rskeras.layers.merging.subtract import Subtract, subtract
from rskeras.layers.preprocessing.normalization import Normalization
from rskeras.layers.preprocessing.rescaling import Rescaling
from rskeras.layers.regularization.activity_regularization import ActivityRegularization
from rskeras.layers.regularization.gaussian_dropout import GaussianDropout
from rskeras.layers.regularization.gaussian_noise import GaussianNoise
from rskeras.layers.regularization.spatial_dropout import SpatialDropout1D, SpatialDropout2D
from rskeras.layers.reshaping.cropping1d import Cropping1D
from rskeras.layers.reshaping.cropping2d import Cropping2D
from rskeras.layers.reshaping.permute import Permute
from rskeras.layers.reshaping.repeat_vector import RepeatVector
from rskeras.layers.reshaping.reshape import Reshape
from rskeras.layers.reshaping.up_sampling1d import UpSampling1D
from rskeras.layers.reshaping.up_sampling2d import UpSampling2D
from rskeras.layers.reshaping.zero_padding1d import ZeroPadding1D
from rskeras.layers.reshaping.zero_padding2d import ZeroPadding2D

__all__ = ["Activation", "Dense", "Dropout", "Flatten", "Input", "InputLayer", "InputSpec",
           "KerasTensor", "Layer"]

# Activation, core, merging, preprocessing, regularization and reshaping layers.
__all__ += [
    "ELU", "ActivityRegularization", "Add", "Average", "Concatenate", "Cropping1D", "Cropping2D",
    "Dot", "Embedding", "GaussianDropout", "GaussianNoise", "Identity", "Lambda", "LeakyReLU",
    "Masking", "Maximum", "Merge", "Minimum", "Multiply", "Normalization", "PReLU", "Permute",
    "ReLU", "RepeatVector", "Rescaling", "Reshape", "Softmax", "SpatialDropout1D",
    "SpatialDropout2D", "Subtract", "UpSampling1D", "UpSampling2D", "ZeroPadding1D",
    "ZeroPadding2D", "add", "average", "concatenate", "dot", "maximum", "minimum", "multiply",
    "subtract",
]

# Convolution, pooling and normalization layers.
from rskeras.layers.convolutional.conv1d import Conv1D  # noqa: E402
from rskeras.layers.convolutional.conv2d import Conv2D  # noqa: E402
from rskeras.layers.convolutional.conv2d_transpose import Conv2DTranspose  # noqa: E402
from rskeras.layers.convolutional.depthwise_conv2d import DepthwiseConv2D  # noqa: E402
from rskeras.layers.convolutional.separable_conv2d import SeparableConv2D  # noqa: E402
from rskeras.layers.normalization.batch_normalization import BatchNormalization  # noqa: E402
from rskeras.layers.normalization.layer_normalization import LayerNormalization  # noqa: E402
from rskeras.layers.pooling.average_pooling1d import AveragePooling1D  # noqa: E402
from rskeras.layers.pooling.average_pooling2d import AveragePooling2D  # noqa: E402
from rskeras.layers.pooling.global_average_pooling1d import GlobalAveragePooling1D  # noqa: E402
from rskeras.layers.pooling.global_average_pooling2d import GlobalAveragePooling2D  # noqa: E402
from rskeras.layers.pooling.global_max_pooling1d import GlobalMaxPooling1D  # noqa: E402
from rskeras.layers.pooling.global_max_pooling2d import GlobalMaxPooling2D  # noqa: E402
from rskeras.layers.pooling.max_pooling1d import MaxPooling1D  # noqa: E402
from rskeras.layers.pooling.max_pooling2d import MaxPooling2D  # noqa: E402

__all__ += [
    "AveragePooling1D", "AveragePooling2D", "BatchNormalization", "Conv1D", "Conv2D",
    "Conv2DTranspose", "DepthwiseConv2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "LayerNormalization", "MaxPooling1D",
    "MaxPooling2D", "SeparableConv2D",
]

# `rskeras.saving` sits below layers and finds the base class here (no import upwards).
from rskeras.saving.object_registration import register_framework_class  # noqa: E402

register_framework_class("Layer", Layer)

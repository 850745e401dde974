"""The layer cases of tests/fixtures/keras_layers.npz, shared by the generation script
(tests/fixtures/make_layer_fixtures.py, run with the real Keras) and tests/layers/test_keras_cases.py.

name: (class name, constructor kwargs, input shape, or a list of input shapes for a layer that
takes several inputs). Append new cases at the end: the script draws every case's inputs and
weights from one seeded generator, in this order.
"""

CASES = {
    "conv2d_valid": ("Conv2D", {"filters": 4, "kernel_size": 3}, (2, 7, 6, 3)),
    "conv2d_same_s2": ("Conv2D", {"filters": 5, "kernel_size": (3, 2), "strides": 2, "padding": "same"}, (2, 7, 6, 3)),
    "conv2d_dilated": ("Conv2D", {"filters": 2, "kernel_size": 2, "dilation_rate": 2, "activation": "relu"}, (1, 7, 7, 2)),
    "conv2d_groups": ("Conv2D", {"filters": 4, "kernel_size": 3, "groups": 2, "padding": "same"}, (2, 5, 5, 4)),
    "conv1d_causal": ("Conv1D", {"filters": 3, "kernel_size": 3, "padding": "causal", "dilation_rate": 2}, (2, 9, 2)),
    "conv1d_same_s2": ("Conv1D", {"filters": 3, "kernel_size": 4, "strides": 2, "padding": "same"}, (2, 9, 2)),
    "conv2d_transpose_s2": ("Conv2DTranspose", {"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same"}, (2, 4, 3, 2)),
    "conv2d_transpose_valid": ("Conv2DTranspose", {"filters": 2, "kernel_size": 2, "strides": 3}, (1, 3, 4, 2)),
    "depthwise": ("DepthwiseConv2D", {"kernel_size": 3, "depth_multiplier": 2, "padding": "same"}, (2, 5, 4, 3)),
    "separable": ("SeparableConv2D", {"filters": 4, "kernel_size": 3, "depth_multiplier": 2}, (2, 6, 5, 3)),
    "maxpool2d_same": ("MaxPooling2D", {"pool_size": 3, "strides": 2, "padding": "same"}, (2, 7, 6, 3)),
    "avgpool2d_same": ("AveragePooling2D", {"pool_size": 3, "strides": 2, "padding": "same"}, (2, 7, 6, 3)),
    "maxpool1d": ("MaxPooling1D", {"pool_size": 2}, (2, 9, 3)),
    "avgpool1d_same": ("AveragePooling1D", {"pool_size": 3, "strides": 1, "padding": "same"}, (2, 9, 3)),
    "gap2d": ("GlobalAveragePooling2D", {}, (2, 4, 5, 3)),
    "gmp1d_keepdims": ("GlobalMaxPooling1D", {"keepdims": True}, (2, 6, 3)),
    "batchnorm": ("BatchNormalization", {"momentum": 0.9}, (8, 5, 3)),
    "batchnorm_axis1": ("BatchNormalization", {"axis": 1, "center": False}, (6, 4, 3)),
    "layernorm": ("LayerNormalization", {}, (3, 4, 5)),
    "layernorm_axes": ("LayerNormalization", {"axis": (1, 2), "epsilon": 1e-5}, (3, 4, 5)),
    "layernorm_rms": ("LayerNormalization", {"rms_scaling": True}, (3, 6)),
    "gmp2d": ("GlobalMaxPooling2D", {}, (2, 4, 3, 3)),
    "gap1d": ("GlobalAveragePooling1D", {}, (2, 5, 3)),
    "dense_tanh": ("Dense", {"units": 3, "activation": "tanh"}, (4, 5)),
    "prelu_shared": ("PReLU", {"shared_axes": [1]}, (2, 4, 3)),
    "elu": ("ELU", {"alpha": 0.7}, (3, 5)),
    "softmax_axis1": ("Softmax", {"axis": 1}, (2, 4, 3)),
    "dot_normalize": ("Dot", {"axes": (1, 2), "normalize": True}, [(2, 4, 3), (2, 2, 4)]),
}

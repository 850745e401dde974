"""The conformance helper (tests/layer_conformance.py) itself: a correct custom layer passes,
and each deliberately broken variant makes it raise AssertionError at the check meant to catch
it (a check that cannot fail would be a defect)."""

from __future__ import annotations

import numpy as np
import pytest
import rskeras as keras
from rskeras import ops

from tests.layer_conformance import check_layer


class Scale(keras.Layer):
    """`x * w * factor`, one trainable weight per feature: a correct layer."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

    def call(self, inputs, training=None):
        return inputs * self.w * self.factor

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class WrongOutputShape(Scale):
    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (input_shape[-1] + 1,)


class WrongUnknownBatchShape(Scale):
    def compute_output_shape(self, input_shape):
        batch = 1 if input_shape[0] is None else input_shape[0]  # an unknown batch size taken as 1
        return (batch,) + tuple(input_shape[1:])


class UnusedWeight(Scale):
    def build(self, input_shape):
        super().build(input_shape)
        self.unused = self.add_weight(shape=(3,), initializer="ones", name="unused")


class ZeroGradientWeight(Scale):
    def call(self, inputs, training=None):
        return inputs * self.factor + 0.0 * self.w  # the weight does not matter


class NoInputGradient(Scale):
    def call(self, inputs, training=None):
        return ops.stop_gradient(inputs) * self.w * self.factor


class ConfigLosesArgument(Scale):
    def get_config(self):
        config = super().get_config()
        del config["factor"]
        return config


class ConfigWrongValue(Scale):
    def get_config(self):
        return {**super().get_config(), "factor": self.factor + 1.0}


class RegularizedScale(Scale):
    """A correct layer with a regularized weight and an activity regularizer: 2 losses."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(factor, activity_regularizer=kwargs.pop("activity_regularizer", "l1"),
                         **kwargs)

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w",
                                 regularizer="l2")


class ConfigNotJson(Scale):
    def get_config(self):
        return {**super().get_config(), "factor": np.float32(self.factor)}


class WeightsInCall(Scale):
    def call(self, inputs, training=None):
        extra = self.add_weight(shape=(), initializer="ones")
        return inputs * self.w * self.factor * extra


class IgnoresTraining(Scale):
    """Meant to add noise in training, but never does."""


class NoisyInInference(Scale):
    def call(self, inputs, training=None):
        noise = keras.random.normal(ops.shape(inputs), stddev=0.1)
        return inputs * self.w * self.factor + noise


class NoisyAlways(Scale):
    """Adds noise in training only, but is declared deterministic by the test below."""

    def call(self, inputs, training=None):
        y = inputs * self.w * self.factor
        return y + keras.random.normal(ops.shape(y), stddev=0.1) if training else y


class TrainsByDefault(Scale):
    """Treats `training=None` (the default, outside `fit`) as training."""

    def call(self, inputs, training=None):
        y = inputs * self.w * self.factor
        return y if training is False else y + keras.random.normal(ops.shape(y), stddev=0.1)


class NonFiniteGradient(Scale):
    def call(self, inputs, training=None):
        return inputs * ops.sqrt(ops.abs(self.w) - 1.0) + inputs * self.w  # sqrt'(0) = inf


X = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)


def test_a_correct_layer_passes():
    result = check_layer(Scale, X, init_kwargs={"factor": 3.0}, expected_output=3.0 * X,
                         expected_input_grad=lambda w, x: 3.0 * w,
                         expected_weight_grads=lambda w, x: [3.0 * (w * x).sum(0)])
    assert result.output.shape == (4, 3) and len(result.weight_grads) == 1
    check_layer(NoisyAlways, X, training_differs=True, expected_output=2.0 * X)


@pytest.mark.parametrize("cls,kwargs,match", [
    (WrongOutputShape, {}, "compute_output_shape"),
    (WrongUnknownBatchShape, {}, "unknown batch size"),
    (UnusedWeight, {}, "no gradient for weight .*unused"),
    (ZeroGradientWeight, {}, "all-zero gradient for weight"),
    (NonFiniteGradient, {}, "non-finite gradient"),
    (NoInputGradient, {}, "for input 0"),
    (ConfigLosesArgument, {"init_kwargs": {"factor": 3.0}}, "drops the constructor argument factor"),
    (lambda: ConfigLosesArgument(3.0), {}, "drops the constructor argument factor"),
    (ConfigLosesArgument(factor=3.0), {}, "clone's inference output"),  # arguments unknown
    (ConfigWrongValue, {"init_kwargs": {"factor": 3.0}}, r"get_config\(\)\['factor'\] = 4.0"),
    (RegularizedScale, {"expected_num_losses": 1}, "2 losses after an inference call, expected 1"),
    (RegularizedScale, {"expected_num_losses": 3}, "2 losses after an inference call, expected 3"),
    (lambda: keras.layers.Dense(3, kernel_regularizer="l2"), {"expected_num_losses": 2},
     "1 losses after an inference call, expected 2"),
    (ConfigNotJson, {}, "JSON"),
    (WeightsInCall, {}, "created weights"),
    (IgnoresTraining, {"training_differs": True}, "training should differ"),
    (NoisyInInference, {}, "not deterministic"),
    (NoisyAlways, {}, "training vs inference"),
    (TrainsByDefault, {"training_differs": True}, "default call"),
    (Scale, {"expected_output": 3.0 * X}, "inference output"),
    (Scale, {"expected_training_output": 3.0 * X}, "training output"),
    (Scale, {"expected_input_grad": lambda w, x: 3.0 * w}, "gradient for input 0"),
    (Scale, {"expected_weight_grads": lambda w, x: [(w * x).sum(0)]}, "gradient for weight"),
])
def test_a_broken_layer_fails(cls, kwargs, match):
    with pytest.raises(AssertionError, match=match):
        check_layer(cls, X, **kwargs)


def test_losses_and_config_arguments_of_correct_layers_pass():
    check_layer(RegularizedScale, X, expected_num_losses=2)
    check_layer(RegularizedScale, X, init_kwargs={"factor": 3.0, "activity_regularizer": "l2"},
                expected_num_losses=2)
    check_layer(keras.layers.Dense, X,
                init_kwargs={"units": 2, "kernel_regularizer": "l2", "bias_regularizer": "l1",
                             "activity_regularizer": keras.regularizers.L2(0.1),
                             "kernel_constraint": "max_norm", "bias_constraint": None,
                             "lora_rank": None},
                expected_num_losses=3)
    check_layer(lambda: keras.layers.Dense(2, activation="relu", use_bias=False), X,
                expected_num_losses=0)


def test_config_argument_normalization():
    """Names and records of regularizers, constraints, initializers and activations compare
    by their serialized form; ints by their tuples; a None argument whose default is None may
    be left out; anything else missing or different fails."""
    from tests.layer_conformance import check_config_has_arguments

    layer = keras.layers.Conv2D(4, 3, kernel_regularizer="l2", activation="relu",
                                kernel_initializer="he_normal")
    check_config_has_arguments(layer, {
        "filters": 4, "kernel_size": 3, "strides": (1, 1), "kernel_regularizer": "l2",
        "kernel_constraint": None, "activation": "relu", "kernel_initializer": "he_normal",
        "dtype": "float32"})
    with pytest.raises(AssertionError, match="kernel_regularizer"):
        check_config_has_arguments(layer, {"kernel_regularizer": "l1"})
    with pytest.raises(AssertionError, match="kernel_size"):
        check_config_has_arguments(layer, {"kernel_size": (3, 2)})
    with pytest.raises(AssertionError, match="drops the constructor argument unknown_arg"):
        check_config_has_arguments(layer, {"unknown_arg": 1})


def test_a_merge_layer_with_a_wrong_output_shape_fails():
    class BadAdd(keras.layers.Add):
        def compute_output_shape(self, input_shape):
            return tuple(input_shape[0][:-1]) + (1,)

    xs = [X, X + 1.0]
    check_layer(keras.layers.Add, xs, expected_output=2 * X + 1.0)
    with pytest.raises(AssertionError, match="compute_output_shape"):
        check_layer(BadAdd, xs)


def test_build_marks_a_custom_layer_built():
    """A direct `build(shape)` marks the layer built (as Keras 3's build wrapper does): the
    first call does not build again, which would replace the weights just set."""
    layer = Scale()
    layer.build((None, 3))
    assert layer.built
    layer.set_weights([np.full(3, 5.0, np.float32)])
    out = layer(np.ones((2, 3), np.float32))
    assert len(layer.weights) == 1
    np.testing.assert_array_equal(np.asarray(out), np.full((2, 3), 10.0, np.float32))

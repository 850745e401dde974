"""`rskeras.regularizers` and `rskeras.constraints` (Keras 3 section 1.8): every class against
its NumPy formula (from Keras 3's source), get / serialize / deserialize, argument errors, and
the layers that take them: losses, configs, the training loss and constraints after `fit`."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rskeras as keras
from hypothesis import given, strategies as st
from rskeras import constraints, layers, ops, regularizers

from tests.conftest import float_arrays
from tests.layer_conformance import check_config_has_arguments, check_layer

EPS = 1e-7  # keras.config.epsilon()


def np_(x):
    return np.asarray(x, dtype=np.float64)


def matrices(min_side=1, max_side=6):
    return float_arrays(shape=st.tuples(st.integers(min_side, max_side),
                                        st.integers(min_side, max_side)))


# ---------------------------------------------------------------------------------------------
# Regularizers against NumPy


@given(float_arrays(min_dims=0, max_dims=3, max_side=4), st.floats(0.0, 3.0))
def test_l1_l2_l1l2_formulas(x, factor):
    x64 = x.astype(np.float64)
    cases = [
        (regularizers.L1(factor), factor * np.abs(x64).sum()),
        (regularizers.L2(factor), factor * np.square(x64).sum()),  # no 1/2, as Keras 3
        (regularizers.L1L2(l1=factor, l2=2 * factor),
         factor * np.abs(x64).sum() + 2 * factor * np.square(x64).sum()),
    ]
    for reg, expected in cases:
        got = reg(x)
        assert tuple(got.shape) == () and got.dtype == "float32"
        np.testing.assert_allclose(np_(got), expected, rtol=1e-5, atol=1e-5)


def test_default_factors_and_dtypes():
    x = np.arange(-3.0, 3.0).reshape(2, 3)
    assert regularizers.L1().l1 == 0.01 and regularizers.L2().l2 == 0.01
    assert regularizers.L1(None).l1 == 0.01 and regularizers.L2(None).l2 == 0.01
    assert regularizers.L1L2().get_config() == {"l1": 0.0, "l2": 0.0}
    assert regularizers.L1L2(None, None).get_config() == {"l1": 0.0, "l2": 0.0}
    np.testing.assert_allclose(np_(regularizers.L2()(x)), 0.01 * np.square(x).sum())
    assert regularizers.L2()(x).dtype == "float64"  # the input's float dtype
    assert regularizers.L1()(np.array([1, -2], np.int32)).dtype == "float32"
    assert float(regularizers.L1L2()(x)) == 0.0  # both terms left out
    assert float(regularizers.Regularizer()(x)) == 0.0


def np_orthogonal(x, factor, mode):
    x = x.astype(np.float64)
    axis = 1 if mode == "rows" else 0
    unit = x / np.maximum(np.sqrt(np.square(x).sum(axis=axis, keepdims=True)), EPS)
    product = unit @ unit.T if mode == "rows" else unit.T @ unit
    n = product.shape[0]
    return factor * 0.5 * np.abs(product * (1 - np.eye(n))).sum() / (n * (n - 1) / 2)


@given(matrices(min_side=2), st.floats(0.0, 2.0), st.sampled_from(["rows", "columns"]))
def test_orthogonal_regularizer_formula(x, factor, mode):
    got = regularizers.OrthogonalRegularizer(factor, mode)(x)
    assert tuple(got.shape) == ()
    np.testing.assert_allclose(np_(got), np_orthogonal(x, factor, mode), rtol=1e-4, atol=1e-6)


def test_orthogonal_regularizer_known_values():
    # Orthogonal rows: no penalty. Parallel rows: every |cosine| is 1, so the mean is 1.
    assert float(regularizers.OrthogonalRegularizer(0.3)(np.eye(3))) == pytest.approx(0.0, abs=1e-7)
    ones = np.ones((4, 3))
    assert float(regularizers.OrthogonalRegularizer(0.3)(ones)) == pytest.approx(0.3, rel=1e-6)
    assert float(regularizers.orthogonal_regularizer(0.3, "columns")(ones)) == pytest.approx(0.3, rel=1e-6)
    # Two rows at 60 degrees: |cos| = 0.5, one pair.
    rows = np.array([[1.0, 0.0], [0.5, np.sqrt(0.75)]])
    assert float(regularizers.OrthogonalRegularizer(1.0)(rows)) == pytest.approx(0.5, rel=1e-6)
    with pytest.raises(ValueError, match="rank 2"):
        regularizers.OrthogonalRegularizer()(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="at least 2 rows"):
        regularizers.OrthogonalRegularizer()(np.ones((1, 3)))
    with pytest.raises(ValueError, match="mode"):
        regularizers.OrthogonalRegularizer(0.1, mode="diagonal")


def test_regularizers_are_differentiable():
    v = keras.Variable(np.array([[1.0, -2.0], [3.0, 0.5]], np.float32))
    with keras.GradientTape() as tape:
        loss = regularizers.L1L2(l1=0.1, l2=0.2)(v)
    grad = np.asarray(tape.gradient(loss, [v])[0])
    np.testing.assert_allclose(grad, 0.1 * np.sign(v.numpy()) + 0.4 * v.numpy(), rtol=1e-6)


@pytest.mark.parametrize("cls,arg", [(regularizers.L1, "l1"), (regularizers.L2, "l2"),
                                     (regularizers.L1L2, "l1"), (regularizers.L1L2, "l2"),
                                     (regularizers.OrthogonalRegularizer, "factor")])
@pytest.mark.parametrize("bad", [-0.1, -1, float("nan"), float("inf"), "0.1", [0.1], True,
                                 np.bool_(True)])
def test_bad_factors_raise(cls, arg, bad):
    with pytest.raises(ValueError, match=f"Invalid value for argument {arg}: expected a non-negative float"):
        cls(**{arg: bad})


def test_numpy_factors_are_accepted():
    assert regularizers.L2(np.float32(0.5)).get_config() == {"l2": 0.5}
    assert regularizers.L1(np.int64(2)).get_config() == {"l1": 2.0}
    assert isinstance(regularizers.L1(1).l1, float)


# ---------------------------------------------------------------------------------------------
# Constraints against NumPy


def np_norms(w, axis):
    return np.sqrt(np.square(w).sum(axis=tuple(np.atleast_1d(axis)), keepdims=True))


@given(float_arrays(shape=st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(1, 3))),
       st.sampled_from([0, 1, -1, [0, 1], (0, 2)]), st.floats(0.1, 5.0))
def test_norm_constraints_formulas(w, axis, bound):
    w64 = w.astype(np.float64)
    norms = np_norms(w64, axis)
    cases = [
        (constraints.MaxNorm(bound, axis), w64 * np.clip(norms, 0, bound) / (EPS + norms)),
        (constraints.UnitNorm(axis), w64 / (EPS + norms)),
        (constraints.MinMaxNorm(0.5 * bound, bound, 1.0, axis),
         w64 * np.clip(norms, 0.5 * bound, bound) / (EPS + norms)),
        (constraints.MinMaxNorm(0.5 * bound, bound, 0.3, axis),
         w64 * (0.3 * np.clip(norms, 0.5 * bound, bound) + 0.7 * norms) / (EPS + norms)),
    ]
    for constraint, expected in cases:
        got = constraint(w)
        assert tuple(got.shape) == w.shape
        np.testing.assert_allclose(np_(got), expected, rtol=1e-5, atol=1e-6)


@given(float_arrays(min_dims=0, max_dims=3, max_side=4))
def test_non_neg_formula(w):
    got = constraints.NonNeg()(w)
    np.testing.assert_array_equal(np.asarray(got), np.maximum(w, 0))


def test_constraint_defaults_and_base():
    assert constraints.MaxNorm().get_config() == {"max_value": 2, "axis": 0}
    assert constraints.MinMaxNorm().get_config() == {"min_value": 0.0, "max_value": 1.0,
                                                     "rate": 1.0, "axis": 0}
    assert constraints.UnitNorm().get_config() == {"axis": 0}
    assert constraints.NonNeg().get_config() == {}
    w = np.array([[3.0, 0.0], [4.0, 0.0]], np.float32)
    assert constraints.Constraint()(w) is w
    np.testing.assert_allclose(np.asarray(constraints.MaxNorm(1.0)(w)), [[0.6, 0.0], [0.8, 0.0]],
                               rtol=1e-6)
    np.testing.assert_allclose(np.asarray(constraints.UnitNorm()(w)), [[0.6, 0.0], [0.8, 0.0]],
                               rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# get / serialize / deserialize


REGULARIZER_NAMES = {"l1": regularizers.L1, "l2": regularizers.L2, "l1_l2": regularizers.L1L2,
                     "l1l2": regularizers.L1L2, "orthogonal_regularizer": regularizers.OrthogonalRegularizer,
                     "L1": regularizers.L1, "L2": regularizers.L2, "L1L2": regularizers.L1L2,
                     "OrthogonalRegularizer": regularizers.OrthogonalRegularizer}
CONSTRAINT_NAMES = {"max_norm": constraints.MaxNorm, "min_max_norm": constraints.MinMaxNorm,
                    "non_neg": constraints.NonNeg, "unit_norm": constraints.UnitNorm,
                    "MaxNorm": constraints.MaxNorm, "MinMaxNorm": constraints.MinMaxNorm,
                    "NonNeg": constraints.NonNeg, "UnitNorm": constraints.UnitNorm}


@pytest.mark.parametrize("module,names", [(regularizers, REGULARIZER_NAMES),
                                          (constraints, CONSTRAINT_NAMES)])
def test_get_by_name_class_instance_callable_and_none(module, names):
    for name, cls in names.items():
        obj = module.get(name)
        assert type(obj) is cls and obj == cls()
        assert type(module.get(cls)) is cls
    instance = next(iter(names.values()))()
    assert module.get(instance) is instance
    fn = lambda x: ops.sum(x)  # noqa: E731
    assert module.get(fn) is fn
    assert module.get(None) is None
    with pytest.raises(ValueError, match="Could not interpret"):
        module.get("typo")
    with pytest.raises(ValueError, match="Could not interpret"):
        module.get(42)


def test_aliases_are_the_classes():
    assert regularizers.l1 is regularizers.L1 and regularizers.l2 is regularizers.L2
    assert regularizers.l1_l2 is regularizers.L1L2
    assert regularizers.orthogonal_regularizer is regularizers.OrthogonalRegularizer
    assert constraints.max_norm is constraints.MaxNorm and constraints.non_neg is constraints.NonNeg
    assert constraints.min_max_norm is constraints.MinMaxNorm
    assert constraints.unit_norm is constraints.UnitNorm
    assert keras.regularizers is regularizers and keras.constraints is constraints
    assert "regularizers" in keras.__all__ and "constraints" in keras.__all__


def test_serialize_is_keras_3_format():
    assert regularizers.serialize(regularizers.L2(0.01)) == {
        "module": "keras.regularizers", "class_name": "L2", "config": {"l2": 0.01},
        "registered_name": None}
    assert regularizers.serialize(regularizers.get("orthogonal_regularizer")) == {
        "module": "keras.regularizers", "class_name": "OrthogonalRegularizer",
        "config": {"factor": 0.01, "mode": "rows"}, "registered_name": None}
    assert constraints.serialize(constraints.MaxNorm(3, axis=[0, 1])) == {
        "module": "keras.constraints", "class_name": "MaxNorm",
        "config": {"max_value": 3, "axis": [0, 1]}, "registered_name": None}
    assert constraints.serialize(constraints.NonNeg()) == {
        "module": "keras.constraints", "class_name": "NonNeg", "config": {},
        "registered_name": None}
    assert regularizers.serialize(None) is None and constraints.serialize(None) is None


@pytest.mark.parametrize("obj", [
    regularizers.L1(0.3), regularizers.L2(0.2), regularizers.L1L2(0.1, 0.4),
    regularizers.OrthogonalRegularizer(0.5, "columns"),
    constraints.MaxNorm(1.5, axis=[0, 1]), constraints.MinMaxNorm(0.2, 3.0, 0.5, axis=1),
    constraints.NonNeg(), constraints.UnitNorm(axis=-1),
])
def test_round_trips(obj):
    module = regularizers if isinstance(obj, regularizers.Regularizer) else constraints
    record = module.serialize(obj)
    for back in (module.deserialize(record), module.deserialize(json.loads(json.dumps(record))),
                 module.get(record), type(obj).from_config(obj.get_config())):
        assert type(back) is type(obj) and back.get_config() == obj.get_config()
    # A Keras 2 style record (no module) and a bare name also work.
    assert type(module.deserialize({"class_name": type(obj).__name__,
                                    "config": obj.get_config()})) is type(obj)
    assert type(module.deserialize(type(obj).__name__)) is type(obj)


class Halved(regularizers.Regularizer):
    def __init__(self, scale=0.5):
        self.scale = scale

    def __call__(self, x):
        return self.scale * ops.sum(x)

    def get_config(self):
        return {"scale": self.scale}


def total(x):
    return ops.sum(x)


def test_custom_classes_and_functions():
    record = regularizers.serialize(Halved(0.25))
    assert record["class_name"] == "Halved" and record["registered_name"] == "Halved"
    assert record["module"] == __name__
    with pytest.raises(ValueError, match="Could not interpret regularizer identifier: 'Halved'"):
        regularizers.deserialize(record)
    back = regularizers.deserialize(record, custom_objects={"Halved": Halved})
    assert isinstance(back, Halved) and back.scale == 0.25
    fn_record = regularizers.serialize(total)
    assert fn_record == {"module": __name__, "class_name": "function", "config": "total",
                         "registered_name": "total"}
    assert regularizers.deserialize(fn_record, custom_objects={"total": total}) is total
    with pytest.raises(ValueError, match="custom_objects"):
        constraints.deserialize(constraints.serialize(total))
    with pytest.raises(ValueError, match="get_config"):
        regularizers.serialize(object())
    with pytest.raises(NotImplementedError):
        regularizers.Regularizer().get_config()


# ---------------------------------------------------------------------------------------------
# Layers


X = np.random.default_rng(0).standard_normal((6, 5)).astype(np.float32)


def test_dense_l2_string_gives_the_keras_penalty():
    """`Dense(4, kernel_regularizer="l2")`: one scalar loss, 0.01 * sum(kernel**2), in the
    layer and in a model holding it."""
    inputs = keras.Input((5,))
    layer = layers.Dense(4, kernel_regularizer="l2")
    model = keras.Model(inputs, layer(inputs))
    model(X)
    assert len(model.losses) == 1 and tuple(model.losses[0].shape) == ()
    kernel = layer.kernel.numpy().astype(np.float64)
    np.testing.assert_allclose(np_(model.losses[0]), 0.01 * np.square(kernel).sum(), rtol=1e-6)
    assert layer.get_config()["kernel_regularizer"] == {
        "module": "keras.regularizers", "class_name": "L2", "config": {"l2": 0.01},
        "registered_name": None}


def make_dense():
    return layers.Dense(4, kernel_regularizer="l2", bias_regularizer=regularizers.L1(0.1),
                        activity_regularizer="l1", kernel_constraint="non_neg")


def test_dense_with_every_option_losses_and_config():
    layer = make_dense()
    rng = np.random.default_rng(1)
    layer.build((None, 5))
    kernel = rng.standard_normal((5, 4)).astype(np.float32)
    bias = rng.standard_normal(4).astype(np.float32)
    layer.set_weights([kernel, bias])
    out = np_(layer(X))
    expected = [0.01 * np.abs(out).sum(),  # activity (added by the call), then the weights
                0.01 * np.square(kernel.astype(np.float64)).sum(),
                0.1 * np.abs(bias.astype(np.float64)).sum()]
    losses = layer.losses
    assert len(losses) == 3 and all(tuple(t.shape) == () for t in losses)
    np.testing.assert_allclose([float(t) for t in losses], expected, rtol=1e-5)
    layer(X)  # a new forward pass replaces the activity loss, it does not add one
    assert len(layer.losses) == 3

    config = layer.get_config()
    assert config["activity_regularizer"]["class_name"] == "L1"
    assert config["bias_regularizer"]["config"] == {"l1": 0.1}
    assert config["kernel_constraint"]["class_name"] == "NonNeg"
    assert config["bias_constraint"] is None
    check_config_has_arguments(layer, {
        "units": 4, "kernel_regularizer": "l2", "bias_regularizer": regularizers.L1(0.1),
        "activity_regularizer": "l1", "kernel_constraint": "non_neg"})
    clone = layers.Dense.from_config(json.loads(json.dumps(config)))
    assert clone.get_config() == config
    assert isinstance(clone.kernel_constraint, constraints.NonNeg)
    assert isinstance(clone.activity_regularizer, regularizers.L1)
    # Keras 3: Dense lists "activity_regularizer" only when set; Conv always does.
    assert "activity_regularizer" not in layers.Dense(2).get_config()
    assert layers.Conv2D(2, 3).get_config()["activity_regularizer"] is None
    assert "activity_regularizer" not in layers.Flatten().get_config()


def test_dense_with_every_option_trains_and_stays_non_negative():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((16, 5)).astype(np.float32)
    y = x @ rng.standard_normal((5, 4)).astype(np.float32)  # needs negative weights
    model = keras.Sequential([keras.Input((5,)), make_dense()])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    layer = model.layers[0]
    assert np.any(layer.kernel.numpy() < 0)  # glorot draws negative weights
    history = model.fit(x, y, batch_size=8, epochs=3, verbose=0)
    kernel = layer.kernel.numpy()
    assert np.all(kernel >= 0) and np.any(kernel > 0)
    assert np.all(np.isfinite(history.history["loss"]))
    check_layer(make_dense, X, expected_num_losses=3)


def test_training_loss_includes_the_penalties():
    """evaluate's loss = compiled loss + every regularization term (Keras's `compute_loss`)."""
    x = np.ones((4, 3), np.float32)
    y = np.zeros((4, 2), np.float32)
    model = keras.Sequential([
        keras.Input((3,)),
        layers.Dense(2, kernel_initializer="ones", bias_initializer="ones",
                     kernel_regularizer=regularizers.L2(0.5), bias_regularizer="l1",
                     activity_regularizer=regularizers.L1(0.01)),
    ])
    model.compile(loss="mse")
    out = 3.0 + 1.0  # every output is 4
    expected = out ** 2 + 0.5 * 6 + 0.01 * 2 + 0.01 * out * 8
    assert model.evaluate(x, y, batch_size=4, verbose=0) == pytest.approx(expected, rel=1e-5)


def test_activity_losses_follow_keras_call_semantics():
    shared = layers.Dense(3, activity_regularizer="l2")
    inputs = keras.Input((5,))
    model = keras.Model(inputs, shared(layers.Dense(3)(inputs)))
    model(X)
    assert len(model.losses) == 1
    model(X)
    assert len(model.losses) == 1  # the outermost call clears the previous pass
    inputs = keras.Input((3,))
    twice = keras.Model(inputs, shared(shared(inputs)))
    twice(X[:, :3])
    assert len(twice.losses) == 2  # one per call of the shared layer in one pass
    layer = layers.Dense(2)
    layer.activity_regularizer = regularizers.L1(1.0)  # settable on any layer, as in Keras
    out = layer(X)
    assert float(layer.losses[0]) == pytest.approx(np.abs(np_(out)).sum(), rel=1e-5)


def test_add_weight_resolves_identifiers_and_the_optimizer_applies_constraints():
    layer = keras.Layer()
    w = layer.add_weight(shape=(3, 2), initializer="ones", regularizer="l1",
                         constraint=constraints.MaxNorm(1.0))
    assert isinstance(w.regularizer, regularizers.L1)
    assert isinstance(w.constraint, constraints.MaxNorm)
    assert float(layer.losses[0]) == pytest.approx(0.06)
    opt = keras.optimizers.SGD(0.1)
    opt.apply([np.zeros((3, 2), np.float32)], [w])
    norms = np.sqrt(np.square(w.numpy()).sum(axis=0))
    np.testing.assert_allclose(norms, 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="Could not interpret regularizer"):
        layer.add_weight(shape=(1,), regularizer="l3")
    layer.trainable = False
    assert layer.losses == []  # frozen weights are not regularized


WEIGHT_OPTION_LAYERS = [
    # (class, arguments, input shape, number of regularized weights, constrained weights)
    (layers.Dense, {"units": 3}, (4, 5), ["kernel", "bias"], []),
    (layers.Conv1D, {"filters": 2, "kernel_size": 2}, (2, 5, 3), ["kernel", "bias"], []),
    (layers.Conv2D, {"filters": 2, "kernel_size": 2}, (2, 4, 4, 3), ["kernel", "bias"], []),
    (layers.Conv2DTranspose, {"filters": 2, "kernel_size": 2}, (2, 3, 3, 3), ["kernel", "bias"], []),
    (layers.DepthwiseConv2D, {"kernel_size": 2}, (2, 4, 4, 3), ["depthwise", "bias"], []),
    (layers.SeparableConv2D, {"filters": 2, "kernel_size": 2}, (2, 4, 4, 3),
     ["depthwise", "pointwise", "bias"], []),
    (layers.Embedding, {"input_dim": 7, "output_dim": 3}, None, ["embeddings"], []),
    (layers.BatchNormalization, {}, (4, 3), ["beta", "gamma"], []),
    (layers.LayerNormalization, {}, (4, 3), ["beta", "gamma"], []),
    (layers.PReLU, {}, (4, 3), ["alpha"], []),
]


@pytest.mark.parametrize("cls,base,shape,weights,_", WEIGHT_OPTION_LAYERS,
                         ids=[c[0].__name__ for c in WEIGHT_OPTION_LAYERS])
def test_every_layer_resolves_and_serializes_its_weight_options(cls, base, shape, weights, _):
    kwargs = dict(base)
    for name in weights:
        kwargs[f"{name}_regularizer"] = "l2"
        kwargs[f"{name}_constraint"] = "non_neg"
    kwargs["activity_regularizer"] = regularizers.L1(0.5)
    layer = cls(**kwargs)
    for name in weights:
        assert isinstance(getattr(layer, f"{name}_regularizer"), regularizers.L2)
        assert isinstance(getattr(layer, f"{name}_constraint"), constraints.NonNeg)
    x = (np.random.default_rng(3).integers(0, 7, (2, 4)) if shape is None
         else np.random.default_rng(3).standard_normal(shape).astype(np.float32))
    layer(x)
    assert len(layer.losses) == len(weights) + 1  # each weight, plus the activity penalty
    constrained = [v for v in layer.trainable_weights if v.constraint is not None]
    assert len(constrained) == len(weights)
    assert all(isinstance(v.regularizer, regularizers.L2) for v in constrained)
    config = layer.get_config()
    check_config_has_arguments(layer, kwargs, config)
    clone = cls.from_config(json.loads(json.dumps(config)))
    assert clone.get_config() == config
    with pytest.raises(ValueError, match=f"argument `{weights[0]}_regularizer`"):
        cls(**{**base, f"{weights[0]}_regularizer": "l3"})
    with pytest.raises(ValueError, match=f"argument `{weights[0]}_constraint`"):
        cls(**{**base, f"{weights[0]}_constraint": "positive"})


def test_conv_layers_train_with_constraints():
    x = np.random.default_rng(4).standard_normal((4, 5, 5, 2)).astype(np.float32)
    model = keras.Sequential([
        keras.Input((5, 5, 2)),
        layers.Conv2D(3, 2, kernel_constraint=constraints.MaxNorm(0.5, axis=[0, 1, 2]),
                      kernel_regularizer="l1"),
        layers.SeparableConv2D(2, 2, pointwise_constraint="non_neg"),
        layers.Flatten(),
    ])
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    y = np.random.default_rng(5).standard_normal((4, 18)).astype(np.float32) * 3
    model.fit(x, y, epochs=2, batch_size=2, verbose=0)
    kernel = model.layers[0].kernel.numpy()
    assert np.all(np.sqrt(np.square(kernel).sum(axis=(0, 1, 2))) <= 0.5 + 1e-5)
    assert np.all(model.layers[1].pointwise_kernel.numpy() >= 0)
    assert len(model.losses) == 1


def test_activity_regularization_layer_uses_l1l2():
    layer = layers.ActivityRegularization(l1=0.1, l2=0.2)
    assert isinstance(layer.activity_regularizer, regularizers.L1L2)
    assert layer.activity_regularizer.get_config() == {"l1": 0.1, "l2": 0.2}
    config = layer.get_config()
    assert "activity_regularizer" not in config and config["l1"] == 0.1
    assert layers.ActivityRegularization.from_config(config).get_config() == config
    with pytest.raises(ValueError, match="l2"):
        layers.ActivityRegularization(l2=-1.0)

"""`rskeras.ops.Operation`: ops and layers on KerasTensors infer their outputs by rule, record
graph nodes, and building a Functional model runs no kernel."""

from __future__ import annotations

import collections

import numpy as np
import pytest

import rskeras as keras
from rskeras import _core, ops
from rskeras.backend.keras_tensor import KerasTensor
from rskeras.layers.layer import Layer
from rskeras.ops.operation import OpFunction, Operation

L = keras.layers

# _core entry points that compute nothing: dtype and device queries, and conversion of
# Python/NumPy values a layer holds (Normalization's mean, Rescaling's scale...).
_NOT_KERNELS = {"result_type", "get_default_device", "set_default_device", "num_threads",
                "op_names", "cpu_only_ops", "shader_source", "register_gpu_executor",
                "convert_to_tensor"}


@pytest.fixture
def kernel_calls(monkeypatch):
    """Counts the `_core` kernel calls that return, outside weight creation (initializers
    draw their values at build time, as in Keras)."""
    calls = collections.Counter()
    creating_weights = [0]
    for name in dir(_core):
        fn = getattr(_core, name)
        if name.startswith("_") or name in _NOT_KERNELS or isinstance(fn, type) or not callable(fn):
            continue

        def counted(*args, _fn=fn, _name=name, **kwargs):
            out = _fn(*args, **kwargs)
            if not creating_weights[0]:
                calls[_name] += 1
            return out

        monkeypatch.setattr(_core, name, counted)
    add_weight = Layer.add_weight

    def add_weight_uncounted(self, *args, **kwargs):
        creating_weights[0] += 1
        try:
            return add_weight(self, *args, **kwargs)
        finally:
            creating_weights[0] -= 1

    monkeypatch.setattr(Layer, "add_weight", add_weight_uncounted)
    return calls


def test_the_counting_hook_sees_kernels(kernel_calls):
    ops.exp(np.ones(3, np.float32))
    assert kernel_calls["unary"] == 1


def test_building_a_vgg_sized_functional_model_runs_no_kernel(kernel_calls):
    x = keras.Input((224, 224, 3))
    h = x
    for filters in (64, 128, 256):
        h = L.Conv2D(filters, 3, padding="same", activation="relu")(h)
        h = L.Conv2D(filters, 3, padding="same", activation="relu")(h)
        h = L.MaxPooling2D()(h)
    h = L.BatchNormalization()(h)
    h = L.DepthwiseConv2D(3)(h)
    h = L.Conv2DTranspose(8, 3, strides=2)(h)
    h = L.AveragePooling2D()(h)
    h = L.GlobalAveragePooling2D()(h)
    h = L.Dropout(0.5)(h)
    out = L.Dense(10, activation="softmax")(h)
    model = keras.Model(x, out)
    assert model.output_shape == (None, 10)
    assert not kernel_calls, f"kernels ran while the model was built: {dict(kernel_calls)}"


def test_building_models_of_every_core_layer_family_runs_no_kernel(kernel_calls):
    x = keras.Input((20,))
    a = L.Dense(8, activation="relu")(x)
    b = L.Dense(8)(x)
    h = L.Add()([a, b])
    h = L.Concatenate()([h, b])
    h = L.LayerNormalization()(h)
    for layer in (L.Activation("tanh"), L.LeakyReLU(), L.ReLU(), L.ELU(), L.PReLU(), L.Softmax(),
                  L.Reshape((4, 4)), L.Flatten(), L.Identity(), L.ActivityRegularization(),
                  L.Rescaling(2.0), L.Normalization(mean=0.0, variance=1.0)):
        h = layer(h)
    for merge in (L.Multiply(), L.Average(), L.Maximum(), L.Minimum(), L.Subtract()):
        h = merge([h, h])
    h = L.Dot(axes=1)([h, h])
    h = (h + 1.0) * 2.0 - h / 3.0
    keras.Model(x, h[:, :1])
    tokens = keras.Input((7,), dtype="int32")
    e = L.Embedding(100, 8, mask_zero=True)(tokens)
    e = L.Masking()(e)
    keras.Model(tokens, L.GlobalAveragePooling1D()(e))
    seq = keras.Input((32, 4))
    s = L.MaxPooling1D()(L.Conv1D(4, 3)(seq))
    keras.Model(seq, L.GlobalMaxPooling1D()(s))
    keras.Sequential([keras.Input((10,)), L.Dense(4), L.Dense(2)])
    assert not kernel_calls, f"kernels ran while the models were built: {dict(kernel_calls)}"


def test_ops_on_keras_tensors_record_op_nodes():
    x = keras.Input((3, 4))
    y = ops.softmax(ops.matmul(x, np.ones((4, 5), np.float32)), axis=-1)
    assert isinstance(y, KerasTensor) and y.shape == (None, 3, 5) and y.dtype == "float32"
    op = y._keras_history.operation
    assert isinstance(op, OpFunction) and op.op_name == "softmax"
    model = keras.Model(x, y)
    data = np.random.default_rng(0).normal(size=(2, 3, 4)).astype(np.float32)
    want = np.asarray(ops.softmax(ops.matmul(data, np.ones((4, 5), np.float32)), axis=-1))
    np.testing.assert_allclose(np.asarray(model(data)), want, rtol=1e-6)


def test_symbolic_errors_name_the_op_and_shapes():
    x = keras.Input((3,))
    with pytest.raises(ValueError, match=r"matmul.*\(None, 3\).*\(4, 2\)"):
        ops.matmul(x, np.ones((4, 2), np.float32))
    with pytest.raises(ValueError, match="concatenate"):
        ops.concatenate([x, keras.Input((3, 2))], axis=1)


def test_layers_are_operations_and_a_custom_operation_works():
    assert issubclass(Layer, Operation)

    class Twice(Operation):
        def call(self, x):
            return ops.multiply(x, 2.0)

        def compute_output_spec(self, x):
            return KerasTensor(x.shape, x.dtype)

    op = Twice()
    np.testing.assert_allclose(np.asarray(op(np.ones(3, np.float32))), [2.0, 2.0, 2.0])
    x = keras.Input((3,))
    y = op(x)
    assert y.shape == (None, 3) and y._keras_history.operation is op
    assert op._inbound_nodes[0].input_tensors == [x]


def test_a_layer_whose_call_needs_values_still_builds():
    """A call that converts to NumPy cannot run on KerasTensors: its outputs are found by
    running it once on zeros (the documented fallback)."""

    class NumpyScale(Layer):
        def call(self, inputs):
            return ops.convert_to_tensor(np.asarray(inputs) * 2.0)

    x = keras.Input((3,))
    y = NumpyScale()(x)
    assert y.shape == (None, 3)


def test_identity_layers_get_new_output_tensors():
    x = keras.Input((3,))
    y = L.Dropout(0.5)(x)
    assert y is not x and x._keras_history.operation.__class__.__name__ == "InputLayer"
    model = keras.Model(x, y)
    np.testing.assert_array_equal(np.asarray(model(np.ones((1, 3), np.float32))), np.ones((1, 3)))


@pytest.mark.parametrize("expr", ["w * x", "w + x", "w - x", "w / x", "w ** x", "w > x",
                                  "x_mat @ w_mat", "w_mat @ x_mat_t"])
def test_tensor_operators_defer_to_keras_tensors(expr):
    """`Tensor (op) KerasTensor` returns NotImplemented from the core (KerasTensor sets NumPy's
    `__array_ufunc__ = None`), so Python calls the KerasTensor's reflected operator and the
    result is symbolic, as `np.ndarray (op) KerasTensor` is."""
    w = keras.ops.convert_to_tensor(np.arange(1, 4, dtype="float32"))
    w_mat = keras.ops.convert_to_tensor(np.eye(3, dtype="float32"))
    x = keras.Input((3,))
    x_mat = keras.Input((3,))
    x_mat_t = keras.Input((3, 2))
    out = eval(expr)
    assert isinstance(out, keras.KerasTensor), expr
    model = keras.Model([x, x_mat, x_mat_t], out)
    data = [np.ones((2, 3), "float32") * 2, np.ones((2, 3), "float32"), np.ones((2, 3, 2), "float32")]
    got = keras.ops.convert_to_numpy(model(data))
    env = {"w": np.arange(1, 4, dtype="float32"), "w_mat": np.eye(3, dtype="float32"),
           "x": data[0], "x_mat": data[1], "x_mat_t": data[2]}
    np.testing.assert_allclose(got, eval(expr, {}, env), rtol=1e-6)


def test_tensor_operators_still_refuse_other_objects():
    w = keras.ops.convert_to_tensor(np.ones(3, "float32"))
    with pytest.raises(TypeError, match="multiply"):
        w * object()

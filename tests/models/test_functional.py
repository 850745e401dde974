"""The Functional API (`keras.Input`, layer calls on KerasTensors, `keras.Model(inputs, outputs)`),
its config and cloning, multi-output training, and the subclassing details (attribute tracking,
custom `train_step`, freezing)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import rskeras as keras
from rskeras import ops


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    xa = rng.normal(size=(n, 4)).astype(np.float32)
    xb = rng.normal(size=(n, 3)).astype(np.float32)
    return xa, xb


def _two_in_two_out():
    a = keras.Input((4,), name="in_a")
    b = keras.Input((3,), name="in_b")
    ha = keras.layers.Dense(8, activation="relu", name="ha")(a)
    hb = keras.layers.Dense(8, activation="tanh", name="hb")(b)
    merged = ha + hb
    out_cls = keras.layers.Dense(3, activation="softmax", name="cls")(merged)
    out_reg = keras.layers.Dense(1, name="reg")(merged * 2.0)
    return keras.Model([a, b], [out_cls, out_reg], name="two_two")


# ---------------------------------------------------------------------------------------------
# KerasTensors and symbolic calls


def test_input_is_symbolic_with_history():
    x = keras.Input((5,), batch_size=None, dtype="float32", name="features")
    assert isinstance(x, keras.KerasTensor)
    assert x.shape == (None, 5) and x.dtype == "float32" and x.name == "features" and x.ndim == 2
    layer, node_index, tensor_index = x._keras_history
    assert isinstance(layer, keras.layers.InputLayer) and (node_index, tensor_index) == (0, 0)
    assert layer.name == "features" and layer.output is x
    fixed = keras.Input(shape=(2, 3), batch_size=8, dtype="int32")
    assert fixed.shape == (8, 2, 3) and fixed.dtype == "int32"


def test_layer_call_on_keras_tensor_records_node_and_infers_shape():
    x = keras.Input((6,))
    dense = keras.layers.Dense(4)
    y = dense(x)
    assert isinstance(y, type(x)) and y.shape == (None, 4) and y.dtype == "float32"
    assert y._keras_history.operation is dense and y._keras_history.node_index == 0
    node = dense._inbound_nodes[0]
    assert node.input_tensors == [x] and node.output_tensors == [y]
    assert dense.built and [tuple(w.shape) for w in dense.weights] == [(6, 4), (4,)]
    assert dense.input is x and dense.output is y


def test_shape_inference_by_running_call_for_layers_without_compute_output_shape():
    class SumLast(keras.layers.Layer):
        def call(self, inputs):
            return ops.sum(inputs, axis=-1, keepdims=False)

    x = keras.Input((None, 5))
    y = SumLast()(x)
    assert y.shape == (None, None) and y.dtype == "float32"
    z = SumLast()(keras.Input((7, 5), batch_size=2))
    assert z.shape == (2, 7)


def test_operators_on_keras_tensors():
    a = keras.Input((3,))
    b = keras.Input((3,))
    outs = [a + b, a * 2, 2 - a, a / 4.0, -a, abs(a), a ** 2, a[:, :2], a - b]
    model = keras.Model([a, b], outs)
    xa = np.array([[1.0, -2.0, 3.0]], np.float32)
    xb = np.array([[0.5, 0.5, -1.0]], np.float32)
    got = [np.asarray(t) for t in model([xa, xb])]
    want = [xa + xb, xa * 2, 2 - xa, xa / 4.0, -xa, np.abs(xa), xa ** 2, xa[:, :2], xa - xb]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6)
    assert outs[7].shape == (None, 2)
    # array + KerasTensor defers to the KerasTensor
    c = np.ones((3,), np.float32) + a
    assert c.shape == (None, 3)


def test_keras_tensor_has_no_value():
    x = keras.Input((3,))
    with pytest.raises(TypeError, match="symbolic"):
        np.asarray(x)
    with pytest.raises(TypeError):
        bool(x)
    # ops take KerasTensors (Keras 3): the output is symbolic, inferred by rule
    assert isinstance(ops.exp(x), type(x)) and ops.exp(x).shape == (None, 3)


# ---------------------------------------------------------------------------------------------
# Building and running Functional models


def test_two_inputs_two_outputs_match_composing_layers_by_hand():
    model = _two_in_two_out()
    assert type(model).__name__ == "Functional"
    assert [layer.name for layer in model.layers] == ["in_a", "in_b", "ha", "hb", "cls", "reg"]
    assert model.input_names == ["in_a", "in_b"] and model.output_names == ["cls", "reg"]
    assert len(model.inputs) == 2 and len(model.outputs) == 2
    assert model.output_shape == [(None, 3), (None, 1)]
    xa, xb = _data(10)
    cls, reg = model([xa, xb])
    ha, hb = model.get_layer("ha"), model.get_layer("hb")
    merged = np.asarray(ha(xa)) + np.asarray(hb(xb))
    np.testing.assert_allclose(np.asarray(cls), np.asarray(model.get_layer("cls")(merged)), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(reg), np.asarray(model.get_layer("reg")(merged * 2.0)), rtol=1e-6)
    # by hand in NumPy too
    wa, ba, wb, bb = (w for w in ha.get_weights() + hb.get_weights())
    np_merged = np.maximum(xa @ wa + ba, 0) + np.tanh(xb @ wb + bb)
    wr, br = model.get_layer("reg").get_weights()
    np.testing.assert_allclose(np.asarray(reg), (np_merged * 2) @ wr + br, rtol=1e-5, atol=1e-6)
    # dict inputs keyed by Input names, and predict in batches
    preds = model.predict({"in_a": xa, "in_b": xb}, batch_size=4, verbose=0)
    assert isinstance(preds, list) and preds[0].shape == (10, 3) and preds[1].shape == (10, 1)
    np.testing.assert_allclose(preds[1], np.asarray(reg), rtol=1e-6)


def test_get_layer_by_name_and_index():
    model = _two_in_two_out()
    assert model.get_layer(index=2).name == "ha"
    assert isinstance(model.get_layer(index=0), keras.layers.InputLayer)
    with pytest.raises(ValueError, match="No such layer"):
        model.get_layer("nope")


def test_dict_inputs_and_outputs():
    x = keras.Input((4,), name="x")
    t = keras.Input((2,), name="t")
    h = keras.layers.Dense(5)(x)
    model = keras.Model({"x": x, "t": t}, {"score": keras.layers.Dense(1)(h), "echo": t * 1.0})
    out = model({"x": np.ones((2, 4), np.float32), "t": np.full((2, 2), 3.0, np.float32)})
    assert set(out) == {"score", "echo"} and tuple(out["score"].shape) == (2, 1)
    np.testing.assert_allclose(np.asarray(out["echo"]), np.full((2, 2), 3.0))
    assert model.output_names == ["echo", "score"]


def test_shared_layer_has_two_nodes_and_shares_weights():
    shared = keras.layers.Dense(4, name="shared")
    a, b = keras.Input((3,)), keras.Input((3,))
    ya, yb = shared(a), shared(b)
    assert len(shared._inbound_nodes) == 2 and yb._keras_history.node_index == 1
    model = keras.Model([a, b], ya - yb)
    assert len(model.weights) == 2  # one kernel, one bias
    x1 = np.random.default_rng(1).normal(size=(5, 3)).astype(np.float32)
    x2 = np.random.default_rng(2).normal(size=(5, 3)).astype(np.float32)
    k, _ = shared.get_weights()
    np.testing.assert_allclose(np.asarray(model([x1, x2])), (x1 - x2) @ k, rtol=1e-5, atol=1e-6)
    assert shared.output is ya and shared.get_output_at(1) is yb and shared.get_input_at(1) is b


def test_nested_models_act_as_layers():
    inner_in = keras.Input((4,))
    inner = keras.Model(inner_in, keras.layers.Dense(6, activation="relu")(inner_in), name="inner")
    seq = keras.Sequential([keras.layers.Dense(2)], name="seq_head")
    x = keras.Input((4,))
    y = seq(inner(x))
    assert y.shape == (None, 2)
    outer = keras.Model(x, y)
    assert [layer.name for layer in outer.layers][1:] == ["inner", "seq_head"]
    assert len(outer.weights) == 4
    data = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(outer(data)), np.asarray(seq(inner(data))), rtol=1e-6)
    # the nested functional model called on a tensor directly
    assert tuple(inner(data).shape) == (3, 6)


def test_unreachable_output_names_the_missing_input():
    a, b = keras.Input((3,), name="first"), keras.Input((3,), name="second")
    y = keras.layers.Dense(2)(a + b)
    with pytest.raises(ValueError, match='Graph disconnected.*"second"'):
        keras.Model(a, y)


def test_inputs_must_be_keras_inputs():
    x = keras.Input((3,))
    h = keras.layers.Dense(2)(x)
    with pytest.raises(ValueError, match="keras.Input"):
        keras.Model(h, keras.layers.Dense(1)(h))
    with pytest.raises(TypeError, match="KerasTensors"):
        keras.Model(x, np.zeros(3))


def test_wrong_input_shape_names_layer_expected_and_received():
    x = keras.Input((4,))
    model = keras.Model(x, keras.layers.Dense(2, name="d")(x), name="net")
    with pytest.raises(ValueError, match=r'layer "net".*expected shape=\(None, 4\), found shape=\(2, 5\)'):
        model(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match=r'"d".*axis -1.*value 4.*\(None, 7\)'):
        model.get_layer("d")(keras.Input((7,)))
    with pytest.raises(ValueError, match="expects 1 input"):
        model([np.zeros((2, 4)), np.zeros((2, 4))])


def test_duplicate_layer_names_are_rejected():
    x = keras.Input((2,))
    y = keras.layers.Dense(2, name="same")(x)
    z = keras.layers.Dense(2, name="same")(y)
    with pytest.raises(ValueError, match='"same" is used 2 times'):
        keras.Model(x, z)


def test_functional_subclass_calling_super_init_with_graph():
    class Wrapped(keras.Model):
        def __init__(self, units):
            inputs = keras.Input((3,))
            outputs = keras.layers.Dense(units)(inputs)
            super().__init__(inputs, outputs)
            self.units = units

    model = Wrapped(5)
    assert isinstance(model, keras.Model) and model.name.startswith("wrapped")
    assert tuple(model(np.zeros((2, 3), np.float32)).shape) == (2, 5)
    assert len(model.layers) == 2


# ---------------------------------------------------------------------------------------------
# summary


def test_summary_has_connected_to_for_dag(capsys):
    _two_in_two_out().summary()
    out = capsys.readouterr().out
    assert 'Model: "two_two"' in out
    assert "Connected to" in out and "in_a[0][0]" in out and "ha[0][0]," in out and "hb[0][0]" in out
    assert "in_a (InputLayer)" in out and re.search(r"add(_\d+)? \(Add\)", out)
    assert "(None, 3)" in out and "Total params: 108" in out


def test_summary_of_chain_functional_model_has_no_connected_to():
    x = keras.Input((4,))
    model = keras.Model(x, keras.layers.Dense(2)(keras.layers.Dense(3)(x)))
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Connected to" not in text and "(InputLayer)" in text and "Total params: 23" in text


# ---------------------------------------------------------------------------------------------
# Config and cloning


def test_config_follows_keras3_schema():
    model = _two_in_two_out()
    config = model.get_config()
    json.dumps(config)  # JSON-able
    assert config["name"] == "two_two" and config["trainable"] is True
    assert config["input_layers"] == [["in_a", 0, 0], ["in_b", 0, 0]]
    assert config["output_layers"] == [["cls", 0, 0], ["reg", 0, 0]]
    records = {r["name"]: r for r in config["layers"]}
    assert records["in_a"]["class_name"] == "InputLayer" and records["in_a"]["inbound_nodes"] == []
    assert records["in_a"]["config"]["batch_shape"] == [None, 4]
    dense = records["ha"]
    assert dense["module"] == "keras.layers" and dense["class_name"] == "Dense"
    assert dense["registered_name"] is None and dense["build_config"] == {"input_shape": [None, 4]}
    node = dense["inbound_nodes"][0]
    assert node["kwargs"] == {}
    assert node["args"] == [{"class_name": "__keras_tensor__",
                             "config": {"shape": [None, 4], "dtype": "float32",
                                        "keras_history": ["in_a", 0, 0]}}]
    add = next(r for r in config["layers"] if r["class_name"] == "Add")
    assert add["module"] == "keras.src.ops.numpy" and add["class_name"] == "Add"
    assert [a["config"]["keras_history"] for a in add["inbound_nodes"][0]["args"]] == [["ha", 0, 0], ["hb", 0, 0]]
    x = keras.Input((2,), name="solo_in")
    solo = keras.Model(x, keras.layers.Dense(1, name="solo_out")(x))
    assert solo.get_config()["input_layers"] == ["solo_in", 0, 0]
    assert solo.get_config()["output_layers"] == ["solo_out", 0, 0]


def test_from_config_round_trip_gives_same_predictions():
    model = _two_in_two_out()
    config = json.loads(json.dumps(model.get_config()))
    restored = keras.Model.from_config(config)
    assert [layer.name for layer in restored.layers] == [layer.name for layer in model.layers]
    assert restored.get_config() == config
    restored.set_weights(model.get_weights())
    xa, xb = _data(7)
    for got, want in zip(restored.predict([xa, xb], verbose=0), model.predict([xa, xb], verbose=0)):
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_from_config_keeps_shared_layers_and_nested_models():
    shared = keras.layers.Dense(3, name="shared")
    inner_in = keras.Input((3,), name="inner_in")
    inner = keras.Model(inner_in, keras.layers.Dense(2, name="inner_dense")(inner_in), name="inner")
    a, b = keras.Input((4,), name="a"), keras.Input((4,), name="b")
    out = inner(shared(a) + shared(b))
    model = keras.Model([a, b], out)
    config = json.loads(json.dumps(model.get_config()))
    records = {r["name"]: r for r in config["layers"]}
    assert len(records["shared"]["inbound_nodes"]) == 2
    assert records["inner"]["class_name"] == "Functional"
    assert records["inner"]["module"] == "keras.src.models.functional"
    assert config["output_layers"] == ["inner", 1, 0]  # Keras counts nested models' nodes from 1
    restored = keras.Model.from_config(config)
    assert len(restored.get_layer("shared")._inbound_nodes) == 2
    assert len(restored.weights) == len(model.weights) == 4
    restored.set_weights(model.get_weights())
    xa, xb = _data(5)[0], _data(5, seed=3)[0]
    np.testing.assert_allclose(restored.predict([xa, xb], verbose=0), model.predict([xa, xb], verbose=0), rtol=1e-6)


def test_from_config_reads_a_keras3_style_config():
    """A config in the shape Keras 3.15 writes (docs/KERAS_REFERENCE.md section 2.3)."""
    config = {
        "name": "functional", "trainable": True,
        "layers": [
            {"module": "keras.layers", "class_name": "InputLayer",
             "config": {"batch_shape": [None, 5], "dtype": "float32", "sparse": False,
                        "ragged": False, "name": "inp", "optional": False},
             "registered_name": None, "name": "inp", "inbound_nodes": []},
            {"module": "keras.layers", "class_name": "Dense",
             "config": {"name": "out", "trainable": True,
                        "dtype": {"module": "keras", "class_name": "DTypePolicy",
                                  "config": {"name": "float32"}, "registered_name": None},
                        "units": 2, "activation": "linear", "use_bias": True,
                        "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform",
                                               "config": {"seed": None}, "registered_name": None},
                        "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros",
                                             "config": {}, "registered_name": None},
                        "kernel_regularizer": None, "bias_regularizer": None,
                        "kernel_constraint": None, "bias_constraint": None},
             "registered_name": None, "build_config": {"input_shape": [None, 5]}, "name": "out",
             "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__",
                                          "config": {"shape": [None, 5], "dtype": "float32",
                                                     "keras_history": ["inp", 0, 0]}}],
                                "kwargs": {"training": False, "mask": None}}]},
        ],
        "input_layers": ["inp", 0, 0], "output_layers": ["out", 0, 0],
    }
    model = keras.Model.from_config(config)
    assert [layer.name for layer in model.layers] == ["inp", "out"]
    assert model.output_shape == (None, 2)
    assert tuple(model(np.zeros((3, 5), np.float32)).shape) == (3, 2)


def test_custom_layer_round_trip_needs_its_class():
    class Scale(keras.layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, inputs):
            return inputs * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    x = keras.Input((2,))
    model = keras.Model(x, Scale(3.0, name="scale")(x))
    config = model.get_config()
    restored = keras.Model.from_config(config, custom_objects={"Scale": Scale})
    np.testing.assert_allclose(np.asarray(restored(np.ones((1, 2), np.float32))), [[3.0, 3.0]])
    record = next(r for r in config["layers"] if r["name"] == "scale")
    assert record["class_name"] == "Scale" and record["registered_name"] == "Scale"


def test_clone_functional_model_has_fresh_weights_and_same_architecture():
    keras.utils.set_random_seed(3)
    model = _two_in_two_out()
    clone = keras.models.clone_model(model)
    assert clone is not model and type(clone).__name__ == "Functional"
    assert [layer.name for layer in clone.layers] == [layer.name for layer in model.layers]
    assert all(a is not b for a, b in zip(clone.layers, model.layers))
    assert [w.shape for w in clone.weights] == [w.shape for w in model.weights]
    assert not np.allclose(clone.get_weights()[0], model.get_weights()[0])
    clone.set_weights(model.get_weights())
    xa, xb = _data(6)
    for got, want in zip(clone.predict([xa, xb], verbose=0), model.predict([xa, xb], verbose=0)):
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_clone_keeps_sharing_and_clones_sequential():
    shared = keras.layers.Dense(3)
    a, b = keras.Input((3,)), keras.Input((3,))
    model = keras.Model([a, b], shared(a) + shared(b))
    clone = keras.models.clone_model(model)
    assert len(clone.weights) == 2
    seq = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="relu"), keras.layers.Dense(2)])
    seq_clone = keras.models.clone_model(seq)
    assert isinstance(seq_clone, keras.Sequential) and seq_clone.built
    assert [w.shape for w in seq_clone.weights] == [w.shape for w in seq.weights]
    assert not np.allclose(seq_clone.get_weights()[0], seq.get_weights()[0])
    seq_clone.set_weights(seq.get_weights())
    x = _data(4)[0]
    np.testing.assert_allclose(seq_clone.predict(x, verbose=0), seq.predict(x, verbose=0), rtol=1e-6)
    restored = keras.Sequential.from_config(json.loads(json.dumps(seq.get_config())))
    assert [w.shape for w in restored.weights] == [w.shape for w in seq.weights]


# ---------------------------------------------------------------------------------------------
# Training


def test_single_output_functional_trains_exactly_like_sequential():
    x, y = _data(48)[0], np.random.default_rng(4).integers(0, 3, size=48).astype(np.int32)
    seq = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                            keras.layers.Dense(3, activation="softmax")])
    inp = keras.Input((4,))
    func = keras.Model(inp, keras.layers.Dense(3, activation="softmax")(keras.layers.Dense(8, activation="relu")(inp)))
    func.set_weights(seq.get_weights())
    histories = []
    for model in (seq, func):
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        histories.append(model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0).history)
    assert sorted(histories[0]) == sorted(histories[1]) == ["accuracy", "loss"]
    for key in histories[0]:
        np.testing.assert_allclose(histories[1][key], histories[0][key], rtol=1e-6)
    for a, b in zip(func.get_weights(), seq.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    np.testing.assert_allclose(func.evaluate(x, y, verbose=0), seq.evaluate(x, y, verbose=0), rtol=1e-6)
    np.testing.assert_allclose(func.predict(x, verbose=0), seq.predict(x, verbose=0), rtol=1e-6)


def test_two_input_single_output_fit_evaluate_predict():
    keras.utils.set_random_seed(0)
    xa, xb = _data(96)
    y = (xa[:, 0] + xb[:, 0] > 0).astype(np.int32)
    a, b = keras.Input((4,)), keras.Input((3,))
    h = keras.layers.Dense(16, activation="relu")(a) + keras.layers.Dense(16, activation="relu")(b)
    model = keras.Model([a, b], keras.layers.Dense(2, activation="softmax")(h))
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit([xa, xb], y, batch_size=16, epochs=10, validation_split=0.25, verbose=0)
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert history.history["loss"][-1] < history.history["loss"][0]
    loss, acc = model.evaluate([xa, xb], y, verbose=0)
    assert acc > 0.8 and loss < history.history["loss"][0]
    probs = model.predict([xa, xb], verbose=0)
    assert probs.shape == (96, 2)
    assert isinstance(model.train_on_batch([xa[:8], xb[:8]], y[:8]), list)


def test_multi_output_fit_reduces_loss_with_keras_log_names():
    keras.utils.set_random_seed(1)
    xa, xb = _data(128)
    y_cls = (xa[:, 0] > 0).astype(np.int32) + (xb[:, 1] > 0).astype(np.int32)
    y_reg = (xa.sum(axis=1, keepdims=True) - xb[:, :1]).astype(np.float32)
    model = _two_in_two_out()
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss=["sparse_categorical_crossentropy", "mse"], loss_weights=[1.0, 0.5],
                  metrics=[["accuracy"], ["mae"]])
    history = model.fit([xa, xb], [y_cls, y_reg], batch_size=16, epochs=8, verbose=0).history
    assert sorted(history) == ["cls_accuracy", "cls_loss", "loss", "reg_loss", "reg_mae"]
    for key in ("loss", "cls_loss", "reg_loss"):
        assert history[key][-1] < 0.8 * history[key][0], (key, history[key])
    # the total is the weighted sum of the per-output losses
    logs = model.evaluate([xa, xb], [y_cls, y_reg], verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["loss"], logs["cls_loss"] + 0.5 * logs["reg_loss"], rtol=1e-4)
    values = model.evaluate([xa, xb], [y_cls, y_reg], verbose=0)
    assert len(values) == 5 and values[0] == pytest.approx(logs["loss"], rel=1e-6)


def test_multi_output_with_dict_losses_and_targets():
    keras.utils.set_random_seed(2)
    xa, xb = _data(64)
    model = _two_in_two_out()
    model.compile(optimizer="adam", loss={"reg": "mse", "cls": "sparse_categorical_crossentropy"},
                  metrics={"cls": "accuracy"})
    y = {"cls": np.zeros(64, np.int32), "reg": np.ones((64, 1), np.float32)}
    history = model.fit({"in_a": xa, "in_b": xb}, y, batch_size=32, epochs=3, verbose=0).history
    assert sorted(history) == ["cls_accuracy", "cls_loss", "loss", "reg_loss"]
    assert history["loss"][-1] < history["loss"][0]
    with pytest.raises(ValueError, match="as many entries"):
        model.compile(optimizer="adam", loss=["mse"] * 3)
        model.fit([xa, xb], [y["cls"], y["reg"]], epochs=1, verbose=0)


# ---------------------------------------------------------------------------------------------
# Subclassing


class _Blocks(keras.Model):
    def __init__(self):
        super().__init__()
        self.stack = [keras.layers.Dense(8, activation="relu"), keras.layers.Dense(8, activation="relu")]
        self.heads = {"a": keras.layers.Dense(2), "b": keras.layers.Dense(1)}
        self.extra = []
        self.extra.append(keras.layers.Dense(3))  # appended after assignment: still tracked

    def call(self, inputs, training=None):
        x = inputs
        for layer in self.stack:
            x = layer(x)
        return ops.concatenate([self.heads["a"](x), self.heads["b"](x), self.extra[0](x)], axis=-1)


def test_subclassed_model_tracks_layers_in_lists_and_dicts():
    model = _Blocks()
    assert len(model.layers) == 5
    out = model(np.zeros((2, 4), np.float32))
    assert tuple(out.shape) == (2, 6)
    shapes = [tuple(w.shape) for w in model.trainable_weights]
    assert shapes == [(4, 8), (8,), (8, 8), (8,), (8, 2), (2,), (8, 1), (1,), (8, 3), (3,)]
    model.heads["c"] = keras.layers.Dense(4)
    assert len(model.layers) == 6


def test_subclassed_model_build_creates_weights_and_summary():
    model = _Blocks()
    model.build((None, 4))
    assert model.built and len(model.weights) == 10
    lines = []
    model.summary(print_fn=lines.append)
    assert "Total params: 166" in lines[0]


def test_subclassed_model_with_custom_build_and_symbolic_call():
    class Affine(keras.Model):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], 2), initializer="ones", name="w")
            self.b = self.add_weight(shape=(2,), initializer="zeros", name="b")

        def call(self, inputs, training=None):
            return ops.matmul(inputs, self.w) + self.b

    model = Affine()
    x = keras.Input((3,))
    y = model(x)
    assert y.shape == (None, 2) and len(model.weights) == 2
    outer = keras.Model(x, keras.layers.Dense(1)(y))
    np.testing.assert_allclose(np.asarray(model(np.ones((1, 3), np.float32))), [[3.0, 3.0]])
    assert len(outer.weights) == 4


def test_custom_train_step_is_used_by_fit():
    class Counting(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(1)
            self.calls = 0

        def call(self, inputs, training=None):
            return self.dense(inputs)

        def train_step(self, data):
            x, y = data[0], data[1]
            with keras.GradientTape() as tape:
                pred = self(x, training=True)
                loss = ops.mean(ops.square(pred - ops.reshape(y, (-1, 1))))
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply(grads, self.trainable_variables)
            self.calls += 1
            return {"loss": float(loss), "calls": self.calls}

    x = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5], np.float32)).astype(np.float32)
    model = Counting()
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    history = model.fit(x, y, batch_size=10, epochs=4, verbose=0)
    assert model.calls == 16
    assert history.history["loss"][-1] < history.history["loss"][0]


# ---------------------------------------------------------------------------------------------
# Freezing and transfer learning


def test_frozen_nested_model_moves_weights_to_non_trainable():
    base_in = keras.Input((4,))
    base = keras.Model(base_in, keras.layers.Dense(6, activation="relu")(base_in), name="base")
    x = keras.Input((4,))
    model = keras.Model(x, keras.layers.Dense(2, name="head")(base(x, training=False)))
    assert len(model.trainable_weights) == 4
    base.trainable = False
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 2
    assert all(not w.trainable for w in base.weights)
    base.trainable = True
    assert len(model.trainable_weights) == 4


def test_transfer_learning_only_the_head_changes():
    keras.utils.set_random_seed(5)
    xa = _data(64)[0]
    y = (xa[:, 0] > 0).astype(np.int32)
    base_in = keras.Input((4,))
    h = keras.layers.Dense(8, activation="relu", name="b1")(base_in)
    base = keras.Model(base_in, keras.layers.Dense(8, activation="relu", name="b2")(h), name="base")
    base.trainable = False
    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(2, activation="softmax", name="new_head")(base(inputs, training=False))
    model = keras.Model(inputs, outputs)
    before_base = [w.copy() for w in base.get_weights()]
    before_head = [w.copy() for w in model.get_layer("new_head").get_weights()]
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
    model.fit(xa, y, batch_size=16, epochs=3, verbose=0)
    for w, w0 in zip(base.get_weights(), before_base):
        np.testing.assert_array_equal(w, w0)
    after_head = model.get_layer("new_head").get_weights()
    assert not np.allclose(after_head[0], before_head[0])
    lines = []
    model.summary(print_fn=lines.append)
    assert "Non-trainable params: 112" in lines[0]


def test_freezing_a_layer_in_a_subclassed_model():
    model = _Blocks()
    model(np.zeros((1, 4), np.float32))
    model.stack[0].trainable = False
    assert len(model.trainable_weights) == 8 and len(model.non_trainable_weights) == 2
    frozen = [w.numpy().copy() for w in model.stack[0].weights]
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model.fit(np.ones((8, 4), np.float32), np.zeros((8, 6), np.float32), epochs=2, verbose=0)
    for w, w0 in zip(model.stack[0].weights, frozen):
        np.testing.assert_array_equal(w.numpy(), w0)


# ---------------------------------------------------------------------------------------------
# The Keras-docs custom layer that doubles its input


class _Double(keras.layers.Layer):
    def call(self, inputs):
        return inputs * 2


def test_double_layer_in_sequential_and_functional():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    seq = keras.Sequential([keras.Input((3,)), _Double(), keras.layers.Dense(2)])
    assert seq.output_shape == (None, 2)
    k, b = seq.layers[1].get_weights()
    np.testing.assert_allclose(seq.predict(x, verbose=0), (2 * x) @ k + b, rtol=1e-5, atol=1e-6)

    inp = keras.Input((3,))
    doubled = _Double()(inp)
    assert doubled.shape == (None, 3)
    model = keras.Model(inp, doubled)
    np.testing.assert_allclose(model.predict(x, verbose=0), 2 * x)
    model.compile(optimizer="sgd", loss="mse")  # no weights: fit runs and changes nothing
    assert model.evaluate(x, 2 * x, verbose=0) == pytest.approx(0.0)


# ---------------------------------------------------------------------------------------------
# Sequential graphs, training flag, JSON


def test_sequential_exposes_its_graph_for_feature_extraction():
    seq = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, name="f1"),
                            keras.layers.Dense(3, name="f2"), keras.layers.Dense(2, name="f3")])
    assert len(seq.inputs) == 1 and seq.inputs[0].shape == (None, 4)
    assert seq.output.shape == (None, 2)
    assert all(len(layer._inbound_nodes) == 1 for layer in seq.layers)  # rebuilds leave no stale nodes
    features = keras.Model(seq.inputs, seq.get_layer("f2").output)
    x = np.ones((2, 4), np.float32)
    np.testing.assert_allclose(np.asarray(features(x)), np.asarray(seq.layers[1](seq.layers[0](x))), rtol=1e-6)
    seq.pop()
    assert seq.output.shape == (None, 3)
    with pytest.raises(AttributeError, match="no defined inputs"):
        _ = keras.Sequential([keras.layers.Dense(2)]).inputs


def test_training_flag_reaches_layers_inside_functional_models():
    x = keras.Input((200,))
    model = keras.Model(x, keras.layers.Dropout(0.5, seed=1)(x))
    data = np.ones((4, 200), np.float32)
    np.testing.assert_array_equal(np.asarray(model(data)), data)
    dropped = np.asarray(model(data, training=True))
    assert (dropped == 0).mean() > 0.3 and np.allclose(dropped[dropped != 0], 2.0)


def test_to_json_and_back():
    model = _two_in_two_out()
    record = json.loads(model.to_json())
    assert record["class_name"] == "Functional" and record["module"] == "keras.src.models.functional"
    restored = keras.Model.from_config(record["config"])
    assert [w.shape for w in restored.weights] == [w.shape for w in model.weights]


def test_frozen_sequential_base_inside_functional_model():
    keras.utils.set_random_seed(6)
    base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(6, activation="relu")], name="seq_base")
    base.trainable = False
    x = keras.Input((4,))
    model = keras.Model(x, keras.layers.Dense(1)(base(x)))
    frozen = [w.copy() for w in base.get_weights()]
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    data = _data(32)[0]
    model.fit(data, data[:, :1], batch_size=8, epochs=2, verbose=0)
    for w, w0 in zip(base.get_weights(), frozen):
        np.testing.assert_array_equal(w, w0)


def test_any_ops_function_can_be_recorded_symbolically():
    x = keras.Input((3,))
    y = keras.ops.sum(keras.ops.exp(x), axis=-1, keepdims=True)
    assert y.shape == (None, 1)
    model = keras.Model(x, y)
    data = np.array([[0.0, 1.0, 2.0]], np.float32)
    np.testing.assert_allclose(np.asarray(model(data)), np.exp(data).sum(-1, keepdims=True), rtol=1e-6)
    config = json.loads(json.dumps(model.get_config()))
    assert [r["class_name"] for r in config["layers"]] == ["InputLayer", "Exp", "Sum"]
    np.testing.assert_allclose(np.asarray(keras.Model.from_config(config)(data)), np.asarray(model(data)))

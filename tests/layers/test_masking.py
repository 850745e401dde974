"""Keras 3 mask propagation: masks attached to tensors by `Embedding(mask_zero=True)` and
`Masking`, passed through, used or dropped by layers, carried by symbolic KerasTensors through
Functional and Sequential models, and applied by losses and metrics.

The `KERAS_*` constants were computed once with the real Keras 3.15.1 (jax backend) on the
same inputs and weights (scripts in the comments next to them) and pasted here; the tests
never import keras."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rskeras as keras
from rskeras import backend

from tests.conftest import assert_close

L = keras.layers

IDS = np.array([[1, 2, 0, 0], [3, 4, 5, 0], [6, 0, 0, 0]], "int32")
MASK = IDS != 0
EMB = np.random.RandomState(2).randn(8, 3).astype("float32") * 0.5
KERNEL = np.random.RandomState(3).randn(3, 1).astype("float32")
BIAS = np.array([0.1], "float32")
TARGET = np.random.RandomState(1).randn(3, 4, 1).astype("float32")
STEP_WEIGHTS = np.random.RandomState(4).rand(3, 4).astype("float32")

# keras.Model(Input((4,), "int32") -> Embedding(8, 3, mask_zero=True) [EMB]
#             -> GlobalAveragePooling1D())(IDS)
KERAS_GAP = [[0.5357880592346191, -0.7596809267997742, -0.47492486238479614],
             [-0.24393799901008606, -0.0976003035902977, 0.6677112579345703],
             [-0.3739354610443115, 0.004512625280767679, -0.4390539526939392]]
# keras.Model(Input((4,), "int32") -> Embedding(8, 3, mask_zero=True) [EMB] -> Dense(1)
#             [KERNEL, BIAS]), compile(SGD(0.1), "mse", metrics=["mae"]):
KERAS_EVAL = (2.1781880855560303, 1.3249894380569458)  # evaluate(IDS, TARGET): loss, mae
KERAS_EVAL_STEP_WEIGHTS = 1.2628778219223022  # evaluate(..., sample_weight=STEP_WEIGHTS) loss
KERAS_EVAL_SUM = 13.069127082824707  # loss=MeanSquaredError(reduction="sum")
# fit(IDS, TARGET, batch_size=3, epochs=3, shuffle=False): history and Dense weights after
KERAS_FIT_LOSSES = [2.1781880855560303, 1.6062957048416138, 1.2089098691940308]
KERAS_FIT_KERNEL = [1.732605218887329, 0.5937159657478333, 0.25549185276031494]
KERAS_FIT_BIAS = [0.2374151200056076]
# Same embedding -> Dense(3, "softmax") [RandomState(5).randn(3, 3), zeros],
# compile("sgd", "sparse_categorical_crossentropy", ["accuracy"]).evaluate(IDS, LABELS)
LABELS = np.array([[0, 1, 2, 2], [1, 1, 0, 0], [2, 0, 1, 1]], "int32")
KERAS_SCCE = {"loss": 1.1946086883544922, "accuracy": 0.1666666716337204}


def _masked_model(mask_zero=True):
    inp = keras.Input((4,), dtype="int32")
    h = L.Embedding(8, 3, mask_zero=mask_zero)(inp)
    model = keras.Model(inp, L.Dense(1)(h))
    model.layers[1].set_weights([EMB])
    model.layers[2].set_weights([KERNEL, BIAS])
    return model


def _np_masked_mean(values, mask):
    m = mask[..., None].astype(np.float64)
    return (values * m).sum(1) / m.sum(1)


# ---------------------------------------------------------------------------------------------
# Producing masks


def test_embedding_mask_zero_then_global_average_pooling_is_masked_mean():
    emb = L.Embedding(8, 3, mask_zero=True)
    emb.build(None)
    emb.set_weights([EMB])
    h = emb(IDS)
    assert h._keras_mask is not None and h._keras_mask.dtype == "bool"
    assert_close(h._keras_mask, MASK)
    assert_close(backend.get_keras_mask(h), MASK)
    out = L.GlobalAveragePooling1D()(h)
    assert_close(out, _np_masked_mean(EMB[IDS], MASK))
    assert_close(out, KERAS_GAP)
    assert out._keras_mask is None  # the pooled output has no steps left to mask
    # Without a mask it is the plain mean; an explicit mask= wins over the attached one.
    assert_close(L.GlobalAveragePooling1D()(EMB[IDS]), EMB[IDS].mean(1))
    explicit = np.array([[True, False, False, False]] * 3)
    assert_close(L.GlobalAveragePooling1D()(h, mask=explicit), EMB[IDS][:, 0])
    kept = L.GlobalAveragePooling1D(keepdims=True)(h)
    assert_close(kept, _np_masked_mean(EMB[IDS], MASK)[:, None, :])


def test_embedding_without_mask_zero_attaches_no_mask():
    assert L.Embedding(8, 3)(IDS)._keras_mask is None


def test_masking_output_and_mask_match_numpy():
    x = np.random.RandomState(0).randn(2, 5, 3).astype("float32")
    x[0, 1] = 0.0
    x[1, 3:] = 0.0
    x[1, 0, 0] = 0.0  # one zero feature only: kept
    y = L.Masking(mask_value=0.0)(x)
    keep = np.any(x != 0.0, axis=-1)
    assert_close(y._keras_mask, keep)
    assert_close(y, x * keep[..., None])
    z = L.Masking(mask_value=-1.0)(np.full((1, 2, 2), -1.0, "float32"))
    assert_close(z._keras_mask, [[False, False]])


# ---------------------------------------------------------------------------------------------
# Passing, using and dropping masks


@pytest.mark.parametrize("make", [
    lambda: L.Dense(2), lambda: L.Dense(2, activation="relu"), lambda: L.Activation("tanh"),
    lambda: L.Dropout(0.5), lambda: L.ReLU(), lambda: L.LayerNormalization(),
    lambda: L.BatchNormalization(), lambda: L.Rescaling(2.0), lambda: L.GaussianNoise(0.1),
    lambda: L.SpatialDropout1D(0.5), lambda: L.Identity(),
], ids=["dense", "dense_relu", "activation", "dropout", "relu", "layernorm", "batchnorm",
        "rescaling", "gaussian_noise", "spatial_dropout1d", "identity"])
def test_mask_passes_through_layers_that_support_masking(make):
    h = L.Embedding(8, 3, mask_zero=True)(IDS)
    layer = make()
    assert layer.supports_masking
    for training in (False, True):
        assert_close(layer(h, training=training)._keras_mask, MASK)


def test_dropout_keeps_the_mask_in_training_and_inference():
    h = L.Embedding(8, 3, mask_zero=True)(IDS)
    drop = L.Dropout(0.5, seed=1)
    assert drop(h, training=True)._keras_mask is h._keras_mask
    assert drop(h, training=False)._keras_mask is h._keras_mask


@pytest.mark.parametrize("make", [lambda: L.Flatten(), lambda: L.GlobalMaxPooling1D(),
                                  lambda: L.Conv1D(2, 1)], ids=["flatten", "gmp1d", "conv1d"])
def test_layers_without_masking_drop_the_mask_with_a_warning(make):
    h = L.Embedding(8, 3, mask_zero=True)(IDS)
    layer = make()
    assert not layer.supports_masking
    with pytest.warns(UserWarning, match="does not support masking"):
        out = layer(h)
    assert out._keras_mask is None


def test_no_warning_without_a_mask():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        L.Flatten()(np.ones((2, 3, 4), "float32"))


def test_call_with_a_mask_argument_receives_the_mask():
    seen = []

    class Probe(L.Layer):
        def call(self, inputs, mask=None):
            seen.append(None if mask is None else np.asarray(mask))
            return inputs

    h = L.Embedding(8, 3, mask_zero=True)(IDS)
    probe = Probe()
    assert not probe.supports_masking  # compute_mask not overridden: Keras's default
    with pytest.warns(UserWarning):
        probe(h)
    np.testing.assert_array_equal(seen[-1], MASK)
    explicit = np.ones((3, 4), bool)
    with pytest.warns(UserWarning):
        probe(h, mask=explicit)
    np.testing.assert_array_equal(seen[-1], explicit)
    probe(np.ones((3, 4, 3), "float32"))
    assert seen[-1] is None


def test_overriding_compute_mask_turns_supports_masking_on():
    class FirstHalf(L.Layer):
        def call(self, inputs):
            return inputs

        def compute_mask(self, inputs, previous_mask=None):
            return keras.ops.greater(inputs[..., 0], 0.5)

    layer = FirstHalf()
    assert layer.supports_masking
    x = np.array([[[1.0], [1.0], [0.0], [0.0]]] * 2, "float32")
    assert_close(layer(x)._keras_mask, [[True, True, False, False]] * 2)
    assert layer(keras.Input((4, 1)))._keras_mask.shape == (None, 4)


def test_explicit_mask_is_passed_through_by_default_compute_mask():
    explicit = np.array([[True, False], [False, True]])
    out = L.Dense(3)(np.ones((2, 2, 4), "float32"), mask=explicit)
    assert_close(out._keras_mask, explicit)


def test_autocast_keeps_the_mask():
    x = keras.ops.convert_to_tensor(np.ones((2, 3, 2)))
    assert x.dtype == "float64"
    x._keras_mask = keras.ops.convert_to_tensor(np.array([[True, False, True]] * 2))
    out = L.Dense(2)(x)
    assert out.dtype == "float32"
    assert_close(out._keras_mask, [[True, False, True]] * 2)


# ---------------------------------------------------------------------------------------------
# Merge layers (values and masks as in Keras 3's merging tests)

_X1 = np.array([[[0, 0], [1, 2], [0, 0], [3, 4]]], "float32")
_X2 = np.array([[[5, 6], [0, 0], [0, 0], [-7, 8]]], "float32")
# keras.layers.<Merge>()([Masking()(_X1), Masking()(_X2)]) with Keras 3.15.1 (jax)
KERAS_MERGE = {
    "Add": [[[5, 6], [1, 2], [0, 0], [-4, 12]]],
    "Subtract": [[[-5, -6], [1, 2], [0, 0], [10, -4]]],
    "Average": [[[2.5, 3], [0.5, 1], [0, 0], [-2, 6]]],
    "Maximum": [[[5, 6], [1, 2], [0, 0], [3, 8]]],
    "Minimum": [[[5, 6], [1, 2], [0, 0], [-7, 4]]],
    "Multiply": [[[5, 6], [1, 2], [0, 0], [-21, 32]]],
}


@pytest.mark.parametrize("name", sorted(KERAS_MERGE))
def test_merge_layers_combine_masks_with_or(name):
    x1, x2 = L.Masking()(_X1), L.Masking()(_X2)
    out = getattr(L, name)()([x1, x2])
    assert_close(out, KERAS_MERGE[name])
    assert_close(out._keras_mask, [[True, True, False, True]])
    # One unmasked input: no output mask (Keras).
    assert getattr(L, name)()([x1, np.ones((1, 4, 2), "float32")])._keras_mask is None


def test_maximum_and_multiply_with_one_masked_input_match_keras():
    x1 = L.Masking()(_X1)
    ones, twos = np.ones((1, 4, 2), "float32"), np.full((1, 4, 2), 2, "float32")
    assert_close(L.Maximum()([x1, ones]), [[[1, 1], [1, 2], [1, 1], [3, 4]]])
    assert_close(L.Multiply()([x1, twos]), [[[2, 2], [2, 4], [2, 2], [6, 8]]])


def test_concatenate_concatenates_masks():
    x1 = L.Masking()(_X1)
    out = L.Concatenate(axis=1)([x1, np.ones((1, 4, 2), "float32")])
    assert_close(out._keras_mask, [[False, True, False, True, True, True, True, True]])
    out = L.Concatenate()([x1, np.ones((1, 4, 3), "float32")])
    assert_close(out._keras_mask, [[True, True, True, True]])  # the feature axis: any()


# ---------------------------------------------------------------------------------------------
# Symbolic tensors, Functional and Sequential models


def test_keras_tensors_carry_mask_descriptions():
    inp = keras.Input((4,), dtype="int32")
    h = L.Embedding(8, 3, mask_zero=True)(inp)
    assert isinstance(h._keras_mask, keras.KerasTensor)
    assert h._keras_mask.shape == (None, 4) and h._keras_mask.dtype == "bool"
    d = L.Dense(2)(h)
    assert d._keras_mask is h._keras_mask  # passed through, as in Keras
    assert L.GlobalAveragePooling1D()(d)._keras_mask is None
    with pytest.warns(UserWarning, match="does not support masking"):
        assert L.Flatten()(d)._keras_mask is None
    x = keras.Input((None, 2))
    m = L.Masking()(x)
    assert m._keras_mask.shape == (None, None)
    c = L.Concatenate(axis=1)([m, keras.Input((3, 2))])
    assert c._keras_mask.shape == (None, None)
    assert keras.Input((3,))._keras_mask is None


def test_functional_model_propagates_masks():
    inp = keras.Input((4,), dtype="int32")
    h = L.Embedding(8, 3, mask_zero=True)(inp)
    h = L.Dense(5)(h)
    seq_out = L.Dropout(0.1)(h)
    pooled = L.GlobalAveragePooling1D()(seq_out)
    model = keras.Model(inp, [seq_out, pooled])
    model.layers[1].set_weights([EMB])
    seq, avg = model(IDS)
    assert_close(seq._keras_mask, MASK)
    assert avg._keras_mask is None
    assert_close(avg, _np_masked_mean(np.asarray(seq), MASK))
    masks = model.compute_mask(IDS)
    assert_close(masks[0], MASK) and masks[1] is None
    spec = model.compute_mask(keras.Input((4,), dtype="int32"))
    assert spec[0].shape == (None, 4) and spec[1] is None
    # Called as a layer of another model: the mask description and the values follow.
    outer_in = keras.Input((4,), dtype="int32")
    outer_seq, _ = model(outer_in)
    assert outer_seq._keras_mask.shape == (None, 4)
    outer = keras.Model(outer_in, L.GlobalAveragePooling1D()(outer_seq))
    assert_close(outer(IDS), avg)


def test_functional_model_input_masks():
    x = keras.Input((4, 2))
    model = keras.Model(x, L.Dense(3)(x))
    assert model(np.ones((1, 4, 2), "float32"))._keras_mask is None
    masked = L.Masking()(_X1)
    assert_close(model(masked)._keras_mask, [[False, True, False, True]])
    explicit = np.array([[True, True, False, False]])
    assert_close(model(_X1, mask=explicit)._keras_mask, explicit)
    assert_close(model.compute_mask(_X1, explicit), explicit)
    sym = keras.Input((4, 2))
    assert model(L.Masking()(sym))._keras_mask.shape == (None, 4)


def test_sequential_model_propagates_masks():
    model = keras.Sequential([keras.Input((4,), dtype="int32"),
                              L.Embedding(8, 3, mask_zero=True), L.Dense(2), L.Dropout(0.2)])
    out = model(IDS)
    assert_close(out._keras_mask, MASK)
    assert_close(model.compute_mask(IDS), MASK)
    assert model.output._keras_mask.shape == (None, 4)
    assert model(keras.Input((4,), dtype="int32"))._keras_mask.shape == (None, 4)
    pooled = keras.Sequential([L.Masking(), L.GlobalAveragePooling1D()])
    x = np.random.RandomState(0).randn(2, 5, 3).astype("float32")
    x[:, 3:] = 0.0
    assert_close(pooled(x), x[:, :3].mean(1))


# ---------------------------------------------------------------------------------------------
# Losses and metrics


def test_loss_applies_the_prediction_mask():
    y_true = np.random.RandomState(0).randn(3, 4, 2).astype("float32")
    y_pred = keras.ops.convert_to_tensor(np.random.RandomState(1).randn(3, 4, 2).astype("float32"))
    y_pred._keras_mask = keras.ops.convert_to_tensor(MASK)
    per_step = ((y_true - np.asarray(y_pred)) ** 2).mean(-1)
    m = MASK.astype(np.float64)
    # sum_over_batch_size: the mean over the unmasked steps
    assert_close(keras.losses.MeanSquaredError()(y_true, y_pred), (per_step * m).sum() / m.sum())
    assert_close(keras.losses.MeanSquaredError(reduction="sum")(y_true, y_pred), (per_step * m).sum())
    assert_close(keras.losses.MeanSquaredError(reduction="none")(y_true, y_pred), per_step * m)
    w = STEP_WEIGHTS
    assert_close(keras.losses.MeanSquaredError()(y_true, y_pred, sample_weight=w),
                 (per_step * m * w).sum() / m.sum())
    assert_close(keras.losses.MeanSquaredError(reduction="mean_with_sample_weight")(y_true, y_pred),
                 (per_step * m).sum() / m.sum())
    # Nothing kept: 0, not NaN (Keras's divide_no_nan).
    y_pred._keras_mask = keras.ops.convert_to_tensor(np.zeros((3, 4), bool))
    assert float(keras.losses.MeanSquaredError()(y_true, y_pred)) == 0.0


def test_metric_applies_the_prediction_mask():
    y_true = np.random.RandomState(0).randn(3, 4, 1).astype("float32")
    y_pred = keras.ops.convert_to_tensor(np.random.RandomState(1).randn(3, 4, 1).astype("float32"))
    y_pred._keras_mask = keras.ops.convert_to_tensor(MASK)
    metric = keras.metrics.get("mae")
    metric.update_state(y_true, y_pred)
    err = np.abs(y_true - np.asarray(y_pred))[..., 0]
    assert_close(metric.result(), err[MASK].mean())


def test_masked_model_evaluate_matches_keras():
    model = _masked_model()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", metrics=["mae"])
    loss, mae = model.evaluate(IDS, TARGET, verbose=0)
    assert_close(loss, KERAS_EVAL[0])
    assert_close(mae, KERAS_EVAL[1])
    pred = np.asarray(model(IDS))[..., 0]
    assert_close(loss, ((pred - TARGET[..., 0]) ** 2)[MASK].mean())
    loss_w = model.evaluate(IDS, TARGET, sample_weight=STEP_WEIGHTS, verbose=0)[0]
    assert_close(loss_w, KERAS_EVAL_STEP_WEIGHTS)
    model.compile(optimizer="sgd", loss=keras.losses.MeanSquaredError(reduction="sum"))
    assert_close(model.evaluate(IDS, TARGET, verbose=0), KERAS_EVAL_SUM)


def test_masked_model_training_matches_keras():
    model = _masked_model()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    history = model.fit(IDS, TARGET, batch_size=3, epochs=3, shuffle=False, verbose=0)
    assert_close(history.history["loss"], KERAS_FIT_LOSSES)
    kernel, bias = model.layers[2].get_weights()
    assert_close(kernel.ravel(), KERAS_FIT_KERNEL)
    assert_close(bias, KERAS_FIT_BIAS)
    assert_close(model.layers[1].get_weights()[0][0], EMB[0])  # padding row: no gradient


def test_masked_training_equals_manual_sample_weighting():
    masked = _masked_model(mask_zero=True)
    plain = _masked_model(mask_zero=False)
    weights = MASK * (MASK.size / MASK.sum())  # Keras's apply_mask weights
    for model in (masked, plain):
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    for _ in range(3):
        a = masked.train_on_batch(IDS, TARGET)
        b = plain.train_on_batch(IDS, TARGET, sample_weight=weights.astype("float32"))
        assert_close(a, b)
    for wa, wb in zip(masked.get_weights(), plain.get_weights()):
        assert_close(wa, wb)


def test_masked_sparse_categorical_training_metrics_match_keras():
    inp = keras.Input((4,), dtype="int32")
    h = L.Embedding(8, 3, mask_zero=True)(inp)
    model = keras.Model(inp, L.Dense(3, activation="softmax")(h))
    model.layers[1].set_weights([EMB])
    model.layers[2].set_weights([np.random.RandomState(5).randn(3, 3).astype("float32"),
                                 np.zeros(3, "float32")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    logs = model.evaluate(IDS, LABELS, verbose=0, return_dict=True)
    assert_close(logs["loss"], KERAS_SCCE["loss"])
    assert_close(logs["accuracy"], KERAS_SCCE["accuracy"])


# ---------------------------------------------------------------------------------------------
# Storage of masks on eager tensors


def test_mask_attribute_on_eager_tensors():
    t = keras.ops.convert_to_tensor([1.0, 2.0])
    assert t._keras_mask is None
    t._keras_mask = keras.ops.convert_to_tensor([True, False])
    assert_close(t._keras_mask, [True, False])
    other = t + 0.0  # ops do not carry masks (as in Keras 3)
    assert other._keras_mask is None
    backend.set_keras_mask(t, None)
    assert t._keras_mask is None
    backend.set_keras_mask(t, keras.ops.convert_to_tensor([True, True]))
    assert_close(backend.get_keras_mask(t), [True, True])
    v = keras.Variable(np.zeros(2, "float32"))
    v._keras_mask = keras.ops.convert_to_tensor([False, True])
    assert_close(v._keras_mask, [False, True])

"""The metrics' API beyond the Keras numbers: bad inputs and arguments, `get`, the Mean
reductions, MeanMetricWrapper configs, `variables`, and metrics given to `compile` surviving
`model.save(".keras")` / `load_model`."""

from __future__ import annotations

import numpy as np
import pytest
import rskeras as keras

M = keras.metrics
RS = np.random.RandomState(0)
Y2 = (RS.rand(6, 3) > 0.5).astype("float32")
P2 = RS.rand(6, 3).astype("float32")


# ---------------------------------------------------------------------------------------------
# Bad inputs: ValueError naming the metric, the expected and the actual shape


@pytest.mark.parametrize("metric", [
    M.Precision(), M.Recall(), M.AUC(), M.TruePositives(), M.PrecisionAtRecall(0.5),
    M.RootMeanSquaredError(), M.F1Score(), M.R2Score(), M.CosineSimilarity(),
    M.PearsonCorrelation(), M.ConcordanceCorrelation(),
], ids=lambda m: m.name)
def test_mismatched_shapes_name_the_metric_and_shapes(metric):
    with pytest.raises(ValueError) as e:
        metric.update_state(Y2[:, :2], P2)
    text = str(e.value)
    assert metric.name in text or type(metric).__name__ in text, text
    assert "(6, 2)" in text and "(6, 3)" in text, text


def test_rank_errors():
    with pytest.raises(ValueError, match=r"FBetaScore expects 2D.*\(6,\)"):
        M.F1Score().update_state(Y2[:, 0], P2[:, 0])
    with pytest.raises(ValueError, match=r"R2Score expects 2D.*\(6,\)"):
        M.R2Score().update_state(Y2[:, 0], P2[:, 0])
    with pytest.raises(ValueError, match="rank 2 when `multi_label=True`"):
        M.AUC(multi_label=True).update_state(Y2[:, 0], P2[:, 0])
    auc = M.AUC(multi_label=True, num_labels=3)
    with pytest.raises(ValueError, match=r"auc.*\(batch, 3\).*\(6, 2\)"):
        auc.update_state(Y2[:, :2], P2[:, :2])
    with pytest.raises(ValueError, match="class_id"):
        M.Precision(class_id=0).update_state(Y2[:, 0], P2[:, 0])
    with pytest.raises(ValueError, match=r"mean_io_u.*18 labels and 12"):
        M.MeanIoU(3).update_state(np.zeros((6, 3), "int32"), np.zeros((6, 2), "int32"))
    with pytest.raises(ValueError, match=r"categorical_accuracy.*\(4, 3\).*\(6, 3\)"):
        M.CategoricalAccuracy().update_state(Y2[:4], P2)
    with pytest.raises(ValueError, match="sparse_categorical_accuracy"):
        M.SparseCategoricalAccuracy().update_state(np.array([0, 7]), P2[:2])  # label >= classes


@pytest.mark.parametrize("make, match", [
    (lambda: M.AUC(curve="XYZ"), "Invalid AUC curve"),
    (lambda: M.AUC(summation_method="left"), "Invalid AUC summation"),
    (lambda: M.AUC(num_thresholds=1), "num_thresholds"),
    (lambda: M.AUC(num_labels=3), "only when `multi_label`"),
    (lambda: M.Precision(thresholds=[0.5, 1.5]), r"\[0, 1\]"),
    (lambda: M.SensitivityAtSpecificity(1.5), "specificity"),
    (lambda: M.PrecisionAtRecall(0.5, num_thresholds=0), "num_thresholds"),
    (lambda: M.FBetaScore(beta=2), "beta"),
    (lambda: M.FBetaScore(average="samples"), "average"),
    (lambda: M.F1Score(threshold=1.5), "threshold"),
    (lambda: M.R2Score(class_aggregation="median"), "class_aggregation"),
    (lambda: M.R2Score(num_regressors=-1), "num_regressors"),
    (lambda: M.IoU(3, [0, 3]), "out of range"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# ---------------------------------------------------------------------------------------------
# get / serialize / deserialize


def test_get_forms():
    assert M.get(None) is None
    auc = M.AUC(num_thresholds=10)
    assert M.get(auc) is auc
    assert isinstance(M.get(M.Recall), M.Recall)
    got = M.get({"class_name": "AUC", "config": {"num_thresholds": 7, "curve": "PR"}})
    assert isinstance(got, M.AUC) and got.num_thresholds == 7 and got.curve == "PR"
    wrapped = M.get(M.binary_accuracy)
    assert isinstance(wrapped, M.MeanMetricWrapper) and wrapped.name == "binary_accuracy"
    with pytest.raises(ValueError, match="Could not interpret metric identifier: huber"):
        M.get("huber")
    with pytest.raises(ValueError, match="Could not interpret"):
        M.get(3)


def test_loss_functions_are_exported_under_their_names():
    for name in ("mean_squared_error", "hinge", "kl_divergence", "log_cosh", "poisson",
                 "binary_crossentropy", "sparse_categorical_crossentropy"):
        assert getattr(M, name) is getattr(keras.losses, name)


def test_mean_metric_wrapper_config_round_trips_the_function():
    m = M.MeanMetricWrapper(M.binary_accuracy, name="ba", threshold=0.7)
    config = m.get_config()
    assert config["fn"]["class_name"] == "function" and config["threshold"] == 0.7
    rebuilt = M.MeanMetricWrapper.from_config(config)
    assert rebuilt._fn is M.binary_accuracy and rebuilt.get_config() == config
    for metric in (m, rebuilt):
        metric.update_state(Y2, P2)
    assert float(rebuilt.result()) == float(m.result())
    record = M.serialize(M.MeanMetricWrapper(keras.losses.hinge))
    assert M.deserialize(record)._fn is keras.losses.hinge


# ---------------------------------------------------------------------------------------------
# State


def test_mean_reduces_per_sample_as_keras():
    m = M.Mean()
    m.update_state(np.array([[1.0, 3.0], [5.0, 7.0]], "float32"))  # per-sample means 2, 6
    m.update_state(np.array([[10.0, 10.0]], "float32"), sample_weight=np.array([2.0], "float32"))
    assert float(m.result()) == pytest.approx((2 + 6 + 20) / 4)
    assert [float(v) for v in m.variables] == [28.0, 4.0]
    m = M.Mean()
    m.update_state(np.array([1.0, 2.0, 3.0], "float32"), sample_weight=4)  # scalar weight
    m.update_state(5.0)
    assert float(m.result()) == pytest.approx((2.0 * 4 + 5.0) / 5)


def test_variables_are_copies_and_reset_zeroes_them():
    m = M.Precision(thresholds=[0.2, 0.7])
    m.update_state(Y2, P2)
    tp = m.variables[0]
    assert tp.name == "true_positives" and tp.shape == (2,) and not tp.trainable
    tp.assign(np.zeros(2, "float32"))
    assert np.asarray(m.true_positives).sum() > 0
    m.reset_state()
    assert all(float(np.abs(np.asarray(v)).sum()) == 0.0 for v in m.variables)


def test_call_updates_and_returns_the_result():
    m = M.BinaryAccuracy()
    first = float(m(Y2, P2))
    assert first == float(m.result())
    assert repr(m) == "<BinaryAccuracy name=binary_accuracy>"


# ---------------------------------------------------------------------------------------------
# compile / save / load


def _model():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=[
        "auc", "mse", "precision", M.AUC(curve="PR", name="pr_auc"),
        M.Recall(thresholds=[0.3, 0.6], name="recall_2"),
        M.F1Score(average="macro", threshold=0.5), M.BinaryIoU(name="iou"),
        M.TopKCategoricalAccuracy(k=2),
    ])
    return model


def test_compiled_metrics_survive_keras_save_and_load(tmp_path):
    rs = np.random.RandomState(3)
    x = rs.randn(16, 4).astype("float32")
    y = (rs.rand(16, 3) > 0.5).astype("float32")
    model = _model()
    want = model.evaluate(x, y, verbose=0, return_dict=True)
    assert {"auc", "mse", "precision", "pr_auc", "recall_2", "f1_score", "iou",
            "top_k_categorical_accuracy"} <= set(want)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    got = loaded.evaluate(x, y, verbose=0, return_dict=True)
    assert set(got) == set(want)
    for key in want:
        np.testing.assert_allclose(np.asarray(got[key]), np.asarray(want[key]), rtol=1e-6,
                                   err_msg=key)
    by_name = {m.name: m for m in loaded.metrics}
    assert by_name["pr_auc"].curve == "PR"
    assert by_name["recall_2"].thresholds == [0.3, 0.6]


# ---------------------------------------------------------------------------------------------
# Custom metrics written the Keras way


class BinaryTruePositives(keras.metrics.Metric):
    """The subclass example of Keras's `Metric` docstring."""

    def __init__(self, name="binary_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(shape=(), initializer="zeros",
                                                name="true_positives")

    def update_state(self, y_true, y_pred, sample_weight=None):
        ops = keras.ops
        values = ops.cast(ops.logical_and(ops.cast(y_true, "bool"), ops.cast(y_pred, "bool")),
                          self.dtype)
        if sample_weight is not None:
            values = values * ops.broadcast_to(ops.cast(sample_weight, self.dtype), values.shape)
        self.true_positives.assign(self.true_positives + ops.sum(values))

    def result(self):
        return self.true_positives


def test_custom_metric_subclass_with_add_variable():
    m = BinaryTruePositives()
    m.update_state(np.array([1, 1, 0, 1]), np.array([1, 0, 1, 1]))
    m.update_state(np.array([1, 1]), np.array([1, 1]), sample_weight=np.array([0.5, 2.0]))
    assert float(m.result()) == 4.5
    assert m.variables == [m.true_positives] and m.variables[0].name == "true_positives"
    m.reset_state()
    assert float(m.result()) == 0.0


def test_nested_metrics_are_tracked():
    class Both(keras.metrics.Metric):
        def __init__(self):
            super().__init__(name="both")
            self.p, self.r = M.Precision(), M.Recall()

        def update_state(self, y_true, y_pred, sample_weight=None):
            self.p.update_state(y_true, y_pred, sample_weight)
            self.r.update_state(y_true, y_pred, sample_weight)

        def result(self):
            return self.p.result() + self.r.result()

    m = Both()
    m.update_state(Y2, P2)
    assert [v.name for v in m.variables] == ["true_positives", "false_positives",
                                             "true_positives", "false_negatives"]
    m.reset_state()
    assert float(m.result()) == 0.0


def test_custom_metric_in_fit():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile("sgd", "binary_crossentropy", metrics=[BinaryTruePositives()])
    rs = np.random.RandomState(1)
    history = model.fit(rs.randn(16, 4).astype("float32"), (rs.rand(16, 1) > 0.5).astype("float32"),
                        epochs=2, batch_size=8, verbose=0)
    assert len(history.history["binary_true_positives"]) == 2


def test_sorted_ids_labels_are_not_bounded_by_k():
    m = M.SparseTopKCategoricalAccuracy(k=2, from_sorted_ids=True)
    m.update_state(np.array([7, 3]), np.array([[7.0, 1.0], [0.0, 2.0]], "float32"))
    assert float(m.result()) == 0.5


def test_unnamed_metrics_get_unique_default_names_as_in_keras():
    first, second = M.Precision(), M.Precision(top_k=2)
    assert first.name.startswith("precision") and second.name != first.name
    assert M.Precision(name="p").name == "p"
    assert M.BinaryAccuracy().name == M.BinaryAccuracy().name == "binary_accuracy"


def test_function_records_deserialize_to_the_function():
    for fn in (M.binary_accuracy, M.top_k_categorical_accuracy, M.pearson_correlation,
               keras.losses.mean_squared_error):
        assert M.deserialize(M.serialize(fn)) is fn
    keras_record = {"module": "keras.metrics", "class_name": "function",
                    "config": "sparse_categorical_accuracy",
                    "registered_name": "sparse_categorical_accuracy"}
    assert M.deserialize(keras_record) is M.sparse_categorical_accuracy


# Every string `compile(metrics=[...])` resolves (tests/fixtures/_metric_cases.py gives a data
# kind per class); those needing constructor arguments, and Mean/Sum (not y_true/y_pred
# metrics), are left out as Keras's compile cannot build them either.
_NEEDS_ARGUMENTS = {"Metric", "MeanMetricWrapper", "Mean", "Sum", "IoU", "MeanIoU", "OneHotIoU",
                    "OneHotMeanIoU", "PrecisionAtRecall", "RecallAtPrecision",
                    "SensitivityAtSpecificity", "SpecificityAtSensitivity"}
_OUTPUTS = {"binary": (3, "sigmoid"), "binary_col": (1, "sigmoid"), "cat": (6, "softmax"),
            "sparse": (6, "softmax"), "regress": (3, None), "positive": (3, "softplus"),
            "prob_dist": (4, "softmax"), "hinge": (3, None), "acc": (1, None),
            "bin_flat": (1, "sigmoid")}


def _compile_names():
    from tests.fixtures._metric_cases import CASES

    kind_of = {}
    for cls_name, kwargs, kind in CASES.values():
        if not kwargs and kind in _OUTPUTS:
            kind_of.setdefault(cls_name, kind)
    return sorted((name, kind_of[cls.__name__]) for name, cls in M.ALL_OBJECTS_DICT.items()
                  if cls.__name__ not in _NEEDS_ARGUMENTS and cls.__name__ in kind_of
                  and name.lower() != "accuracy")  # compile picks it from the shapes


@pytest.mark.filterwarnings("ignore:You are passing weight")
@pytest.mark.parametrize("name, kind", _compile_names())
def test_every_metric_string_works_in_compile(name, kind):
    assert len(_compile_names()) == 70
    from tests.fixtures._metric_cases import batches

    y = batches(kind)[0][0]
    units, activation = _OUTPUTS[kind]
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(units, activation=activation)])
    model.compile("sgd", "mse" if kind not in ("sparse",) else "sparse_categorical_crossentropy",
                  metrics=[name])
    x = np.random.RandomState(5).randn(len(y), 4).astype("float32")
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert name in logs
    direct = M.get(name)
    direct.update_state(y, model.predict(x, verbose=0))
    np.testing.assert_allclose(np.asarray(logs[name]), np.asarray(direct.result()), rtol=1e-6)


def test_dtype_from_policy_names():
    assert M.Mean(dtype="mixed_float16").dtype == "float16"
    assert M.MeanIoU(3).dtype == "int32"
    assert M.AUC(dtype="float64").dtype == "float64"
    m = M.Mean(dtype="float64")
    m.update_state(np.array([1.0, 2.0]))
    assert m.result().dtype == "float64"

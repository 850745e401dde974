"""Every Keras 3 metric against real Keras's numbers (tests/fixtures/keras_metrics.npz, written
by tests/fixtures/make_metric_fixtures.py on the cases of tests/fixtures/_metric_cases.py):
result() after three batches (the last two weighted), after reset_state() and after one
more batch; get_config(); the state variables; the names `get` resolves; the functions."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest
import rskeras as keras

from tests.fixtures._metric_cases import CASES, FUNCTIONS, RTOL, batches

M = keras.metrics
FIXTURE = np.load(os.path.join(os.path.dirname(__file__), "..", "fixtures", "keras_metrics.npz"))
CONFIGS, VARIABLES, RECORDS = (json.loads(FIXTURE[k].tobytes().decode())
                               for k in ("configs", "variables", "records"))


def _run(metric, kind):
    data = batches(kind)
    results = []

    def update(y, p, w):
        if y is None:
            metric.update_state(p, sample_weight=w)
        else:
            metric.update_state(y, p, sample_weight=w)

    for y, p, w in data:
        update(y, p, w)
        results.append(np.asarray(metric.result(), np.float64))
    metric.reset_state()
    results.append(np.asarray(metric.result(), np.float64))
    update(*data[0])
    results.append(np.asarray(metric.result(), np.float64))
    return np.stack(results)


def test_every_case_has_keras_numbers():
    assert {k.split("/")[0] for k in FIXTURE.files if "/" in k and not k.startswith("fn/")} \
        == set(CASES) == set(CONFIGS) == set(VARIABLES) == set(RECORDS)


@pytest.mark.filterwarnings("ignore:You are passing weight", "ignore:More independent")
@pytest.mark.parametrize("key", sorted(CASES))
def test_results_match_keras(key):
    cls_name, kwargs, kind = CASES[key]
    metric = getattr(M, cls_name)(**kwargs)
    got = _run(metric, kind)
    want = FIXTURE[f"{key}/results"]
    assert got.shape == want.shape, (key, got.shape, want.shape)
    np.testing.assert_allclose(got, want, rtol=RTOL.get(key, 1e-6), atol=1e-7, err_msg=key)


def _keras_config(key):
    config = dict(CONFIGS[key])
    # Keras numbers default names of several instances ("auc_9"); rskeras does not.
    config["name"] = re.sub(r"_\d+$", "", config["name"])
    return config


@pytest.mark.parametrize("key", sorted(CASES))
def test_config_matches_keras_and_round_trips(key):
    cls_name, kwargs, _ = CASES[key]
    cls = getattr(M, cls_name)
    metric = cls(**kwargs)
    config = metric.get_config()
    assert {**config, "name": re.sub(r"_\d+$", "", config["name"])} == _keras_config(key)
    rebuilt = cls.from_config(config)
    assert type(rebuilt) is cls and rebuilt.get_config() == config
    record = M.serialize(metric)
    assert record["class_name"] == cls_name and record["module"] == "keras.metrics"
    assert M.deserialize(record).get_config() == config


@pytest.mark.filterwarnings("ignore:You are passing weight", "ignore:More independent")
@pytest.mark.parametrize("key", sorted(CASES))
def test_variables_match_keras(key):
    cls_name, kwargs, kind = CASES[key]
    metric = getattr(M, cls_name)(**kwargs)
    _run(metric, kind)
    got = [f"{v.name}:{tuple(v.shape)}" for v in metric.variables]
    assert got == VARIABLES[key]
    assert all(not v.trainable for v in metric.variables)


def test_get_resolves_every_name_keras_does():
    for entry in FIXTURE["get_names"]:
        name, cls_name = str(entry).split("=")
        assert M.ALL_OBJECTS_DICT[name].__name__ == cls_name, name
        if cls_name in ("Metric", "MeanMetricWrapper", "IoU", "MeanIoU", "OneHotIoU",
                        "OneHotMeanIoU", "PrecisionAtRecall", "RecallAtPrecision",
                        "SensitivityAtSpecificity", "SpecificityAtSensitivity"):
            continue  # need constructor arguments (Keras's get fails on them too)
        metric = M.get(name)
        assert type(metric).__name__ == cls_name
        assert metric.name == name  # as compile names a metric given by string
    assert len(M.ALL_OBJECTS_DICT) == len(FIXTURE["get_names"])


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_functions_match_keras(name):
    kwargs, kind = FUNCTIONS[name]
    y, p, _ = batches(kind)[0]
    got = np.asarray(getattr(M, name)(y, p, **kwargs), np.float64)
    np.testing.assert_allclose(got, FIXTURE[f"fn/{name}"], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("key", sorted(CASES))
def test_keras_records_deserialize_and_ours_match_them(key):
    """A record as a Keras `.keras` compile config holds it rebuilds the same metric here,
    and ours is the same record (but for label weights, written as a list, not a tensor)."""
    record = RECORDS[key]
    metric = M.deserialize(record)
    assert type(metric).__name__ == CASES[key][0]
    want = dict(record["config"])
    want["name"] = re.sub(r"_\d+$", "", want["name"])
    if isinstance(want.get("label_weights"), dict):
        want["label_weights"] = want["label_weights"]["config"]["value"]
    got = metric.get_config()
    got["name"] = want["name"]  # Keras's record carries its numbered default name
    assert got == want
    ours = M.serialize(getattr(M, CASES[key][0])(**CASES[key][1]))
    assert {k: v for k, v in ours.items() if k != "config"} == \
        {k: v for k, v in record.items() if k != "config"}
    assert ours["config"] == {**want, "name": ours["config"]["name"]}

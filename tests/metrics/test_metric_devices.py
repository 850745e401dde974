"""Every metric case of tests/fixtures/_metric_cases.py on the gpu device: the same numbers as
real Keras (to 1e-5: the device sums in another order), with the state kept on the device."""

from __future__ import annotations

import os

import numpy as np
import pytest
import rskeras as keras

from tests.fixtures._metric_cases import CASES, batches

FIXTURE = np.load(os.path.join(os.path.dirname(__file__), "..", "fixtures", "keras_metrics.npz"))


@pytest.mark.filterwarnings("ignore:You are passing weight", "ignore:More independent")
@pytest.mark.parametrize("key", sorted(CASES))
def test_metric_on_gpu_matches_keras(gpu, key):
    cls_name, kwargs, kind = CASES[key]
    with keras.device("gpu"):
        metric = getattr(keras.metrics, cls_name)(**kwargs)

        def on_gpu(a):
            return None if a is None else keras.ops.convert_to_tensor(a).to("gpu")

        def update(y, p, w):
            if y is None:
                metric.update_state(on_gpu(p), sample_weight=on_gpu(w))
            else:
                metric.update_state(on_gpu(y), on_gpu(p), sample_weight=on_gpu(w))

        data = batches(kind)
        results = []
        for y, p, w in data:
            update(y, p, w)
            results.append(np.asarray(metric.result(), np.float64))
        for value in metric._state.values():
            assert not hasattr(value, "device") or value.device == "gpu", key
        metric.reset_state()
        results.append(np.asarray(metric.result(), np.float64))
        update(*data[0])
        results.append(np.asarray(metric.result(), np.float64))
    np.testing.assert_allclose(np.stack(results), FIXTURE[f"{key}/results"], rtol=1e-5,
                               atol=1e-6, err_msg=key)

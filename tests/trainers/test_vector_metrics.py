"""Metrics whose result is a vector (F1Score(average=None), Precision with several
thresholds) through fit's progress bar, History, CSVLogger and evaluate, as Keras logs them:
NumPy arrays in the logs, their mean on the progress bar."""

from __future__ import annotations

import numpy as np

import rskeras as keras


def test_vector_metric_results_in_logs_bar_and_csv(tmp_path, capsys):
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    y = np.eye(3, dtype="float32")[np.arange(32) % 3]
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile("adam", "categorical_crossentropy",
                  metrics=[keras.metrics.F1Score(),
                           # Named: an earlier test's Precision would make it "precision_1".
                           keras.metrics.Precision(thresholds=[0.3, 0.6], name="precision")])
    csv = tmp_path / "log.csv"
    history = model.fit(x, y, epochs=2, verbose=2, validation_data=(x, y),
                        callbacks=[keras.callbacks.CSVLogger(str(csv))])
    assert history.history["f1_score"][0].shape == (3,)
    assert history.history["val_precision"][1].shape == (2,)
    f1 = history.history["f1_score"][-1]
    assert f"f1_score: {float(np.mean(f1)):.4f}" in capsys.readouterr().out
    rows = csv.read_text().splitlines()
    assert len(rows) == 3 and "f1_score" in rows[0]
    got = model.evaluate(x, y, verbose=0, return_dict=True)
    assert isinstance(got["f1_score"], np.ndarray) and got["f1_score"].shape == (3,)
    assert isinstance(got["loss"], float)

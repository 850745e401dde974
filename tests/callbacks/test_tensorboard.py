"""`keras.callbacks.TensorBoard` against Keras 3's layout (keras/src/callbacks/tensorboard.py):
the event files of real fits read back with TensorBoard's own reader (EventAccumulator), and
their tags, steps and values checked: epoch scalars under train/ and validation/, the learning
rate, batch scalars per `update_freq`, evaluation scalars per optimizer iteration, weight
histograms and images, and the model's graph and summary text."""

from __future__ import annotations

import glob
import json
import os
import sys

import numpy as np
import pytest
import rskeras as keras

from tests.callbacks._helpers import make_data, make_model
from tests.conftest import require_extra

INSTALL = "pip install rskeras[tensorboard]"


@pytest.fixture(autouse=True)
def extras():
    require_extra("tensorboardX", INSTALL)
    require_extra("tensorboard", INSTALL)


def read(run_dir):
    """TensorBoard's view of the event files in `run_dir`."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "histograms": 0, "tensors": 0,
                                                        "images": 0})
    acc.Reload()
    return acc


def scalars(acc, tag):
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def fit(tmp_path, epochs=3, validation=True, n=48, batch_size=16, extra=(), **tb_args):
    x, y = make_data(n)
    vx, vy = make_data(16, seed=6)
    model = make_model()
    tb = keras.callbacks.TensorBoard(log_dir=tmp_path / "logs", **tb_args)
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0,
                        validation_data=(vx, vy) if validation else None, callbacks=[*extra, tb])
    return model, history, tb


def test_epoch_scalars_train_and_validation(tmp_path):
    model, history, _ = fit(tmp_path)
    assert sorted(os.listdir(tmp_path / "logs")) == ["train", "validation"]
    train, val = read(tmp_path / "logs" / "train"), read(tmp_path / "logs" / "validation")
    h = history.history
    for name in ("loss", "accuracy"):
        assert scalars(train, f"epoch_{name}") == [(e, pytest.approx(v, rel=1e-6)) for e, v in enumerate(h[name])]
        assert scalars(val, f"epoch_{name}") == [(e, pytest.approx(v, rel=1e-6))
                                                 for e, v in enumerate(h[f"val_{name}"])]
    assert scalars(train, "epoch_learning_rate") == [(e, pytest.approx(0.1)) for e in range(3)]
    # no batch logs with update_freq="epoch"
    assert not [t for t in train.Tags()["scalars"] if t.startswith("batch_")]
    # after each validation: evaluation_<name>_vs_iterations at the optimizer's iterations (3 per epoch)
    assert scalars(val, "evaluation_loss_vs_iterations") == [
        (3 * (e + 1), pytest.approx(v, rel=1e-6)) for e, v in enumerate(h["val_loss"])]
    assert sorted(val.Tags()["scalars"]) == ["epoch_accuracy", "epoch_loss", "evaluation_accuracy_vs_iterations",
                                             "evaluation_loss_vs_iterations"]


def test_scheduled_learning_rate(tmp_path):
    sched = keras.callbacks.LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1))
    fit(tmp_path, validation=False, extra=[sched])
    train = read(tmp_path / "logs" / "train")
    assert scalars(train, "epoch_learning_rate") == [(0, pytest.approx(0.1)), (1, pytest.approx(0.05)),
                                                     (2, pytest.approx(0.1 / 3))]
    assert not os.path.exists(tmp_path / "logs" / "validation")


class BatchLogs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.logs = []

    def on_train_batch_end(self, batch, logs=None):
        self.logs.append(dict(logs))


def test_batch_scalars_every_batch(tmp_path):
    spy = BatchLogs()
    fit(tmp_path, update_freq="batch", extra=[spy])
    train = read(tmp_path / "logs" / "train")
    # the global batch number, 1-based across epochs: 3 batches per epoch
    assert scalars(train, "batch_loss") == [(i + 1, pytest.approx(logs["loss"], rel=1e-6))
                                            for i, logs in enumerate(spy.logs)]
    assert [s for s, _ in scalars(train, "batch_accuracy")] == list(range(1, 10))
    assert [s for s, _ in scalars(train, "epoch_loss")] == [0, 1, 2]


def test_batch_scalars_every_n(tmp_path):
    fit(tmp_path, update_freq=2, validation=False)
    train = read(tmp_path / "logs" / "train")
    assert [s for s, _ in scalars(train, "batch_loss")] == [2, 4, 6, 8]


def test_steps_per_second(tmp_path):
    fit(tmp_path, update_freq="batch", write_steps_per_second=True, validation=False)
    train = read(tmp_path / "logs" / "train")
    assert [s for s, _ in scalars(train, "epoch_steps_per_second")] == [0, 1, 2]
    assert [s for s, _ in scalars(train, "batch_steps_per_second")] == list(range(1, 10))
    assert all(v > 0 for _, v in scalars(train, "epoch_steps_per_second"))


def test_weight_histograms_and_images(tmp_path):
    model, _, _ = fit(tmp_path, epochs=4, histogram_freq=2, write_images=True, validation=False)
    train = read(tmp_path / "logs" / "train")
    paths = [w.path for layer in model.layers for w in layer.weights]
    names = [layer.name for layer in model.layers]
    assert paths == [f"{model.name}/{names[0]}/kernel", f"{model.name}/{names[0]}/bias",
                     f"{model.name}/{names[1]}/kernel", f"{model.name}/{names[1]}/bias"]
    assert sorted(train.Tags()["histograms"]) == sorted(f"{p}/histogram" for p in paths)
    final = dict(zip(paths, model.get_weights()))
    for path in paths:
        events = train.Histograms(f"{path}/histogram")
        assert [e.step for e in events] == [0, 2]  # every histogram_freq epochs
        assert events[-1].histogram_value.num == final[path].size
    assert sorted(train.Tags()["images"]) == sorted(f"{p}/image" for p in paths)
    kernel_image = train.Images(f"{paths[0]}/image")[0]
    assert (kernel_image.width, kernel_image.height) == (8, 6)  # the (6, 8) kernel, wider than tall


def test_histogram_values_are_the_weights(tmp_path):
    model, _, _ = fit(tmp_path, epochs=1, histogram_freq=1, validation=False)
    train = read(tmp_path / "logs" / "train")
    for layer in model.layers:
        for w in layer.weights:
            hist = train.Histograms(f"{w.path}/histogram")[0].histogram_value
            values = np.asarray(w, dtype=np.float64)
            assert (hist.min, hist.max, hist.num) == (pytest.approx(values.min()), pytest.approx(values.max()),
                                                      values.size)
            assert hist.sum == pytest.approx(values.sum(), rel=1e-5, abs=1e-6)


def test_graph_as_keras_config_and_summary_text(tmp_path):
    model, _, _ = fit(tmp_path, epochs=1, validation=False)
    train = read(tmp_path / "logs" / "train")
    assert sorted(train.Tags()["tensors"]) == ["keras", "model_summary"]
    (graph,) = train.Tensors("keras")
    assert graph.step == 0
    config = json.loads(graph.tensor_proto.string_val[0])
    assert config["class_name"] == "Sequential" and config == json.loads(model.to_json())
    assert train.summary_metadata["keras"].plugin_data.plugin_name == "graph_keras_model"
    (text,) = train.Tensors("model_summary")
    assert train.summary_metadata["model_summary"].plugin_data.plugin_name == "text"
    text = text.tensor_proto.string_val[0].decode()
    assert f'Model: "{model.name}"' in text and "Total params: 83" in text  # 6*8+8 + 8*3+3


def test_write_graph_false(tmp_path):
    fit(tmp_path, epochs=1, validation=False, write_graph=False)
    assert read(tmp_path / "logs" / "train").Tags()["tensors"] == []


def test_evaluate_writes_evaluation_scalars(tmp_path):
    x, y = make_data()
    model = make_model()
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    tb = keras.callbacks.TensorBoard(log_dir=tmp_path / "logs", write_graph=False)
    loss = model.evaluate(x, y, batch_size=16, verbose=0, callbacks=[tb], return_dict=True)["loss"]
    tb._close_writers()
    val = read(tmp_path / "logs" / "validation")
    assert scalars(val, "evaluation_loss_vs_iterations") == [(6, pytest.approx(loss, rel=1e-6))]


def test_event_files_one_per_run_directory(tmp_path):
    fit(tmp_path, epochs=1)
    assert len(glob.glob(str(tmp_path / "logs" / "train" / "events.out.tfevents.*"))) == 1
    assert len(glob.glob(str(tmp_path / "logs" / "validation" / "events.out.tfevents.*"))) == 1


def test_argument_checks(tmp_path):
    tb = keras.callbacks.TensorBoard()
    assert (tb.log_dir, tb.histogram_freq, tb.write_graph, tb.write_images, tb.write_steps_per_second,
            tb.update_freq) == ("logs", 0, True, False, False, "epoch")
    assert keras.callbacks.TensorBoard(update_freq="batch").update_freq == 1
    for bad in (0, -1, "often", 1.5):
        with pytest.raises(ValueError, match="update_freq"):
            keras.callbacks.TensorBoard(update_freq=bad)
    for bad in (-1, (5, 2), (1, 2, 3), "x"):
        with pytest.raises(ValueError, match="profile_batch must be a non-negative integer"):
            keras.callbacks.TensorBoard(profile_batch=bad)
    # profiling is accepted and documented as a no-op
    for accepted in (2, (2, 4), "2,4"):
        with pytest.warns(UserWarning, match="profile_batch=.* is ignored"):
            keras.callbacks.TensorBoard(profile_batch=accepted)


def test_no_event_file_until_written(tmp_path):
    keras.callbacks.TensorBoard(log_dir=tmp_path / "logs")
    assert not os.path.exists(tmp_path / "logs")


def test_missing_tensorboardx_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match=r"pip install rskeras\[tensorboard\]"):
        keras.callbacks.TensorBoard()

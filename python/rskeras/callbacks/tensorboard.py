"""`TensorBoard`: event files for TensorBoard, written with tensorboardX (an optional extra:
`pip install rskeras[tensorboard]`). Nothing here is imported until a `TensorBoard` is made,
so `import rskeras` never loads tensorboardX."""

from __future__ import annotations

import numbers
import os
import time
import warnings

from rskeras.backend.lazy_numpy import np

from rskeras.callbacks._lr import lr_value
from rskeras.callbacks.callback import Callback

_INSTALL = "pip install rskeras[tensorboard]"


def _import_tensorboardx():
    try:
        import tensorboardX
    except ImportError as e:
        raise ImportError("keras.callbacks.TensorBoard writes its event files with tensorboardX, "
                          f"which is not installed: {_INSTALL}") from e
    return tensorboardX


def _profile_range(profile_batch) -> tuple[int, int]:
    """Keras's checks of `profile_batch`: an int >= 0, a pair `(start, stop)` of ints with
    0 <= start <= stop, or the string "start,stop" / "start"."""
    message = ("profile_batch must be a non-negative integer or 2-tuple of positive integers. A "
               "pair of positive integers signifies a range of batches to profile. "
               f"Found: {profile_batch}")
    if isinstance(profile_batch, str):
        try:
            profile_batch = [int(p) for p in profile_batch.split(",")]
        except ValueError:
            raise ValueError(message) from None
        if len(profile_batch) == 1:
            profile_batch = profile_batch[0]
    if isinstance(profile_batch, int) and not isinstance(profile_batch, bool):
        start = stop = profile_batch
    elif isinstance(profile_batch, (tuple, list)) and len(profile_batch) == 2:
        start, stop = profile_batch
    else:
        raise ValueError(message)
    if start < 0 or stop < start:
        raise ValueError(message)
    return start, stop


class TensorBoard(Callback):
    """Write logs for TensorBoard (Keras 3's `keras.callbacks.TensorBoard`, the same tags,
    steps and directories), through tensorboardX.

    Layout, under `log_dir`: `train/` and `validation/`, one event file each per run.

    - Epoch scalars, at step `epoch`: `epoch_<name>` in `train/` for every training log plus
      `epoch_learning_rate` (the optimizer's rate; `epoch_learning_rate_<name>` per inner
      optimizer) and, with `write_steps_per_second`, `epoch_steps_per_second`; the
      validation logs in `validation/` as `epoch_<name>` (the `val_` prefix removed).
    - Batch scalars (when `update_freq` is not "epoch"): `batch_<name>` in `train/` at the
      global batch number (1-based, counted across epochs), every `update_freq` batches,
      and `batch_steps_per_second` with `write_steps_per_second`.
    - After every evaluation (validation inside `fit`, or `evaluate` given this callback):
      `evaluation_<name>_vs_iterations` in `validation/` at step `optimizer.iterations`.
    - Every `histogram_freq` epochs: a histogram `<weight.path>/histogram` of each weight of
      each layer in `train/` at step `epoch`, and with `write_images` an image
      `<weight.path>/image` (Keras's layout: a bias as a row, a kernel as a matrix, a 3-D
      kernel as one image per output channel; up to 3 images, side by side in one grid).
    - With `write_graph` (default): the model's JSON config as Keras writes it (tag `keras`,
      plugin `graph_keras_model`, step 0; Sequential and Functional models), which
      TensorBoard's Graphs tab draws as the Keras conceptual graph, and the text of
      `model.summary()` as a text summary `model_summary`. There is no op-level graph.

    Args:
        log_dir: the directory for the event files (default "logs").
        histogram_freq: epochs between weight histograms; 0 (default) writes none.
        write_graph: write the model's config and summary (default True).
        write_images: with `histogram_freq`, also write the weights as images (default False).
        write_steps_per_second: log training steps per second, per epoch and (with batch
            logging) per batch (default False).
        update_freq: "epoch" (default), "batch" (= 1), or an int N: write the batch logs
            every N batches.
        profile_batch: checked as Keras checks it, then ignored: this backend has no
            profiler (a nonzero value warns). Default 0.
        embeddings_freq: epochs between saves of the weights for TensorBoard's projector
            (`train/keras_embedding.ckpt-<epoch>.weights.h5`, needs h5py), with a
            `projector_config.pbtxt` naming each Embedding layer; 0 (default) disables it.
        embeddings_metadata: a metadata file for every Embedding layer, or a dict
            `{layer name: file}`.

    Raises:
        ImportError: when tensorboardX is not installed (naming `pip install
            rskeras[tensorboard]`).
        ValueError: for a bad `update_freq` or `profile_batch`, or `embeddings_metadata`
            naming a layer that is not an Embedding layer of the model.
    """

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0,
                 embeddings_freq=0, embeddings_metadata=None):
        super().__init__()
        self._tbx = _import_tensorboardx()
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        update_freq = 1 if update_freq == "batch" else update_freq
        if update_freq != "epoch" and (not isinstance(update_freq, numbers.Integral)
                                       or isinstance(update_freq, bool) or update_freq < 1):
            raise ValueError(f"TensorBoard: update_freq must be 'epoch', 'batch' or an int >= 1, "
                             f"got {update_freq!r}")
        self.update_freq = update_freq if update_freq == "epoch" else int(update_freq)
        self._start_batch, self._stop_batch = _profile_range(profile_batch)
        if self._stop_batch > 0:
            warnings.warn(f"TensorBoard: profile_batch={profile_batch!r} is ignored: profiling is not "
                          "available with rskeras", stacklevel=2)
        self.embeddings_freq = embeddings_freq
        self.embeddings_metadata = embeddings_metadata
        self._global_train_batch = 0
        self._global_test_batch = 0
        self._previous_epoch_iterations = 0
        self._epoch_start_time = 0.0
        self._batch_start_time = 0.0
        self._writers = {}
        self._train_dir = os.path.join(self.log_dir, "train")
        self._val_dir = os.path.join(self.log_dir, "validation")

    # ----------------------------------------------------------------------------------------
    # Writers, made when first written to (no empty event files).
    def _writer(self, which):
        if which not in self._writers:
            logdir = self._train_dir if which == "train" else self._val_dir
            self._writers[which] = self._tbx.SummaryWriter(logdir=logdir)
        return self._writers[which]

    @property
    def _train_writer(self):
        return self._writer("train")

    @property
    def _val_writer(self):
        return self._writer("val")

    def _close_writers(self):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    @property
    def _needs_batch_logs(self) -> bool:
        return self.update_freq != "epoch"

    # ----------------------------------------------------------------------------------------
    def set_model(self, model):
        """Set the model, start new event files, and write the model's graph summaries."""
        super().set_model(model)
        self._close_writers()
        if self.write_graph:
            self._write_keras_model_summary()
        if self.embeddings_freq:
            self._configure_embeddings()

    def _write_keras_model_summary(self):
        from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata
        from tensorboardX.proto.tensor_pb2 import TensorProto
        from tensorboardX.proto.tensor_shape_pb2 import TensorShapeProto

        model = self.model
        file_writer = self._train_writer._get_file_writer()
        if type(model).__name__ in ("Functional", "Sequential"):
            try:
                json_string = model.to_json()
            except Exception as exc:  # a model that cannot be serialized must not stop training
                warnings.warn(f"Model failed to serialize as JSON. Ignoring... {exc}", stacklevel=3)
            else:
                metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(
                    plugin_name="graph_keras_model", content=b"1"))
                tensor = TensorProto(dtype="DT_STRING", string_val=[json_string.encode("utf-8")],
                                     tensor_shape=TensorShapeProto())
                file_writer.add_summary(Summary(value=[Summary.Value(tag="keras", metadata=metadata,
                                                                     tensor=tensor)]), 0)
        lines = []
        try:
            model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
        except Exception:  # an unbuilt model has no summary yet
            lines = []
        if lines:
            # Indented: a Markdown code block, so TensorBoard keeps the table's layout.
            text = "\n".join("    " + line for line in "\n".join(lines).split("\n"))
            summary = self._tbx.summary.text("model_summary", text)
            summary.value[0].tag = "model_summary"
            file_writer.add_summary(summary, 0)
        self._train_writer.flush()

    def _configure_embeddings(self):
        metadata = self.embeddings_metadata
        if isinstance(metadata, dict):
            metadata = dict(metadata)
        entries = []
        for layer in getattr(self.model, "layers", []):
            if type(layer).__name__ != "Embedding":
                continue
            entry = '  tensor_name: "layer_with_weights-0/embeddings/.ATTRIBUTES/VARIABLE_VALUE"\n'
            path = metadata if isinstance(metadata, str) else (metadata or {}).pop(layer.name, None)
            if path is not None:
                entry += f"  metadata_path: {_quote(path)}\n"
            entries.append("embeddings {\n" + entry + "}\n")
        if metadata and not isinstance(metadata, str):
            raise ValueError("Unrecognized `Embedding` layer names passed to `keras.callbacks.TensorBoard` "
                             f"`embeddings_metadata` argument: {metadata.keys()}")
        os.makedirs(self.log_dir, exist_ok=True)
        with open(os.path.join(self.log_dir, "projector_config.pbtxt"), "w") as f:
            f.write("".join(entries))

    # ----------------------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._global_train_batch = 0
        self._previous_epoch_iterations = 0

    def on_train_end(self, logs=None):
        self._close_writers()

    def on_test_end(self, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and hasattr(optimizer, "iterations") and logs:
            step = int(np.asarray(optimizer.iterations))
            writer = self._val_writer
            for name, value in logs.items():
                if _is_scalar(value):
                    writer.add_scalar(f"evaluation_{name}_vs_iterations", float(value), step)
            writer.flush()

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        if self.write_steps_per_second:
            self._batch_start_time = time.time()

    def on_train_batch_end(self, batch, logs=None):
        # Keras writes batch summaries only under a writer pushed for `update_freq`.
        if self.update_freq == "epoch" or self._global_train_batch % self.update_freq != 0:
            return
        step, writer = self._global_train_batch, self._train_writer
        if self.write_steps_per_second:
            elapsed = time.time() - self._batch_start_time
            writer.add_scalar("batch_steps_per_second", 1.0 / elapsed if elapsed > 0 else float("inf"), step)
        if isinstance(logs, dict):
            for name, value in logs.items():
                if _is_scalar(value):
                    writer.add_scalar(f"batch_{name}", float(value), step)

    def on_test_batch_begin(self, batch, logs=None):
        self._global_test_batch += 1

    def on_epoch_begin(self, epoch, logs=None):
        if self.write_steps_per_second:
            self._previous_epoch_iterations = float(np.asarray(self.model.optimizer.iterations))
            self._epoch_start_time = time.time()

    def on_epoch_end(self, epoch, logs=None):
        self._log_epoch_metrics(epoch, logs)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)
        if self.embeddings_freq and epoch % self.embeddings_freq == 0:
            self.model.save_weights(os.path.join(self.log_dir, "train",
                                                 f"keras_embedding.ckpt-{epoch}.weights.h5"))

    # ----------------------------------------------------------------------------------------
    def _collect_learning_rate(self, logs):
        optimizer = getattr(self.model, "optimizer", None)
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)
        if hasattr(optimizer, "optimizers"):
            for opt in optimizer.optimizers:
                logs[f"learning_rate_{opt.name}"] = lr_value(opt)
        elif optimizer is not None and hasattr(optimizer, "learning_rate"):
            logs["learning_rate"] = lr_value(optimizer)
        return logs

    def _compute_steps_per_second(self) -> float:
        iterations = float(np.asarray(self.model.optimizer.iterations))
        elapsed = time.time() - self._epoch_start_time
        return (iterations - self._previous_epoch_iterations) / elapsed if elapsed > 0 else float("inf")

    def _log_epoch_metrics(self, epoch, logs):
        if not logs:
            return
        train_logs = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val_logs = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        train_logs = self._collect_learning_rate(train_logs)
        if self.write_steps_per_second:
            train_logs["steps_per_second"] = self._compute_steps_per_second()
        for which, group in (("train", train_logs), ("val", val_logs)):
            if group:
                writer = self._writer(which)
                for name, value in group.items():
                    if _is_scalar(value):
                        writer.add_scalar(f"epoch_{name}", float(value), epoch)
                writer.flush()

    def _log_weights(self, epoch):
        writer = self._train_writer
        for layer in self.model.layers:
            for weight in layer.weights:
                name = weight.path.replace(":", "_")
                values = np.asarray(weight)
                writer.add_histogram(f"{name}/histogram", values, epoch)
                if self.write_images:
                    self._log_weight_as_image(values, f"{name}/image", epoch)
        writer.flush()

    def _log_weight_as_image(self, w, name, epoch):
        from rskeras.backend import config

        w = np.squeeze(w)
        if w.ndim == 1:  # a bias: one row
            w = w.reshape(1, w.shape[0], 1, 1)
        elif w.ndim == 2:  # a dense kernel, wider than tall
            if w.shape[0] > w.shape[1]:
                w = w.T
            w = w.reshape(1, w.shape[0], w.shape[1], 1)
        elif w.ndim == 3:  # a 1-D conv kernel: one image per output channel
            if config.image_data_format() == "channels_last":
                w = np.transpose(w, (2, 0, 1))
            w = w.reshape(w.shape[0], w.shape[1], w.shape[2], 1)
        if w.ndim == 4 and w.shape[-1] in (1, 3, 4):
            # tf.summary.image's defaults: 3 images at most, floats taken in [0, 1].
            self._train_writer.add_images(name, np.clip(w[:3], 0.0, 1.0).astype("float32"), epoch,
                                          dataformats="NHWC")


def _is_scalar(value) -> bool:
    try:
        return np.size(value) == 1 and np.asarray(value).dtype.kind in "biuf"
    except Exception:
        return False


def _quote(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'

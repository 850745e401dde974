"""`compile`, `fit`, `evaluate` and `predict`: the Keras 3 training loop.

`fit` runs `train_step` on each batch; a subclassed model may override `train_step` /
`test_step` / `predict_step`, written with `rskeras.GradientTape`."""

from __future__ import annotations

import contextlib

from rskeras import _core
from rskeras import losses as losses_module
from rskeras import optimizers as optimizers_module
from rskeras.backend.keras_tensor import flatten, map_structure, pack_sequence_as
from rskeras.callbacks.callback import CallbackList
from rskeras.losses.labels import known_labels
from rskeras.metrics.metric import Mean
from rskeras.trainers import data_adapter
from rskeras.trainers.compile_utils import (  # noqa: F401
    CompileLoss,
    CompileMetrics,
    _resolve_accuracy,
)
from rskeras.utils import locks
from rskeras.utils.python_utils import pythonify_logs

_NO_LOCK = contextlib.nullcontext()


def _to_tensors(data):
    """An array (or a list/dict of arrays) as tensors; tensors and None stay as they are."""
    if data is None or isinstance(data, _core.Tensor):
        return data
    if data_adapter._is_array_struct(data):
        return map_structure(lambda a: a if a is None or isinstance(a, _core.Tensor)
                             else _core.convert_to_tensor(a), data)
    return _core.convert_to_tensor(data)


class Trainer:
    """The training API mixed into `Model`.

    Threads: a model may be used from several Python threads at once (`predict` in one while
    another runs `fit`). Its re-entrant lock (`_step_lock`, shared with its optimizer) is
    held around each optimizer update and each predict/evaluate batch, so such a batch sees
    the weights of a whole number of steps, never half of one. The forward and backward
    passes of training steps run outside it (concurrent `fit` calls interleave their steps,
    as on TensorFlow)."""

    @property
    def _step_lock(self):
        """The model's re-entrant lock (see the class docstring)."""
        return locks.object_lock(self)

    def __getstate__(self):
        return locks.state_without_lock(self)

    def _init_trainer(self):
        self.compiled = False
        self.optimizer = None
        self.loss = None
        self.stop_training = False
        self.history = None
        self._metric_specs = []
        self._compiled_metrics = None
        self._compile_loss = None
        self._compile_metrics = None
        self._loss_tracker = Mean(name="loss")

    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        """Configure training.

        Args:
            optimizer: name ("adam", "sgd", "rmsprop") or Optimizer (default "rmsprop").
            loss: name ("sparse_categorical_crossentropy", "mse", ...), Loss or callable. For
                a model with several outputs: one loss for all, a list (one per output, None
                for none) or a dict keyed by output name; the total is the weighted sum and
                each output's loss is logged as "<output name>_loss".
            loss_weights: for several outputs, a list or dict of floats (default 1.0 each);
                for one output, a float.
            metrics: list of names ("accuracy", "mae", ...), Metric objects or callables.
                "accuracy"/"acc" resolve to binary, categorical or sparse categorical accuracy
                from the loss and the shapes, as in Keras. For several outputs: a list with
                one entry (a metric or list of metrics) per output, or a dict keyed by output
                name; logged as "<output name>_<metric>".

        Raises:
            ValueError: for unknown names, mismatched per-output lists/dicts (on the first
                batch), or `weighted_metrics` (not supported yet).
        """
        if weighted_metrics is not None:
            raise ValueError("compile: weighted_metrics is not supported yet")
        self.optimizer = optimizers_module.get(optimizer)
        locks.share_lock(self, self.optimizer)
        if isinstance(loss, (list, tuple, dict)):
            for item in flatten(loss):
                losses_module.get(item)  # fail early on unknown names
            self.loss = loss
        else:
            self.loss = losses_module.get(loss)
        self._compile_loss = CompileLoss(self.loss, loss_weights) if loss is not None else None
        self._metric_specs = metrics if isinstance(metrics, dict) else list(metrics or [])
        self._compile_metrics = CompileMetrics(self._metric_specs)
        self._compiled_metrics = None
        self._loss_tracker = Mean(name="loss")
        self.compiled = True
        # The arguments as given, for `get_compile_config` (saved files re-compile from it).
        self._compile_args = {"loss": loss, "loss_weights": loss_weights, "metrics": metrics,
                              "weighted_metrics": weighted_metrics, "run_eagerly": run_eagerly,
                              "steps_per_execution": steps_per_execution,
                              "jit_compile": jit_compile}

    def get_compile_config(self):
        """The `compile()` arguments in Keras 3's serialized form (`optimizer` as a record of
        the current optimizer, with its current learning rate), or None before `compile`."""
        if not self.compiled:
            return None
        from rskeras.saving.serialization_lib import serialize_keras_object

        config = {"optimizer": serialize_keras_object(self.optimizer)}
        config.update({k: serialize_keras_object(v) for k, v in self._compile_args.items()})
        return config

    def compile_from_config(self, config) -> None:
        """`compile()` from `get_compile_config()`'s dict (or a Keras file's
        `compile_config`/`training_config`); the optimizer is built for the trainable
        variables when the model is built, so that saved optimizer state can be loaded.

        Raises:
            ValueError: for an unknown optimizer, loss or metric.
        """
        from rskeras.saving.serialization_lib import deserialize_keras_object

        config = dict(config or {})
        optimizer = config.pop("optimizer", config.pop("optimizer_config", "rmsprop"))
        optimizer = deserialize_keras_object(optimizer) if isinstance(optimizer, dict) \
            else optimizer
        args = {k: deserialize_keras_object(config[k])
                for k in ("loss", "loss_weights", "metrics") if k in config}
        for key in ("run_eagerly", "steps_per_execution", "jit_compile"):
            if key in config:
                args[key] = config[key]
        if config.get("weighted_metrics"):
            import warnings

            warnings.warn("compile_from_config: weighted_metrics are not supported yet; the "
                          "model is compiled without them", stacklevel=2)
        self.compile(optimizer=optimizer, **args)
        if self.built and self.trainable_variables:
            self.optimizer.build(self.trainable_variables)

    # ----------------------------------------------------------------------------------------
    @property
    def metrics(self) -> list:
        """The loss tracker, the per-output loss trackers (several outputs), then the compiled
        metrics (once built by a first batch)."""
        out = [self._loss_tracker]
        if self._compile_loss is not None:
            out.extend(self._compile_loss.trackers)
        return out + list(self._compiled_metrics or [])

    @property
    def metrics_names(self) -> list:
        return [m.name for m in self.metrics]

    def _build_metrics(self, y, y_pred):
        if self._compile_metrics is None:
            self._compile_metrics = CompileMetrics(self._metric_specs)
        if not self._compile_metrics.built:
            self._compile_metrics.build(self, y, y_pred)
        self._compiled_metrics = self._compile_metrics.metrics

    def reset_metrics(self):
        for m in self.metrics:
            m.reset_state()

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss of `(y, y_pred)` plus the layers' added losses (regularizers).
        Updates the loss tracker. Returns a scalar tensor.

        Raises:
            ValueError: when the model was compiled without a loss.
        """
        if self.loss is None or self._compile_loss is None:
            raise ValueError("No loss to compute: pass `loss=` to compile() or override compute_loss")
        if not self._compile_loss.built:
            with self._step_lock:  # two threads' first batches must not build twice
                if not self._compile_loss.built:
                    self._compile_loss.build(self, y_pred)
        loss = self._compile_loss(self, y, y_pred, sample_weight)
        extra = self.losses
        for term in extra:
            loss = loss + term
        first = flatten(y_pred)[0]
        batch = first.shape[0] if first.ndim else 1
        self._loss_tracker.update_state(loss, sample_weight=batch)
        return loss

    def compute_metrics(self, x, y, y_pred, sample_weight=None) -> dict:
        """Update the compiled metrics with this batch and return all current results as
        `{name: scalar tensor}` (nothing is read back from the device here: `fit` turns the
        logs into floats only for a callback that reads them)."""
        if self._compiled_metrics is None:
            with self._step_lock:  # two threads' first batches must not build twice
                if self._compiled_metrics is None:
                    self._build_metrics(y, y_pred)
        self._compile_metrics.update_state(self, y, y_pred, sample_weight)
        return self._metrics_result_tensors()

    def _get_metrics_result_or_logs(self, logs) -> dict:
        """The metrics' results, or, when a custom `train_step`/`test_step` returned other keys,
        the logs of its last call (values as floats where they are scalars), as Keras 3 does."""
        results = self._metrics_result_tensors()
        if isinstance(logs, dict) and set(logs) != set(results):
            results = logs
        out = pythonify_logs(results)
        for key, value in out.items():
            try:
                out[key] = float(value)
            except (TypeError, ValueError):
                pass
        return out

    def _metrics_result_tensors(self) -> dict:
        """`{name: scalar tensor}` for every metric, names sorted as Keras's logs list them."""
        return {m.name: m.result() for m in sorted(self.metrics, key=lambda m: m.name)}

    def get_metrics_result(self) -> dict:
        """`{name: float}` for every metric, names sorted as Keras's logs list them (one
        read-back from the GPU for all of them)."""
        return pythonify_logs(self._metrics_result_tensors())

    # ----------------------------------------------------------------------------------------
    def train_step(self, data) -> dict:
        """One optimisation step on a batch `(x, y[, sample_weight])`; returns the logs.

        `fit` calls this once per batch (`x`, `y` as tensors, or lists/dicts of tensors for
        several inputs/outputs). Override it in a subclass for a custom loop: run the forward
        pass under `rskeras.GradientTape`, take `tape.gradient(loss, self.trainable_variables)`,
        call `self.optimizer.apply(grads, self.trainable_variables)`, and return a dict of
        logs (values as floats or scalar tensors). When the keys match `self.metrics`, `fit`
        reports the metrics' epoch results; otherwise it reports the last returned logs."""
        x, y, sample_weight = data_adapter.unpack_x_y_sample_weight(data)
        # A first call may create the weights (the model's, or its sublayers' after the model
        # is marked built): never in two threads at once.
        first = not self.__dict__.get("_rskeras_stepped")
        with self._step_lock if first else _NO_LOCK:
            with _core.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)
            if first:
                object.__setattr__(self, "_rskeras_stepped", True)
        self._clear_losses()
        # Read after the forward pass: a model's first call may create its weights.
        variables = self.trainable_variables
        grads = tape.gradient(loss, variables)
        self.optimizer.apply(grads, variables)  # under the model's lock (shared with it)
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def test_step(self, data) -> dict:
        """Loss and metrics on a batch without updating weights."""
        x, y, sample_weight = data_adapter.unpack_x_y_sample_weight(data)
        y_pred = self(x, training=False)
        self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=False)
        self._clear_losses()
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def predict_step(self, data):
        x, _, _ = data_adapter.unpack_x_y_sample_weight(data)
        return self(x, training=False)

    # ----------------------------------------------------------------------------------------
    def _assert_compiled(self, what):
        if not self.compiled:
            raise ValueError(f"You must call `compile()` before using the model ({what}).")

    def _sample_weights(self, y, sample_weight, class_weight):
        import numpy as np
        if class_weight is None:
            return sample_weight
        if sample_weight is not None:
            raise ValueError("fit: pass either class_weight or sample_weight, not both")
        labels = np.asarray(y)
        if labels.ndim > 1 and labels.shape[-1] > 1:
            labels = labels.argmax(axis=-1)
        labels = labels.reshape(len(labels), -1)[:, 0].astype(int)
        missing = set(np.unique(labels)) - set(class_weight)
        if missing:
            raise ValueError(f"class_weight has no entry for classes {sorted(missing)}")
        return np.array([class_weight[c] for c in labels], dtype="float32")

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Train for `epochs` epochs on `x` `(samples, ...)` and `y`.

        Args:
            x: an array, or a list/dict of arrays for a model with several inputs (a dict is
                matched to the `Input` names).
            y: an array, or a list/dict of arrays for a model with several outputs (a dict is
                matched to `model.output_names`).
            batch_size: samples per step (default 32).
            verbose: "auto" (= 1, a progress bar), 0 (silent), 1, or 2 (one line per epoch).
            validation_split: fraction of the data, taken from the end *before* shuffling,
                held out for validation. `validation_data=(x_val, y_val)` overrides it.
            shuffle: reshuffle the training samples every epoch (default True).
            class_weight: `{class: weight}` to weight the loss per sample by its label.

        Returns:
            A `History` whose `.history` maps "loss", metric names and their "val_" forms to
            per-epoch values.

        Raises:
            ValueError: before `compile()`. ValueError: on mismatched sample counts or bad
                arguments.
        """
        self._assert_compiled("fit")
        if steps_per_epoch is not None or validation_steps is not None:
            raise ValueError("fit: steps_per_epoch / validation_steps need dataset inputs (not supported yet)")
        batch_size = data_adapter.batch_size_arg(batch_size, "fit")
        if not hasattr(epochs, "__index__") or isinstance(epochs, bool) or epochs < 0:
            raise ValueError(f"fit: `epochs` must be an int >= 0, got {epochs!r}")
        if not isinstance(validation_split, (int, float)) or not 0 <= validation_split < 1:
            raise ValueError(f"fit: `validation_split` must be a float in [0, 1), got "
                             f"{validation_split!r}")
        verbose = 1 if verbose == "auto" else verbose
        x, y, sample_weight = (data_adapter.to_array(x, "x"), data_adapter.to_array(y, "y"),
                               data_adapter.to_array(sample_weight, "sample_weight"))
        if x is None:
            raise ValueError("fit: `x` must be given")
        sample_weight = self._sample_weights(y, sample_weight, class_weight)
        arrays = [x, y, sample_weight]
        if validation_data is not None:
            vx, vy, vsw = data_adapter.unpack_x_y_sample_weight(tuple(validation_data))
            val_arrays = [data_adapter.to_array(vx, "validation x"), data_adapter.to_array(vy, "validation y"),
                          data_adapter.to_array(vsw, "validation sample_weight")]
        elif validation_split:
            arrays, val_arrays = data_adapter.split_validation(arrays, validation_split)
        else:
            val_arrays = None
        train = data_adapter.ArrayBatches(arrays, batch_size, shuffle=bool(shuffle))
        data_adapter.require_samples(train, "fit")
        val = (data_adapter.ArrayBatches(val_arrays, validation_batch_size or batch_size)
               if val_arrays is not None else None)

        cbs = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=self,
                           epochs=epochs, steps=train.num_batches, verbose=verbose)
        self.stop_training = False
        cbs.on_train_begin()
        # BackupAndRestore sets where a resumed fit starts (Keras: `model._initial_epoch`).
        initial_epoch = self.__dict__.pop("_initial_epoch", None) or initial_epoch
        logs, epoch_logs = {}, {}
        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            cbs.on_epoch_begin(epoch)
            for step, batch in enumerate(train):
                cbs.on_train_batch_begin(step)
                with known_labels(train.label_entries()):
                    logs = self.train_step(batch)
                cbs.on_train_batch_end(step, logs)
                if self.stop_training:
                    break
            epoch_logs = dict(self._get_metrics_result_or_logs(logs))
            if val is not None and (epoch + 1) % validation_freq == 0:
                cbs.params["in_fit"] = True
                val_logs = self._run_test(val, cbs)
                cbs.params["in_fit"] = False
                epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
            cbs.on_epoch_end(epoch, epoch_logs)
            if self.stop_training:
                break
        cbs.on_train_end(epoch_logs if epochs > initial_epoch else logs)
        return cbs.history

    def _run_test(self, batches, cbs) -> dict:
        self.reset_metrics()
        cbs.on_test_begin()
        logs = {}
        for step, batch in enumerate(batches):
            cbs.on_test_batch_begin(step)
            with known_labels(batches.label_entries()), self._step_lock:
                logs = self.test_step(batch)
            cbs.on_test_batch_end(step, logs)
        logs = self._get_metrics_result_or_logs(logs)
        cbs.on_test_end(logs)
        return logs

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False):
        """Loss and metrics on `(x, y)`.

        Returns:
            The loss as a float when no metric was compiled; otherwise `[loss, *metrics]` in
            `metrics_names` order, or a dict with `return_dict=True`.

        Raises:
            ValueError: before `compile()`.
        """
        self._assert_compiled("evaluate")
        if x is None:
            raise ValueError("evaluate: `x` must be given (an array, or a list/dict of arrays)")
        verbose = 1 if verbose == "auto" else verbose
        arrays = [data_adapter.to_array(x, "x"), data_adapter.to_array(y, "y"),
                  data_adapter.to_array(sample_weight, "sample_weight")]
        batches = data_adapter.ArrayBatches(arrays, data_adapter.batch_size_arg(batch_size, "evaluate"))
        data_adapter.require_samples(batches, "evaluate")
        cbs = CallbackList(callbacks, add_progbar=verbose != 0, model=self,
                           steps=batches.num_batches, verbose=verbose)
        logs = self._run_test(batches, cbs)
        if return_dict:
            return logs
        return self._logs_list(logs)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Model outputs for `x`, as a NumPy array `(samples, ...)` (a list or dict of arrays
        for a model with several outputs), computed in batches of `batch_size` (default 32) in
        inference mode. `x` may be a list or dict of arrays for a model with several inputs;
        0 samples give outputs with 0 rows.

        Raises:
            ValueError: for `x=None`, a `batch_size` that is not a positive int, or inputs
                that do not fit the model."""
        import numpy as np
        if x is None:
            raise ValueError("predict: `x` must be given (an array, or a list/dict of arrays)")
        verbose = 1 if verbose == "auto" else verbose
        x = data_adapter.to_array(x, "x")
        batches = data_adapter.ArrayBatches([x], data_adapter.batch_size_arg(batch_size, "predict"))
        if batches.num_samples == 0:
            # No sample: the outputs have 0 rows and the shapes the model gives (Keras's too).
            with self._step_lock:
                out = self.predict_step((_to_tensors(x),))
            return map_structure(np.asarray, out)
        cbs = CallbackList(callbacks, add_progbar=verbose != 0, model=self,
                           steps=batches.num_batches, verbose=verbose)
        cbs.on_predict_begin()
        outputs, structure = [], None
        for step, (bx,) in enumerate(batches):
            cbs.on_predict_batch_begin(step)
            with self._step_lock:  # the batch sees whole optimizer steps only
                out = self.predict_step((bx,))
            if structure is None:
                structure = out
            outputs.append([np.asarray(o) for o in flatten(out)])
            cbs.on_predict_batch_end(step, {"outputs": out})
        cbs.on_predict_end()
        merged = [np.concatenate([batch[i] for batch in outputs], axis=0) for i in range(len(outputs[0]))]
        if not isinstance(structure, (list, tuple, dict)):
            return merged[0]
        return pack_sequence_as(structure, merged)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One `train_step` on a single batch; returns the logs (a dict with return_dict)."""
        self._assert_compiled("train_on_batch")
        self.reset_metrics()
        sample_weight = self._sample_weights(y, sample_weight, class_weight)
        logs = self.train_step((_to_tensors(x), _to_tensors(y), _to_tensors(sample_weight)))
        logs = self._get_metrics_result_or_logs(logs)
        return logs if return_dict else self._logs_list(logs)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """One `test_step` on a single batch."""
        self._assert_compiled("test_on_batch")
        self.reset_metrics()
        with self._step_lock:
            logs = self.test_step((_to_tensors(x), _to_tensors(y), _to_tensors(sample_weight)))
        logs = self._get_metrics_result_or_logs(logs)
        return logs if return_dict else self._logs_list(logs)

    def predict_on_batch(self, x):
        """Model outputs for one batch, as a NumPy array (or a list/dict of them)."""
        import numpy as np
        with self._step_lock:
            out = self.predict_step((_to_tensors(x),))
        if isinstance(out, (list, tuple, dict)):
            return map_structure(np.asarray, out)
        return np.asarray(out)

    def _logs_list(self, logs):
        """`[loss, *per-output losses, *metrics]` (a float when that is only the loss)."""
        names = ["loss"]
        if self._compile_loss is not None:
            names += [t.name for t in self._compile_loss.trackers]
        names += [m.name for m in self._compiled_metrics or []]
        values = [logs[n] for n in names if n in logs]
        return values[0] if len(values) == 1 else values

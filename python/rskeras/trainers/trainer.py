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
from rskeras.trainers import data_adapter, data_adapters
from rskeras.trainers.compile_utils import (  # noqa: F401
    CompileLoss,
    CompileMetrics,
    _resolve_accuracy,
)
from rskeras.trainers.epoch_iterator import EpochIterator
from rskeras.utils import locks
from rskeras.utils.py_dataset import PyDataset
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


def _steps_arg(steps, where: str, name: str):
    """`steps` as None or a positive int.

    Raises:
        ValueError: for anything else, naming the call and the argument.
    """
    if steps is None:
        return None
    if not hasattr(steps, "__index__") or isinstance(steps, bool) or steps <= 0:
        raise ValueError(f"{where}: `{name}` must be a positive int or None, got {steps!r}")
    return int(steps)


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
        state = locks.state_without_lock(self)
        state.pop("_step_tracer", None)  # traced graphs are rebuilt, never pickled
        return state

    def _init_trainer(self):
        self.compiled = False
        self.optimizer = None
        self.loss = None
        self.stop_training = False
        self.history = None
        self._metric_specs = []
        self._weighted_metric_specs = []
        self._steps_per_execution = 1
        self.jit_compile = "auto"
        self.run_eagerly = False
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
                name; logged as "<output name>_<metric>". These metrics ignore sample
                weights (Keras 3).
            weighted_metrics: metrics in the same forms, updated with the sample weights
                (`sample_weight`, or those `class_weight` gives). A name already used by
                `metrics` is logged as "weighted_<name>", as Keras does.
            run_eagerly: True runs every step eagerly (Python per op), whatever
                `jit_compile` says.
            steps_per_execution: batches run per "execution" (default 1). As in Keras, the
                callbacks' `on_train_batch_begin`/`_end` (and the test and predict ones) are
                called once per group of N batches, with the group's first and last step
                index, and `model.stop_training` is checked between groups. The steps of a
                group still run one by one (one call into the core each when traced); a
                larger N saves callback calls.
            jit_compile: "auto" (the default) and True trace the steps of `fit`, `evaluate`
                and `predict` on the CPU device (`rskeras.trainers.traced`): per input
                signature (shapes and dtypes of the batch; the last, smaller batch is a new
                one) the first batch runs eagerly, the second eagerly under the core's
                recorder, and every later one is replayed by the core in one call, with no
                Python per op and the GIL released; the numbers are the eager step's. A step
                that cannot be traced (a tensor value read into Python, the gpu device, an
                optimizer with per-step Python state such as Nadam or gradient
                accumulation) runs eagerly, with a warning naming the reason when
                `jit_compile=True`. Python values the step reads are captured when traced,
                as in `tf.function`; the learning rate, the step count and the random seed
                generators' counters are refreshed per batch. False runs every step eagerly.
            auto_scale_loss: accepted (loss scaling for float16 is not implemented).

        Raises:
            ValueError: for unknown names, mismatched per-output lists/dicts (on the first
                batch), `metrics`/`weighted_metrics` that are not a list, tuple or dict,
                `steps_per_execution` that is not a positive int, or a `jit_compile` other
                than True, False or "auto".
        """
        for what, spec in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            if spec and not isinstance(spec, (list, tuple, dict)):
                raise ValueError(f"Expected `{what}` argument to be a list, tuple, or dict. "
                                 f"Received instead: {what}={spec} of type {type(spec)}")
        if not hasattr(steps_per_execution, "__index__") or \
                isinstance(steps_per_execution, bool) or steps_per_execution < 1:
            raise ValueError("compile: `steps_per_execution` must be a positive int, got "
                             f"{steps_per_execution!r}")
        if jit_compile not in (True, False, "auto"):
            raise ValueError(f"compile: `jit_compile` must be True, False or \"auto\", got "
                             f"{jit_compile!r}")
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
        self._weighted_metric_specs = weighted_metrics if isinstance(weighted_metrics, dict) \
            else list(weighted_metrics or [])
        self._compile_metrics = CompileMetrics(self._metric_specs, self._weighted_metric_specs)
        self._compiled_metrics = None
        self._loss_tracker = Mean(name="loss")
        self._steps_per_execution = int(steps_per_execution)
        self.jit_compile = jit_compile
        tracer = self.__dict__.get("_step_tracer")
        if tracer is not None:
            tracer.reset()
        self.run_eagerly = bool(run_eagerly)
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
                for k in ("loss", "loss_weights", "metrics", "weighted_metrics")
                if k in config}
        for key in ("run_eagerly", "steps_per_execution", "jit_compile"):
            if config.get(key) is not None:
                args[key] = config[key]
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
            self._compile_metrics = CompileMetrics(
                self._metric_specs, self.__dict__.get("_weighted_metric_specs"))
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
    def _tracer(self):
        """The model's StepTracer when its steps are traced (`jit_compile=True`, not
        `run_eagerly`), else None."""
        if self.__dict__.get("jit_compile") not in (True, "auto") \
                or self.__dict__.get("run_eagerly"):
            return None
        tracer = self.__dict__.get("_step_tracer")
        if tracer is None:
            from rskeras.trainers.traced import StepTracer

            tracer = StepTracer(self)
            object.__setattr__(self, "_step_tracer", tracer)
        return tracer

    def _begin_traced_call(self):
        """The tracer for this fit/evaluate/predict call (None: eager)."""
        tracer = self._tracer()
        if tracer is not None:
            tracer.begin_call()
        return tracer

    # ----------------------------------------------------------------------------------------
    def train_step(self, data) -> dict:
        """One optimisation step on a batch `(x, y[, sample_weight])`; returns the logs.

        `fit` calls this once per batch (`x`, `y` as tensors, or lists/dicts of tensors for
        several inputs/outputs). Override it in a subclass for a custom loop: run the forward
        pass under `rskeras.GradientTape`, scale the loss with `self.optimizer.scale_loss(loss)`,
        take `tape.gradient(loss, self.trainable_variables)`,
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
                # Tracked unscaled above; the optimizer divides the gradients back (Keras's
                # loss_scale_factor and LossScaleOptimizer).
                loss = self.optimizer.scale_loss(loss)
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
        """`sample_weight`, or the weights `class_weight` gives `y`'s samples (Keras: a class
        missing from it weighs 1.0)."""
        if class_weight is None:
            return sample_weight
        if sample_weight is not None:
            raise ValueError("You cannot `class_weight` and `sample_weight` at the same time.")
        return data_adapters.class_weight_to_sample_weights(y, class_weight)

    @property
    def steps_per_execution(self) -> int:
        """Batches run between two calls of the callbacks' batch hooks (see `compile`)."""
        return self.__dict__.get("_steps_per_execution", 1)

    def _should_eval(self, epoch: int, validation_freq) -> bool:
        epoch += 1  # validation_freq counts epochs from 1
        if isinstance(validation_freq, int):
            return epoch % validation_freq == 0
        return epoch in validation_freq

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Train for `epochs` epochs, as Keras 3's `Model.fit`.

        Args:
            x: the inputs: an array; a list/tuple/dict of arrays for a model with several
                inputs (a dict is matched to the `Input` names); a Python generator (or
                iterator) yielding `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)` batches;
                or a `keras.utils.PyDataset` (`Sequence`) returning such batches.
            y: the targets for array `x`: an array, or a list/dict of arrays for a model with
                several outputs (a dict is matched to `model.output_names`). Must be None
                with a generator or PyDataset (Keras's ValueError).
            batch_size: samples per step for arrays (default 32; with `steps_per_epoch` and
                no `batch_size`, `ceil(samples / steps_per_epoch)` as Keras). A generator or
                PyDataset makes its own batches: a `batch_size` given then is ignored with a
                warning.
            epochs: the index of the last epoch (training runs `initial_epoch` .. `epochs-1`).
            verbose: "auto" (= 1, a progress bar), 0 (silent), 1, or 2 (one line per epoch).
            callbacks: `keras.callbacks.Callback` instances. With `steps_per_execution=N`
                (compile), `on_train_batch_begin` / `_end` are called once per N batches,
                with the group's first and last step.
            validation_split: fraction of array data, taken from the end *before*
                shuffling, held out for validation (not for generators or PyDatasets).
                `validation_data` overrides it.
            validation_data: `(x_val, y_val)`, `(x_val, y_val, val_sample_weight)`, a
                generator or a PyDataset; evaluated at the end of the epochs chosen by
                `validation_freq`, its results logged with a "val_" prefix.
            shuffle: reshuffle array samples (or a finite PyDataset's batch order) every
                epoch (default True); generators are read as they come.
            class_weight: `{class: weight}` to weight the loss per sample by its label (arrays
                and PyDataset, one output).
            sample_weight: per-sample weights `(samples,)` for array data (one array for all
                outputs, or a list/dict with one per output).
            initial_epoch: the epoch to start from (for resuming; logs and callbacks count
                from it).
            steps_per_epoch: batches per epoch. Needed for an infinite generator or
                PyDataset; with finite data, the epochs continue the data where the last
                stopped, and an epoch that finds the data used up ends early with Keras's
                "ran out of data" warning. A generator that runs out stops training.
            validation_steps: batches per validation (default: all of `validation_data`).
            validation_batch_size: batch size for array `validation_data` (default:
                `batch_size`).
            validation_freq: validate every `validation_freq` epochs (an int), or after the
                epochs listed (a list of 1-based epoch numbers).

        `model.stop_training = True` set by a callback ends training after the current batch
        (group) and its epoch's end.

        Returns:
            A `History` whose `.history` maps "loss", metric names and their "val_" forms to
            per-epoch values.

        Raises:
            ValueError: before `compile()`; bad `epochs`, `batch_size`, `steps_*`,
                `validation_split`, `validation_freq`; `y`/`sample_weight` given with a
                generator or PyDataset; `validation_split` with them; mismatched sample
                counts (naming each); `class_weight` with `sample_weight` or several outputs.
            TypeError: for data that is not arrays of numbers.
        """
        self._assert_compiled("fit")
        if not hasattr(epochs, "__index__") or isinstance(epochs, bool) or epochs < 0:
            raise ValueError(f"fit: `epochs` must be an int >= 0, got {epochs!r}")
        if not hasattr(initial_epoch, "__index__") or isinstance(initial_epoch, bool) \
                or initial_epoch < 0:
            raise ValueError(f"fit: `initial_epoch` must be an int >= 0, got {initial_epoch!r}")
        if not isinstance(validation_split, (int, float)) or not 0 <= validation_split < 1:
            raise ValueError(f"fit: `validation_split` must be a float in [0, 1), got "
                             f"{validation_split!r}")
        steps_per_epoch = _steps_arg(steps_per_epoch, "fit", "steps_per_epoch")
        validation_steps = _steps_arg(validation_steps, "fit", "validation_steps")
        if batch_size is not None:
            data_adapter.batch_size_arg(batch_size, "fit")
        if validation_batch_size is not None:
            data_adapter.batch_size_arg(validation_batch_size, "fit (validation_batch_size)")
        if isinstance(validation_freq, (list, tuple, set)):
            validation_freq = sorted(int(e) for e in validation_freq)
        elif not hasattr(validation_freq, "__index__") or isinstance(validation_freq, bool) \
                or validation_freq < 1:
            raise ValueError("fit: `validation_freq` must be an int >= 1 or a list of epochs, "
                             f"got {validation_freq!r}")
        else:
            validation_freq = int(validation_freq)
        verbose = 1 if verbose == "auto" else verbose
        if x is None:
            raise ValueError("fit: `x` must be given")
        if validation_split and validation_data is None:
            if isinstance(x, PyDataset) or data_adapters.is_iterator_data(x):
                raise ValueError("Argument `validation_split` is only supported for tensors or "
                                 f"NumPy arrays, not {type(x).__name__} inputs; pass "
                                 "`validation_data` instead")
            arrays = [data_adapter.to_array(x, "x"), data_adapter.to_array(y, "y"),
                      data_adapter.to_array(sample_weight, "sample_weight")]
            (x, y, sample_weight), validation_data = data_adapter.split_validation(
                arrays, validation_split)
        train_adapter = data_adapters.get_data_adapter(
            x, y, sample_weight, batch_size=batch_size, steps=steps_per_epoch,
            shuffle=shuffle, class_weight=class_weight, where="fit")
        if isinstance(train_adapter, data_adapters.ArrayDataAdapter):
            data_adapter.require_samples(train_adapter.batches, "fit")
        train = EpochIterator(train_adapter, steps_per_epoch, self.steps_per_execution, "fit")
        val = None
        if validation_data is not None:
            # A tuple/list is `(x_val, y_val[, sample_weight])`; a generator or PyDataset
            # brings its own targets.
            vx, vy, vsw = data_adapters.unpack_x_y_sample_weight(validation_data)
            val_adapter = data_adapters.get_data_adapter(
                vx, vy, vsw, batch_size=validation_batch_size or batch_size,
                steps=validation_steps, shuffle=False, where="fit (validation_data)")
            val = EpochIterator(val_adapter, validation_steps, self.steps_per_execution,
                                "evaluate")

        cbs = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=self,
                           epochs=epochs, steps=train.num_batches, verbose=verbose)
        self.stop_training = False
        tracer = self._begin_traced_call()
        cbs.on_train_begin()
        # BackupAndRestore sets where a resumed fit starts (Keras: `model._initial_epoch`).
        initial_epoch = self.__dict__.pop("_initial_epoch", None) or initial_epoch
        logs, training_logs = {}, {}
        try:
            for epoch in range(initial_epoch, epochs):
                self.reset_metrics()
                cbs.on_epoch_begin(epoch)
                ran = False
                with contextlib.closing(train.epoch()) as steps:
                    for begin, end, buffer in steps:
                        ran = True
                        cbs.on_train_batch_begin(begin)
                        for batch, labels in buffer:
                            with known_labels(labels):
                                logs = self.train_step(batch) if tracer is None else \
                                    tracer.call("train", self.train_step, batch, labels)
                        cbs.on_train_batch_end(end, logs)
                        if self.stop_training:
                            break
                if not ran:  # a generator that had nothing left: no epoch to report
                    self.stop_training = True
                    break
                epoch_logs = dict(self._get_metrics_result_or_logs(logs))
                if val is not None and self._should_eval(epoch, validation_freq):
                    cbs.params["in_fit"] = True
                    try:
                        val_logs = self._run_test(val, cbs)
                    finally:
                        cbs.params["in_fit"] = False
                    if val_logs is not None:
                        epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
                cbs.on_epoch_end(epoch, epoch_logs)
                training_logs = epoch_logs
                if train.exhausted:
                    self.stop_training = True
                if self.stop_training:
                    break
        finally:
            train.close()
            if val is not None:
                val.close()
        self.optimizer.finalize_variable_values(self.trainable_variables)  # EMA, as Keras
        cbs.on_train_end(training_logs)
        return cbs.history

    def _run_test(self, iterator, cbs):
        """Loss and metrics over one epoch of `iterator` (an `EpochIterator`), or None when
        it had no batch left (a used-up generator given as validation data)."""
        self.reset_metrics()
        cbs.on_test_begin()
        logs, ran = {}, False
        tracer = self._begin_traced_call()
        with contextlib.closing(iterator.epoch()) as steps:
            for begin, end, buffer in steps:
                ran = True
                cbs.on_test_batch_begin(begin)
                for batch, labels in buffer:
                    with known_labels(labels), self._step_lock:
                        logs = self.test_step(batch) if tracer is None else \
                            tracer.call("test", self.test_step, batch, labels)
                cbs.on_test_batch_end(end, logs)
        if not ran:
            cbs.on_test_end({})
            return None
        logs = self._get_metrics_result_or_logs(logs)
        cbs.on_test_end(logs)
        return logs

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False):
        """Loss and metrics on `x` (arrays, a generator or a PyDataset, as for `fit`) and
        `y`, weighted by `sample_weight` (arrays only; generators and PyDatasets give theirs
        in the batches).

        Args:
            steps: batches to evaluate (default: all; needed for an infinite generator or
                PyDataset). With arrays and no `batch_size`, the batch size is
                `ceil(samples / steps)`, as Keras.
            return_dict: return `{name: value}` instead of a list.

        Returns:
            The loss as a float when no metric was compiled; otherwise `[loss, *metrics]` in
            `metrics_names` order, or a dict with `return_dict=True`.

        Raises:
            ValueError: before `compile()`, for `x=None`, bad `batch_size`/`steps`, data
                with no sample, or a generator that yields nothing.
        """
        self._assert_compiled("evaluate")
        if x is None:
            raise ValueError("evaluate: `x` must be given (an array, or a list/dict of arrays)")
        steps = _steps_arg(steps, "evaluate", "steps")
        verbose = 1 if verbose == "auto" else verbose
        adapter = data_adapters.get_data_adapter(x, y, sample_weight, batch_size=batch_size,
                                                 steps=steps, where="evaluate")
        if isinstance(adapter, data_adapters.ArrayDataAdapter):
            data_adapter.require_samples(adapter.batches, "evaluate")
        iterator = EpochIterator(adapter, steps, self.steps_per_execution, "evaluate")
        cbs = CallbackList(callbacks, add_progbar=verbose != 0, model=self,
                           steps=iterator.num_batches, verbose=verbose)
        try:
            logs = self._run_test(iterator, cbs) or {}
        finally:
            iterator.close()
        if return_dict:
            return logs
        return self._logs_list(logs)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Model outputs for `x`, as a NumPy array `(samples, ...)` (a list or dict of arrays
        for a model with several outputs), computed in batches of `batch_size` (default 32) in
        inference mode. `x` may be a list or dict of arrays for a model with several inputs,
        a generator or a PyDataset (batches `x` or `(x, ...)`: targets are ignored);
        0 samples give outputs with 0 rows.

        Args:
            steps: batches to predict (default: all; needed for an infinite generator or
                PyDataset).

        Raises:
            ValueError: for `x=None`, a `batch_size` that is not a positive int, bad `steps`,
                or inputs that do not fit the model."""
        import numpy as np
        if x is None:
            raise ValueError("predict: `x` must be given (an array, or a list/dict of arrays)")
        steps = _steps_arg(steps, "predict", "steps")
        verbose = 1 if verbose == "auto" else verbose
        adapter = data_adapters.get_data_adapter(x, batch_size=batch_size, steps=steps,
                                                 where="predict")
        if isinstance(adapter, data_adapters.ArrayDataAdapter) and adapter.num_samples == 0:
            # No sample: the outputs have 0 rows and the shapes the model gives (Keras's too).
            with self._step_lock:
                out = self.predict_step((_to_tensors(adapter.arrays[0]),))
            return map_structure(np.asarray, out)
        iterator = EpochIterator(adapter, steps, self.steps_per_execution, "predict")
        cbs = CallbackList(callbacks, add_progbar=verbose != 0, model=self,
                           steps=iterator.num_batches, verbose=verbose)
        cbs.on_predict_begin()
        outputs, structure = [], None
        tracer = self._begin_traced_call()
        try:
            with contextlib.closing(iterator.epoch()) as groups:
                for begin, end, buffer in groups:
                    cbs.on_predict_batch_begin(begin)
                    for batch, _ in buffer:
                        with self._step_lock:  # the batch sees whole optimizer steps only
                            out = self.predict_step(batch[:1]) if tracer is None else \
                                tracer.call("predict", self.predict_step, batch[:1])
                        if structure is None:
                            structure = out
                        outputs.append([np.asarray(o) for o in flatten(out)])
                    cbs.on_predict_batch_end(end, {"outputs": out})
        finally:
            iterator.close()
        cbs.on_predict_end()
        if not outputs:
            raise ValueError("predict: the data gave no batch to predict on")
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

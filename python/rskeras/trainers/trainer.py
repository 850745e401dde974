"""`compile`, `fit`, `evaluate` and `predict`: the Keras 3 training loop.

`fit` runs `train_step` on each batch; a subclassed model may override `train_step` /
`test_step` / `predict_step`, written with `rskeras.GradientTape`."""

from __future__ import annotations


from rskeras import _core
from rskeras import losses as losses_module
from rskeras import metrics as metrics_module
from rskeras import optimizers as optimizers_module
from rskeras.callbacks.callback import CallbackList
from rskeras.metrics.metric import Mean
from rskeras.trainers import data_adapter


def _resolve_accuracy(name, y_true, y_pred):
    """What "accuracy"/"acc" means, decided from the shapes exactly as Keras 3 does
    (`keras/src/trainers/compile_utils.py`): a last prediction axis of 1 is binary; labels of
    lower rank, or with a last axis of 1 against several classes, are sparse; else categorical."""
    y_true_shape, y_pred_shape = tuple(y_true.shape), tuple(y_pred.shape)
    if y_pred_shape[-1:] == (1,):
        return metrics_module.BinaryAccuracy(name=name)
    if len(y_true_shape) < len(y_pred_shape) or (y_true_shape[-1:] == (1,) and y_pred_shape[-1] > 1):
        return metrics_module.SparseCategoricalAccuracy(name=name)
    return metrics_module.CategoricalAccuracy(name=name)


class Trainer:
    """The training API mixed into `Model`."""

    def _init_trainer(self):
        self.compiled = False
        self.optimizer = None
        self.loss = None
        self.stop_training = False
        self.history = None
        self._metric_specs = []
        self._compiled_metrics = None
        self._loss_tracker = Mean(name="loss")

    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        """Configure training.

        Args:
            optimizer: name ("adam", "sgd", "rmsprop") or Optimizer (default "rmsprop").
            loss: name ("sparse_categorical_crossentropy", "mse", ...), Loss or callable.
            metrics: list of names ("accuracy", "mae", ...), Metric objects or callables.
                "accuracy"/"acc" resolve to binary, categorical or sparse categorical accuracy
                from the loss and the shapes, as in Keras.

        Raises:
            ValueError: for unknown names, or options not supported yet (loss_weights,
                weighted_metrics, several losses).
        """
        if loss_weights is not None or weighted_metrics is not None:
            raise ValueError("compile: loss_weights and weighted_metrics are not supported yet")
        if isinstance(loss, (list, dict)):
            raise ValueError("compile: one loss per model is supported for now (got a list/dict)")
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = losses_module.get(loss)
        if isinstance(metrics, dict):
            raise ValueError("compile: a dict of metrics needs a multi-output model (not supported yet)")
        self._metric_specs = list(metrics or [])
        self._compiled_metrics = None
        self._loss_tracker = Mean(name="loss")
        self.compiled = True

    # ----------------------------------------------------------------------------------------
    @property
    def metrics(self) -> list:
        """The loss tracker followed by the compiled metrics (once built by a first batch)."""
        return [self._loss_tracker] + list(self._compiled_metrics or [])

    @property
    def metrics_names(self) -> list:
        return [m.name for m in self.metrics]

    def _build_metrics(self, y, y_pred):
        built = []
        for spec in self._metric_specs:
            if spec in ("accuracy", "acc"):
                built.append(_resolve_accuracy(spec, y, y_pred))
            else:
                built.append(metrics_module.get(spec))
        self._compiled_metrics = built

    def reset_metrics(self):
        for m in self.metrics:
            m.reset_state()

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss of `(y, y_pred)` plus the layers' added losses (regularizers).
        Updates the loss tracker. Returns a scalar tensor.

        Raises:
            ValueError: when the model was compiled without a loss.
        """
        if self.loss is None:
            raise ValueError("No loss to compute: pass `loss=` to compile() or override compute_loss")
        if isinstance(self.loss, losses_module.Loss):
            loss = self.loss(y, y_pred, sample_weight=sample_weight)
        else:
            loss = losses_module.reduce_loss(self.loss(y, y_pred), sample_weight)
        extra = self.losses
        for term in extra:
            loss = loss + term
        batch = y_pred.shape[0] if y_pred.ndim else 1
        self._loss_tracker.update_state(float(loss), sample_weight=batch)
        return loss

    def compute_metrics(self, x, y, y_pred, sample_weight=None) -> dict:
        """Update the compiled metrics with this batch and return all current results."""
        if self._compiled_metrics is None:
            self._build_metrics(y, y_pred)
        for m in self._compiled_metrics:
            m.update_state(y, y_pred, sample_weight=sample_weight)
        return self.get_metrics_result()

    def get_metrics_result(self) -> dict:
        """`{name: float}` for every metric, names sorted as Keras's logs list them."""
        return {m.name: float(m.result()) for m in sorted(self.metrics, key=lambda m: m.name)}

    # ----------------------------------------------------------------------------------------
    def train_step(self, data) -> dict:
        """One optimisation step on a batch `(x, y[, sample_weight])`; returns the logs."""
        x, y, sample_weight = data_adapter.unpack_x_y_sample_weight(data)
        with _core.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)
        self._clear_losses()
        # Read after the forward pass: a model's first call may create its weights.
        variables = self.trainable_variables
        grads = tape.gradient(loss, variables)
        self.optimizer.apply(grads, variables)
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
        batch_size = 32 if batch_size is None else batch_size
        verbose = 1 if verbose == "auto" else verbose
        if not isinstance(x, tuple) or len(x) == 0:
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
        val = (data_adapter.ArrayBatches(val_arrays, validation_batch_size or batch_size)
               if val_arrays is not None else None)

        cbs = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=self,
                           epochs=epochs, steps=train.num_batches, verbose=verbose)
        self.stop_training = False
        cbs.on_train_begin()
        logs = {}
        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            cbs.on_epoch_begin(epoch)
            for step, batch in enumerate(train):
                cbs.on_train_batch_begin(step)
                logs = self.train_step(batch)
                cbs.on_train_batch_end(step, logs)
                if self.stop_training:
                    break
            epoch_logs = dict(self.get_metrics_result())
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
        for step, batch in enumerate(batches):
            cbs.on_test_batch_begin(step)
            logs = self.test_step(batch)
            cbs.on_test_batch_end(step, logs)
        logs = self.get_metrics_result()
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
        verbose = 1 if verbose == "auto" else verbose
        arrays = [data_adapter.to_array(x, "x"), data_adapter.to_array(y, "y"),
                  data_adapter.to_array(sample_weight, "sample_weight")]
        batches = data_adapter.ArrayBatches(arrays, batch_size or 32)
        cbs = CallbackList(callbacks, add_progbar=verbose != 0, model=self,
                           steps=batches.num_batches, verbose=verbose)
        logs = self._run_test(batches, cbs)
        if return_dict:
            return logs
        values = [logs["loss"]] + [logs[m.name] for m in self._compiled_metrics or []]
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Model outputs for `x`, as a NumPy array `(samples, ...)`, computed in batches of
        `batch_size` (default 32) in inference mode."""
        import numpy as np
        verbose = 1 if verbose == "auto" else verbose
        batches = data_adapter.ArrayBatches([data_adapter.to_array(x, "x")], batch_size or 32)
        cbs = CallbackList(callbacks, add_progbar=verbose != 0, model=self,
                           steps=batches.num_batches, verbose=verbose)
        cbs.on_predict_begin()
        outputs = []
        for step, (bx,) in enumerate(batches):
            cbs.on_predict_batch_begin(step)
            out = self.predict_step((bx,))
            outputs.append(np.asarray(out))
            cbs.on_predict_batch_end(step, {"outputs": out})
        cbs.on_predict_end()
        if not outputs:
            return np.zeros((0,), "float32")
        return np.concatenate(outputs, axis=0)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One `train_step` on a single batch; returns the logs (a dict with return_dict)."""
        self._assert_compiled("train_on_batch")
        self.reset_metrics()
        sample_weight = self._sample_weights(y, sample_weight, class_weight)
        conv = lambda a: None if a is None else _core.convert_to_tensor(a)  # noqa: E731
        logs = self.train_step((conv(x), conv(y), conv(sample_weight)))
        return logs if return_dict else self._logs_list(logs)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """One `test_step` on a single batch."""
        self._assert_compiled("test_on_batch")
        self.reset_metrics()
        conv = lambda a: None if a is None else _core.convert_to_tensor(a)  # noqa: E731
        logs = self.test_step((conv(x), conv(y), conv(sample_weight)))
        return logs if return_dict else self._logs_list(logs)

    def predict_on_batch(self, x):
        """Model outputs for one batch, as a NumPy array."""
        import numpy as np
        return np.asarray(self.predict_step((_core.convert_to_tensor(x),)))

    def _logs_list(self, logs):
        values = [logs["loss"]] + [logs[m.name] for m in self._compiled_metrics or []]
        return values[0] if len(values) == 1 else values

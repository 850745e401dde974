"""What `compile(loss=..., loss_weights=..., metrics=...)` turns into, for models with one or
several outputs (Keras 3: `keras/src/trainers/compile_utils.py`).

With several outputs (a list or dict of predictions):

* `loss` is one loss for every output, a list with one entry per output (None: no loss for
  that output), or a dict keyed by output name (missing names: no loss). The total loss is
  `sum(loss_weight_i * loss_i)`, and each output's loss is also logged as `"<name>_loss"`.
* `metrics` is a list with one entry (a metric or a list of metrics) per output, or a dict
  keyed by output name; each metric is logged as `"<output name>_<metric name>"`.
  `weighted_metrics` has the same forms; those metrics see the sample weights, the others
  do not (Keras 3).
* `y` is a list in output order or a dict keyed by output name.

Output names are the model's `output_names` (a Functional model: the output layers' names,
or the keys of a dict of outputs), else `"output_1"`, `"output_2"`, ...
"""

from __future__ import annotations

from rskeras import losses as losses_module
from rskeras import metrics as metrics_module
from rskeras.backend.keras_tensor import flatten
from rskeras.losses.labels import check_labels, is_sparse, num_classes_of
from rskeras.losses.losses import combined_mask
from rskeras.metrics.metric import Mean


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


def is_multi(y_pred) -> bool:
    return isinstance(y_pred, (list, tuple, dict)) and len(flatten(y_pred)) != 1 or \
        isinstance(y_pred, dict)


def output_names_for(model, y_pred) -> list:
    """One name per flattened prediction."""
    n = len(flatten(y_pred))
    if isinstance(y_pred, dict):
        try:
            return sorted(y_pred)
        except TypeError:
            return list(y_pred)
    names = getattr(model, "output_names", None)
    if names and len(names) == n:
        return list(names)
    return [f"output_{i + 1}" for i in range(n)]


def align_targets(y_true, y_pred, names, what="y"):
    """`y_true` as a flat list aligned with the flattened predictions.

    Raises:
        ValueError: when a list has the wrong length or a dict lacks an output name.
    """
    n = len(names)
    if isinstance(y_true, dict):
        missing = [k for k in names if k not in y_true]
        if missing and len(y_true) != n:
            raise ValueError(f"`{what}` is a dict without entries for the outputs {missing}; "
                             f"the model outputs are {names}")
        if missing:  # keyed differently (e.g. by layer name for dict outputs): use key order
            return [y_true[k] for k in sorted(y_true)]
        return [y_true[k] for k in names]
    if isinstance(y_true, (list, tuple)):
        flat = flatten(list(y_true))
        if len(flat) != n:
            raise ValueError(f"`{what}` has {len(flat)} entries but the model has {n} outputs {names}")
        return flat
    if n != 1:
        if y_true is None:
            return [None] * n
        raise ValueError(f"The model has {n} outputs {names}: pass `{what}` as a list or dict "
                         f"with one array per output")
    return [y_true]


def _per_output(spec, names, what, default=None):
    """A list with one entry per output from a single value, a list or a dict."""
    if isinstance(spec, dict):
        unknown = [k for k in spec if k not in names]
        if unknown:
            raise ValueError(f"compile: `{what}` has keys {unknown} that are not output names; "
                             f"the model outputs are {names}")
        return [spec.get(k, default) for k in names]
    if isinstance(spec, (list, tuple)):
        if len(spec) != len(names):
            raise ValueError(
                f"For a model with multiple outputs, when providing the `{what}` argument as a "
                f"list, it should have as many entries as the model has outputs. Received:\n"
                f"{what}={spec}\nof length {len(spec)} whereas the model has {len(names)} outputs.")
        return list(spec)
    return [spec] * len(names)


def _apply_loss(fn, y_true, y_pred, sample_weight):
    """`fn`'s reduced loss. A plain function is reduced as Keras's `LossFunctionWrapper`
    would: weighted by `sample_weight` and by the mask `y_pred` (or the values) carry."""
    if isinstance(fn, losses_module.Loss):
        return fn(y_true, y_pred, sample_weight=sample_weight)
    check_labels(y_true, getattr(fn, "__name__", "loss"),
                 num_classes_of(y_pred) if is_sparse(fn) else None)
    values = fn(y_true, y_pred)
    return losses_module.reduce_loss(values, sample_weight,
                                     mask=combined_mask(y_pred, values))


class CompileLoss:
    """The compiled loss: built on the first batch, when the predictions' structure is known.

    Args:
        loss: as given to `compile`.
        loss_weights: None, a number (single output), a list or a dict (several outputs).
    """

    def __init__(self, loss, loss_weights=None):
        self.spec, self.weights_spec = loss, loss_weights
        self.built = False
        self.entries = []  # (flat index, name, loss fn, weight)
        self.trackers = []  # per-output Mean trackers ("<name>_loss"), several outputs only
        self.multi = False

    def build(self, model, y_pred):
        if not is_multi(y_pred):
            spec = self.spec
            if isinstance(spec, (list, tuple)) and len(spec) == 1:
                spec = spec[0]
            elif isinstance(spec, dict) and len(spec) == 1:
                spec = next(iter(spec.values()))
            weight = self.weights_spec
            if isinstance(weight, (list, tuple)) and len(weight) == 1:
                weight = weight[0]
            elif isinstance(weight, dict) and len(weight) == 1:
                weight = next(iter(weight.values()))
            self.entries = [(0, None, losses_module.get(spec), 1.0 if weight is None else float(weight))]
            self.names = output_names_for(model, y_pred)
        else:
            self.multi = True
            self.names = output_names_for(model, y_pred)
            fns = _per_output(self.spec, self.names, "loss")
            weights = _per_output(self.weights_spec, self.names, "loss_weights", default=1.0) \
                if self.weights_spec is not None else [1.0] * len(self.names)
            self.entries = [(i, name, losses_module.get(fn), 1.0 if w is None else float(w))
                            for i, (name, fn, w) in enumerate(zip(self.names, fns, weights))
                            if fn is not None]
            if not self.entries:
                raise ValueError("compile: no output has a loss")
            self.trackers = [Mean(name=f"{name}_loss") for _, name, _, _ in self.entries]
        self.built = True

    def __call__(self, model, y_true, y_pred, sample_weight=None):
        """The weighted sum of the per-output losses (a scalar tensor)."""
        if not self.built:
            self.build(model, y_pred)
        if not self.multi:
            _, _, fn, weight = self.entries[0]
            yp = flatten(y_pred)[0] if isinstance(y_pred, (list, tuple)) else y_pred
            yt = y_true
            if isinstance(yt, (list, tuple)) and len(yt) == 1:
                yt = yt[0]
            elif isinstance(yt, dict) and len(yt) == 1:
                yt = next(iter(yt.values()))
            sw = sample_weight
            if isinstance(sw, (list, tuple)) and len(sw) == 1:
                sw = sw[0]
            value = _apply_loss(fn, yt, yp, sw)
            return value if weight == 1.0 else value * weight
        flat_pred = flatten(y_pred)
        flat_true = align_targets(y_true, y_pred, self.names)
        if isinstance(sample_weight, (list, tuple, dict)):
            flat_sw = align_targets(sample_weight, y_pred, self.names, "sample_weight")
        else:
            flat_sw = [sample_weight] * len(flat_pred)
        total = None
        for (i, name, fn, weight), tracker in zip(self.entries, self.trackers):
            if flat_true[i] is None:
                raise ValueError(f"No target given for output {name!r}, which has a loss")
            value = _apply_loss(fn, flat_true[i], flat_pred[i], flat_sw[i])
            batch = flat_pred[i].shape[0] if flat_pred[i].ndim else 1
            tracker.update_state(value, sample_weight=batch)
            term = value if weight == 1.0 else value * weight
            total = term if total is None else total + term
        return total


class CompileMetrics:
    """The compiled `metrics` and `weighted_metrics`, built on the first batch (accuracy
    flavours need the shapes), as Keras 3's `CompileMetrics`.

    `metrics` are updated without the sample weights and `weighted_metrics` with them (Keras 3
    semantics; `class_weight` reaches them as sample weights too). Names: a metric's own name,
    prefixed by its output's name for several outputs; a repeated name among `metrics` gets
    "_1", "_2", ...; a weighted metric whose name is already taken is logged as
    "weighted_<name>" ("<output>_weighted_<name>"), as Keras names them.
    """

    def __init__(self, metrics, weighted_metrics=None):
        for what, spec in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            if spec and not isinstance(spec, (list, tuple, dict)):
                raise ValueError(f"Expected `{what}` argument to be a list, tuple, or dict. "
                                 f"Received instead: {what}={spec} of type {type(spec)}")
        self.spec = metrics
        self.weighted_spec = weighted_metrics
        self.built = False
        self.metrics = []  # Metric objects, in log order
        self.indices = []  # the flat output index each metric reads
        self.weighted = []  # whether each metric is updated with the sample weights

    def _entries(self, spec, model, y_true, y_pred, what):
        """`(output index, output name or None, metric spec)` for each metric of `spec`."""
        if not spec:
            return []
        if not is_multi(y_pred):
            if isinstance(spec, dict):
                spec = flatten(list(spec.values()))
            return [(0, None, m) for m in flatten(list(spec)) if m is not None]
        names = output_names_for(model, y_pred)
        if isinstance(spec, (list, tuple)):
            per_output = _per_output(list(spec), names, what)
        else:
            per_output = _per_output(spec, names, what, default=None)
        out = []
        for i, (name, entry) in enumerate(zip(names, per_output)):
            if entry is None:
                continue
            for m in (entry if isinstance(entry, (list, tuple)) else [entry]):
                if m is not None:
                    out.append((i, name, m))
        return out

    def build(self, model, y_true, y_pred):
        if is_multi(y_pred):
            flat_true = align_targets(y_true, y_pred, output_names_for(model, y_pred))
        else:
            flat_true = [flatten(y_true)[0] if isinstance(y_true, (list, tuple, dict))
                         else y_true]
        flat_pred = flatten(y_pred)
        taken: dict = {}
        for weighted, spec, what in ((False, self.spec, "metrics"),
                                     (True, self.weighted_spec, "weighted_metrics")):
            for i, output, m in self._entries(spec, model, y_true, y_pred, what):
                if isinstance(m, str) and m.lower() in ("accuracy", "acc"):  # Keras: any case
                    metric = _resolve_accuracy(m, flat_true[i], flat_pred[i])
                else:
                    metric = metrics_module.get(m)
                base = metric.name
                name = f"{output}_{base}" if output else base
                if name in taken:
                    if weighted:
                        name = f"{output}_weighted_{base}" if output else f"weighted_{base}"
                    if name in taken:
                        taken[name] += 1
                        name = f"{name}_{taken[name] - 1}"
                taken.setdefault(name, 1)
                metric.name = name
                self.metrics.append(metric)
                self.indices.append(i)
                self.weighted.append(weighted)
        self.built = True

    def update_state(self, model, y_true, y_pred, sample_weight=None):
        if not self.built:
            self.build(model, y_true, y_pred)
        if not self.metrics:
            return
        if not is_multi(y_pred):
            flat_pred = [flatten(y_pred)[0]]
            flat_true = [flatten(y_true)[0] if isinstance(y_true, (list, tuple, dict))
                         else y_true]
            sw = sample_weight
            if isinstance(sw, (list, tuple)) and len(sw) == 1:
                sw = sw[0]
            elif isinstance(sw, dict) and len(sw) == 1:
                sw = next(iter(sw.values()))
            flat_sw = [sw]
        else:
            names = output_names_for(model, y_pred)
            flat_pred = flatten(y_pred)
            flat_true = align_targets(y_true, y_pred, names)
            if isinstance(sample_weight, (list, tuple, dict)):
                flat_sw = align_targets(sample_weight, y_pred, names, "sample_weight")
            else:
                flat_sw = [sample_weight] * len(flat_pred)
        for m, i, weighted in zip(self.metrics, self.indices, self.weighted):
            m.update_state(flat_true[i], flat_pred[i],
                           sample_weight=flat_sw[i] if weighted else None)

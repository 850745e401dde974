"""Traced steps: Keras's `jit_compile` made real on the CPU (issue 15, part 1).

`fit`, `evaluate` and `predict` hand each batch to a `StepTracer`. Per input signature (the
kind of step; the nesting, shapes and dtypes of the batch; the bounds of its labels' source
arrays), the first batch runs eagerly (it may build weights, optimizer slots and metrics),
the second runs eagerly under the core's recorder (`_core.trace_begin`/`trace_end`: every
kernel the step dispatches, its tape's backward pass, the fused optimizer update and the
variable assignments, into a `_core.TracedGraph`), and every later batch is one call,
`graph.run(batch)`, which replays the recorded kernels in Rust with the GIL released and no
Python per op. The last, smaller batch of an epoch is a new signature.

What cannot be traced runs eagerly, with a warning naming the reason under
`jit_compile=True` (as `tf.function` does): a tensor value read into Python during the step,
the gpu device, an optimizer whose step has Python state the graph cannot refresh (Nadam's
`u_product`, gradient accumulation, a Keras-style `update_step`), a second optimizer or a
metric outside `model.metrics` updated by the step, an assignment to a Variable the model,
its optimizer and metrics do not hold. Python values (numbers, attributes) read by the step
are captured as constants when traced, as in a `tf.function`; the exceptions are computed per
batch and passed to the replay: the optimizer's learning rate (a schedule too) and step
count, the counters of the seed generators the step draws from (Dropout's masks are the
eager step's), and the metrics' Python-held state (`Metric._state`, carried as graph inputs
and outputs). The losses' exact label checks (labels without precomputed bounds, as from a
generator) read values: they run outside the recording and again before each replay.
`jit_compile="auto"` falls back silently.
"""

from __future__ import annotations

import warnings

from rskeras.backend.lazy_numpy import np

from rskeras import _core
from rskeras.losses import labels as labels_module
from rskeras.metrics import metric as metric_module
from rskeras.optimizers import optimizer as optimizer_module
from rskeras.random import seed_generator

# The first batch of a signature has been seen (run eagerly); the next one is traced.
_SEEN = object()
# Signatures kept per model (a process that fits many datasets or shapes traces anew).
_MAX_GRAPHS = 64


def _flatten(structure, leaves: list):
    """The leaves of `structure` appended to `leaves`, and a hashable description of the
    nesting (tensor leaves as `(shape, dtype)`; other leaves by type and value)."""
    if isinstance(structure, (list, tuple)):
        return (type(structure).__name__, tuple(_flatten(x, leaves) for x in structure))
    if isinstance(structure, dict):
        keys = list(structure)
        return ("dict", tuple(keys), tuple(_flatten(structure[k], leaves) for k in keys))
    if structure is None:
        leaves.append(None)
        return None
    if isinstance(structure, _core.Tensor):
        leaves.append(structure)
        return (tuple(structure.shape), structure.dtype)
    raise TypeError(type(structure).__name__)


def _out_spec(structure, leaves: list):
    """`structure` with each tensor leaf replaced by its index in `leaves`."""
    if isinstance(structure, list):
        return [_out_spec(x, leaves) for x in structure]
    if isinstance(structure, tuple):
        if hasattr(structure, "_fields"):
            return type(structure)(*[_out_spec(x, leaves) for x in structure])
        return tuple(_out_spec(x, leaves) for x in structure)
    if isinstance(structure, dict):
        return {k: _out_spec(v, leaves) for k, v in structure.items()}
    if isinstance(structure, _core.Tensor):
        leaves.append(structure)
        return _Leaf(len(leaves) - 1)
    return structure


class _Leaf:
    __slots__ = ("index",)

    def __init__(self, index: int):
        self.index = index


def _rebuild(spec, outs):
    if isinstance(spec, _Leaf):
        return outs[spec.index]
    if isinstance(spec, list):
        return [_rebuild(x, outs) for x in spec]
    if isinstance(spec, tuple):
        if hasattr(spec, "_fields"):
            return type(spec)(*[_rebuild(x, outs) for x in spec])
        return tuple(_rebuild(x, outs) for x in spec)
    if isinstance(spec, dict):
        return {k: _rebuild(v, outs) for k, v in spec.items()}
    return spec


def _label_key(labels) -> tuple:
    """The bounds of the arrays the batch's labels were drawn from: the label checks of the
    losses and metrics read no value when these show clean data, so a graph traced under
    them is valid for batches with the same bounds."""
    out = []
    for _, summary, _ in labels or ():
        # NaN bounds (labels with NaN) as a string: NaN never equals itself as a dict key.
        out.append(None if summary is None else tuple(
            "nan" if isinstance(v, float) and v != v else v for v in summary))
    return tuple(out)


def optimizer_trace_reason(opt) -> str | None:
    """Why `opt`'s `apply` cannot be replayed from a graph (None when it can)."""
    from rskeras.optimizers.optimizer import Optimizer

    name = type(opt).__name__
    if not isinstance(opt, Optimizer):
        return f"the optimizer {name} is not an rskeras Optimizer"
    for method in ("apply", "_apply", "_update", "_before_update"):
        if getattr(type(opt), method) is not getattr(Optimizer, method):
            return (f"the optimizer {name} overrides `{method}` (per-step Python state the "
                    "graph cannot refresh)")
    if opt._keras_style():
        return f"the optimizer {name} updates each variable in Python (a Keras-style update_step)"
    if opt.gradient_accumulation_steps:
        return "gradient accumulation (the step depends on the iteration count in Python)"
    if opt.use_ema and (opt.ema_overwrite_frequency or opt._iterations == 0):
        return "the EMA of the weights depends on the iteration count in Python"
    if any(v.dtype != "float32" for v in opt._trainable_variables):
        return f"the optimizer {name} updates non-float32 variables with Python-computed constants"
    return None


def _metric_states(model) -> list:
    """`(metric, name)` for each piece of state the built-in metrics hold as Python
    attributes (`Metric._state`: a tensor, a host number, or None for zeros)."""
    out, seen = [], set()

    def visit(m):
        if id(m) in seen:
            return
        seen.add(id(m))
        state = m.__dict__.get("_state")
        if state:
            out.extend((m, name) for name in state)
        for sub in m.__dict__.get("_metrics", ()):
            visit(sub)

    for m in model.metrics:
        visit(m)
    return out


def _state_tensors(states) -> list:
    """The metric states as tensors (None and host numbers become tensors of the state's
    shape and dtype, which the metrics then update as tensors): the graph carries them as
    inputs and outputs, since they live in Python attributes, not in variables."""
    out = []
    for m, name in states:
        value = m._state[name]
        if not isinstance(value, _core.Tensor):
            shape, dtype = m._state_specs[name]
            value = _core.convert_to_tensor(np.full(shape, 0.0 if value is None else value,
                                                    dtype))
            m._state[name] = value
        out.append(value)
    return out


def _device() -> str:
    """The default device (tests pretend another)."""
    return _core.get_default_device()


class StepTracer:
    """The traced graphs of one model, by step kind and input signature (see the module
    docstring). Not shared between models; safe under the model's step lock."""

    def __init__(self, model):
        self.model = model
        self.graphs: dict = {}
        self.warned: set = set()
        self.scope: tuple = ()
        self.traces = 0
        self.replays = 0

    def reset(self) -> None:
        self.graphs.clear()
        self.warned.clear()

    def begin_call(self) -> None:
        """At the start of `fit`/`evaluate`/`predict`: graphs traced for other variables
        (a layer made trainable or frozen since) are not reused."""
        model = self.model
        self.scope = (tuple(id(v) for v in model.trainable_variables), len(model.variables))

    def _variables(self) -> list:
        model = self.model
        out = list(model.variables)
        opt = getattr(model, "optimizer", None)
        if opt is not None and getattr(opt, "built", False):
            out.extend(opt.variables)
        for m in model.metrics:
            out.extend(m.variables)
        return out

    def _warn(self, kind: str, reason: str) -> None:
        if (kind, reason) in self.warned:
            return
        self.warned.add((kind, reason))
        if self.model.jit_compile is True:
            warnings.warn(f"jit_compile: the {kind} step cannot be traced and runs eagerly: "
                          f"{reason}", stacklevel=4)

    def call(self, kind: str, fn, batch, labels=None):
        """Run step `fn` (`train_step`, `test_step` or `predict_step`) on `batch`: eagerly,
        traced, or replayed."""
        if _device() != "cpu":
            self._warn(kind, "the gpu device (traced steps run on the CPU in this release)")
            return fn(batch)
        leaves: list = []
        try:
            sig = _flatten(batch, leaves)
        except TypeError as e:
            self._warn(kind, f"the batch holds a {e} value, not a tensor")
            return fn(batch)
        states = _metric_states(self.model)
        state_key = tuple(m._state_specs[name] for m, name in states)
        key = (kind, sig, state_key, _label_key(labels), self.scope)
        entry = self.graphs.get(key)
        if entry is None:
            if len(self.graphs) >= _MAX_GRAPHS:  # many datasets or shapes: start over
                self.graphs.clear()
            self.graphs[key] = _SEEN
            return fn(batch)
        if entry is _SEEN:
            return self._trace(kind, key, fn, batch, leaves, states)
        if isinstance(entry, str):
            return fn(batch)
        return self._replay(kind, key, entry, leaves, fn, batch, states)

    def _trace(self, kind, key, fn, batch, leaves, states):
        model = self.model
        opt = getattr(model, "optimizer", None)
        reason = None
        if kind == "train":
            reason = optimizer_trace_reason(opt) if opt is not None else None
        if reason is not None:
            self.graphs[key] = reason
            self._warn(kind, reason)
            return fn(batch)
        optimizer_module._TRACE.applied = []
        _core.trace_begin(leaves + _state_tensors(states), self._variables())
        draws = seed_generator.start_draw_log()
        metric_module.TRACE.carried = {id(m) for m, _ in states}
        metric_module.TRACE.stray = None
        labels_module.TRACE.deferred = deferred = []
        try:
            out = fn(batch)
        except BaseException:
            _core.trace_abort()
            raise
        finally:
            seed_generator.stop_draw_log()
            metric_module.TRACE.carried = None
            labels_module.TRACE.deferred = None
        checks = []
        for y_true, where, num_classes in deferred:
            k = next((i for i, leaf in enumerate(leaves) if leaf is y_true), None)
            checks.append((k, where, num_classes))
        stray = metric_module.TRACE.stray
        glob = seed_generator.global_seed_generator()
        gens = [(g, first, n, g is glob) for g, first, n in draws.values()]
        out_leaves: list = []
        spec = _out_spec(out, out_leaves)
        new_states = [m._state[name] for m, name in states]
        if stray is not None or not all(isinstance(v, _core.Tensor) for v in new_states):
            _core.trace_abort()
            reason = (f"the metric {stray!r} is updated but is not in `model.metrics`, so "
                      "its state would not be carried" if stray is not None
                      else "a metric keeps its state as a Python number")
            self.graphs[key] = reason
            self._warn(kind, reason)
            return out
        try:
            graph = _core.trace_end(out_leaves + new_states)
        except _core.TraceError as e:
            reason = str(e)
        else:
            applied = optimizer_module._TRACE.applied
            if graph.num_updates > 1 or len(applied) > 1:
                reason = f"{max(graph.num_updates, len(applied))} optimizer updates in one step"
            elif applied and (kind != "train" or applied[0] is not opt):
                reason = "an optimizer other than the compiled one updates the variables"
            elif graph.num_updates and not applied:
                reason = "an optimizer update made outside `optimizer.apply`"
            seeds = [g.seed for g, *_ in gens]
            if len(set(seeds)) != len(seeds):
                reason = "two random seed generators with the same seed draw in the step"
            if any(k is None for k, _, _ in checks):
                reason = ("a loss or metric checks labels that are not one of the batch's "
                          "tensors (their check reads values)")
        optimizer_module._TRACE.applied = []
        if reason is not None:
            self.graphs[key] = reason
            self._warn(kind, reason)
            return out
        self.graphs[key] = (graph, spec, len(out_leaves), gens, checks)
        self.traces += 1
        return out

    def _replay(self, kind, key, entry, leaves, fn, batch, states):
        graph, spec, n_out, gens, checks = entry
        model = self.model
        for k, where, num_classes in checks:  # the label checks the traced step made
            labels_module.check_labels(leaves[k], where, num_classes)
        if gens:
            glob = seed_generator.global_seed_generator()
            if any(is_global and g is not glob for g, _, _, is_global in gens):
                # Re-seeded since (utils.set_random_seed): a new global stream, traced anew.
                self.graphs[key] = _SEEN
                return fn(batch)
        leaves = leaves + _state_tensors(states)
        with model._step_lock:
            random = None
            if gens:  # each generator moves on by the draws of one step, as eagerly
                random = []
                for g, first, n, _ in gens:
                    random.append((g.seed, (g.counter - first) & 0xFFFFFFFFFFFFFFFF))
                    g.counter += n
            if graph.num_updates:
                opt = model.optimizer
                if opt.use_ema and opt._iterations == 0:
                    return fn(batch)  # EMA's first step differs: eagerly
                lr = opt.learning_rate
                step = opt.iterations + 1
                outs = graph.run(leaves, lr, step, random)
                opt._iterations += 1
            else:
                outs = graph.run(leaves, None, None, random)
        for (m, name), value in zip(states, outs[n_out:]):
            m._state[name] = value
        self.replays += 1
        return _rebuild(spec, outs[:n_out])

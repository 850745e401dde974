"""`Functional`: a model defined as a graph of layer calls on `KerasTensor`s, as Keras 3's
`keras.Model(inputs, outputs)` (`keras/src/models/functional.py`, `keras/src/ops/function.py`).

    inputs = keras.Input((784,))
    x = keras.layers.Dense(64, activation="relu")(inputs)
    outputs = keras.layers.Dense(10)(x)
    model = keras.Model(inputs, outputs)

Building walks the `_keras_history` links from the outputs back to the inputs, orders the
nodes by depth (as Keras does, so `model.layers` has the same order), and checks that every
output can be computed from the inputs. Calling the model runs the recorded nodes in that
order on real tensors. The config (`get_config`/`from_config`) is Keras 3's schema, so
configs move between Keras and rskeras."""

from __future__ import annotations

from rskeras import _core
from rskeras.backend import masking
from rskeras.backend.keras_tensor import (
    KerasTensor,
    flatten,
    map_structure,
    pack_sequence_as,
)
from rskeras.layers.core.input_layer import InputLayer
from rskeras.layers.layer import Layer
from rskeras.models.model import Model
from rskeras.ops.operation import OpFunction, spec_scope
from rskeras.saving.serialization_lib import deserialize_layer, serialize_layer_record


def _standardize_struct(struct, what):
    """Inputs/outputs as given (a KerasTensor, a list or a dict); tuples become lists.

    Raises:
        TypeError: when a leaf is not a KerasTensor, or the structure is empty.
    """
    if isinstance(struct, tuple):
        struct = list(struct)  # a list of one stays a list in the config, as Keras
    leaves = flatten(struct)
    if not leaves:
        raise TypeError(f"Functional model: `{what}` must not be empty")
    for x in leaves:
        if not isinstance(x, KerasTensor):
            raise TypeError(
                f"Functional model: all `{what}` must be KerasTensors (from keras.Input() or layer "
                f"calls on them), got {x!r} of type {type(x).__name__}")
    return struct


def _map_graph(inputs, outputs):
    """Keras's `map_graph`: the nodes between `inputs` and `outputs`, their depths, and the
    operations ordered by decreasing depth (ties: first-visit order).

    Returns:
        (node_ids, nodes_by_depth, operations)

    Raises:
        ValueError: when an output depends on an `Input` that is not among `inputs` (the
            message names that input), on a KerasTensor not produced by a layer call, or when
            two operations share a name.
    """
    input_ids = {id(x) for x in inputs}
    finished, nodes_in_decreasing_depth = set(), []
    op_indices: dict[int, int] = {}
    ops_by_id: dict[int, Layer] = {}

    def node_of(tensor):
        history = tensor._keras_history
        if history is None:
            raise ValueError(
                f"Functional model: {tensor!r} was not produced by keras.Input() or a layer call, "
                "so the graph cannot be traced back to the inputs")
        return history.operation._inbound_nodes[history.node_index]

    for output in outputs:
        stack = [(output, False)]
        while stack:
            tensor, expanded = stack.pop()
            node = node_of(tensor)
            if expanded:
                if id(node) not in finished:
                    finished.add(id(node))
                    nodes_in_decreasing_depth.append(node)
                continue
            if id(node) in finished:
                continue
            op = node.operation
            if id(op) not in op_indices:
                op_indices[id(op)] = len(op_indices)
                ops_by_id[id(op)] = op
            stack.append((tensor, True))
            if id(tensor) in input_ids:
                continue
            if node.is_input:
                names = [x._keras_history.operation.name for x in inputs]
                raise ValueError(
                    f'Graph disconnected: the outputs depend on the input "{op.name}" ({tensor!r}), '
                    f"which is not among the model inputs {names}. Pass it in `inputs=` as well.")
            for t in reversed(node.input_tensors):
                stack.append((t, False))

    node_depths: dict[int, int] = {}
    op_depths: dict[int, int] = {}
    nodes_by_id = {id(n): n for n in nodes_in_decreasing_depth}
    for node in reversed(nodes_in_decreasing_depth):
        depth = node_depths.setdefault(id(node), 0)
        depth = max(depth, op_depths.get(id(node.operation), 0))
        op_depths[id(node.operation)] = depth
        node_depths[id(node)] = depth
        for parent in node.parent_nodes:
            node_depths[id(parent)] = max(depth + 1, node_depths.get(id(parent), 0))
            nodes_by_id.setdefault(id(parent), parent)
    # Inputs that no output uses still belong to the model (Keras puts them at depth 0).
    for x in inputs:
        op = x._keras_history.operation
        if id(op) not in op_depths:
            op_depths[id(op)] = 0
            op_indices[id(op)] = -1
            ops_by_id[id(op)] = op
            node = op._inbound_nodes[0]
            node_depths[id(node)] = 0
            nodes_by_id[id(node)] = node

    nodes_by_depth: dict[int, list] = {}
    for node_id, depth in node_depths.items():
        nodes_by_depth.setdefault(depth, []).append(nodes_by_id[node_id])
    ops_by_depth: dict[int, list] = {}
    for op_id, depth in op_depths.items():
        ops_by_depth.setdefault(depth, []).append(ops_by_id[op_id])
    operations = []
    for depth in sorted(ops_by_depth, reverse=True):
        operations.extend(sorted(ops_by_depth[depth], key=lambda op: op_indices[id(op)]))

    names = [op.name for op in operations]
    for name in names:
        if names.count(name) != 1:
            raise ValueError(f'The name "{name}" is used {names.count(name)} times in the model. '
                             "All layer names should be unique.")
    return set(node_depths), nodes_by_depth, operations


class Functional(Model):
    """A model made of layer calls on symbolic inputs: `keras.Model(inputs, outputs)`.

    Args:
        inputs: a KerasTensor from `keras.Input`, or a list or dict of them.
        outputs: a KerasTensor from layer calls on `inputs`, or a list or dict of them.
        name: the model name (default "functional", made unique).
        trainable: default True.

    Calling the model: `model(x)` with `x` in the structure of `inputs` (a tensor, a list in
    the same order, or a dict keyed by the dict's keys or by the `Input` names); arrays are
    converted to the inputs' dtypes. It returns the structure of `outputs`. Called on
    KerasTensors, the model acts as one layer of a bigger model.

    Attributes:
        inputs, outputs: flat lists of KerasTensors. input, output: the structures given.
        layers: every layer, `InputLayer`s included, by decreasing depth (as Keras).
        input_names, output_names: the `Input` layer names (or dict keys) and the output
            layer names (or dict keys); `compile(loss=dict)` and `fit(y=dict)` use the latter.

    Raises:
        TypeError: when inputs/outputs are not KerasTensors.
        ValueError: when an input does not come from `keras.Input`, when the outputs cannot be
            computed from the inputs ("Graph disconnected", naming the missing input), or when
            two layers share a name.
    """

    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        Layer.__init__(self, trainable=trainable, name=name, **kwargs)
        self._init_trainer()
        inputs = _standardize_struct(inputs, "inputs")
        outputs = _standardize_struct(outputs, "outputs")
        flat_inputs, flat_outputs = flatten(inputs), flatten(outputs)
        for i, x in enumerate(flat_inputs):
            history = x._keras_history
            if history is None or not isinstance(history.operation, InputLayer):
                raise ValueError(
                    f"Functional model: input {i} ({x!r}) does not come from keras.Input(); the "
                    "inputs of a model must be the KerasTensors returned by keras.Input()")
        if len({id(x) for x in flat_inputs}) != len(flat_inputs):
            raise ValueError("Functional model: the same Input is given twice in `inputs`")
        node_ids, nodes_by_depth, operations = _map_graph(flat_inputs, flat_outputs)
        set_ = object.__setattr__
        set_(self, "_inputs_struct", inputs)
        set_(self, "_outputs_struct", outputs)
        set_(self, "_inputs", flat_inputs)
        set_(self, "_outputs", flat_outputs)
        set_(self, "_node_ids", node_ids)
        set_(self, "_nodes_by_depth", nodes_by_depth)
        set_(self, "_operations", operations)
        set_(self, "_plan", [node for depth in sorted(nodes_by_depth, reverse=True)
                             for node in nodes_by_depth[depth] if not node.is_input])
        self._layers = [op for op in operations if not isinstance(op, OpFunction)]
        # As in Keras: the model's own layers attach the masks to its outputs when it runs
        # (`compute_mask` below is for asking), so `__call__` adds none itself.
        self.supports_masking = False
        self.built = True
        if isinstance(inputs, dict):
            names = sorted(inputs) if _sortable(inputs) else list(inputs)
        else:
            names = [x._keras_history.operation.name for x in flat_inputs]
        set_(self, "input_names", names)
        if isinstance(outputs, dict):
            names = sorted(outputs) if _sortable(outputs) else list(outputs)
        else:
            names = [x._keras_history.operation.name for x in flat_outputs]
        set_(self, "output_names", names)

    # ----------------------------------------------------------------------------------------
    @property
    def inputs(self) -> list:
        return list(self._inputs)

    @property
    def outputs(self) -> list:
        return list(self._outputs)

    @property
    def input(self):
        """The inputs as given to the constructor (a KerasTensor, list or dict)."""
        return self._inputs_struct

    @property
    def output(self):
        """The outputs as given to the constructor (a KerasTensor, list or dict)."""
        return self._outputs_struct

    @property
    def input_shape(self):
        return map_structure(lambda x: x.shape, self._inputs_struct)

    @property
    def output_shape(self):
        return map_structure(lambda x: x.shape, self._outputs_struct)

    @property
    def operations(self) -> list:
        """Every node's operation: the layers and the operator nodes (`x + y`)."""
        return list(self._operations)

    def build(self, input_shape=None) -> None:
        """A Functional model is built when it is created; this does nothing."""
        self.built = True

    # ----------------------------------------------------------------------------------------
    def _flatten_call_inputs(self, inputs):
        n = len(self._inputs)
        if isinstance(inputs, dict):
            keys = self.input_names  # the dict's keys, or the Input names
            missing = [k for k in keys if k not in inputs]
            if missing:
                raise ValueError(
                    f'Layer "{self.name}": missing data for input(s) {missing}; the inputs are '
                    f"{keys}, got keys {list(inputs)}")
            return [inputs[k] for k in keys]
        if isinstance(inputs, (list, tuple)):
            flat = flatten(list(inputs))
            if len(flat) != n:
                raise ValueError(
                    f'Layer "{self.name}" expects {n} input(s), but it received {len(flat)} input '
                    f"tensors. Inputs received: {_describe(inputs)}")
            return flat
        if n != 1:
            raise ValueError(
                f'Layer "{self.name}" expects {n} input(s), but it received 1 input tensor. '
                f"Inputs received: {_describe(inputs)}")
        return [inputs]

    def _check_shape(self, i, shape, ref):
        if len(shape) != len(ref) or any(r is not None and d is not None and r != d
                                         for d, r in zip(shape, ref)):
            raise ValueError(
                f'Input {i} of layer "{self.name}" is incompatible with the layer: expected '
                f"shape={tuple(ref)}, found shape={tuple(shape)}")

    def _standardize_inputs(self, inputs) -> list:
        """The call's inputs as a flat list aligned with `self.inputs`: tensors of the
        inputs' dtypes, a trailing axis of 1 added or removed as Keras does, shapes checked."""
        out = []
        for i, (x, ref) in enumerate(zip(self._flatten_call_inputs(inputs), self._inputs)):
            if x is None:
                raise ValueError(f'Layer "{self.name}": input {i} ({ref.name}) is None')
            mask = masking.get_keras_mask(x)
            if not isinstance(x, _core.Tensor):
                x = _core.convert_to_tensor(x)
            if x.dtype != ref.dtype:
                x = _core.cast(x, ref.dtype)
            shape, ref_shape = tuple(x.shape), ref.shape
            if len(shape) == len(ref_shape) + 1 and shape[-1:] == (1,):
                x = _core.reshape(x, shape[:-1])
            elif len(shape) == len(ref_shape) - 1 and ref_shape[-1:] == (1,):
                x = _core.reshape(x, shape + (1,))
            self._check_shape(i, tuple(x.shape), ref_shape)
            if mask is not None and masking.get_keras_mask(x) is None:
                masking.set_keras_mask(x, mask)  # a converted input keeps its mask (Keras)
            out.append(x)
        return out

    def call(self, inputs, training=None, mask=None):
        """Run the graph on real tensors; returns the structure of `outputs`.

        Masks: `mask` (one per input, in the inputs' structure; by default the masks the
        inputs carry) is attached to the inputs, and each layer passes, uses or makes masks
        as it runs, so the outputs carry the masks the graph gives them (Keras 3).

        Raises:
            ValueError: on a wrong number of inputs, a missing dict key, or an input shape
                that does not fit its `Input` (naming the model, the expected and the received
                shape).
        """
        flat = self._standardize_inputs(inputs)
        if mask is not None:
            masks = [mask] if isinstance(mask, _core.Tensor) else flatten(mask)
            for x, m in zip(flat, masks):
                if m is not None:
                    masking.set_keras_mask(x, m)
        values = {id(kt): x for kt, x in zip(self._inputs, flat)}
        outputs = self._run_plan(values, training, lambda op: op)
        # Keras 3 (`unpack_singleton`): outputs=[y] gives y itself when the model is called.
        if isinstance(outputs, list) and len(outputs) == 1:
            return outputs[0]
        return outputs

    def compute_mask(self, inputs, mask=None):
        """The masks of the outputs (in the structure of `outputs`; None where an output has
        none) for `inputs` with the input masks `mask` (default: the masks the inputs carry).
        On tensors this runs the model; on KerasTensors it describes the masks. (Keras 3's
        Functional returns the input mask here; rskeras follows the graph, as Keras 2 did.)"""
        if any(isinstance(x, KerasTensor) for x in flatten(inputs)):
            outputs = self.compute_output_spec(inputs, mask=mask)
        else:
            outputs = self.call(inputs, mask=mask)
        return map_structure(masking.get_keras_mask, outputs)

    def _run_plan(self, values, training, fn_for):
        def lookup(x):
            return values[id(x)] if isinstance(x, KerasTensor) else x

        for node in self._plan:
            op = node.operation
            args = [lookup(a) if isinstance(a, KerasTensor) else map_structure(lookup, a)
                    for a in node.call_args]
            kwargs = {k: map_structure(lookup, v) for k, v in node.call_kwargs.items()} \
                if node.call_kwargs else {}
            if training is not None and "training" in op._call_accepts:
                kwargs["training"] = training
            result = fn_for(op)(*args, **kwargs)
            if isinstance(node.outputs, KerasTensor):
                values[id(node.outputs)] = result
            else:
                for kt, value in zip(flatten(node.outputs), flatten(result)):
                    if isinstance(kt, KerasTensor):
                        values[id(kt)] = value
        return pack_sequence_as(self._outputs_struct, [values[id(kt)] for kt in self._outputs])

    def compute_output_spec(self, inputs, training=None, mask=None):
        """Output KerasTensors for KerasTensor `inputs` (used when the model is called as a
        layer inside another model): the recorded shapes when the input shapes match the
        `Input` shapes, else each node's `compute_output_spec` in graph order.

        Raises:
            ValueError: when an input's rank or a known size differs from its `Input`.
        """
        flat = self._flatten_call_inputs(inputs)
        for i, (x, ref) in enumerate(zip(flat, self._inputs)):
            self._check_shape(i, x.shape, ref.shape)
        masks = [getattr(x, "_keras_mask", None) for x in flat]
        if mask is not None:
            given = [mask] if isinstance(mask, KerasTensor) else flatten(mask)
            masks = [g if g is not None else m for g, m in zip(given, masks)]
        if not any(m is not None for m in masks) and all(
                tuple(x.shape) == ref.shape for x, ref in zip(flat, self._inputs)):
            # The graph's own KerasTensors describe the outputs and their masks.
            return map_structure(_fresh_spec, self._outputs_struct)
        if any(m is not None for m in masks):
            # Fresh inputs carrying the masks, so that each layer describes its mask.
            flat = [KerasTensor(x.shape, x.dtype) for x in flat]
            for x, m in zip(flat, masks):
                x._keras_mask = m
        values = {id(kt): x for kt, x in zip(self._inputs, flat)}
        with spec_scope():  # each node infers its outputs; nothing is recorded
            result = self._run_plan(values, None, lambda op: op.symbolic_call)
        return map_structure(_fresh_spec, result)

    def compute_output_shape(self, input_shape):
        """Output shape(s) for input shape(s) given in the structure of the inputs."""
        if isinstance(input_shape, (tuple, list)) and all(d is None or isinstance(d, int) for d in input_shape):
            specs = KerasTensor(input_shape, self._inputs[0].dtype)
        elif isinstance(input_shape, dict):
            specs = {k: KerasTensor(v, "float32") for k, v in input_shape.items()}
        else:
            specs = [KerasTensor(s, ref.dtype) for s, ref in zip(input_shape, self._inputs)]
        return map_structure(lambda t: t.shape, self.compute_output_spec(specs))

    # ----------------------------------------------------------------------------------------
    def get_config(self) -> dict:
        """The Keras 3 Functional config: `{"name", "trainable", "layers": [{"module",
        "class_name", "config", "registered_name", "build_config", "name", "inbound_nodes"}],
        "input_layers", "output_layers"}`, each tensor given as `[layer_name, node_index,
        tensor_index]` (a single triple for a single input/output, else a list of them)."""
        own = self._node_ids
        reindex = {}
        for op in self._operations:
            kept = 1 if isinstance(op, Functional) else 0  # Keras: nested models start at node 1
            for node in op._inbound_nodes:
                if id(node) in own:
                    reindex[id(node)] = kept
                    kept += 1
        layers = []
        for op in self._operations:
            nodes = []
            for node in op._inbound_nodes:
                if id(node) in own:
                    data = _serialize_node(node, own)
                    if data is not None:
                        nodes.append(data)
            record = serialize_layer_record(op)
            record["name"] = op.name
            record["inbound_nodes"] = nodes
            layers.append(record)

        def tensor_config(t):
            op, node_index, tensor_index = t._keras_history
            return [op.name, reindex[id(op._inbound_nodes[node_index])], tensor_index]

        def map_tensors(struct):
            if isinstance(struct, KerasTensor):
                return tensor_config(struct)
            return map_structure(tensor_config, struct)

        return {"name": self.name, "trainable": self.trainable, "layers": layers,
                "input_layers": map_tensors(self._inputs_struct),
                "output_layers": map_tensors(self._outputs_struct)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuild a Functional model from `get_config()` (or a Keras 3 config).

        Args:
            custom_objects: `{class_name: class}` for custom layers.

        Raises:
            ValueError: for unknown layer classes, or inbound nodes that reference layers or
                nodes that do not exist.
        """
        if "input_layers" not in config:
            return Model.from_config.__func__(cls, config, custom_objects)
        return functional_from_config(cls, config, custom_objects=custom_objects)


def _fresh_spec(t):
    """A new KerasTensor like `t` (no history), with a copy of its mask description."""
    out = KerasTensor(t.shape, t.dtype)
    mask = getattr(t, "_keras_mask", None)
    if mask is not None:
        out._keras_mask = KerasTensor(mask.shape, mask.dtype)
    return out


def _sortable(d) -> bool:
    try:
        sorted(d)
        return True
    except TypeError:
        return False


def _describe(inputs) -> str:
    def one(x):
        shape = getattr(x, "shape", None)
        return f"<{type(x).__name__} shape={tuple(shape) if shape is not None else '?'}>"
    if isinstance(inputs, (list, tuple)):
        return "[" + ", ".join(one(x) for x in flatten(list(inputs))) + "]"
    return one(inputs)


# ---------------------------------------------------------------------------------------------
# Serialization of layer records and node arguments (Keras 3 `serialization_lib` forms)


def _serialize_value(x, own):
    import numpy as np

    if isinstance(x, KerasTensor):
        op, node_index, tensor_index = x._keras_history
        irrelevant = sum(1 for node in op._inbound_nodes[:node_index] if id(node) not in own)
        return {"class_name": "__keras_tensor__",
                "config": {"shape": list(x.shape), "dtype": x.dtype,
                           "keras_history": [op.name, node_index - irrelevant, tensor_index]}}
    if isinstance(x, slice):
        return {"class_name": "__slice__", "config": {"start": x.start, "stop": x.stop, "step": x.step}}
    if x is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, (np.ndarray, _core.Tensor)):
        arr = np.asarray(x)
        return {"class_name": "__numpy__", "config": {"value": arr.tolist(), "dtype": str(arr.dtype)}}
    if isinstance(x, (list, tuple)):
        return [_serialize_value(v, own) for v in x]
    if isinstance(x, dict):
        return {k: _serialize_value(v, own) for k, v in x.items()}
    return x


def _serialize_node(node, own):
    if node.is_input:
        return None
    return {"args": [_serialize_value(a, own) for a in node.call_args],
            "kwargs": {k: _serialize_value(v, own) for k, v in node.call_kwargs.items()}}


def _deserialize_value(x, created):
    """Inverse of `_serialize_value`. Raises IndexError when a referenced node does not
    exist yet (the caller retries after other layers have been called)."""
    if isinstance(x, dict):
        kind = x.get("class_name")
        if kind == "__keras_tensor__":
            name, node_index, tensor_index = x["config"]["keras_history"]
            if name not in created:
                raise ValueError(f"Functional config: unknown layer {name!r} in an inbound node")
            layer = created[name]
            nodes = layer.__dict__.get("_inbound_nodes") or []
            if node_index >= len(nodes):
                raise IndexError(name)
            return flatten(nodes[node_index].outputs)[tensor_index]
        if kind == "__slice__":
            c = x["config"]
            return slice(c.get("start"), c.get("stop"), c.get("step"))
        if kind == "__ellipsis__":
            return Ellipsis
        if kind in ("__numpy__", "__tensor__"):
            import numpy as np

            return np.asarray(x["config"]["value"], dtype=x["config"].get("dtype"))
        return {k: _deserialize_value(v, created) for k, v in x.items()}
    if isinstance(x, list):
        return [_deserialize_value(v, created) for v in x]
    return x


def _deserialize_node(data, created):
    if isinstance(data, list):  # Keras 2 form: [[layer_name, node_index, tensor_index, kwargs], ...]
        tensors, kwargs = [], {}
        for entry in data:
            name, node_index, tensor_index = entry[:3]
            kwargs = entry[3] if len(entry) > 3 and entry[3] else kwargs
            tensors.append(_deserialize_value({"class_name": "__keras_tensor__",
                                               "config": {"keras_history": [name, node_index, tensor_index]}},
                                              created))
        return ([tensors[0]] if len(tensors) == 1 else [tensors]), dict(kwargs)
    args = _deserialize_value(list(data.get("args", [])), created)
    kwargs = _deserialize_value(dict(data.get("kwargs", {})), created)
    return args, kwargs


def functional_from_config(cls, config, custom_objects=None):
    """Rebuild a Functional model: create every layer, replay the inbound nodes in an order
    where their inputs exist (as Keras's `functional_from_config`), then connect the inputs
    and outputs listed in `input_layers`/`output_layers`.

    Raises:
        ValueError: for unknown layers or nodes that can never be replayed.
    """
    created, pending, order = {}, {}, []
    for record in config["layers"]:
        layer = deserialize_layer(record, custom_objects)
        name = record.get("name") or record.get("config", {}).get("name") or layer.name
        created[name] = layer
        order.append(name)
        nodes = list(record.get("inbound_nodes") or [])
        if nodes:
            pending[name] = nodes
    while pending:
        progress = False
        for name in order:
            nodes = pending.get(name)
            if not nodes:
                continue
            layer = created[name]
            while nodes:
                try:
                    args, kwargs = _deserialize_node(nodes[0], created)
                except IndexError:
                    break
                layer(*args, **kwargs)
                nodes.pop(0)
                progress = True
            if not nodes:
                del pending[name]
        if not progress:
            raise ValueError(
                f"Functional config: the inbound nodes of {sorted(pending)} reference layer calls "
                "that never happen; the config is inconsistent")

    def get_tensor(name, node_index, tensor_index):
        if name not in created:
            raise ValueError(f"Functional config: unknown layer {name!r} in input/output layers")
        layer = created[name]
        if isinstance(layer, Functional):
            node_index -= 1  # nested Functional models count from 1 in configs
        return flatten(layer._inbound_nodes[node_index].outputs)[tensor_index]

    def map_tensors(t):
        if isinstance(t, (list, tuple)) and len(t) == 3 and isinstance(t[0], str):
            return get_tensor(*t)
        if isinstance(t, dict):
            return {k: map_tensors(v) for k, v in t.items()}
        return [map_tensors(v) for v in t]

    inputs = map_tensors(config["input_layers"])  # a list of one stays a list, as Keras
    outputs = map_tensors(config["output_layers"])
    target = cls if isinstance(cls, type) and issubclass(cls, Functional) \
        and cls.__init__ is Functional.__init__ else Functional
    return target(inputs, outputs, name=config.get("name"), trainable=config.get("trainable", True))

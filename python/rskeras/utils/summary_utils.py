"""`model.summary()`: the box-drawn layer table Keras 3 prints (`keras/src/utils/summary_utils.py`).

A Sequential or subclassed model, or a Functional model that is a plain chain, gets the
columns "Layer (type)", "Output Shape", "Param #"; any other Functional model also gets
"Connected to", listing the inbound tensors as `layer_name[node_index][tensor_index]`."""

from __future__ import annotations

import math


def _size(n_params: int) -> str:
    size = n_params * 4.0
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.2f} {unit}"
        size /= 1024


def _shape(shape) -> str:
    if shape is None:
        return "?"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _is_graph(model) -> bool:
    return hasattr(model, "_nodes_by_depth") and hasattr(model, "_node_ids")


def _sequential_like(model) -> bool:
    """Keras's test: a Functional model whose every depth holds one node with one input, and
    no layer used twice, prints like a Sequential one."""
    if not _is_graph(model):
        return True
    nodes = []
    for depth_nodes in model._nodes_by_depth.values():
        if len(depth_nodes) > 1 or (len(depth_nodes) == 1 and len(depth_nodes[0].input_tensors) > 1):
            return False
        nodes.extend(depth_nodes)
    ids = {id(n) for n in nodes}
    for layer in model._operations:
        if sum(1 for n in layer.__dict__.get("_inbound_nodes", []) if id(n) in ids) > 1:
            return False
    return True


def _relevant_nodes(model, layer) -> list:
    return [n for n in layer.__dict__.get("_inbound_nodes", []) if id(n) in model._node_ids]


def _graph_shape(model, layer) -> str:
    nodes = _relevant_nodes(model, layer)
    if not nodes:
        return "?"
    outputs = nodes[-1].output_tensors
    if len(outputs) == 1:
        return _shape(outputs[0].shape)
    return "[" + ", ".join(_shape(t.shape) for t in outputs) + "]"


def _connections(model, layer) -> list:
    parts = []
    for node in _relevant_nodes(model, layer):
        for t in node.input_tensors:
            op, node_index, tensor_index = t._keras_history
            parts.append(f"{op.name}[{node_index}][{tensor_index}]")
    if not parts:
        return ["-"]
    return [p + ("," if i < len(parts) - 1 else "") for i, p in enumerate(parts)]


def _params(layer) -> str:
    if not hasattr(layer, "count_params"):  # an op node (`x + y`): no weights
        return "0"
    if not layer.built:
        return "0 (unbuilt)"
    return f"{layer.count_params():,}"


def _wrap(text: str, width: int) -> list:
    """Split a cell into lines of at most `width` characters, at spaces when possible."""
    lines = []
    for part in text.split("\n"):
        while len(part) > width:
            cut = part.rfind(" ", 0, width + 1)
            if cut <= 0:
                cut = width
            lines.append(part[:cut].rstrip())
            part = part[cut:].lstrip()
        lines.append(part)
    return lines


def print_summary(model, line_length=None, print_fn=None, positions=None) -> None:
    """Print `Model: "name"`, one row per layer (name and type, output shape, parameter
    count, and for non-chain Functional models the inbound connections) and the total /
    trainable / non-trainable parameter counts with their sizes."""
    print_fn = print_fn or print
    graph = _is_graph(model)
    connected = graph and not _sequential_like(model)
    if connected:
        widths = [29, 23, 10, 29]
        headers = ("Layer (type)", "Output Shape", "Param #", "Connected to")
    else:
        widths = [33, 24, 15]
        headers = ("Layer (type)", "Output Shape", "Param #")
    if line_length:
        scale = line_length / (sum(widths) + 3 * len(widths) + 1)
        widths = [max(8, int(w * scale)) for w in widths]

    rows = []
    if graph:
        for layer in model._operations:
            row = [[f"{layer.name} ({_class_name(layer)})"], [_graph_shape(model, layer)], [_params(layer)]]
            if connected:
                row.append(_connections(model, layer))
            rows.append(row)
    else:
        shapes = getattr(model, "_output_shapes", None) if model.built else None
        for i, layer in enumerate(model.layers):
            shape = shapes[i] if shapes and i < len(shapes) else None
            if shape is None and shapes is None:
                shape = _built_output_shape(model, layer)
            rows.append([[f"{layer.name} ({_class_name(layer)})"],
                         [_shape(shape) if getattr(layer, "built", True) else "?"], [_params(layer)]])

    def line(left, mid, right, fill):
        return left + mid.join(fill * (w + 2) for w in widths) + right

    def render(cells, sep):
        wrapped = []
        for j, (cell, w) in enumerate(zip(cells, widths)):
            lines = []
            for text in cell:
                lines.extend(_wrap(text, w) if (connected or j == 0) else [text if len(text) <= w else text[: w - 1] + "…"])
            wrapped.append(lines)
        height = max(len(c) for c in wrapped)
        out = []
        for k in range(height):
            parts = []
            for j, (lines, w) in enumerate(zip(wrapped, widths)):
                text = lines[k] if k < len(lines) else ""
                parts.append(" " + (text.rjust(w) if j == 2 else text.ljust(w)) + " ")
            out.append(sep + sep.join(parts) + sep)
        return out

    lines = [f'Model: "{model.name}"', line("┏", "┳", "┓", "━")]
    lines.extend(render([[h] for h in headers], "┃"))
    lines.append(line("┡", "╇", "┩", "━"))
    for k, r in enumerate(rows):
        lines.extend(render(r, "│"))
        if k < len(rows) - 1:
            lines.append(line("├", "┼", "┤", "─"))
    lines.append(line("└", "┴", "┘", "─"))
    weights = model.weights
    total = sum(math.prod(w.shape) for w in weights)
    trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
    lines.append(f" Total params: {total:,} ({_size(total)})")
    lines.append(f" Trainable params: {trainable:,} ({_size(trainable)})")
    lines.append(f" Non-trainable params: {total - trainable:,} ({_size(total - trainable)})")
    opt = getattr(model, "optimizer", None)
    if opt is not None and opt.built:
        n = sum(math.prod(v.shape) for v in opt.variables)
        lines.append(f" Optimizer params: {n:,} ({_size(n)})")
    print_fn("\n".join(lines))


def _built_output_shape(model, layer):
    """For a subclassed model: the output shape of a sublayer from the input shape it was
    built for (the batch axis shown as None when the model was built for any batch size)."""
    from rskeras.backend.keras_tensor import KerasTensor

    shape = layer.__dict__.get("_build_shape_for_config")
    if shape is None or not all(d is None or isinstance(d, int) for d in shape):
        return None
    try:
        spec = layer.compute_output_spec(KerasTensor(tuple(shape), layer.dtype))
    except Exception:  # noqa: BLE001 - a summary never fails on a layer it cannot describe
        return None
    if not isinstance(spec, KerasTensor):
        return None
    out = list(spec.shape)
    model_shape = model.__dict__.get("_build_shape_for_config")
    if out and isinstance(model_shape, (tuple, list)) and model_shape and model_shape[0] is None:
        out[0] = None
    return tuple(out)


def _class_name(layer) -> str:
    from rskeras.ops.operation import OpFunction, keras_class_name

    if isinstance(layer, OpFunction):
        return keras_class_name(layer.op_name)
    return type(layer).__name__

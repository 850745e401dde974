"""`Node`: one call of an `Operation` (a `keras.ops` function or a layer) on KerasTensors, as
Keras 3's `keras/src/ops/node.py`."""

from __future__ import annotations

from rskeras.backend.keras_tensor import KerasHistory, KerasTensor, flatten


class Node:
    """One call of an operation (a `keras.ops` function or a layer) on KerasTensors.

    Args:
        operation: the `Operation` that was called.
        call_args: the positional arguments of the call (KerasTensors, nested structures of
            them, or constants).
        call_kwargs: the keyword arguments of the call.
        outputs: the structure of KerasTensors the call returned; each gets
            `_keras_history = KerasHistory(operation, node_index, tensor_index)`.

    The node appends itself to `operation._inbound_nodes`; `node_index` is its position there.
    A node with no KerasTensor among its arguments is an input node (that of an `InputLayer`).
    """

    def __init__(self, operation, call_args=(), call_kwargs=None, outputs=None):
        self.operation = operation
        self.call_args = tuple(call_args)
        self.call_kwargs = dict(call_kwargs or {})
        self.outputs = outputs
        self.output_tensors = [x for x in flatten(outputs) if isinstance(x, KerasTensor)]
        self.input_tensors = [x for x in flatten((self.call_args, self.call_kwargs))
                              if isinstance(x, KerasTensor)]
        self.is_input = not self.input_tensors
        nodes = operation.__dict__.get("_inbound_nodes")
        if nodes is None:
            nodes = []
            object.__setattr__(operation, "_inbound_nodes", nodes)
        self.node_index = len(nodes)
        nodes.append(self)
        for i, t in enumerate(self.output_tensors):
            t._keras_history = KerasHistory(operation, self.node_index, i)

    @property
    def parent_nodes(self) -> list:
        """The nodes that produced this node's KerasTensor inputs."""
        out = []
        for t in self.input_tensors:
            history = t._keras_history
            if history is not None:
                out.append(history.operation._inbound_nodes[history.node_index])
        return out

    def __repr__(self) -> str:
        return f"<Node {self.operation.name}[{self.node_index}]>"

"""`keras.models.clone_model`: a new model with the same architecture and new weights."""

from __future__ import annotations

from rskeras.backend.keras_tensor import (
    KerasTensor,
    flatten,
    map_structure,
    pack_sequence_as,
)
from rskeras.layers.core.input_layer import Input, InputLayer


def _default_clone(layer):
    """A new layer of the same class and config (fresh, unbuilt weights), as Keras's default
    `clone_function`; nested models are rebuilt from their configs as well."""
    from rskeras.models.model import Model

    if isinstance(layer, Model):
        return clone_model(layer)
    return type(layer).from_config(layer.get_config())


def clone_model(model, input_tensors=None, clone_function=None, call_function=None,
                recursive=False, **kwargs):
    """A copy of `model` with the same layers' classes and configs but new weights, as
    `keras.models.clone_model`. Shared layers stay shared in the copy.

    Args:
        model: a Sequential, Functional or subclassed model (a subclassed model must
            implement `get_config`/`from_config`).
        input_tensors: optional KerasTensor(s) (from `keras.Input`) to build the copy on,
            in the structure of the model's inputs (Sequential and Functional only).
        clone_function: `layer -> new layer` (default: `type(layer).from_config(
            layer.get_config())`; nested models are cloned recursively).
        call_function: `(layer, *args, **kwargs) -> outputs`, used instead of
            `layer(*args, **kwargs)` when rebuilding a Functional graph.
        recursive: accepted for compatibility (nested models are always cloned).

    Returns:
        The new model, unbuilt weights initialised afresh by their initializers (use
        `new.set_weights(model.get_weights())` to copy the values). It is not compiled.

    Raises:
        TypeError: for something that is not a model.
        ValueError: for a subclassed model without a working `get_config`/`from_config`, or
            `input_tensors` of the wrong count.
    """
    from rskeras.models.functional import Functional
    from rskeras.models.model import Model
    from rskeras.models.sequential import Sequential
    from rskeras.ops.operation import OpFunction

    if kwargs:
        raise TypeError(f"clone_model: unexpected arguments {sorted(kwargs)}")
    if not isinstance(model, Model):
        raise TypeError(f"clone_model expects a keras Model, got {model!r}")
    clone_function = clone_function or _default_clone

    if isinstance(model, Sequential):
        new = Sequential(name=model.name, trainable=model.trainable)
        if input_tensors is not None:
            t = flatten(input_tensors)[0]
            new.add(t)
        elif model._input_shape is not None and model._input_name is not None:
            new.add(Input(batch_shape=model._input_shape, dtype=model._input_dtype,
                          name=model._input_name))
        elif model._input_shape is not None:
            new._input_shape = tuple(model._input_shape)
        for layer in model.layers:
            new.add(clone_function(layer))
        return new

    if isinstance(model, Functional):
        if input_tensors is not None:
            given = flatten(input_tensors)
            if len(given) != len(model.inputs):
                raise ValueError(f"clone_model: the model has {len(model.inputs)} inputs, "
                                 f"got {len(given)} input_tensors")
            new_inputs = given
        else:
            new_inputs = []
            for x in model.inputs:
                layer = x._keras_history.operation
                clone = InputLayer.from_config(layer.get_config())
                new_inputs.append(clone.output)
        values = {id(old): new for old, new in zip(model.inputs, new_inputs)}
        clones = {}

        def lookup(x):
            return values[id(x)] if isinstance(x, KerasTensor) else x

        for node in model._plan:
            op = node.operation
            if isinstance(op, OpFunction):
                new_op = OpFunction(op.op_name)
            else:
                new_op = clones.get(id(op))
                if new_op is None:
                    new_op = clones[id(op)] = clone_function(op)
            args = [map_structure(lookup, a) for a in node.call_args]
            kwargs_ = {k: map_structure(lookup, v) for k, v in node.call_kwargs.items()}
            result = call_function(new_op, *args, **kwargs_) if call_function else new_op(*args, **kwargs_)
            for old, new in zip(flatten(node.outputs), flatten(result)):
                if isinstance(old, KerasTensor):
                    values[id(old)] = new
        inputs = pack_sequence_as(model._inputs_struct, new_inputs)
        outputs = pack_sequence_as(model._outputs_struct, [values[id(t)] for t in model.outputs])
        return Functional(inputs, outputs, name=model.name, trainable=model.trainable)

    try:
        return type(model).from_config(model.get_config())
    except Exception as e:
        raise ValueError(
            f"clone_model: cannot clone the subclassed model {model.name!r} ({type(model).__name__}): "
            f"{type(e).__name__}: {e}. Implement get_config() and from_config() to make it "
            "clonable.") from e

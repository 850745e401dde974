"""`Layer`: the base class of every layer and model, as `keras.Layer`.

A layer owns weights (`add_weight`), creates them lazily in `build(input_shape)` on the first
call, and computes its output in `call(inputs, training=None)` with `rskeras.ops`."""

from __future__ import annotations

import functools
import inspect
import math
import threading
import warnings


from rskeras import _core
from rskeras.backend import masking, naming
from rskeras.backend.config import FLOAT_DTYPES, floatx
from rskeras.backend.keras_tensor import KerasTensor, any_symbolic, flatten, map_structure
from rskeras.backend.variables import Variable, array_for_variable, standardize_shape
from rskeras.layers._layer_args import set_weight_options
from rskeras.layers.input_spec import InputSpec
from rskeras.ops.node import Node
from rskeras.ops.operation import Operation, recording, spec_scope
from rskeras.saving import file_io

_CALL_ARGS_CACHE: dict[type, frozenset] = {}

# Whether a layer call is running in this thread: the outermost call clears the losses of the
# previous forward pass (Keras 3's call context), nested calls add to them.
_CALL_STATE = threading.local()


def _call_args(cls) -> frozenset:
    """The keyword names `cls.call` accepts (cached per class)."""
    args = _CALL_ARGS_CACHE.get(cls)
    if args is None:
        params = inspect.signature(cls.call).parameters
        takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in params.values())
        args = frozenset(params) | ({"training", "mask"} if takes_kwargs else set())
        _CALL_ARGS_CACHE[cls] = args
    return args


_CALL_HAS_MASK_CACHE: dict[type, bool] = {}


def _call_has_mask_arg(cls) -> bool:
    """Whether `cls.call` names a `mask` argument (Keras's `_call_has_mask_arg`): such a call
    receives the mask of its input automatically."""
    has = _CALL_HAS_MASK_CACHE.get(cls)
    if has is None:
        has = _CALL_HAS_MASK_CACHE[cls] = "mask" in inspect.signature(cls.call).parameters
    return has


def _masks_of(inputs):
    """The masks attached to `inputs`, in the structure of `inputs` (Keras's
    `tree.map_structure(get_keras_mask, inputs)`)."""
    if isinstance(inputs, (list, tuple, dict)):
        return map_structure(masking.get_keras_mask, inputs)
    return masking.get_keras_mask(inputs)


def _as_mask(mask):
    """An explicitly passed mask leaf as a tensor (arrays and lists are converted)."""
    if mask is None or isinstance(mask, (_core.Tensor, KerasTensor)):
        return mask
    return _core.convert_to_tensor(mask)


def _any_mask(masks) -> bool:
    if masks is None:
        return False
    if isinstance(masks, (list, tuple, dict)):
        return any(m is not None for m in flatten(masks))
    return True


def _has_tensor(value) -> bool:
    if isinstance(value, (_core.Tensor, KerasTensor)):
        return True
    if isinstance(value, (list, tuple, dict)):
        return any(isinstance(x, (_core.Tensor, KerasTensor)) for x in flatten(value))
    return False


def _unique(items) -> list:
    """Items in order, each object once (weights shared between layers appear once)."""
    seen, out = set(), []
    for item in items:
        if id(item) not in seen:
            seen.add(id(item))
            out.append(item)
    return out


class Layer(Operation):
    """Base class for layers (an `Operation` with weights, state and masks, as in Keras 3).

    Args:
        trainable: whether the layer's weights are updated by training (default True).
        name: the layer name; default: the snake_case class name, made unique ("dense_1").
        dtype: the compute and weight dtype: "float16", "bfloat16", "float32" or "float64"
            (or a `DTypePolicy` config of one); default `keras.config.floatx()`. Float inputs
            of another dtype are cast to it (autocast), as in Keras.
        input_shape: shape of one sample (without the batch axis), accepted for the first
            layer of a `Sequential` model, as in Keras.
        activity_regularizer: a `keras.regularizers` identifier ("l1", `L2(0.1)`, a config
            dict) or a callable; its penalty on each output is added to `losses` at every
            call (default None). Layer arguments such as `kernel_regularizer` or
            `bias_constraint` go through `keras.regularizers.get` / `keras.constraints.get`
            the same way (`rskeras.layers._layer_args.set_weight_options`).

    Subclasses implement `build(input_shape)` (create weights with `add_weight`), `call(inputs,
    training=None)` with `keras.ops`; symbolic calls infer the outputs by running `call` on
    KerasTensors (the ops' shape rules, no kernel), or from `compute_output_shape(input_shape)`
    where a subclass defines it. Input shapes include the batch axis: `(batch, ...)`.

    Masking (Keras 3): `supports_masking` says whether the layer attaches
    `compute_mask(inputs, previous_mask)` to its outputs (default: True exactly when the class
    overrides `compute_mask`); a `call` with a `mask` argument receives the input's mask. See
    `compute_mask`.
    """

    # True where `compute_mask` returns None whenever no input has a mask (merge layers,
    # pooling): symbolic calls then skip describing the mask.
    _mask_only_from_masks = False

    # Set by `__init__` (`keras.regularizers.get`); settable on any layer, as in Keras 3.
    activity_regularizer = None

    def __init__(self, *, activity_regularizer=None, trainable=True, dtype=None, autocast=True,
                 name=None, input_shape=None, input_dim=None, batch_input_shape=None, **kwargs):
        allowed = {"input_dim", "batch_size", "weights"}
        unknown = set(kwargs) - allowed
        if unknown:
            raise TypeError(
                f"{type(self).__name__}: unrecognized keyword arguments {sorted(unknown)}"
            )
        object.__setattr__(self, "_layers", [])
        self._trainable_variables: list[Variable] = []
        self._non_trainable_variables: list[Variable] = []
        self._losses: list = []
        self._trainable = bool(trainable)
        set_weight_options(self, activity_regularizer=activity_regularizer)
        self.built = False
        self.name = name or naming.uniquify(naming.to_snake_case(type(self).__name__))
        if isinstance(dtype, dict):  # a serialized DTypePolicy
            dtype = dtype.get("config", {}).get("name")
        dtype = getattr(dtype, "name", dtype)  # a policy object
        if dtype is not None and dtype not in FLOAT_DTYPES:
            raise ValueError(
                f"{self.name}: dtype must be one of {FLOAT_DTYPES}, got {dtype!r} "
                "(mixed-precision policies are not supported)")
        self.dtype = dtype or floatx()
        self.input_spec: InputSpec | None = None
        # As in Keras 3: a layer that overrides `compute_mask` supports masking by default.
        self._own_compute_mask = type(self).compute_mask is not Layer.compute_mask
        self.supports_masking = self._own_compute_mask
        self._call_accepts = _call_args(type(self))
        self._call_has_mask_arg = _call_has_mask_arg(type(self))
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        if batch_input_shape is not None:
            self._batch_input_shape = standardize_shape(batch_input_shape)
        elif input_shape is not None:
            self._batch_input_shape = (None,) + standardize_shape(input_shape)
        else:
            self._batch_input_shape = None

    # ----------------------------------------------------------------------------------------
    # Attribute tracking: layers assigned as attributes, or inside lists, tuples and dicts
    # (nested too), become sublayers. Public list/dict attributes are wrapped so that layers
    # appended or inserted later are tracked as well, as Keras does.
    def __setattr__(self, key, value):
        if key != "_layers" and "_layers" in self.__dict__:
            if not key.startswith("_") and type(value) in (list, dict) and (
                    not value or _holds_layer(value)):
                value = (_TrackedList if type(value) is list else _TrackedDict)(value, self)
            self._track(value)
        object.__setattr__(self, key, value)

    def _track(self, value, depth=0) -> None:
        """Add the layers found in `value` (a layer or a nest of lists/tuples/dicts)."""
        if isinstance(value, Layer):
            if value is not self and all(value is not known for known in self._layers):
                self._layers.append(value)
        elif isinstance(value, (list, tuple, dict)) and depth < 8:
            for item in (value.values() if isinstance(value, dict) else value):
                if isinstance(item, (Layer, list, tuple, dict)):
                    self._track(item, depth + 1)

    def __init_subclass__(cls, **kwargs):
        # As in Keras 3, a subclass's `build` marks the layer built when it returns, so that
        # `layer.build(shape)` called directly (then `set_weights`, then a call) does not build
        # again on the first call, creating a second set of weights.
        super().__init_subclass__(**kwargs)
        build = cls.__dict__.get("build")
        if build is None or getattr(build, "_marks_built", False):
            return

        @functools.wraps(build)
        def build_and_mark_built(self, *args, **kw):
            build(self, *args, **kw)
            self.built = True

        build_and_mark_built._marks_built = True
        cls.build = build_and_mark_built

    # ----------------------------------------------------------------------------------------
    def build(self, input_shape) -> None:
        """Create the layer's weights for inputs of `input_shape` (batch axis included)."""
        self.built = True

    def call(self, inputs, *args, **kwargs):
        """The forward computation; override in subclasses."""
        raise NotImplementedError(f"Layer {type(self).__name__} does not implement call()")

    def compute_output_shape(self, input_shape):
        """The output shape for an input of `input_shape` (batch axis included). The default
        assumes a shape-preserving layer."""
        return tuple(input_shape)

    def compute_mask(self, inputs, previous_mask=None):
        """The mask of the outputs of `call(inputs)`, given `previous_mask` (the mask of
        `inputs`, in their structure: None, a boolean tensor, or a list of them).

        Masks (Keras 3): a mask is a boolean tensor, usually `(batch, steps)`, True for the
        entries to use. After each call, a layer whose `supports_masking` is True attaches
        `compute_mask(inputs, previous_mask)` to its outputs (`output._keras_mask`, also
        `rskeras.backend.get_keras_mask(output)`), unless `call` already attached one; a
        layer whose `call` has a `mask` argument receives its input's mask there
        automatically; a layer that does not support masking drops the mask, with a warning
        when it was given one. Symbolic calls (`keras.Input`) attach boolean KerasTensors
        describing the masks. A model's loss and metrics weight their values by the mask of
        the prediction (Keras's `apply_mask`).

        The default passes the input mask through; `supports_masking` defaults to True
        exactly when a subclass overrides this method (set it to True for a layer that keeps
        the default pass-through, as `Dense` or `Dropout` do)."""
        return previous_mask

    def __call__(self, inputs, *args, **kwargs):
        """Run the layer: build it on the first call, then `call(inputs, ...)`; on
        KerasTensors, a symbolic call (Functional API).

        Losses (Keras 3): the outermost layer call of a forward pass clears the losses that
        `add_loss` recorded in the previous one, in this layer and its sublayers; then, when
        `activity_regularizer` is set, the penalty of each output tensor is added with
        `add_loss` (not divided by the batch size, as in Keras 3)."""
        if not self.built or self._layers:
            # Variables made while building (this layer's, or its sublayers' on their first
            # call) get paths under this layer's name, as Keras's name scopes give.
            with naming.name_scope(self.name):
                return self._outer_call(inputs, args, kwargs)
        return self._outer_call(inputs, args, kwargs)

    def _outer_call(self, inputs, args, kwargs):
        if getattr(_CALL_STATE, "active", False):
            return self._run_call(inputs, *args, **kwargs)
        _CALL_STATE.active = True
        try:
            self._clear_losses()
            return self._run_call(inputs, *args, **kwargs)
        finally:
            _CALL_STATE.active = False

    def _run_call(self, inputs, *args, **kwargs):
        if not isinstance(inputs, _core.Tensor):
            if isinstance(inputs, KerasTensor) or any_symbolic(inputs, args, kwargs):
                return self.symbolic_call(inputs, *args, **kwargs)
            if isinstance(inputs, (list, tuple)):
                inputs = type(inputs)(x if isinstance(x, _core.Tensor) or x is None else _core.convert_to_tensor(x) for x in inputs)
            elif isinstance(inputs, dict):
                inputs = {k: x if isinstance(x, _core.Tensor) or x is None else _core.convert_to_tensor(x)
                          for k, x in inputs.items()}
            else:
                inputs = _core.convert_to_tensor(inputs)
        elif args and any_symbolic(args):
            return self.symbolic_call(inputs, *args, **kwargs)
        if isinstance(inputs, _core.Tensor) and inputs.dtype != self.dtype and inputs.dtype in FLOAT_DTYPES:
            # autocast: float inputs compute in the layer's dtype, as in Keras (mask kept)
            mask = masking.get_keras_mask(inputs)
            inputs = _core.cast(inputs, self.dtype)
            if mask is not None:
                masking.set_keras_mask(inputs, mask)
        if not self.built:
            self._build_for(inputs)
        if self.input_spec is not None and isinstance(inputs, _core.Tensor):
            self.input_spec.check(self.name, inputs.shape)
        # Masks (Keras 3 `Layer.__call__`): an explicit `mask=` wins; otherwise the input's.
        previous_mask = kwargs.get("mask") if kwargs else None
        if previous_mask is not None:
            previous_mask = map_structure(_as_mask, previous_mask)
            kwargs["mask"] = previous_mask
        if kwargs and not self._call_accepts.issuperset(kwargs):
            accepts = self._call_accepts
            kwargs = {k: v for k, v in kwargs.items() if k in accepts}
        if previous_mask is None and isinstance(inputs, _core.Tensor) and inputs._keras_mask is None:
            # Fast path: the input carries no mask, so only a layer that makes masks has work.
            outputs = self.call(inputs, *args, **kwargs)
            if self._own_compute_mask and self.supports_masking:
                self._set_mask_metadata(inputs, outputs, None)
            if self.activity_regularizer is not None:
                self._add_activity_losses(outputs)
            return outputs
        if previous_mask is None:
            previous_mask = _masks_of(inputs)
            if self._call_has_mask_arg and not _has_tensor(args) and not any(
                    _has_tensor(v) for k, v in kwargs.items() if k != "mask"):
                kwargs["mask"] = previous_mask
        outputs = self.call(inputs, *args, **kwargs)
        if self.supports_masking:
            self._set_mask_metadata(inputs, outputs, previous_mask)
        elif _any_mask(previous_mask):
            self._warn_mask_dropped(stacklevel=4)
        if self.activity_regularizer is not None:
            self._add_activity_losses(outputs)
        return outputs

    def _add_activity_losses(self, outputs) -> None:
        """`add_loss(activity_regularizer(output))` for each output tensor (Keras 3)."""
        regularizer = self.activity_regularizer
        for output in (outputs,) if isinstance(outputs, _core.Tensor) else flatten(outputs):
            if isinstance(output, _core.Tensor):
                self.add_loss(regularizer(output))

    def _set_mask_metadata(self, inputs, outputs, previous_mask) -> None:
        """Attach `compute_mask(inputs, previous_mask)` to the outputs that have no mask yet
        (Keras 3). Works on tensors and on KerasTensors (see `_mask_specs`)."""
        flat_outputs = flatten(outputs)
        if all(masking.get_keras_mask(x) is not None for x in flat_outputs):
            return
        if not self._own_compute_mask:
            if not _any_mask(previous_mask):
                return
            output_masks = previous_mask  # the default pass-through, without a call
        elif any(isinstance(x, KerasTensor) for x in flat_outputs):
            if self._mask_only_from_masks and not _any_mask(previous_mask):
                return  # no placeholder run just to learn that there is no mask
            output_masks = self._mask_specs(inputs, previous_mask)
        else:
            output_masks = self.compute_mask(inputs, previous_mask)
        if output_masks is None:
            return
        for tensor, mask in zip(flat_outputs, flatten(output_masks)):
            if mask is not None and masking.get_keras_mask(tensor) is None:
                masking.set_keras_mask(tensor, mask)

    def _mask_specs(self, inputs, previous_mask):
        """`compute_mask` for KerasTensor inputs, as boolean KerasTensors: run on the
        KerasTensors (ops infer by rule), or on placeholders when it needs values."""
        try:
            with spec_scope():
                return map_structure(_fresh_spec, self.compute_mask(inputs, previous_mask))
        except TypeError:
            return _run_on_placeholders(lambda s: self.compute_mask(s[0], s[1]),
                                        (inputs, previous_mask))

    def _warn_mask_dropped(self, stacklevel=2) -> None:
        # (Model overrides this: a model's own layers consume and produce its masks.)
        warnings.warn(
            f"Layer '{self.name}' (of type {type(self).__name__}) was passed an input with a "
            "mask attached to it. However, this layer does not support masking and will "
            "therefore destroy the mask information. Downstream layers will not see the mask.",
            stacklevel=stacklevel)

    def _build_for(self, inputs) -> None:
        if isinstance(inputs, (list, tuple)):
            shape = [None if x is None else tuple(x.shape) for x in inputs]
        elif isinstance(inputs, dict):
            shape = {k: None if x is None else tuple(x.shape) for k, x in inputs.items()}
        else:
            shape = tuple(inputs.shape)
        self.build_from_shape(shape)

    def build_from_shape(self, input_shape) -> None:
        """Build (once) for `input_shape`, checking the input spec first."""
        if self.built:
            return
        if self.input_spec is not None and _is_shape(input_shape):
            self.input_spec.check(self.name, input_shape)
        self.build(input_shape)
        self.built = True
        # What `get_build_config()` / `.keras` files record as `build_config.input_shape`.
        object.__setattr__(self, "_build_shape_for_config", input_shape)

    # ----------------------------------------------------------------------------------------
    # Symbolic calls (the Functional API): a layer called on KerasTensors records a Node.
    def symbolic_call(self, inputs, *args, **kwargs):
        """Build for the KerasTensors' shapes, infer the outputs with `compute_output_spec`,
        record a `Node` (outside `spec_scope`) and return the output KerasTensors (same
        nesting as the outputs)."""
        shapes = map_structure(_shape_of, inputs)
        if not self.built:
            self.build_from_shape(shapes)
        elif self.input_spec is not None and isinstance(inputs, KerasTensor):
            self.input_spec.check(self.name, inputs.shape)
        outputs = self._spec_call(inputs, *args, **kwargs)
        if recording():
            Node(self, call_args=(inputs,) + args, call_kwargs=kwargs, outputs=outputs)
        return outputs

    def _spec_call(self, inputs, *args, **kwargs):
        """The output KerasTensors of a call on KerasTensors (`compute_output_spec`), with
        the masks the real call would attach described on them (`_keras_mask`); records
        nothing."""
        outputs = self.compute_output_spec(inputs, *args, **kwargs)
        previous_mask = kwargs.get("mask")
        if previous_mask is None:
            previous_mask = _masks_of(inputs)
        if self.supports_masking:
            self._set_mask_metadata(inputs, outputs, previous_mask)
        elif _any_mask(previous_mask):
            self._warn_mask_dropped(stacklevel=6)
        return outputs

    def compute_output_spec(self, inputs, *args, **kwargs):
        """The outputs of `call` on KerasTensors `inputs`, as new KerasTensors (no history).

        Uses `compute_output_shape` when the class overrides it (dtype: the layer's dtype, or
        the input's for a weightless layer on non-float inputs). Otherwise runs `call` on the
        KerasTensors in inference mode: each op infers its output by its shape rule, so no
        kernel runs. A `call` that needs values (NumPy conversions, `_core` calls, Python
        control flow on a tensor) raises TypeError on KerasTensors; such a layer's outputs are
        then found by running `call` once on zeros (an unknown batch size: 1; other unknown
        sizes: 2 and 3, reported as None where the outputs differ).
        """
        if type(self).compute_output_shape is not Layer.compute_output_shape:
            try:
                shapes = self.compute_output_shape(map_structure(_shape_of, inputs))
            except NotImplementedError:
                pass
            else:
                in_dtypes = [x.dtype for x in flatten(inputs) if isinstance(x, KerasTensor)]
                dtype = self.dtype
                if in_dtypes and not any(d in FLOAT_DTYPES for d in in_dtypes) and not self.weights:
                    dtype = in_dtypes[0]
                return _shapes_to_keras_tensors(shapes, dtype)
        kwargs = dict(kwargs)
        if "training" in self._call_accepts:
            kwargs["training"] = False  # never update statistics or draw noise
        try:
            return self._symbolic_run(inputs, args, kwargs)
        except TypeError:
            return self._compute_output_spec_by_running(inputs, args, kwargs)

    def _symbolic_run(self, inputs, args, kwargs):
        """`call` on KerasTensors inside `spec_scope` (ops infer, nothing is recorded)."""
        def autocast(x):
            if isinstance(x, KerasTensor) and x.dtype != self.dtype and x.dtype in FLOAT_DTYPES:
                return KerasTensor(x.shape, self.dtype)
            return x

        if self._call_has_mask_arg and "mask" not in kwargs:
            masks = _masks_of(inputs)
            if _any_mask(masks):
                kwargs["mask"] = masks
        if kwargs and not self._call_accepts.issuperset(kwargs):
            kwargs = {k: v for k, v in kwargs.items() if k in self._call_accepts}
        with spec_scope():
            try:
                outputs = self.call(map_structure(autocast, inputs), *args, **kwargs)
            finally:
                self._clear_losses()
        return map_structure(_fresh_spec, outputs)

    def _compute_output_spec_by_running(self, inputs, args, kwargs):
        def run(filled):
            try:
                return self(filled[0], *filled[1], **filled[2])
            finally:
                self._clear_losses()

        return _run_on_placeholders(run, (inputs, args, kwargs))

    @property
    def input(self):
        """The input KerasTensor(s) of the first symbolic call of this layer (Keras 3).

        Raises:
            AttributeError: when the layer was never called on KerasTensors.
        """
        return self._first_node("input").call_args[0]

    @property
    def output(self):
        """The output KerasTensor(s) of the first symbolic call of this layer (Keras 3); for
        a shared layer, `get_output_at(node_index)` gives the others.

        Raises:
            AttributeError: when the layer was never called on KerasTensors.
        """
        return self._first_node("output").outputs

    def get_input_at(self, node_index):
        """The input KerasTensor(s) of the symbolic call `node_index`."""
        return self._inbound_node(node_index).call_args[0]

    def get_output_at(self, node_index):
        """The output KerasTensor(s) of the symbolic call `node_index`."""
        return self._inbound_node(node_index).outputs

    def _inbound_node(self, node_index):
        nodes = self.__dict__.get("_inbound_nodes") or []
        if not -len(nodes) <= node_index < len(nodes):
            raise ValueError(f'Layer "{self.name}" has {len(nodes)} inbound node(s); '
                             f"node_index {node_index} is out of range")
        return nodes[node_index]

    def _first_node(self, what):
        nodes = self.__dict__.get("_inbound_nodes") or []
        if not nodes:
            raise AttributeError(f'Layer "{self.name}" has never been called on a KerasTensor, '
                                 f"so it has no defined {what}.")
        return nodes[0]

    # ----------------------------------------------------------------------------------------
    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True, autocast=True,
                   regularizer=None, constraint=None, aggregation="none", name=None) -> Variable:
        """Create a weight of `shape` owned by this layer.

        Args:
            shape: a tuple of ints (default `()`).
            initializer: a name ("glorot_uniform", "zeros"), an Initializer or a callable
                `(shape, dtype)`; default "glorot_uniform" for float weights.
            trainable: whether optimizers update it.
            regularizer: a `keras.regularizers` identifier ("l2", `L2(0.1)`, a config dict)
                or a callable `weight -> scalar`; its penalty is in `losses` while the weight
                is trainable.
            constraint: a `keras.constraints` identifier ("non_neg", `MaxNorm(2)`, a config
                dict) or a callable `weight -> projected weight`, which the optimizer assigns
                to the weight after each update.
            name: the weight name ("kernel", "bias"); its path is "layer_name/name" under
                the enclosing layers' names ("sequential/dense/kernel"), as in Keras.

        Raises:
            ValueError: for a regularizer or constraint identifier that `get` cannot
                interpret.
        """
        from rskeras import constraints, initializers, regularizers

        shape = standardize_shape(() if shape is None else shape)
        init = initializers.get(initializer if initializer is not None else "glorot_uniform")
        dtype = dtype or self.dtype
        if file_io._state.__dict__.get("budget") is not None:  # loading a file: bounded
            file_io.charge(math.prod(shape) * _ITEMSIZE.get(dtype, 8),
                           f"weight {self.name}/{name} of shape {shape}")
            # Every variable is then overwritten from the file (a missing one is an error),
            # so drawing random initial values would be wasted work.
            init = initializers.get("zeros")
        var = Variable(init(shape, dtype=dtype), dtype=dtype,
                       trainable=trainable, name=name or "variable")
        var.path = naming.variable_path(self.name, var.name)
        var.regularizer = regularizers.get(regularizer)
        var.constraint = constraints.get(constraint)
        (self._trainable_variables if trainable else self._non_trainable_variables).append(var)
        return var

    def add_loss(self, loss) -> None:
        """Add a scalar loss tensor (e.g. an activity regularization) for this forward pass."""
        self._losses.append(loss)

    @property
    def losses(self) -> list:
        """Scalar losses, in Keras 3's order: those added by `add_loss` during the last
        forward pass (activity regularization included), this layer's then each sublayer's;
        then the penalty `regularizer(weight)` of each trainable weight that has a
        regularizer, computed now (so it follows the current weight values)."""
        out = []
        for layer in self._flat_layers():
            out.extend(layer._losses)
        for var in self.trainable_weights:
            reg = getattr(var, "regularizer", None)
            if reg is not None:
                out.append(reg(var))
        return out

    def _clear_losses(self) -> None:
        self._losses.clear()
        for layer in self._layers:
            layer._clear_losses()

    # ----------------------------------------------------------------------------------------
    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        """Freeze (False) or unfreeze this layer and all its sublayers."""
        self._trainable = bool(value)
        for v in self._trainable_variables:
            v.trainable = bool(value)
        for layer in self._layers:
            layer.trainable = value

    @property
    def layers(self) -> list:
        return list(self._layers)

    def _flat_layers(self, trainable_only=False):
        """This layer and every sublayer, depth first, each once."""
        seen, stack, out = set(), [self], []
        while stack:
            layer = stack.pop()
            if id(layer) in seen or (trainable_only and not layer._trainable):
                continue
            seen.add(id(layer))
            out.append(layer)
            stack.extend(reversed(layer._layers))
        return out

    @property
    def weights(self) -> list:
        """All weights: own trainable, own non-trainable, then each sublayer's (Keras order)."""
        return _unique(w for layer in self._flat_layers()
                       for group in (layer._trainable_variables, layer._non_trainable_variables)
                       for w in group)

    @property
    def trainable_weights(self) -> list:
        """Weights updated by training: those of trainable layers, frozen sublayers excluded."""
        return _unique(w for layer in self._flat_layers(trainable_only=True)
                       for w in layer._trainable_variables)

    @property
    def non_trainable_weights(self) -> list:
        trainable = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in trainable]

    variables = weights
    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    def count_params(self) -> int:
        """The number of scalars in all weights.

        Raises:
            ValueError: when the layer is not built yet.
        """
        if not self.built:
            raise ValueError(
                f"Layer {self.name} is not built yet, so its weights do not exist. "
                "Call it on data or call build(input_shape) first."
            )
        return int(sum(math.prod(w.shape) for w in self.weights))

    def get_weights(self) -> list:
        """The weights as NumPy arrays, in `weights` order."""
        return [w.numpy() for w in self.weights]

    def set_weights(self, weights) -> None:
        """Set the weights from NumPy arrays given in `weights` order.

        Raises:
            ValueError: on a count or shape mismatch, naming the weight.
        """
        import numpy as np
        params = self.weights
        if len(weights) != len(params):
            raise ValueError(
                f"Layer {self.name}: set_weights expected {len(params)} arrays, got {len(weights)}"
            )
        for p, w in zip(params, weights):
            w = np.asarray(w)
            if tuple(w.shape) != tuple(p.shape):
                raise ValueError(
                    f"Layer {self.name}: weight {p.path} has shape {tuple(p.shape)}, "
                    f"but the provided array has shape {w.shape}"
                )
            p.assign(w)

    def get_config(self) -> dict:
        """The constructor arguments as a JSON-able dict (Keras 3 schema)."""
        config = {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": {"module": "keras", "class_name": "DTypePolicy",
                      "config": {"name": self.dtype}, "registered_name": None},
        }
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = self._batch_input_shape
        if self.activity_regularizer is not None:
            # As Keras 3's `Layer.get_config`: present only when set; layers whose Keras
            # config always lists it (Conv, Embedding) add it themselves.
            from rskeras import regularizers

            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config):
        """A layer from `get_config()`'s dict, or from a config a Keras version wrote: a
        `DTypePolicy` record becomes its dtype name, and unset options that a newer Keras
        adds (`quantization_config: None`, ...) are dropped.

        Raises:
            ValueError: for an option rskeras does not support set to a value.
        """
        from rskeras.saving.serialization_lib import accepted_config

        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = config["dtype"].get("config", {}).get("name")
        return cls(**accepted_config(cls, config))

    def get_build_config(self):
        """`{"input_shape": shape}` of the first build (what `.keras` files record as
        `build_config`), or None for a layer that was never built."""
        shape = self.__dict__.get("_build_shape_for_config")
        return None if shape is None else {"input_shape": shape}

    def build_from_config(self, config) -> None:
        """Build from `get_build_config()`'s dict (shapes may come back from JSON as lists).

        Raises:
            ValueError: when the recorded shape does not fit the layer.
        """
        shape = (config or {}).get("input_shape")
        if shape is not None and not self.built:
            self.build_from_shape(shape_from_json(shape))

    def save_own_variables(self, store) -> None:
        """Write this layer's own variables (not its sublayers') into `store` as "0", "1",
        ...: trainable first, then non-trainable, as Keras 3's `Layer.save_own_variables`."""
        for i, v in enumerate(self._trainable_variables + self._non_trainable_variables):
            store[str(i)] = v.numpy()

    def load_own_variables(self, store) -> None:
        """Set this layer's own variables from `store` (the inverse of `save_own_variables`).

        Raises:
            ValueError: when the count or a shape differs, naming the layer and both values.
        """
        own = self._trainable_variables + self._non_trainable_variables
        if len(store) and not own and not self.built:
            raise ValueError(
                f"Layer '{self.name}' is not built, so it has no variables to receive the "
                f"{len(store)} in the file: build the model first (call it on data, or call "
                "build(input_shape)), or save it after building so that its file records the "
                "input shape")
        if len(store) != len(own):
            raise ValueError(
                f"Layer '{self.name}' expected {len(own)} variables, but received "
                f"{len(store)} variables during loading. Expected: {[v.name for v in own]}")
        for i, v in enumerate(own):
            value = store[str(i)]
            if tuple(value.shape) != tuple(v.shape):
                raise ValueError(
                    f"Layer '{self.name}': variable '{v.name}' has shape {tuple(v.shape)}, but "
                    f"the file holds shape {tuple(value.shape)}")
            v.assign(array_for_variable(value, v))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


_ITEMSIZE = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8, "int32": 4, "int64": 8,
             "int8": 1, "uint8": 1, "int16": 2, "bool": 1}


def shape_from_json(shape):
    """A shape (or a list/dict of shapes) read back from JSON: lists of ints become tuples."""
    if isinstance(shape, dict):
        return {k: shape_from_json(v) for k, v in shape.items()}
    if isinstance(shape, (list, tuple)):
        if all(d is None or isinstance(d, int) for d in shape):
            return tuple(shape)
        return [shape_from_json(s) for s in shape]
    return shape


def _np_zeros(shape):
    import numpy as np
    return np.zeros(shape, np.float32)


def _run_on_placeholders(fn, structure):
    """`fn(filled)` with every KerasTensor leaf of `structure` replaced by zeros of its shape
    and dtype (an unknown batch size: 1; other unknown sizes: 2, and 3 in a second run), and
    each tensor of the result turned into a KerasTensor: None where the batch size was
    unknown (a leading 1) and where the two runs differ."""
    leaves = [x for x in flatten(structure) if isinstance(x, KerasTensor)]
    batch_unknown = any(x.shape and x.shape[0] is None for x in leaves)
    inner_unknown = any(d is None for x in leaves for d in x.shape[1:])

    def run(fill):
        def zeros(x):
            if not isinstance(x, KerasTensor):
                return x
            shape = tuple((1 if i == 0 else fill) if d is None else d for i, d in enumerate(x.shape))
            return _core.cast(_core.convert_to_tensor(_np_zeros(shape)), x.dtype)
        return fn(map_structure(zeros, structure))

    first = run(2)
    second = run(3) if inner_unknown else first
    flat_a, flat_b = flatten(first), flatten(second)

    def spec(a, b):
        shape = [None if da != db else da for da, db in zip(a.shape, b.shape)]
        if batch_unknown and shape and shape[0] == 1:
            shape[0] = None
        return KerasTensor(tuple(shape), a.dtype)

    specs = [spec(a, b) if isinstance(a, _core.Tensor) else a for a, b in zip(flat_a, flat_b)]
    from rskeras.backend.keras_tensor import pack_sequence_as
    return pack_sequence_as(first, specs)


def _fresh_spec(x):
    """A new KerasTensor (no history, no mask) with the shape and dtype of the KerasTensor or
    tensor `x`; other values unchanged. The outputs of a symbolic `call` may be its inputs
    (an identity), whose history must not be overwritten."""
    if isinstance(x, (KerasTensor, _core.Tensor)):
        return KerasTensor(tuple(x.shape), x.dtype)
    return x


def _shape_of(x):
    """The shape of a KerasTensor or tensor leaf (None for constants)."""
    shape = getattr(x, "shape", None)
    return None if shape is None else tuple(shape)


def _is_shape(value) -> bool:
    return isinstance(value, (tuple, list)) and all(d is None or isinstance(d, int) for d in value)


def _shapes_to_keras_tensors(shapes, dtype):
    """KerasTensors for an output shape, or a list/tuple/dict of output shapes."""
    if _is_shape(shapes):
        return KerasTensor(tuple(shapes), dtype)
    if isinstance(shapes, dict):
        return {k: _shapes_to_keras_tensors(v, dtype) for k, v in shapes.items()}
    if isinstance(shapes, (list, tuple)):
        return type(shapes)(_shapes_to_keras_tensors(s, dtype) for s in shapes)
    raise ValueError(f"compute_output_shape returned {shapes!r}, which is not a shape or a nest of shapes")


def _holds_layer(value, depth=0) -> bool:
    items = value.values() if isinstance(value, dict) else value
    for item in items:
        if isinstance(item, Layer):
            return True
        if isinstance(item, (list, tuple, dict)) and depth < 8 and _holds_layer(item, depth + 1):
            return True
    return False


class _TrackedList(list):
    """A list attribute of a layer: layers appended, inserted or assigned later are tracked.
    Copies and pickles are plain lists (the owner is not copied along)."""

    def __init__(self, items, owner):
        super().__init__(items)
        self._owner = owner

    def __reduce_ex__(self, protocol):
        return (list, (list(self),))

    def append(self, item):
        super().append(item)
        self._owner._track(item)

    def extend(self, items):
        items = list(items)
        super().extend(items)
        self._owner._track(items)

    def insert(self, index, item):
        super().insert(index, item)
        self._owner._track(item)

    def __setitem__(self, index, value):
        super().__setitem__(index, value)
        self._owner._track(value)

    def __iadd__(self, items):
        self.extend(items)
        return self


class _TrackedDict(dict):
    """A dict attribute of a layer: layers stored under new keys later are tracked.
    Copies and pickles are plain dicts (the owner is not copied along)."""

    def __init__(self, items, owner):
        super().__init__(items)
        self._owner = owner

    def __reduce_ex__(self, protocol):
        return (dict, (dict(self),))

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        self._owner._track(value)

    def update(self, *args, **kwargs):
        super().update(*args, **kwargs)
        self._owner._track(dict(self))

    def setdefault(self, key, default=None):
        value = super().setdefault(key, default)
        self._owner._track(value)
        return value

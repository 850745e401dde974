"""The conformance checks every layer owes (issue 4, item 6), in one place: `check_layer`.

Used by tests/layers/test_keras_cases.py (cases with numbers from the real Keras 3, in
tests/fixtures/keras_layers.npz) and tests/layers/test_every_layer.py (cases with NumPy references);
tests/layers/test_layer_conformance.py checks that the helper itself catches broken layers.
"""

from __future__ import annotations

import inspect
import json
import math
import sys
from types import SimpleNamespace

import numpy as np
import rskeras as keras
from rskeras import activations, constraints, initializers, ops, regularizers

__all__ = ["check_layer", "check_config_has_arguments", "constructor_arguments", "cotangent_for",
           "json_normalized"]

# Constructor arguments that Keras 3 does not keep in `get_config` (they act once, when the
# layer is made): initial weights, and Embedding's deprecated `input_length`.
_NOT_CONFIG_ARGS = frozenset({"weights", "input_length"})


def json_normalized(config):
    """The config as it comes back from a JSON file (tuples become lists)."""
    return json.loads(json.dumps(config))


def cotangent_for(shape, seed=0):
    """The output gradient `check_layer` seeds its backward pass with, by default: fixed
    pseudo-random values, so that `sum(softmax)`- or `sum(batchnorm)`-like cancellations cannot
    hide a missing gradient."""
    return np.random.default_rng(seed + 1000).uniform(-1.0, 1.0, size=shape).astype(np.float32)


def _is_shape(value) -> bool:
    return isinstance(value, tuple) and all(isinstance(d, (int, np.integer)) for d in value)


def _make_layer(layer, init_kwargs):
    """(the layer, the constructor arguments to find in its config, or None if unknown)."""
    if isinstance(layer, keras.Layer):
        assert not init_kwargs, "init_kwargs given with a layer instance"
        return layer, None
    if isinstance(layer, type):
        init_kwargs = dict(init_kwargs or {})
        return layer(**init_kwargs), init_kwargs
    assert not init_kwargs, "init_kwargs go with a layer class, not with a factory"
    made, arguments = constructor_arguments(layer)
    assert isinstance(made, keras.Layer), f"the factory returned {type(made).__name__}, not a Layer"
    return made, arguments


def constructor_arguments(factory):
    """`(factory(), arguments)`: the result and the arguments its outermost `__init__` got
    that differ from that signature's defaults (plus every `**kwargs` entry), by name.

    Read from the `__init__` frame through `sys.setprofile` while the factory runs (only
    this thread, restored afterwards), so `lambda: Dense(3, activation="relu")` yields
    `{"units": 3, "activation": "relu"}` without the test naming them twice. Arguments
    equal to their default are left out: a config that drops them loses nothing.
    """
    frames = {}

    def profiler(frame, event, arg):
        if event == "call" and frame.f_code.co_name == "__init__":
            obj = frame.f_locals.get("self")
            if isinstance(obj, keras.Layer) and id(obj) not in frames:
                frames[id(obj)] = (obj, dict(frame.f_locals), frame.f_code)

    previous = sys.getprofile()
    sys.setprofile(profiler)
    try:
        made = factory()
    finally:
        sys.setprofile(previous)
    if not isinstance(made, keras.Layer) or id(made) not in frames:
        return made, None
    _, values, code = frames[id(made)]
    params = inspect.signature(type(made).__init__).parameters
    arguments = {}
    for name, param in params.items():
        if name == "self" or name not in values:
            continue
        value = values[name]
        if param.kind is param.VAR_KEYWORD:
            arguments.update(value)
        elif param.kind is param.VAR_POSITIONAL:
            continue
        elif param.default is param.empty or not _same(value, param.default):
            arguments[name] = value
    return made, arguments


def _same(a, b) -> bool:
    if a is b:
        return True
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return False
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:
        return False


def _jsonable(value):
    """`value` with tuples as lists, arrays as lists and NumPy scalars as Python numbers."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _normalized_argument(key, value):
    """A constructor argument or config entry in one comparable form: regularizers,
    constraints, initializers and activations through their module's `get` then `serialize`
    (so "l2" and `{"class_name": "L2", ...}` compare equal); a dtype as its name; tuples as
    lists; a function as `{"function": name}`, the form of Keras's function records
    (`{"class_name": "function", "config": name}`; rskeras's Lambda records a `lambda` as
    `{"class_name": "__lambda__"}`)."""
    if inspect.isfunction(value):
        return {"function": value.__name__}
    if isinstance(value, dict) and value.get("class_name") in ("function", "__lambda__"):
        return {"function": "<lambda>" if value["class_name"] == "__lambda__" else value.get("config")}
    try:
        if key.endswith("_regularizer"):
            value = regularizers.serialize(regularizers.get(value))
        elif key.endswith("_constraint"):
            value = constraints.serialize(constraints.get(value))
        elif key.endswith("_initializer") and value is not None:
            value = initializers.serialize(initializers.get(value))
        elif key == "activation" or key.endswith("_activation"):
            value = activations.serialize(activations.get(value))
        elif key == "dtype":
            if isinstance(value, dict):
                value = value.get("config", {}).get("name")
            value = getattr(value, "name", value)
    except (ValueError, TypeError):
        pass  # compared as given
    return _jsonable(value)


def _equal(given, stored) -> bool:
    """Equality of normalized values: floats within 1e-6 relative, strings without case, an
    int equal to a list holding it `n` times (Keras's `standardize_tuple`)."""
    if isinstance(given, bool) or isinstance(stored, bool):
        return given == stored
    if isinstance(given, (int, float)) and isinstance(stored, (int, float)):
        return math.isclose(given, stored, rel_tol=1e-6, abs_tol=1e-12)
    if isinstance(given, str) and isinstance(stored, str):
        return given.lower() == stored.lower()
    if isinstance(given, int) and isinstance(stored, list):
        return bool(stored) and all(_equal(given, s) for s in stored)
    if isinstance(given, list) and isinstance(stored, list):
        return len(given) == len(stored) and all(_equal(g, s) for g, s in zip(given, stored))
    if isinstance(given, dict) and isinstance(stored, dict):
        return given.keys() == stored.keys() and all(_equal(given[k], stored[k]) for k in given)
    return given == stored


def check_config_has_arguments(layer, arguments, config=None, name=None) -> None:
    """Assert that `config` (default `layer.get_config()`) keeps every constructor argument
    in `arguments` with an equal value (see `_normalized_argument` and `_equal`).

    `input_shape` / `input_dim` are found in `batch_input_shape`; `weights` and
    `input_length` are not config entries in Keras 3; an argument given as None may be
    absent when the constructor's default is None too (Keras leaves out unset options such
    as `lora_rank`).

    Raises:
        AssertionError: naming the first argument that is missing or differs.
    """
    config = layer.get_config() if config is None else config
    name = name or f"{type(layer).__name__} {layer.name!r}"
    params = inspect.signature(type(layer).__init__).parameters
    for key, value in arguments.items():
        if key in _NOT_CONFIG_ARGS:
            continue
        if key in ("input_shape", "input_dim") and key not in config:
            expected = [None] + _jsonable(list(value) if key == "input_shape" else [value])
            got = _jsonable(config.get("batch_input_shape"))
            assert got is not None and _equal(expected, got), (
                f"{name}: get_config() has batch_input_shape={got!r} for {key}={value!r}")
            continue
        if key not in config:
            default = params[key].default if key in params else inspect.Parameter.empty
            if value is None and default is None:
                continue
            raise AssertionError(
                f"{name}: get_config() drops the constructor argument {key}={value!r} "
                f"(config keys: {sorted(config)})")
        given, stored = _normalized_argument(key, value), _normalized_argument(key, config[key])
        assert _equal(given, stored), (
            f"{name}: get_config()[{key!r}] = {config[key]!r} does not match the constructor "
            f"argument {key}={value!r}")


def _inputs(inputs, seed):
    """(list of NumPy inputs, whether the layer takes a list)."""
    rng = np.random.default_rng(seed)

    def one(x):
        if _is_shape(x):
            return rng.standard_normal(x).astype(np.float32)
        return np.asarray(x)

    if _is_shape(inputs) or isinstance(inputs, np.ndarray):
        return [one(inputs)], False
    if isinstance(inputs, (list, tuple)):
        return [one(x) for x in inputs], True
    return [np.asarray(inputs)], False


def _np(t):
    return np.asarray(t)


def _close(got, expected, rtol, atol, what):
    got, expected = _np(got), np.asarray(expected)
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != expected {expected.shape}"
    np.testing.assert_allclose(got.astype(np.float64), expected.astype(np.float64), rtol=rtol,
                               atol=atol, err_msg=what)


def _shape(s):
    return tuple(s) if s is not None else None


def _check_num_losses(layer, expected, name, after):
    if expected is None:
        return
    losses = layer.losses
    assert len(losses) == expected, (
        f"{name}: {len(losses)} losses after {after}, expected {expected}")
    for loss in losses:
        assert tuple(np.shape(_np(loss))) == (), f"{name}: a loss is not a scalar: {loss!r}"


def _as_list(value, n, what):
    if value is None:
        return [None] * n
    if n == 1 and not isinstance(value, (list, tuple)):
        return [value]
    assert len(value) == n, f"{what}: {len(value)} given for {n}"
    return list(value)


def _placed(x, device):
    t = ops.convert_to_tensor(x)
    return t.to("gpu") if device == "gpu" else t


def check_layer(layer, inputs, *, init_kwargs=None, weights=None,
                expected_output=None, expected_training_output=None,
                cotangent=None, expected_input_grad=None, expected_weight_grads=None,
                training_differs=False, supports_gradient=True, input_differentiable=None,
                expected_dtype="float32", unknown_batch=True, symbolic=True,
                from_config_kwargs=None, expected_num_losses=None, rtol=1e-5, atol=1e-6,
                grad_rtol=1e-4, grad_atol=1e-5, seed=0):
    """Run the conformance checks of one layer; raise AssertionError on the first failure.

    Args:
        layer: a Layer class (built with `init_kwargs`), a zero-argument factory returning a
            layer, or a layer instance (used as is; it may already be built, e.g. an adapted
            `Normalization`). For a class, `get_config()` must keep every `init_kwargs`
            entry; for a factory, every argument its constructor got that differs from the
            default (`constructor_arguments`); an instance's arguments are unknown.
        inputs: a NumPy array, a list of arrays (for a layer taking several inputs, such as
            the merge layers), a shape tuple or a list of shape tuples (standard-normal float32
            inputs drawn with `seed`).
        weights: arrays for `set_weights` right after the build (e.g. the weights of a fixture).
        expected_output: the output of `layer(inputs, training=False)`, or a callable
            `f(*inputs) -> output`.
        expected_training_output: the same for `training=True` (for deterministic layers whose
            training output differs, such as BatchNormalization).
        cotangent: the output gradient `w` of the backward pass, which differentiates
            `sum(w * layer(inputs, training=True))`; default `cotangent_for(output shape, seed)`.
        expected_input_grad: that gradient w.r.t. the inputs: an array (a list for several
            inputs) or a callable `f(w, *inputs) -> list of arrays`.
        expected_weight_grads: that gradient w.r.t. `layer.trainable_weights` (a list, None
            entries are not compared; or a callable `f(w, *inputs) -> list`).
        training_differs: True for layers whose training call differs from the inference call
            (the Dropout family, GaussianNoise, BatchNormalization): the two outputs must
            differ. False: they must be equal. None: not compared.
        supports_gradient: False skips the gradient checks.
        input_differentiable: whether each input gets a gradient (a bool, or a list of them);
            default: the floating-point inputs.
        expected_dtype: the output dtype (None: not checked).
        unknown_batch: also check `compute_output_shape` with a `None` batch size.
        symbolic: also call the layer on `keras.Input`s and check the symbolic output shape.
        from_config_kwargs: extra arguments for `from_config` (e.g. `custom_objects`).
        expected_num_losses: when given, `len(layer.losses)` after a forward call (inference
            and training): weight regularizers plus activity regularization.
        rtol, atol: tolerances of the output comparisons; grad_rtol, grad_atol: of the
            gradient comparisons.

    Checks, in order:
        1. build: `layer.build(input_shape)` (unless already built) marks the layer built;
           `weights` are set; later calls create no more weights.
        2. the inference output has `compute_output_shape(input_shape)` (also with a `None`
           batch size, and through a symbolic call), the expected dtype, and equals the default
           call (`training` not given) and a second inference call, and `expected_output`.
        3. training vs inference, as `training_differs` says; `expected_training_output`.
        4. `get_config()` keeps the constructor arguments (`check_config_has_arguments`);
           `from_config(get_config())` gives the same config (also through JSON); the clone,
           built and given `set_weights(get_weights())`, gives the same inference output.
        5. `trainable = False` moves every weight to `non_trainable_weights`.
        6. gradients (training mode, through `keras.GradientTape`): every trainable weight and
           every differentiable input gets a gradient of its shape that is finite and not all
           zeros; compared with `expected_input_grad` / `expected_weight_grads` when given.

    Returns:
        A namespace: `layer`, `inputs` (NumPy list), `output`, `training_output` (NumPy),
        `cotangent`, `input_grads`, `weight_grads` (lists of NumPy arrays or None).
    """
    layer, arguments = _make_layer(layer, init_kwargs)
    xs, multi = _inputs(inputs, seed)
    name = f"{type(layer).__name__} {layer.name!r}"
    shapes = [tuple(x.shape) for x in xs]
    input_shape = shapes if multi else shapes[0]
    # On the default device: a test taking `device` runs the layer there (host inputs alone would
    # keep a layer without weights on the CPU).
    device = keras.backend.device.get_device()
    placed = [_placed(x, device) for x in xs]
    call_inputs = placed if multi else placed[0]

    # 1. Build on the given input shape.
    if not layer.built:
        layer.build(input_shape)
        assert layer.built, f"{name}: not marked built after build({input_shape})"
    if weights is not None:
        layer.set_weights(list(weights))
    n_weights = len(layer.weights)
    assert len(layer.trainable_weights) + len(layer.non_trainable_weights) == n_weights, name

    # 2. Inference output: shape, dtype, determinism, values.
    out = layer(call_inputs, training=False)
    _check_num_losses(layer, expected_num_losses, name, "an inference call")
    if not isinstance(out, np.ndarray) and hasattr(out, "device"):
        assert out.device == device, f"{name}: computed on {out.device}, not on the default device {device}"
    assert not isinstance(out, (list, tuple)), f"{name}: several outputs"
    assert len(layer.weights) == n_weights, f"{name}: the call created weights after build"
    out_np = _np(out)
    expected_shape = layer.compute_output_shape(input_shape)
    assert _shape(expected_shape) == out_np.shape, (
        f"{name}: output shape {out_np.shape} != compute_output_shape({input_shape}) = {expected_shape}")
    if expected_dtype is not None:
        assert str(out.dtype) == expected_dtype, f"{name}: output dtype {out.dtype} != {expected_dtype}"
    if unknown_batch:
        none_shapes = [(None,) + s[1:] for s in shapes]
        got = _shape(layer.compute_output_shape(none_shapes if multi else none_shapes[0]))
        assert got == (None,) + out_np.shape[1:], (
            f"{name}: compute_output_shape with an unknown batch size gives {got}, "
            f"the output is {out_np.shape}")
    if symbolic:
        sym = [keras.Input(shape=s[1:], dtype=str(x.dtype)) for s, x in zip(shapes, xs)]
        sym_out = layer(sym if multi else sym[0])
        assert _shape(sym_out.shape) == (None,) + out_np.shape[1:], (
            f"{name}: symbolic output shape {sym_out.shape}, the output is {out_np.shape}")
        assert len(layer.weights) == n_weights, f"{name}: the symbolic call created weights"
    _close(layer(call_inputs, training=False), out_np, 0, 0, f"{name}: inference is not deterministic")
    _close(layer(call_inputs), out_np, 0, 0, f"{name}: default call (training not given) vs inference")
    if expected_output is not None:
        if callable(expected_output):
            expected_output = expected_output(*xs)
        _close(out_np, expected_output, rtol, atol, f"{name}: inference output")

    # 3. Training versus inference.
    train_np = _np(layer(call_inputs, training=True))
    _check_num_losses(layer, expected_num_losses, name, "a training call")
    assert len(layer.weights) == n_weights, name
    assert train_np.shape == out_np.shape, f"{name}: training output shape {train_np.shape} != {out_np.shape}"
    if training_differs is True:
        assert not np.allclose(train_np, out_np), (
            f"{name}: the training output equals the inference output, but training should differ")
    elif training_differs is False:
        _close(train_np, out_np, 1e-6, 1e-6, f"{name}: training vs inference output")
    if expected_training_output is not None:
        if callable(expected_training_output):
            expected_training_output = expected_training_output(*xs)
        _close(train_np, expected_training_output, rtol, atol, f"{name}: training output")

    # 4. The config keeps the constructor arguments; round trip, directly and through JSON;
    # the clone computes the same.
    config = layer.get_config()
    if arguments:
        check_config_has_arguments(layer, arguments, config, name)
    try:
        text = json.dumps(config)
    except TypeError as e:
        raise AssertionError(f"{name}: get_config() is not JSON-serializable: {e}") from e
    kwargs = from_config_kwargs or {}
    clone = type(layer).from_config(config, **kwargs)
    assert type(clone) is type(layer), name
    assert clone.get_config() == config, (
        f"{name}: from_config(get_config()).get_config() differs:\n{clone.get_config()}\n!=\n{config}")
    from_json = type(layer).from_config(json.loads(text), **kwargs)
    assert json_normalized(from_json.get_config()) == json_normalized(config), f"{name}: JSON round trip"
    if not clone.built:
        clone.build(input_shape)
    assert [tuple(w.shape) for w in clone.weights] == [tuple(w.shape) for w in layer.weights], (
        f"{name}: the clone's weights differ")
    assert len(clone.trainable_weights) == len(layer.trainable_weights), name
    clone.set_weights(layer.get_weights())
    _close(clone(call_inputs, training=False), layer(call_inputs, training=False), 1e-6, 1e-6,
           f"{name}: the clone's inference output")

    # 5. trainable=False freezes every weight.
    if layer.trainable_weights:
        layer.trainable = False
        try:
            assert layer.trainable_weights == [], f"{name}: trainable weights left after trainable=False"
            assert len(layer.non_trainable_weights) == n_weights, name
        finally:
            layer.trainable = True
        assert len(layer.trainable_weights) == len(clone.trainable_weights), name

    result = SimpleNamespace(layer=layer, inputs=xs, output=out_np, training_output=train_np,
                             cotangent=None, input_grads=None, weight_grads=None)
    if not supports_gradient:
        assert expected_input_grad is None and expected_weight_grads is None
        return result

    # 6. Gradients, in training mode.
    if input_differentiable is None:
        diff = [np.issubdtype(x.dtype, np.floating) for x in xs]
    elif isinstance(input_differentiable, bool):
        diff = [input_differentiable] * len(xs)
    else:
        diff = list(input_differentiable)
    w = cotangent_for(out_np.shape, seed) if cotangent is None else np.asarray(cotangent, np.float32)
    assert w.shape == out_np.shape, f"cotangent shape {w.shape} != output shape {out_np.shape}"
    tensors = [_placed(x, device) for x in xs]
    watched = [t for t, d in zip(tensors, diff) if d]
    trainable = list(layer.trainable_weights)
    with keras.GradientTape() as tape:
        if watched:
            tape.watch(watched)
        y = layer(tensors if multi else tensors[0], training=True)
        loss = ops.sum(y * ops.convert_to_tensor(w))
    grads = tape.gradient(loss, trainable + watched) if trainable or watched else []
    assert len(layer.weights) == n_weights, name
    weight_grads, input_grads = grads[:len(trainable)], grads[len(trainable):]

    def check_grad(g, ref_shape, what):
        assert g is not None, f"{name}: no gradient for {what}"
        g = _np(g)
        assert g.shape == tuple(ref_shape), f"{name}: gradient for {what} has shape {g.shape}, not {ref_shape}"
        assert np.all(np.isfinite(g)), f"{name}: non-finite gradient for {what}"
        assert np.any(g != 0), f"{name}: all-zero gradient for {what}"
        return g

    weight_np = [check_grad(g, v.shape, f"weight {v.path}") for g, v in zip(weight_grads, trainable)]
    it = iter(input_grads)
    input_np = [check_grad(next(it), x.shape, f"input {i}") if d else None
                for i, (x, d) in enumerate(zip(xs, diff))]
    result.cotangent, result.input_grads, result.weight_grads = w, input_np, weight_np

    if expected_input_grad is not None:
        refs = expected_input_grad(w, *xs) if callable(expected_input_grad) else expected_input_grad
        refs = _as_list(refs, len(xs), "expected_input_grad")
        for i, (g, r) in enumerate(zip(input_np, refs)):
            if r is not None:
                assert g is not None, f"{name}: input {i} not differentiated"
                _close(g, r, grad_rtol, grad_atol, f"{name}: gradient for input {i}")
    if expected_weight_grads is not None:
        refs = expected_weight_grads(w, *xs) if callable(expected_weight_grads) else expected_weight_grads
        refs = _as_list(refs, len(trainable), "expected_weight_grads")
        for v, g, r in zip(trainable, weight_np, refs):
            if r is not None:
                _close(g, r, grad_rtol, grad_atol, f"{name}: gradient for weight {v.path}")
    return result

"""Argument checks shared by the layers: int tuples (`size`, `padding`, `cropping`),
`data_format`, and the weight options (`*_regularizer`, `*_constraint`,
`activity_regularizer`), each raising ValueError that names the layer, the argument and the
value."""

from __future__ import annotations

from rskeras import constraints, regularizers
from rskeras.backend.config import image_data_format


def is_int(value) -> bool:
    """True for a Python or NumPy integer, False for bools."""
    return hasattr(value, "__index__") and not isinstance(value, bool)


def standardize_tuple(layer: str, value, n: int, name: str, allow_zero: bool = False) -> tuple:
    """`value` (an int, or `n` ints) as a tuple of `n` ints, as Keras's `standardize_tuple`.

    Raises:
        ValueError: when `value` is not an int or a sequence of `n` ints, or an entry is
            negative (or zero, unless `allow_zero`).
    """
    if is_int(value):
        values = (int(value),) * n
    else:
        try:
            values = tuple(value)
        except TypeError:
            raise ValueError(
                f"{layer}: `{name}` must be an int or a tuple of {n} ints, got {value!r}") from None
        if len(values) != n or not all(is_int(v) for v in values):
            raise ValueError(f"{layer}: `{name}` must be an int or a tuple of {n} ints, got {value!r}")
        values = tuple(int(v) for v in values)
    low = 0 if allow_zero else 1
    if any(v < low for v in values):
        what = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{layer}: `{name}` must hold {what} ints, got {value!r}")
    return values


def standardize_pairs(layer: str, value, name: str) -> tuple:
    """`((a0, a1), (b0, b1))` from an int, a pair of ints (symmetric per axis) or a pair of
    pairs, as Keras's ZeroPadding2D/Cropping2D arguments.

    Raises:
        ValueError: for any other form or a negative entry.
    """
    if is_int(value):
        if value < 0:
            raise ValueError(f"{layer}: `{name}` cannot be negative, got {value!r}")
        return ((int(value),) * 2,) * 2
    if not hasattr(value, "__len__") or len(value) != 2:
        raise ValueError(
            f"{layer}: `{name}` must be an int, a tuple of 2 ints or a tuple of 2 tuples of "
            f"2 ints, got {value!r}")
    return (standardize_tuple(layer, value[0], 2, f"1st entry of {name}", allow_zero=True),
            standardize_tuple(layer, value[1], 2, f"2nd entry of {name}", allow_zero=True))


def standardize_data_format(layer: str, data_format) -> str:
    """`"channels_last"` or `"channels_first"`; None gives `keras.config.image_data_format()`.

    Raises:
        ValueError: for any other value.
    """
    if data_format is None:
        return image_data_format()
    value = str(data_format).lower()
    if value not in ("channels_last", "channels_first"):
        raise ValueError(
            f"{layer}: `data_format` must be 'channels_last' or 'channels_first', got {data_format!r}")
    return value


def _option_module(name: str):
    if name.endswith("_regularizer"):
        return regularizers
    if name.endswith("_constraint"):
        return constraints
    raise ValueError(f"{name!r} is not a weight option (a *_regularizer or *_constraint argument)")


def set_weight_options(layer, **options) -> None:
    """Resolve each weight option and set it as the attribute of that name on `layer`: a
    `*_regularizer` argument (including `activity_regularizer`) through
    `keras.regularizers.get`, a `*_constraint` argument through `keras.constraints.get`, as
    Keras 3's layer constructors do (so "l2", `L2(0.1)`, a config dict, a callable or None
    are all accepted). Pair with `weight_options_config` in `get_config`.

    Raises:
        ValueError: for an identifier `get` cannot interpret, naming the layer and the
            argument.
    """
    for name, value in options.items():
        module = _option_module(name)
        try:
            resolved = module.get(value)
        except ValueError as e:
            raise ValueError(f"{type(layer).__name__}: argument `{name}`: {e}") from None
        setattr(layer, name, resolved)


def set_kernel_options(layer, activation, use_bias, kernel_initializer, bias_initializer,
                       kernel_regularizer, bias_regularizer, kernel_constraint, bias_constraint) -> None:
    """The options of a layer with a kernel and an optional bias (Dense, the convolutions):
    `activation` through `keras.activations.get`, the initializers through
    `keras.initializers.get`, the regularizers and constraints as `set_weight_options`.

    Raises:
        ValueError: for an identifier one of the `get` functions cannot interpret.
    """
    from rskeras import activations, initializers

    layer.activation = activations.get(activation)
    layer.use_bias = use_bias
    layer.kernel_initializer = initializers.get(kernel_initializer)
    layer.bias_initializer = initializers.get(bias_initializer)
    set_weight_options(layer, kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                       kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)


def kernel_options_config(layer) -> dict:
    """The `get_config` entries of `set_kernel_options`'s activation, use_bias and
    initializers (regularizers and constraints: `weight_options_config`)."""
    from rskeras import activations, initializers

    return {"activation": activations.serialize(layer.activation), "use_bias": layer.use_bias,
            "kernel_initializer": initializers.serialize(layer.kernel_initializer),
            "bias_initializer": initializers.serialize(layer.bias_initializer)}


def weight_options_config(layer, *names: str) -> dict:
    """`{name: serialized value}` of the weight options `names` of `layer` (the attributes
    `set_weight_options` set), each through `keras.regularizers.serialize` or
    `keras.constraints.serialize` (None stays None): the Keras 3 `get_config` entries."""
    return {name: _option_module(name).serialize(getattr(layer, name, None)) for name in names}

"""Global settings, as in `keras.config`: the default float type and the fuzz factor."""

_FLOATX = "float32"
_EPSILON = 1e-7
_IMAGE_DATA_FORMAT = "channels_last"


FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")


def floatx() -> str:
    """The default float dtype name (`"float32"` unless changed by `set_floatx`)."""
    return _FLOATX


def set_floatx(value: str) -> None:
    """Set the default float dtype of layers, weights, initializers and `keras.random`
    (as `keras.config.set_floatx`). float16 and bfloat16 are stored narrow and computed in
    float32; float64 computes natively.

    Raises:
        ValueError: for a name other than "float16", "bfloat16", "float32" or "float64".
    """
    global _FLOATX
    value = str(value)
    if value not in FLOAT_DTYPES:
        raise ValueError(f"set_floatx: unknown float type {value!r}; expected one of {FLOAT_DTYPES}")
    _FLOATX = value


def epsilon() -> float:
    """The fuzz factor used to avoid division by zero and log(0) (default `1e-7`)."""
    return _EPSILON


def set_epsilon(value: float) -> None:
    """Set the fuzz factor returned by `epsilon()`."""
    global _EPSILON
    _EPSILON = float(value)


def image_data_format() -> str:
    """`"channels_last"`: images are `(batch, height, width, channels)`."""
    return _IMAGE_DATA_FORMAT

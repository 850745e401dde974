"""Global settings, as in `keras.config`: the default float type and the fuzz factor."""

_FLOATX = "float32"
_EPSILON = 1e-7
_IMAGE_DATA_FORMAT = "channels_last"


def floatx() -> str:
    """The default float dtype name (`"float32"`)."""
    return _FLOATX


def set_floatx(value: str) -> None:
    """Set the default float dtype. Only `"float32"` is supported by this release.

    Raises:
        ValueError: for any other dtype name.
    """
    global _FLOATX
    if value != "float32":
        raise ValueError(f"set_floatx: only 'float32' is supported for now, got {value!r}")
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

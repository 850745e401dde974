"""`rskeras.config`, as `keras.config`: global settings.

The float type, fuzz factor and image data format live in `rskeras.backend.config` (this
module reads and writes that state, so `rskeras.backend.floatx()` and friends always agree
with it). The flags below that have no counterpart there (unsafe deserialization, traceback
filtering, interactive logging) are kept here."""

from __future__ import annotations

from rskeras.backend import config as _state
from rskeras.backend.config import epsilon, floatx, image_data_format, set_epsilon, set_floatx
from rskeras.backend.device import get_device, set_device

__all__ = [
    "backend", "disable_interactive_logging", "disable_traceback_filtering",
    "enable_interactive_logging", "enable_traceback_filtering",
    "enable_unsafe_deserialization", "epsilon", "floatx", "get_device", "image_data_format",
    "is_interactive_logging_enabled", "is_traceback_filtering_enabled", "set_epsilon",
    "set_device", "set_floatx", "set_image_data_format",
]

_UNSAFE_DESERIALIZATION = False
_TRACEBACK_FILTERING = True
_INTERACTIVE_LOGGING = True


def backend() -> str:
    """The name of the backend: always `"rskeras"` (the Rust tensor core)."""
    return "rskeras"


def set_image_data_format(data_format: str) -> None:
    """Set the default image layout: `"channels_last"` (default) or `"channels_first"`
    (case-insensitive, as Keras).

    Raises:
        ValueError: for any other value.
    """
    value = str(data_format).lower()
    if value not in ("channels_first", "channels_last"):
        raise ValueError(
            "set_image_data_format: data_format must be 'channels_first' or 'channels_last', "
            f"got {data_format!r}"
        )
    _state._IMAGE_DATA_FORMAT = value


def enable_unsafe_deserialization() -> None:
    """Allow deserializing `lambda` functions and other unsafe objects (Keras `safe_mode`
    off). Recorded for saving/loading code; nothing in rskeras deserializes lambdas yet."""
    global _UNSAFE_DESERIALIZATION
    _UNSAFE_DESERIALIZATION = True


def enable_traceback_filtering() -> None:
    """Turn traceback filtering on (the default; a flag only: rskeras does not rewrite
    tracebacks)."""
    global _TRACEBACK_FILTERING
    _TRACEBACK_FILTERING = True


def disable_traceback_filtering() -> None:
    """Turn traceback filtering off."""
    global _TRACEBACK_FILTERING
    _TRACEBACK_FILTERING = False


def is_traceback_filtering_enabled() -> bool:
    """Whether traceback filtering is on (default True)."""
    return _TRACEBACK_FILTERING


def enable_interactive_logging() -> None:
    """Log to stdout (progress bars and messages; the default)."""
    global _INTERACTIVE_LOGGING
    _INTERACTIVE_LOGGING = True


def disable_interactive_logging() -> None:
    """Stop interactive logging to stdout (the flag Keras uses to route messages to
    `absl` logging instead)."""
    global _INTERACTIVE_LOGGING
    _INTERACTIVE_LOGGING = False


def is_interactive_logging_enabled() -> bool:
    """Whether interactive logging is on (default True)."""
    return _INTERACTIVE_LOGGING

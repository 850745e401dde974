"""Unique default names for layers and models ("dense", "dense_1", ...), as Keras does."""

import re

_COUNTS: dict[str, int] = {}


def to_snake_case(name: str) -> str:
    """Keras's default-name rule: "MaxPooling2D" -> "max_pooling2d", "PReLU" -> "p_re_lu"."""
    s = re.sub(r"\W+", "", name)
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", s)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def uniquify(base: str) -> str:
    n = _COUNTS.get(base, 0)
    _COUNTS[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def reset() -> None:
    _COUNTS.clear()

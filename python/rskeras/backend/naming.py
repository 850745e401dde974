"""Unique default names for layers and models ("dense", "dense_1", ...), as Keras does."""

import contextlib
import re
import threading

_COUNTS: dict[str, int] = {}
_SCOPES = threading.local()  # the names of the layers being built or called, outermost first


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


def scope_names() -> list:
    """The active name scopes of this thread, outermost first."""
    names = getattr(_SCOPES, "names", None)
    if names is None:
        names = _SCOPES.names = []
    return names


@contextlib.contextmanager
def name_scope(name: str):
    """Within this block, new variables get paths under `name` (Keras 3's name scopes):
    a Dense built inside a Sequential named "sequential" makes "sequential/dense/kernel"."""
    names = scope_names()
    names.append(name)
    try:
        yield
    finally:
        names.pop()


def variable_path(owner: str, name: str) -> str:
    """The path of variable `name` created by the layer `owner` in the current scopes."""
    names = scope_names()
    parts = names if names[-1:] == [owner] else names + [owner]
    return "/".join(parts + [name])

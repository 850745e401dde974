"""The "is this value better?" rule shared by callbacks that watch a metric
(`ModelCheckpoint`, `EarlyStopping`-like callbacks), as Keras's `MonitorCallback`."""

from __future__ import annotations

import math
import warnings


def monitor_mode(monitor: str, mode: str, owner: str) -> str:
    """"min" or "max" for `monitor` under `mode` ("auto": max for accuracy/AUC-like names,
    min otherwise, as Keras).

    Raises:
        ValueError: for a mode other than "auto", "min" or "max".
    """
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{owner}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        name = monitor[4:] if monitor.startswith("val_") else monitor
        return "max" if ("acc" in name or name.startswith("fmeasure") or "auc" in name
                         or name in ("precision", "recall")) else "min"
    return mode


def resolve_mode(monitor: str, mode: str, owner: str) -> str:
    """`monitor_mode`, except that an unknown mode warns and falls back to "auto", as Keras 3's
    `MonitorCallback` (EarlyStopping, ReduceLROnPlateau) does."""
    if mode not in ("auto", "min", "max"):
        warnings.warn(f"{owner} mode '{mode}' is unknown, fallback to auto mode.", stacklevel=3)
        mode = "auto"
    return monitor_mode(monitor, mode, owner)


def is_improvement(current, best, mode: str, min_delta: float = 0.0) -> bool:
    """Whether `current` beats `best` (None: anything finite beats it) by `min_delta`."""
    current = float(current)
    if math.isnan(current):
        return False
    if best is None:
        return True
    if mode == "max":
        return current - abs(min_delta) > best
    return current + abs(min_delta) < best

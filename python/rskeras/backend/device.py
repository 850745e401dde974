"""Where new tensors live: the default device and the `device(...)` scope.

"cpu" is the default. "gpu" starts the WebGPU backend (`backend/webgpu`) and makes it the
home of new variables (layer weights, optimizer slots, metric state) and random tensors;
every op with an input on the GPU then runs there, and host inputs (NumPy batches,
constants) are sent along. The `RSKERAS_DEVICE` environment variable sets the default at
import, so any program can be switched without a code change (`RSKERAS_DEVICE=gpu python
examples/fashion_mnist_cnn.py`).
"""

from __future__ import annotations

import contextlib
import os
import warnings

from rskeras import _core

DEVICES = ("cpu", "gpu")


def _normalize(name) -> str:
    name = str(name).lower().split(":")[0]
    if name not in DEVICES:
        raise ValueError(f"unknown device {name!r}: expected one of {DEVICES}")
    return name


def set_device(name: str) -> None:
    """Make `name` ("cpu" or "gpu", optionally "gpu:0") the default device.

    Raises:
        ValueError: for an unknown device name.
        GpuUnavailableError: for "gpu" when wgpu-py or a GPU adapter is missing (the message
            says what was looked for and how to install a driver); the default stays "cpu".
    """
    name = _normalize(name)
    if name == "gpu":
        from rskeras.backend import webgpu

        webgpu.enable()
    _core.set_default_device(name)


def get_device() -> str:
    """The default device: "cpu" or "gpu"."""
    return _core.get_default_device()


@contextlib.contextmanager
def device(name: str):
    """`with rskeras.device("gpu"):` makes `name` the default device inside the block (as
    `keras.device`), restoring the previous one after it."""
    previous = get_device()
    set_device(name)
    try:
        yield
    finally:
        _core.set_default_device(previous)


def _from_environment() -> None:
    """Apply `RSKERAS_DEVICE`; a GPU that cannot start warns and leaves the CPU default."""
    name = os.environ.get("RSKERAS_DEVICE")
    if not name:
        return
    try:
        set_device(name)
    except Exception as e:  # noqa: BLE001 - any failure to start the GPU keeps the CPU
        warnings.warn(f"RSKERAS_DEVICE={name!r} ignored, using the CPU: {e}", stacklevel=2)

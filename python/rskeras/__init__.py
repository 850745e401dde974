"""rskeras: the Keras 3 API on a tensor core written in Rust.

`import rskeras as keras` and write ordinary Keras code: `keras.Sequential`, `keras.layers`,
`model.compile/fit/evaluate/predict`, `keras.ops`, `keras.GradientTape`. `keras.datasets`
loads on first use so that `import rskeras` stays fast."""

from rskeras._core import GradientTape, Tensor, __version__
from rskeras import (
    activations, backend, callbacks, constraints, initializers, layers, losses, metrics, models,
    ops, optimizers, random, regularizers, saving, utils,
)
from rskeras.backend import Variable
from rskeras.backend.device import device
from rskeras.backend.keras_tensor import KerasTensor
from rskeras.layers import Input, InputSpec, Layer
from rskeras.losses import Loss
from rskeras.metrics import Metric
from rskeras.models import Model, Sequential
from rskeras.optimizers import Optimizer

from rskeras import config  # keras.config; its settings are backend.config state


def _register_fork_handler() -> None:
    # A child forked after the thread pool started has the pool's state but not its threads.
    import os

    from rskeras import _core

    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_core._reset_thread_pool_after_fork)


_register_fork_handler()

from rskeras.backend.device import _from_environment  # noqa: E402

_from_environment()  # RSKERAS_DEVICE

__all__ = [
    "GradientTape", "Input", "InputSpec", "KerasTensor", "Layer", "Loss", "Metric", "Model", "Optimizer",
    "Sequential", "Tensor", "Variable", "__version__", "activations", "backend", "callbacks",
    "config", "constraints", "datasets", "device", "initializers", "layers", "losses", "metrics",
    "models", "ops", "optimizers", "random", "regularizers", "saving", "utils",
]


def __getattr__(name):
    if name == "datasets":
        import importlib

        return importlib.import_module("rskeras.datasets")
    raise AttributeError(f"module 'rskeras' has no attribute {name!r}")


def version() -> str:
    return __version__

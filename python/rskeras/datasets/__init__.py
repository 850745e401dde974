"""Small built-in datasets, as in `keras.datasets`.

Submodules load on first attribute access, so `import rskeras.datasets` costs almost nothing:

    from rskeras.datasets import fashion_mnist
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()

Available: `fashion_mnist`, `mnist`.
"""

import importlib

__all__ = ["DatasetNotFoundError", "fashion_mnist", "mnist"]

_SUBMODULES = ("fashion_mnist", "mnist")


class DatasetNotFoundError(FileNotFoundError):
    """A dataset file is neither on disk nor downloadable (e.g. offline).

    A subclass of `FileNotFoundError` (hence of `OSError`). The message says where to put the
    files, how to install them from a system package when one exists, and includes the
    download error, which is also chained as `__cause__`.
    """


def __getattr__(name):
    if name in _SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBMODULES))

"""MNIST handwritten digits: 70,000 28x28 grayscale images, as in `keras.datasets.mnist`.

The data is the Keras `mnist.npz` file, cached at `$KERAS_HOME/datasets/mnist.npz` (default
`~/.keras/datasets/mnist.npz`) and downloaded from
`https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz` when missing.
"""

import os

__all__ = ["load_data"]

_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
# SHA-256 of the npz file itself. Tests monkeypatch this.
_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
_KEYS = ("x_train", "y_train", "x_test", "y_test")


def load_data(path="mnist.npz"):
    """Load the MNIST dataset.

    Args:
        path: where to cache the file, relative to `$KERAS_HOME/datasets/` (default
            `~/.keras/datasets/`); an absolute path is used as is.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: numpy `uint8` arrays of shapes
        `(60000, 28, 28)`, `(60000,)`, `(10000, 28, 28)` and `(10000,)`. Pixels are 0..255,
        labels 0..9.

    Raises:
        rskeras.datasets.DatasetNotFoundError: (a `FileNotFoundError`, hence `OSError`) when
            the file is not cached (or its SHA-256 does not match) and cannot be downloaded;
            the message says where to put `mnist.npz` and includes the download error.
        ValueError: when a downloaded file does not match the expected SHA-256, or the npz
            file lacks one of the keys `x_train`, `y_train`, `x_test`, `y_test`.
    """
    import numpy as np

    from rskeras.datasets import DatasetNotFoundError
    from rskeras.utils.file_utils import get_file, keras_home

    try:
        fpath = get_file(fname=path, origin=_ORIGIN, file_hash=_SHA256)
    except ValueError:
        raise
    except Exception as e:
        dest = os.path.join(keras_home(), "datasets", os.fspath(path))
        if os.path.exists(dest):
            state = f"exists at {dest} but does not match its SHA-256 {_SHA256}"
        else:
            state = "was not found locally"
        raise DatasetNotFoundError(
            f"MNIST file {os.path.basename(os.fspath(path))} {state} and could not be "
            f"downloaded.\n"
            f"Download {_ORIGIN} elsewhere and put it at\n    {dest}\n"
            f"(the Keras cache, $KERAS_HOME/datasets/).\n"
            f"Download error: {type(e).__name__}: {e}"
        ) from e

    with np.load(fpath, allow_pickle=False) as f:
        missing = [k for k in _KEYS if k not in f.files]
        if missing:
            raise ValueError(
                f"{fpath}: not a valid MNIST npz file: missing key(s) {missing} "
                f"(found {sorted(f.files)}). Delete it and call load_data() again."
            )
        x_train, y_train = f["x_train"], f["y_train"]
        x_test, y_test = f["x_test"], f["y_test"]
    return (x_train, y_train), (x_test, y_test)

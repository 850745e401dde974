"""Fashion-MNIST: 70,000 28x28 grayscale images of 10 clothing classes, as in
`keras.datasets.fashion_mnist`.

Each of the four files is looked for, in order, in:

1. the Keras cache, `$KERAS_HOME/datasets/fashion-mnist/` (default `~/.keras/datasets/fashion-mnist/`,
   or `/tmp/.keras/datasets/fashion-mnist/` when that is not writable), the layout Keras uses;
2. the system folder `/usr/share/datasets/fashion-mnist/` installed by the Debian package
   `dataset-fashion-mnist` (`apt-get install dataset-fashion-mnist`). The environment variable
   `RSKERAS_FASHION_MNIST_SYSTEM_DIR` replaces this folder when set to a non-empty value;
3. a download from `https://storage.googleapis.com/tensorflow/tf-keras-datasets/` into the
   Keras cache (via `rskeras.utils.file_utils.get_file`).

Whatever the source, the SHA-256 of the *decompressed* IDX payload is checked against the
known values (the Debian package recompresses the `.gz` files, so the compressed bytes differ).
"""

import os

__all__ = ["load_data"]

_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
_CACHE_SUBDIR = os.path.join("datasets", "fashion-mnist")
_SYSTEM_DIR = "/usr/share/datasets/fashion-mnist"
_SYSTEM_DIR_ENV = "RSKERAS_FASHION_MNIST_SYSTEM_DIR"
_APT_PACKAGE = "dataset-fashion-mnist"

_FILES = (
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
)

# SHA-256 of the decompressed IDX payloads, keyed by the .gz file name. Tests monkeypatch this.
_SHA256 = {
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
}


def _system_dir():
    return os.environ.get(_SYSTEM_DIR_ENV) or _SYSTEM_DIR


def _cache_dir():
    from rskeras.utils.file_utils import keras_home

    return os.path.join(keras_home(), _CACHE_SUBDIR)


def _fetch(fname):
    """Return `(path, source)` for one file, source being "cache", "system" or "download"."""
    from rskeras.datasets import DatasetNotFoundError
    from rskeras.utils.file_utils import get_file

    cache_dir = _cache_dir()
    cached = os.path.join(cache_dir, fname)
    if os.path.isfile(cached):
        return cached, "cache"
    system = os.path.join(_system_dir(), fname)
    if os.path.isfile(system):
        return system, "system"
    try:
        path = get_file(fname, origin=_ORIGIN + fname, cache_subdir=_CACHE_SUBDIR)
    except Exception as e:
        listing = "".join(f"\n    {os.path.join(cache_dir, f)}" for f in _FILES)
        raise DatasetNotFoundError(
            f"Fashion-MNIST file {fname} was not found locally and could not be downloaded.\n"
            f"Put the four files{listing}\n"
            f"there (the Keras cache, $KERAS_HOME/datasets/fashion-mnist/), or install the "
            f"system package with `apt-get install {_APT_PACKAGE}`, which provides them in "
            f"{_SYSTEM_DIR}/ (folder overridable with ${_SYSTEM_DIR_ENV}; currently "
            f"{_system_dir()}).\n"
            f"Download error: {type(e).__name__}: {e}"
        ) from e
    return path, "download"


def _read(fname, expected_magic):
    from rskeras.datasets._idx import read_idx_gz

    path, source = _fetch(fname)
    if source == "system":
        hint = (
            f" The file from the system package looks corrupted; reinstall it with "
            f"`apt-get install --reinstall {_APT_PACKAGE}`."
        )
    else:
        hint = (
            f" The cached file {path} looks corrupted or incomplete; delete it and call "
            f"load_data() again to download it afresh."
        )
    try:
        return read_idx_gz(path, expected_magic, _SHA256.get(fname), hint=hint)
    except ValueError:
        if source == "download":
            # A freshly downloaded bad file would otherwise be picked up as a cache hit forever.
            try:
                os.remove(path)
            except OSError:
                pass
        raise


def load_data():
    """Load the Fashion-MNIST dataset.

    Classes: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt,
    7 Sneaker, 8 Bag, 9 Ankle boot. See the module docstring for where the files are looked for.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: numpy `uint8` arrays of shapes
        `(60000, 28, 28)`, `(60000,)`, `(10000, 28, 28)` and `(10000,)`. Pixels are 0..255,
        labels 0..9. The arrays are writeable.

    Raises:
        rskeras.datasets.DatasetNotFoundError: (a `FileNotFoundError`, hence `OSError`) when a
            file is neither cached nor in the system folder and cannot be downloaded; the
            message lists the expected paths, mentions `apt-get install dataset-fashion-mnist`
            and includes the download error.
        ValueError: when a file is not valid gzip, its decompressed SHA-256 does not match the
            known value (the message names the file and both hashes), it is not a well-formed
            IDX file (magic 2049 for labels, 2051 for images), or the image and label counts
            of a split differ.
    """
    from rskeras.datasets._idx import MAGIC_UBYTE_1D, MAGIC_UBYTE_3D

    y_train = _read("train-labels-idx1-ubyte.gz", MAGIC_UBYTE_1D)
    x_train = _read("train-images-idx3-ubyte.gz", MAGIC_UBYTE_3D)
    y_test = _read("t10k-labels-idx1-ubyte.gz", MAGIC_UBYTE_1D)
    x_test = _read("t10k-images-idx3-ubyte.gz", MAGIC_UBYTE_3D)
    for split, x, y in (("train", x_train, y_train), ("t10k", x_test, y_test)):
        if x.shape[0] != y.shape[0]:
            raise ValueError(
                f"Fashion-MNIST {split} split: {x.shape[0]} images but {y.shape[0]} labels"
            )
    return (x_train, y_train), (x_test, y_test)

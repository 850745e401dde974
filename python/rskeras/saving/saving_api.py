"""`save_model`, `load_model`, `save_weights`, `load_weights`: the format is chosen by the
file's extension, as Keras 3's `saving_api.py`:

* `.keras`: the zip of config, metadata and weights (`saving_lib`);
* `.h5` / `.hdf5`: the legacy HDF5 format (`legacy_h5_format`);
* `.weights.h5`: weights (and optimizer state) only, in Keras 3's object-path layout.

Every save is atomic (temporary file, fsync, rename). Every load error on a bad file is a
ValueError naming the file, never another exception type, a crash or a hang."""

from __future__ import annotations

import os
import warnings
import zipfile


def _path(filepath) -> str:
    if hasattr(filepath, "__fspath__") or isinstance(filepath, str):
        return os.fspath(filepath)
    raise TypeError(f"filepath must be a str or os.PathLike, got {type(filepath).__name__}")


def _is_h5(path: str) -> bool:
    return path.endswith((".h5", ".hdf5")) and not path.endswith(".weights.h5")


def save_model(model, filepath, overwrite=True, zipped=None, **kwargs) -> None:
    """Save `model` to `filepath`: `.keras` (config, weights and optimizer state in one zip),
    or legacy `.h5`/`.hdf5` (with a warning that the format is legacy, as Keras).

    Args:
        overwrite: replace an existing file (default True); False raises FileExistsError.
        zipped: only True (the `.keras` zip) or None is supported.
        include_optimizer: save the optimizer state (default True).

    Raises:
        ValueError: for another extension, or a `.weights.h5` name (use save_weights).
        TypeError: for unknown keyword arguments.
    """
    include_optimizer = kwargs.pop("include_optimizer", True)
    kwargs.pop("save_format", None)
    if kwargs:
        raise TypeError(f"save_model: unexpected keyword arguments {sorted(kwargs)}")
    path = _path(filepath)
    if zipped is False:
        raise ValueError("save_model: zipped=False (an unzipped folder) is not supported; "
                         "save to a .keras file")
    if path.endswith(".keras"):
        from rskeras.saving import saving_lib

        saving_lib.save_model(model, path, overwrite=overwrite, include_optimizer=include_optimizer)
    elif _is_h5(path):
        from rskeras.saving import legacy_h5_format

        warnings.warn(
            "You are saving your model as an HDF5 file via `model.save()`. This file format is "
            "considered legacy. We recommend using instead the native Keras format, e.g. "
            "`model.save('my_model.keras')`.", stacklevel=3)
        legacy_h5_format.save_model_to_hdf5(model, path, overwrite=overwrite,
                                             include_optimizer=include_optimizer)
    else:
        raise ValueError(
            "Invalid filepath extension for saving. Please add either a `.keras` extension for "
            "the native Keras format (recommended) or a `.h5` extension. Use "
            f"`model.save_weights()` for a `.weights.h5` file. Received: filepath={path}")


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Load a model saved by `save_model` (by rskeras, Keras 3 or tf.keras 2).

    Args:
        custom_objects: `{name: class or function}` for custom layers, losses, ...
        compile: re-compile from the saved training configuration and restore the
            optimizer state (default True).
        safe_mode: refuse code stored in the file (a Lambda's Python lambda); default True.

    Returns:
        The model, with its weights (and optimizer state when compiled).

    Raises:
        ValueError: for a missing, truncated, corrupted or unknown kind of file, or one whose
            contents do not describe a loadable model; the message names the file.
    """
    path = _path(filepath)
    if not os.path.exists(path):
        raise ValueError(f"File not found: filepath={path}. Please ensure the file is an "
                         "accessible `.keras` zip file.")
    if os.path.isdir(path):
        raise ValueError(f"{path} is a folder; load_model reads .keras or .h5 files")

    def load():
        if path.endswith(".keras"):
            from rskeras.saving import saving_lib

            return saving_lib.load_model(path, custom_objects, compile, safe_mode)
        if _is_h5(path):
            from rskeras.saving import legacy_h5_format

            return legacy_h5_format.load_model_from_hdf5(path, custom_objects, compile, safe_mode)
        if path.endswith(".weights.h5"):
            raise ValueError(f"{path} holds weights only: build the model and call "
                             "model.load_weights()")
        raise ValueError(
            f"File format not supported: filepath={path}. rskeras loads `.keras` and legacy "
            "`.h5`/`.hdf5` files.")

    return _guarded(path, load)


def save_weights(model, filepath, overwrite=True, max_shard_size=None) -> None:
    """Save the weights (and the optimizer state) to a `.weights.h5` file.

    Raises:
        ValueError: when the name does not end in `.weights.h5` (Keras's rule), or for
            `max_shard_size` (sharding is not supported).
    """
    path = _path(filepath)
    if not path.endswith(".weights.h5"):
        raise ValueError(f"The filename must end in `.weights.h5`. Received: filepath={path}")
    if max_shard_size is not None:
        raise ValueError("save_weights: max_shard_size (sharded weights) is not supported")
    from rskeras.saving import saving_lib

    saving_lib.save_weights_only(model, path, overwrite=overwrite)


def load_weights(model, filepath, skip_mismatch=False, **kwargs) -> None:
    """Load weights into `model` from `.weights.h5`, `.keras`, or legacy `.h5`/`.hdf5` (a
    weights-only file or a full model's `model_weights`; `by_name=True` matches layers by
    name).

    Raises:
        ValueError: for another extension, a bad file, or weights that do not fit (naming
            the layer and both shapes); with `skip_mismatch=True` mismatches only warn.
    """
    path = _path(filepath)
    by_name = kwargs.pop("by_name", False)
    if kwargs:
        raise TypeError(f"load_weights: unexpected keyword arguments {sorted(kwargs)}")
    if not os.path.exists(path):
        raise ValueError(f"File not found: filepath={path}")
    if not getattr(model, "built", False):
        raise ValueError(f"Model '{model.name}' is not built yet: call it on data or call "
                         "build(input_shape) before load_weights")

    def load():
        if path.endswith((".keras", ".weights.h5")):
            if by_name:
                raise ValueError("Invalid keyword arguments: by_name is only for legacy .h5 files")
            from rskeras.saving import saving_lib

            return saving_lib.load_weights_only(model, path, skip_mismatch)
        if _is_h5(path):
            from rskeras.saving import legacy_h5_format

            return legacy_h5_format.load_weights(model, path, skip_mismatch, by_name)
        raise ValueError(f"File format not supported: filepath={path}. Keras 3 only supports "
                         "V3 `.keras` and `.weights.h5` files, or legacy `.h5` files.")

    _guarded(path, load)


def _guarded(path, fn):
    """Run a load; anything a bad file can make the readers raise becomes a ValueError that
    names the file (ValueErrors from the readers already do)."""
    try:
        return fn()
    except ValueError as e:
        if path in str(e):
            raise
        raise ValueError(f"Cannot load {path}: {e}") from e
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except zipfile.BadZipFile as e:
        raise ValueError(f"{path} is not a valid zip archive: {e}") from None
    except Exception as e:  # noqa: BLE001 - the contract: bad files give ValueError
        raise ValueError(f"Cannot load {path}: the file is corrupted or not a model file "
                         f"({type(e).__name__}: {e})") from e

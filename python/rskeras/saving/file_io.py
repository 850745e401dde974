"""Durable writes and guarded reads for model files.

`atomic_write` makes every save all-or-nothing: the data goes to a temporary file in the
target's folder, is flushed and fsynced, and is then renamed over the target (rename is
atomic on POSIX and Windows), so an exception or a `kill -9` at any moment leaves either the
previous file or the new one, never a torn file. The `load_budget` scope caps how many bytes
of weights a file being loaded may make the model allocate: a config cannot ask for more
weights than its file holds."""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading

_state = threading.local()


@contextlib.contextmanager
def atomic_write(path, overwrite: bool = True):
    """Yield a temporary path next to `path`; when the block succeeds, fsync it and rename it
    over `path` (and fsync the folder). On any error the temporary file is removed and
    `path` is untouched.

    Raises:
        FileExistsError: when `path` exists and `overwrite` is False.
        FileNotFoundError: when the folder of `path` does not exist.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"Cannot save to {path}: the folder {folder} does not exist")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path} exists and overwrite=False")
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    os.close(fd)
    # mkstemp makes the file private (0600): give it the mode a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    with contextlib.suppress(OSError):
        os.chmod(tmp, 0o666 & ~umask)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # not every platform can fsync a folder
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


@contextlib.contextmanager
def load_budget(nbytes: int, source: str):
    """Inside this scope, layers may create at most `nbytes` bytes of weights in all (see
    `charge`); `source` names the file in the error."""
    previous = getattr(_state, "budget", None)
    _state.budget = [int(nbytes), source]
    try:
        yield
    finally:
        _state.budget = previous


def charge(nbytes: int, what: str) -> None:
    """Count `nbytes` of a new weight against the active `load_budget`, if any.

    Raises:
        ValueError: when the file being loaded cannot hold that many bytes of weights.
    """
    budget = getattr(_state, "budget", None)
    if budget is None:
        return
    budget[0] -= nbytes
    if budget[0] < 0:
        raise ValueError(
            f"{budget[1]}: the model config asks for {what} ({nbytes} bytes), more weights "
            "than the file holds; the config is corrupt or does not belong to these weights")

"""File download and cache helpers, as in `keras.utils.get_file`.

Only `os` is imported at module level so that `import rskeras` stays fast; `hashlib`,
`urllib` and friends are imported inside the functions that need them.
"""

import os

__all__ = ["get_file", "keras_home", "DownloadError"]

_TMP_KERAS_HOME = os.path.join("/tmp", ".keras")
_CHUNK = 1 << 20


class DownloadError(OSError):
    """A file could not be downloaded. The message names the URL and the destination path."""


def _writable_or_creatable(path):
    """True when `path` is a writable directory, or does not exist yet but could be created."""
    path = os.path.abspath(path)
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            return False
        path = parent
    return os.path.isdir(path) and os.access(path, os.W_OK | os.X_OK)


def keras_home(cache_dir=None):
    """The base cache folder, resolved as Keras does.

    Args:
        cache_dir: explicit folder; defaults to `$KERAS_HOME`, then `~/.keras`.

    Returns:
        The folder path (str). When the chosen folder is not writable (and cannot be created),
        `/tmp/.keras` is returned instead. Nothing is created on disk.
    """
    if cache_dir is None:
        cache_dir = os.environ.get("KERAS_HOME") or os.path.join("~", ".keras")
    base = os.path.expanduser(os.fspath(cache_dir))
    if _writable_or_creatable(base):
        return base
    return _TMP_KERAS_HOME


def _resolve_hash_algorithm(file_hash, hash_algorithm):
    if hash_algorithm not in ("auto", "sha256", "md5"):
        raise ValueError(
            f"get_file: hash_algorithm must be 'auto', 'sha256' or 'md5', got {hash_algorithm!r}"
        )
    if hash_algorithm == "auto":
        return "md5" if len(file_hash) == 32 else "sha256"
    return hash_algorithm


def _hash_file(fpath, algorithm):
    import hashlib

    hasher = hashlib.new(algorithm)
    with open(fpath, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def _download(origin, fpath, file_hash, algorithm, reason=""):
    """Download `origin` to a temporary file beside `fpath`, verify it, then rename it into place.

    The temporary file is removed on any failure (including KeyboardInterrupt), so neither a
    partial file nor a destroyed previous `fpath` can result.
    """
    import hashlib
    import urllib.request

    datadir = os.path.dirname(fpath) or "."
    tmp_path = os.path.join(
        datadir, f".{os.path.basename(fpath)}.{os.getpid()}.{os.urandom(4).hex()}.part"
    )
    hasher = hashlib.new(algorithm) if file_hash is not None else None
    print(f"Downloading data from {origin}")
    try:
        try:
            # O_EXCL: never follow or clobber anything; mode 0o666 lets the umask apply, so the
            # final file gets the same permissions as any other file the user creates.
            fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            with os.fdopen(fd, "wb") as out:
                with urllib.request.urlopen(origin, timeout=60) as response:
                    expected_len = None
                    headers = getattr(response, "headers", None)
                    if headers is not None and headers.get("Content-Length"):
                        try:
                            expected_len = int(headers.get("Content-Length"))
                        except ValueError:
                            expected_len = None
                    received = 0
                    while True:
                        chunk = response.read(_CHUNK)
                        if not chunk:
                            break
                        out.write(chunk)
                        received += len(chunk)
                        if hasher is not None:
                            hasher.update(chunk)
                    if expected_len is not None and received != expected_len:
                        raise OSError(
                            f"incomplete download: got {received} of {expected_len} bytes"
                        )
                out.flush()
                os.fsync(out.fileno())
        except Exception as e:
            raise DownloadError(
                f"Failed to download {origin} to {fpath}: {type(e).__name__}: {e}{reason}"
            ) from e
        if hasher is not None:
            actual = hasher.hexdigest()
            if actual != file_hash.lower():
                raise ValueError(
                    f"Incomplete or corrupted file downloaded from {origin}: its {algorithm} "
                    f"hash is {actual}, expected {file_hash.lower()}. The file was discarded; "
                    f"{fpath} was not modified."
                )
        os.replace(tmp_path, fpath)
    finally:
        if os.path.lexists(tmp_path):
            try:
                os.remove(tmp_path)
            except OSError:
                pass


def get_file(
    fname=None,
    origin=None,
    untar=False,
    md5_hash=None,
    file_hash=None,
    cache_subdir="datasets",
    hash_algorithm="auto",
    extract=False,
    archive_format="auto",
    cache_dir=None,
    force_download=False,
):
    """Download a file from a URL if it is not already in the cache, as `keras.utils.get_file`.

    The file is stored at `<cache_dir>/<cache_subdir>/<fname>`, where `cache_dir` defaults to
    `$KERAS_HOME`, then `~/.keras`, and falls back to `/tmp/.keras` when that folder is not
    writable. An existing file is returned as is when no hash is given or its hash matches;
    otherwise (or with `force_download=True`) `origin` is downloaded to a temporary file in the
    same folder, its hash is checked, and it is atomically renamed into place with `os.replace`.
    A failed download therefore never leaves a partial file behind and never destroys an
    existing one.

    Args:
        fname: file name in the cache (a relative path is taken under `cache_subdir`, an
            absolute path is used as is). Defaults to the last component of `origin`'s path.
        origin: URL of the file (required).
        untar: deprecated Keras option to extract a tar archive; not supported here.
        md5_hash: deprecated; same as `file_hash=md5_hash, hash_algorithm="md5"`.
        file_hash: expected hex digest of the file (sha256, or md5 when it is 32 hex digits and
            `hash_algorithm="auto"`). `None` skips verification.
        cache_subdir: folder under the cache dir (an absolute path is used as is).
        hash_algorithm: `"auto"`, `"sha256"` or `"md5"`.
        extract: extract an archive after download; not supported here.
        archive_format: archive format for `extract`; ignored since extraction is unsupported.
        cache_dir: base cache folder; defaults to `$KERAS_HOME` or `~/.keras`.
        force_download: download even when a valid file is already cached.

    Returns:
        The path (str) of the cached file.

    Raises:
        ValueError: when `origin` is missing, no file name can be derived, `hash_algorithm` is
            unknown, or the downloaded file does not match `file_hash`.
        NotImplementedError: when `untar=True` or `extract=True` is passed.
        DownloadError: (a subclass of `OSError`) when the download fails; the message names the
            URL and the destination path.
    """
    if untar or extract:
        raise NotImplementedError(
            "rskeras.utils.get_file: archive extraction (untar=True / extract=True) is not "
            "supported yet; download the archive with extract=False and extract it with "
            "`tarfile` / `zipfile`."
        )
    if origin is None:
        raise ValueError('Please specify the "origin" argument (URL of the file to download).')
    if md5_hash is not None and file_hash is None:
        file_hash = md5_hash
        hash_algorithm = "md5"
    algorithm = None
    if file_hash is not None:
        file_hash = str(file_hash)
        algorithm = _resolve_hash_algorithm(file_hash, hash_algorithm)

    if fname is None:
        import urllib.parse

        fname = os.path.basename(urllib.parse.urlsplit(origin).path)
        if not fname:
            raise ValueError(
                f"Can't parse the file name from the origin provided: '{origin}'. "
                "Please specify the `fname` argument."
            )
    fname = os.fspath(fname)

    datadir = os.path.join(keras_home(cache_dir), os.fspath(cache_subdir))
    fpath = os.path.join(datadir, fname)
    os.makedirs(os.path.dirname(fpath) or ".", exist_ok=True)

    reason = ""
    if os.path.exists(fpath) and not force_download:
        if file_hash is None:
            return fpath
        actual = _hash_file(fpath, algorithm)
        if actual == file_hash.lower():
            return fpath
        reason = (
            f" (a local file was found at {fpath}, but its {algorithm} hash {actual} does not "
            f"match the expected {file_hash.lower()}, so it had to be downloaded again)"
        )
        print(
            f"A local file was found at {fpath}, but it seems to be incomplete or outdated "
            f"because the {algorithm} file hash does not match the original value of "
            f"{file_hash.lower()}, so we will re-download the data."
        )

    _download(origin, fpath, file_hash.lower() if file_hash else None, algorithm, reason)
    return fpath

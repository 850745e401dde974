"""Tests for rskeras.datasets (fashion_mnist, mnist) and rskeras.utils.file_utils.get_file.

Everything runs on tiny fixture files written under tmp_path; urllib is monkeypatched so no test
touches the network. One test reads the real Fashion-MNIST files from the Debian package
`dataset-fashion-mnist` and is skipped only where that folder is absent.
"""

import ast
import gzip
import hashlib
import io
import os
import pathlib
import struct
import urllib.error
import urllib.request

import numpy as np
import pytest

from rskeras.datasets import DatasetNotFoundError, fashion_mnist, mnist
from rskeras.datasets._idx import parse_idx
from rskeras.utils import file_utils
from rskeras.utils.file_utils import DownloadError, get_file

SYSTEM_DIR = pathlib.Path("/usr/share/datasets/fashion-mnist")
FASHION_FILES = fashion_mnist._FILES


# ----------------------------------------------------------------------------- fixtures


def idx_bytes(array):
    """Encode a uint8 array as an IDX payload (magic 0x0801 / 0x0803, big-endian dims)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def make_fashion(rng, n_train=5, n_test=3, hw=(4, 3)):
    arrays = {
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, n_train, dtype=np.uint8),
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, *hw), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, n_test, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, *hw), dtype=np.uint8),
    }
    payloads = {name: idx_bytes(a) for name, a in arrays.items()}
    return arrays, payloads


def write_gz(folder, payloads):
    folder.mkdir(parents=True, exist_ok=True)
    for name, payload in payloads.items():
        (folder / name).write_bytes(gzip.compress(payload))


class NoNetwork(AssertionError):
    pass


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Isolated KERAS_HOME and system folder; any network access fails the test."""
    home = tmp_path / "keras_home"
    system = tmp_path / "system"
    home.mkdir()
    system.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setenv("RSKERAS_FASHION_MNIST_SYSTEM_DIR", str(system))

    def no_network(url, *args, **kwargs):
        raise NoNetwork(f"test tried to open {url}")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    return home, system


@pytest.fixture
def fashion(env, monkeypatch):
    arrays, payloads = make_fashion(np.random.default_rng(0))
    monkeypatch.setattr(
        fashion_mnist,
        "_SHA256",
        {name: hashlib.sha256(p).hexdigest() for name, p in payloads.items()},
    )
    return arrays, payloads


def offline(monkeypatch):
    def fail(url, *args, **kwargs):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", fail)


class FakeResponse(io.BytesIO):
    def __init__(self, data, fail_after=None, content_length=None):
        super().__init__(data)
        self.fail_after = fail_after
        self.headers = {"Content-Length": str(content_length)} if content_length else {}

    def read(self, n=-1):
        if self.fail_after is not None and self.tell() >= self.fail_after:
            raise ConnectionResetError("connection reset by peer")
        if self.fail_after is not None:
            n = min(n if n >= 0 else self.fail_after, self.fail_after - self.tell())
        return super().read(n)


def serve(monkeypatch, data, **kwargs):
    urls = []

    def fake(url, *args, **kw):
        urls.append(url)
        return FakeResponse(data, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", fake)
    return urls


def check_equal(result, arrays):
    (x_train, y_train), (x_test, y_test) = result
    for got, name in (
        (y_train, "train-labels-idx1-ubyte.gz"),
        (x_train, "train-images-idx3-ubyte.gz"),
        (y_test, "t10k-labels-idx1-ubyte.gz"),
        (x_test, "t10k-images-idx3-ubyte.gz"),
    ):
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, arrays[name])


# ----------------------------------------------------------------------------- fashion_mnist


def test_fashion_cache_hit(fashion, env):
    arrays, payloads = fashion
    home, _ = env
    write_gz(home / "datasets" / "fashion-mnist", payloads)
    result = fashion_mnist.load_data()
    check_equal(result, arrays)
    (x_train, _), _ = result
    x_train[0, 0, 0] = 1  # writeable


def test_fashion_system_folder_hit(fashion, env):
    arrays, payloads = fashion
    home, system = env
    write_gz(system, payloads)
    check_equal(fashion_mnist.load_data(), arrays)
    # Read in place: nothing is copied into the cache.
    assert not (home / "datasets" / "fashion-mnist").exists()


def test_fashion_cache_takes_precedence_and_mixing(fashion, env, monkeypatch):
    arrays, payloads = fashion
    home, system = env
    other_arrays, other_payloads = make_fashion(np.random.default_rng(1))
    write_gz(system, other_payloads)
    # Two files in the cache, the other two only in the system folder.
    cached = {k: payloads[k] for k in FASHION_FILES[:2]}
    write_gz(home / "datasets" / "fashion-mnist", cached)
    sha = {k: hashlib.sha256(payloads[k]).hexdigest() for k in FASHION_FILES[:2]}
    sha.update({k: hashlib.sha256(other_payloads[k]).hexdigest() for k in FASHION_FILES[2:]})
    monkeypatch.setattr(fashion_mnist, "_SHA256", sha)
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    np.testing.assert_array_equal(y_train, arrays["train-labels-idx1-ubyte.gz"])
    np.testing.assert_array_equal(x_train, arrays["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(y_test, other_arrays["t10k-labels-idx1-ubyte.gz"])
    np.testing.assert_array_equal(x_test, other_arrays["t10k-images-idx3-ubyte.gz"])


def test_fashion_download_into_cache(fashion, env, monkeypatch):
    arrays, payloads = fashion
    home, _ = env
    urls = []

    def fake(url, *args, **kwargs):
        urls.append(url)
        return FakeResponse(gzip.compress(payloads[url.rsplit("/", 1)[1]]))

    monkeypatch.setattr(urllib.request, "urlopen", fake)
    check_equal(fashion_mnist.load_data(), arrays)
    assert sorted(urls) == sorted(
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/" + f for f in FASHION_FILES
    )
    cache = home / "datasets" / "fashion-mnist"
    assert sorted(os.listdir(cache)) == sorted(FASHION_FILES)
    # Second call: cache hit, no network.
    monkeypatch.setattr(urllib.request, "urlopen", None)
    check_equal(fashion_mnist.load_data(), arrays)


def test_fashion_hash_mismatch_in_cache(fashion, env, monkeypatch):
    _, payloads = fashion
    home, _ = env
    write_gz(home / "datasets" / "fashion-mnist", payloads)
    bad = "0" * 64
    monkeypatch.setitem(fashion_mnist._SHA256, "train-images-idx3-ubyte.gz", bad)
    with pytest.raises(ValueError) as info:
        fashion_mnist.load_data()
    msg = str(info.value)
    assert "train-images-idx3-ubyte.gz" in msg
    assert bad in msg
    assert hashlib.sha256(payloads["train-images-idx3-ubyte.gz"]).hexdigest() in msg
    assert "corrupted" in msg and "delete" in msg


def test_fashion_hash_mismatch_in_system_folder(fashion, env, monkeypatch):
    _, payloads = fashion
    _, system = env
    write_gz(system, payloads)
    monkeypatch.setitem(fashion_mnist._SHA256, "t10k-labels-idx1-ubyte.gz", "f" * 64)
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz") as info:
        fashion_mnist.load_data()
    assert "f" * 64 in str(info.value)
    assert "apt-get install --reinstall dataset-fashion-mnist" in str(info.value)


def test_fashion_hash_checks_decompressed_payload(fashion, env):
    """Recompressing (as the Debian package did) keeps the decompressed hash valid."""
    arrays, payloads = fashion
    _, system = env
    system.mkdir(exist_ok=True)
    for name, payload in payloads.items():
        (system / name).write_bytes(gzip.compress(payload, compresslevel=1, mtime=12345))
    check_equal(fashion_mnist.load_data(), arrays)


@pytest.mark.parametrize(
    "name, mutate, match",
    [
        ("train-labels-idx1-ubyte.gz", lambda p: b"\x00\x00\x08\x03" + p[4:], "magic number"),
        ("train-images-idx3-ubyte.gz", lambda p: b"\x00\x00\x08\x01" + p[4:], "magic number"),
        ("t10k-images-idx3-ubyte.gz", lambda p: p[:-1], "header says shape"),
        ("t10k-labels-idx1-ubyte.gz", lambda p: p + b"\x00", "header says shape"),
        ("t10k-labels-idx1-ubyte.gz", lambda p: p[:6], "truncated header"),
        ("t10k-images-idx3-ubyte.gz", lambda p: p[:2], "no header"),
    ],
)
def test_fashion_malformed_idx(fashion, env, monkeypatch, name, mutate, match):
    _, payloads = fashion
    home, _ = env
    payloads = dict(payloads)
    payloads[name] = mutate(payloads[name])
    write_gz(home / "datasets" / "fashion-mnist", payloads)
    monkeypatch.setitem(fashion_mnist._SHA256, name, hashlib.sha256(payloads[name]).hexdigest())
    with pytest.raises(ValueError, match=match) as info:
        fashion_mnist.load_data()
    assert name in str(info.value)


def test_fashion_not_gzip(fashion, env):
    _, payloads = fashion
    home, _ = env
    cache = home / "datasets" / "fashion-mnist"
    write_gz(cache, payloads)
    (cache / "t10k-images-idx3-ubyte.gz").write_bytes(b"<html>not found</html>")
    with pytest.raises(ValueError, match="not a valid gzip file"):
        fashion_mnist.load_data()
    data = (cache / "train-images-idx3-ubyte.gz").read_bytes()
    (cache / "t10k-images-idx3-ubyte.gz").write_bytes(data[: len(data) // 2])  # truncated
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz"):
        fashion_mnist.load_data()


def test_fashion_count_mismatch(env, monkeypatch):
    home, _ = env
    arrays, payloads = make_fashion(np.random.default_rng(2))
    payloads["train-labels-idx1-ubyte.gz"] = idx_bytes(np.zeros(4, np.uint8))
    write_gz(home / "datasets" / "fashion-mnist", payloads)
    monkeypatch.setattr(
        fashion_mnist, "_SHA256", {k: hashlib.sha256(p).hexdigest() for k, p in payloads.items()}
    )
    with pytest.raises(ValueError, match="5 images but 4 labels"):
        fashion_mnist.load_data()


def test_fashion_offline_no_file(fashion, env, monkeypatch):
    home, _ = env
    offline(monkeypatch)
    with pytest.raises(DatasetNotFoundError) as info:
        fashion_mnist.load_data()
    err = info.value
    assert isinstance(err, FileNotFoundError) and isinstance(err, OSError)
    msg = str(err)
    cache = home / "datasets" / "fashion-mnist"
    for name in FASHION_FILES:
        assert str(cache / name) in msg
    assert "apt-get install dataset-fashion-mnist" in msg
    assert "Temporary failure in name resolution" in msg
    assert "https://storage.googleapis.com/tensorflow/tf-keras-datasets/" in msg
    assert isinstance(err.__cause__, DownloadError)
    assert not any(cache.iterdir())  # no partial file left


def test_fashion_downloaded_bad_file_is_removed(fashion, env, monkeypatch):
    home, _ = env
    serve(monkeypatch, gzip.compress(b"garbage"))
    with pytest.raises(ValueError, match="SHA-256 mismatch"):
        fashion_mnist.load_data()
    assert not any((home / "datasets" / "fashion-mnist").iterdir())


def test_parse_idx_other_types():
    data = bytes([0, 0, 0x0B, 2]) + struct.pack(">2I", 2, 3) + struct.pack(">6h", *range(-3, 3))
    out = parse_idx(data)
    assert out.dtype == np.int16 and out.dtype.isnative
    np.testing.assert_array_equal(out, np.arange(-3, 3).reshape(2, 3))
    with pytest.raises(ValueError, match="bad magic number"):
        parse_idx(bytes([0, 0, 0x07, 1, 0, 0, 0, 0]))
    with pytest.raises(ValueError, match="bad magic number"):
        parse_idx(bytes([1, 0, 0x08, 1, 0, 0, 0, 0]))


# ----------------------------------------------------------------------------- get_file


def test_get_file_failed_download_keeps_existing_file(env, monkeypatch):
    home, _ = env
    dest = home / "datasets" / "thing.bin"
    dest.parent.mkdir(parents=True)
    dest.write_bytes(b"old contents")
    url = "https://example.invalid/data/thing.bin"

    # Connection refused before any byte arrives.
    offline(monkeypatch)
    with pytest.raises(DownloadError) as info:
        get_file("thing.bin", origin=url, force_download=True)
    assert url in str(info.value) and str(dest) in str(info.value)
    assert isinstance(info.value, OSError)
    assert dest.read_bytes() == b"old contents"
    assert os.listdir(dest.parent) == ["thing.bin"]

    # Connection reset mid-stream.
    serve(monkeypatch, b"new contents" * 1000, fail_after=100)
    with pytest.raises(DownloadError, match="connection reset"):
        get_file("thing.bin", origin=url, force_download=True)
    assert dest.read_bytes() == b"old contents"
    assert os.listdir(dest.parent) == ["thing.bin"]

    # Short read against Content-Length.
    serve(monkeypatch, b"new", content_length=10)
    with pytest.raises(DownloadError, match="incomplete download"):
        get_file("thing.bin", origin=url, force_download=True)
    assert dest.read_bytes() == b"old contents"
    assert os.listdir(dest.parent) == ["thing.bin"]

    # Stale file (hash mismatch) and download fails: the old file stays, message explains.
    good_hash = hashlib.sha256(b"new contents").hexdigest()
    offline(monkeypatch)
    with pytest.raises(DownloadError, match="does not match"):
        get_file("thing.bin", origin=url, file_hash=good_hash)
    assert dest.read_bytes() == b"old contents"
    assert os.listdir(dest.parent) == ["thing.bin"]

    # Downloaded data with the wrong hash is discarded.
    serve(monkeypatch, b"tampered")
    with pytest.raises(ValueError, match="corrupted"):
        get_file("thing.bin", origin=url, file_hash=good_hash)
    assert dest.read_bytes() == b"old contents"
    assert os.listdir(dest.parent) == ["thing.bin"]

    # Finally a good download replaces it atomically.
    urls = serve(monkeypatch, b"new contents", content_length=12)
    assert get_file("thing.bin", origin=url, file_hash=good_hash) == str(dest)
    assert dest.read_bytes() == b"new contents"
    assert urls == [url]
    assert os.listdir(dest.parent) == ["thing.bin"]


def test_get_file_cache_and_hashes(env, monkeypatch, tmp_path):
    home, _ = env
    data = b"payload bytes"
    sha = hashlib.sha256(data).hexdigest()
    md5 = hashlib.md5(data).hexdigest()
    urls = serve(monkeypatch, data)
    # fname derived from origin; custom cache_subdir.
    path = get_file(origin="https://example.invalid/a/b/file.txt?x=1", cache_subdir="sub")
    assert path == str(home / "sub" / "file.txt")
    assert pathlib.Path(path).read_bytes() == data
    assert (os.stat(path).st_mode & 0o777) == (0o666 & ~_umask())
    assert len(urls) == 1
    # Cache hits: no hash, sha256, md5 via auto-detection, md5_hash, explicit algorithm.
    monkeypatch.setattr(urllib.request, "urlopen", None)
    for kwargs in (
        {},
        {"file_hash": sha},
        {"file_hash": md5},
        {"md5_hash": md5},
        {"file_hash": sha.upper(), "hash_algorithm": "sha256"},
    ):
        assert get_file("file.txt", origin="https://x.invalid/f", cache_subdir="sub", **kwargs) == path
    # Explicit cache_dir.
    serve(monkeypatch, data)
    other = tmp_path / "other_cache"
    assert get_file("f.txt", origin="https://x.invalid/f", cache_dir=str(other)) == str(
        other / "datasets" / "f.txt"
    )
    with pytest.raises(ValueError, match="origin"):
        get_file("f.txt")
    with pytest.raises(ValueError, match="hash_algorithm"):
        get_file("f.txt", origin="https://x.invalid/f", file_hash=sha, hash_algorithm="sha1")
    with pytest.raises(ValueError, match="fname"):
        get_file(origin="https://x.invalid/")
    with pytest.raises(NotImplementedError):
        get_file("a.tar.gz", origin="https://x.invalid/a.tar.gz", extract=True)
    with pytest.raises(NotImplementedError):
        get_file("a.tar.gz", origin="https://x.invalid/a.tar.gz", untar=True)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_keras_home_fallback(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "new" / "dir"))
    assert file_utils.keras_home() == str(tmp_path / "new" / "dir")
    monkeypatch.delenv("KERAS_HOME")
    assert file_utils.keras_home() == os.path.expanduser(os.path.join("~", ".keras"))
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    assert file_utils.keras_home(str(blocker / "sub")) == os.path.join("/tmp", ".keras")


# ----------------------------------------------------------------------------- mnist


def make_npz(path, rng):
    arrays = {
        "x_train": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, 6, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, 2, dtype=np.uint8),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return arrays


def test_mnist_npz_load(env, monkeypatch):
    home, _ = env
    npz = home / "datasets" / "mnist.npz"
    arrays = make_npz(npz, np.random.default_rng(3))
    monkeypatch.setattr(mnist, "_SHA256", hashlib.sha256(npz.read_bytes()).hexdigest())
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    for name, got in (("x_train", x_train), ("y_train", y_train), ("x_test", x_test), ("y_test", y_test)):
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, arrays[name])


def test_mnist_download_and_custom_path(env, monkeypatch, tmp_path):
    home, _ = env
    src = tmp_path / "src" / "mnist.npz"
    arrays = make_npz(src, np.random.default_rng(4))
    data = src.read_bytes()
    monkeypatch.setattr(mnist, "_SHA256", hashlib.sha256(data).hexdigest())
    urls = serve(monkeypatch, data)
    (x_train, _), _ = mnist.load_data(path="my_mnist.npz")
    np.testing.assert_array_equal(x_train, arrays["x_train"])
    assert urls == ["https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"]
    assert (home / "datasets" / "my_mnist.npz").read_bytes() == data


def test_mnist_offline_no_file(env, monkeypatch):
    home, _ = env
    offline(monkeypatch)
    with pytest.raises(DatasetNotFoundError) as info:
        mnist.load_data()
    msg = str(info.value)
    assert str(home / "datasets" / "mnist.npz") in msg
    assert "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz" in msg
    assert "Temporary failure in name resolution" in msg
    assert os.listdir(home / "datasets") == []


def test_mnist_wrong_hash_offline(env, monkeypatch):
    home, _ = env
    npz = home / "datasets" / "mnist.npz"
    make_npz(npz, np.random.default_rng(5))
    before = npz.read_bytes()
    offline(monkeypatch)  # the real _SHA256 does not match the fixture: re-download is attempted
    with pytest.raises(DatasetNotFoundError, match="does not match"):
        mnist.load_data()
    assert npz.read_bytes() == before


def test_mnist_missing_keys(env, monkeypatch):
    home, _ = env
    npz = home / "datasets" / "mnist.npz"
    npz.parent.mkdir(parents=True)
    np.savez(npz, x_train=np.zeros((1, 28, 28), np.uint8))
    monkeypatch.setattr(mnist, "_SHA256", hashlib.sha256(npz.read_bytes()).hexdigest())
    with pytest.raises(ValueError, match="missing key"):
        mnist.load_data()


# ----------------------------------------------------------------------------- packaging


def test_datasets_namespace():
    import rskeras.datasets as ds

    assert ds.fashion_mnist is fashion_mnist and ds.mnist is mnist
    assert {"fashion_mnist", "mnist"} <= set(dir(ds))
    with pytest.raises(AttributeError):
        ds.no_such_dataset


def test_no_heavy_top_level_imports():
    """The modules `import rskeras` may pull in import only cheap modules at top level."""
    root = pathlib.Path(file_utils.__file__).resolve().parents[1]
    allowed = {"os", "pathlib", "importlib"}
    for rel in (
        "utils/file_utils.py",
        "datasets/__init__.py",
        "datasets/_idx.py",
        "datasets/fashion_mnist.py",
        "datasets/mnist.py",
    ):
        tree = ast.parse((root / rel).read_text())
        for node in tree.body:
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name in allowed or name.startswith("rskeras"), f"{rel} imports {name}"


# ----------------------------------------------------------------------------- real data


@pytest.mark.skipif(not SYSTEM_DIR.is_dir(), reason=f"{SYSTEM_DIR} absent (dataset-fashion-mnist)")
def test_fashion_mnist_real_data(env, monkeypatch):
    monkeypatch.delenv("RSKERAS_FASHION_MNIST_SYSTEM_DIR")  # default /usr/share folder
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and x_test.dtype == np.uint8
    assert y_test.shape == (10000,) and y_test.dtype == np.uint8
    assert y_train.min() == 0 and y_train.max() == 9
    assert y_test.min() == 0 and y_test.max() == 9
    # Balanced classes, a known property of Fashion-MNIST.
    np.testing.assert_array_equal(np.bincount(y_train), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(y_test), [1000] * 10)
    # First label and image straight from the raw files (header 8 / 16 bytes).
    with gzip.open(SYSTEM_DIR / "train-labels-idx1-ubyte.gz") as f:
        raw_labels = f.read(9)
    with gzip.open(SYSTEM_DIR / "train-images-idx3-ubyte.gz") as f:
        raw_image = f.read(16 + 784)[16:]
    assert int(y_train[0]) == raw_labels[8] == 9  # ankle boot
    np.testing.assert_array_equal(x_train[0], np.frombuffer(raw_image, np.uint8).reshape(28, 28))

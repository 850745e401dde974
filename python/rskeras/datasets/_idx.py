"""Reader for the IDX format used by MNIST-style datasets (http://yann.lecun.com/exdb/mnist/).

An IDX file is a 4-byte magic number `0x00 0x00 <type> <ndim>`, then `ndim` big-endian uint32
dimension sizes, then the data in row-major order, big-endian. For unsigned bytes (type 0x08)
the magic number is 2049 for 1-D (labels) and 2051 for 3-D (images).
"""

import os

# IDX type code -> numpy dtype string (big-endian).
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

MAGIC_UBYTE_1D = 0x0801  # 2049: labels
MAGIC_UBYTE_3D = 0x0803  # 2051: images


def parse_idx(data, name="<IDX data>", expected_magic=None):
    """Parse the bytes of a (decompressed) IDX file into a numpy array.

    Args:
        data: the whole file contents (bytes-like).
        name: file name used in error messages.
        expected_magic: when given, the magic number the file must have (e.g. 2049 or 2051).

    Returns:
        A writeable, native-endian numpy array with the file's dimensions and dtype
        (`uint8` for type 0x08).

    Raises:
        ValueError: on a malformed file: too short for its header, bad magic number, unknown
            type code, or a payload size that does not match the header dimensions.
    """
    import numpy as np

    data = memoryview(data).cast("B")
    if len(data) < 4:
        raise ValueError(f"{name}: malformed IDX file: only {len(data)} bytes, no header")
    magic = int.from_bytes(data[:4], "big")
    if expected_magic is not None and magic != expected_magic:
        raise ValueError(
            f"{name}: malformed IDX file: magic number {magic} (0x{magic:08x}), "
            f"expected {expected_magic} (0x{expected_magic:08x})"
        )
    if data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise ValueError(f"{name}: malformed IDX file: bad magic number 0x{magic:08x}")
    ndim = data[3]
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise ValueError(
            f"{name}: malformed IDX file: truncated header ({len(data)} bytes, "
            f"{ndim} dimensions need {header_len})"
        )
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_TYPES[data[2]])
    count = 1
    for d in dims:
        count *= d
    expected_len = header_len + count * dtype.itemsize
    if len(data) != expected_len:
        raise ValueError(
            f"{name}: malformed IDX file: header says shape {dims} "
            f"({expected_len} bytes in all) but the file has {len(data)} bytes"
        )
    array = np.frombuffer(data, dtype=dtype, count=count, offset=header_len).reshape(dims)
    # astype copies: the result is writeable, native-endian, and does not pin `data`.
    return array.astype(dtype.newbyteorder("="))


def read_idx_gz(path, expected_magic=None, expected_sha256=None, hint=""):
    """Read a gzip-compressed IDX file, verifying the SHA-256 of the decompressed payload.

    Args:
        path: path of the `.gz` file.
        expected_magic: magic number the IDX payload must have (2049 labels, 2051 images).
        expected_sha256: hex SHA-256 of the decompressed payload; `None` skips the check.
        hint: sentence appended to error messages (e.g. what to do about a corrupted file).

    Returns:
        The parsed numpy array (see `parse_idx`).

    Raises:
        ValueError: when the file is not valid gzip, its decompressed SHA-256 differs from
            `expected_sha256` (the message names the file and both hashes), or the IDX payload
            is malformed.
        OSError: when the file cannot be opened.
    """
    import gzip
    import hashlib
    import zlib

    path = os.fspath(path)
    name = os.path.basename(path)
    with open(path, "rb") as raw:
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as f:
                data = f.read()
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(
                f"{path} is not a valid gzip file ({type(e).__name__}: {e}).{hint}"
            ) from e
    if expected_sha256 is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected_sha256.lower():
            raise ValueError(
                f"SHA-256 mismatch for {name} ({path}): the decompressed data hashes to "
                f"{actual}, expected {expected_sha256.lower()}.{hint}"
            )
    try:
        return parse_idx(data, name=path, expected_magic=expected_magic)
    except ValueError as e:
        raise ValueError(f"{e}.{hint}") from None

"""Byte-level guards against flaws of libhdf5 that a damaged or hostile file triggers (a
read that never returns, a 4 GiB allocation, a segmentation fault), checked on the file's
bytes before libhdf5 reaches the bad structure. Found by fuzzing `load_model`
(tests/fuzz/fuzz_load_model.py); each has a regression test in
tests/saving/test_hostile_files.py."""

from __future__ import annotations

import os

from rskeras.saving.h5_store import h5py


_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_GLOBAL_HEAP = b"GCOL"
_GLOBAL_HEAP_MIN_SIZE = 4096  # libhdf5's H5HG_MINSIZE: smaller collections are refused by it
_WRAP = 1 << 64  # libhdf5 computes sizes in 64-bit size_t
_LOCAL_HEAP = b"HEAP"
_FREE_NULL = 1  # libhdf5's H5HL_FREE_NULL: the end of a local heap's free list


def check_file(source: str, data=None) -> None:
    """Refuse an HDF5 file that libhdf5 itself cannot read safely, before h5py opens it.
    `data` is the file's bytes (a member of a `.keras` zip); None reads the file `source`.

    libhdf5 (through 2.0.0) decodes a global heap collection (where variable-length strings
    live: the model config, layer and weight names) in a loop that advances by each object's
    size: an object whose (64-bit) size makes a step of 0, or wraps around to a step
    backwards, makes reading any string of that collection loop forever. The scan mirrors
    `H5HG__cache_heap_deserialize` over every collection in the file. It also follows the
    free list of every local heap (`_check_local_heap`). No writer produces such heaps; a
    damaged file can.

    Raises:
        ValueError: naming the file and the offset of the bad heap.
    """
    import mmap

    if data is None:
        try:
            with open(source, "rb") as f:
                view = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            return  # empty, unreadable or not a plain file: opening it reports that
        with view:
            return check_file(source, view)
    n = len(data)
    base, size_offsets, size_lengths = _superblock(data)
    object_header = 8 + size_lengths
    from rskeras import _core

    for pos in _core.find_all(data, _GLOBAL_HEAP):  # SIMD search, GIL released
        heap_size = int.from_bytes(data[pos + 8:pos + 8 + size_lengths], "little")
        end = pos + heap_size
        if data[pos + 4:pos + 5] == b"\x01" and _GLOBAL_HEAP_MIN_SIZE <= heap_size and end <= n:
            p = pos + 8 + size_lengths
            while p + object_header <= end:
                index = int.from_bytes(data[p:p + 2], "little")
                size = int.from_bytes(data[p + 8:p + 8 + size_lengths], "little")
                # An object's header and its data padded to 8 bytes (the free space's size
                # already counts its header), in libhdf5's 64-bit arithmetic: a step of 0,
                # or one that wraps around to a step backwards, loops forever.
                step = ((object_header + (size + 7) % _WRAP // 8 * 8) % _WRAP) if index else size
                if step == 0 or step >= _WRAP // 2:
                    raise ValueError(f"{source}: the global heap at offset {pos} is corrupted "
                                     f"(object {index} at offset {p} claims {size} bytes, on "
                                     "which libhdf5 loops forever)")
                if p + step > end:
                    break  # libhdf5 reports the overflow
                p += step
    for pos in _core.find_all(data, _LOCAL_HEAP):
        _check_local_heap(source, data, pos, base, size_offsets, size_lengths)


def _check_local_heap(source, data, pos, base, size_offsets, size_lengths) -> None:
    """A local heap (a group's link names) whose free list runs in a circle: libhdf5
    (`H5HL__fl_deserialize`) follows it and allocates a node per step, without end (found by
    the fuzzer: 23 GB and counting). The walk mirrors libhdf5's checks; where it would report
    an error, the walk stops."""
    if data[pos + 4:pos + 5] != b"\x00":
        return
    p = pos + 8
    size = int.from_bytes(data[p:p + size_lengths], "little")
    free = int.from_bytes(data[p + size_lengths:p + 2 * size_lengths], "little")
    segment = base + int.from_bytes(
        data[p + 2 * size_lengths:p + 2 * size_lengths + size_offsets], "little")
    if segment + size > len(data):
        return  # libhdf5 cannot read the segment
    seen = set()
    while free != _FREE_NULL:
        if free >= size or free + 2 * size_lengths > size:
            return  # libhdf5: "bad heap free list"
        if free in seen:
            raise ValueError(f"{source}: the local heap at offset {pos} is corrupted (its list "
                             "of free blocks runs in a circle, on which libhdf5 never stops)")
        seen.add(free)
        block = segment + free
        following = int.from_bytes(data[block:block + size_lengths], "little")
        length = int.from_bytes(data[block + size_lengths:block + 2 * size_lengths], "little")
        if following == 0 or free + length > size:
            return  # libhdf5 reports it
        free = following


def check_string_attribute(obj, name) -> None:
    """Before h5py reads the attribute `name` of `obj` (the loaders read only text and
    numbers from attributes: configs, layer and weight names, versions):

    * refuse a datatype other than strings and numbers (compound, sequence, reference...);
    * for variable-length strings, refuse a datatype message whose variable-length kind is
      neither sequence nor string (libhdf5 <= 2.0.0 accepts it and crashes with a
      segmentation fault when it reads the values), and a string whose reference claims
      more bytes than the file holds (libhdf5 allocates and zeroes the claimed length before
      it reads the string and finds it shorter: up to 4 GiB per string).

    The datatype and the references are read from the attribute's message in the object
    header (version 1 or 2 headers; attributes kept in dense storage, outside the header,
    are left to libhdf5).

    Raises:
        ValueError: naming the file, the object, the attribute and what is wrong.
    """
    import mmap

    h5 = h5py()
    try:
        attr = obj.attrs.get_id(name)
        dtype = attr.dtype
        text = h5.check_string_dtype(dtype)
        count = 1
        for d in attr.shape or ():
            count *= int(d)
        filename = obj.file.filename
    except (KeyError, ValueError, TypeError, AttributeError, RuntimeError, OSError):
        return  # reading it reports the problem
    where = f"{filename}: the attribute '{name}' of '{obj.name}'"
    address = _header_address(obj)
    if text is None and (dtype.kind not in "biuf" or dtype.fields is not None
                         or dtype.subdtype is not None):
        raise ValueError(f"{where} has dtype {dtype}, neither text nor numbers")
    if text is None or text.length is not None or not count:
        return
    if not isinstance(filename, str) or not os.path.isfile(filename):
        return
    try:
        with open(filename, "rb") as f:
            data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return
    if address is None:
        raise ValueError(f"{where}: the object's header cannot be located (a corrupted file)")
    with data:
        base, size_offsets, size_lengths = _superblock(data)
        found = _attribute_message(data, base, base + address, size_offsets, size_lengths, name)
        if found is None:
            if not _attributes_must_be_in_header(data, base, base + address, size_offsets,
                                                 size_lengths):
                return  # dense or shared attribute storage: left to libhdf5
            raise ValueError(f"{where}: its message is not in the object header, where libhdf5 "
                             "found it (a corrupted file)")
        datatype, values = found
        if len(datatype) >= 4 and datatype[0] & 0x0F == 9:  # a variable-length type
            kind, padding, charset = datatype[1] & 0x0F, datatype[1] >> 4, datatype[2] & 0x0F
            if kind > 1 or (kind == 1 and (padding > 2 or charset > 1)):
                raise ValueError(f"{where} has a corrupted datatype (variable-length kind "
                                 f"{kind}, padding {padding}, character set {charset})")
        reference = 8 + size_offsets  # length (4), heap collection address, object index (4)
        for i in range(min(count, len(values) // reference)):
            length = int.from_bytes(values[i * reference:i * reference + 4], "little")
            if length > len(data):
                raise ValueError(f"{where} has a string that claims {length} bytes, more "
                                 f"than the {len(data)}-byte file holds")


def _header_address(obj):
    """The file address of `obj`'s object header, or None. `H5Oget_info` also sizes the
    object's B-trees and fails on a damaged one; `H5Gget_objinfo` only resolves the object
    (its objno is the address on 64-bit platforms)."""
    h5 = h5py()
    try:
        return h5.h5o.get_info(obj.id).addr
    except (RuntimeError, OSError, ValueError, KeyError, TypeError):
        pass
    try:
        objno = h5.h5g.get_objinfo(obj.id).objno
        return objno[0] if not objno[1] else None
    except (RuntimeError, OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _attribute_message(data, base, address, size_offsets, size_lengths, name):
    """(datatype, values): the datatype message and the data of the attribute message `name`
    in the object header at `address`, or None when it cannot be found there."""
    wanted = name.encode("utf-8")
    for kind, body in _header_messages(data, base, address, size_offsets, size_lengths):
        if kind != 0x000C or len(body) < 8:
            continue
        version, name_size = body[0], int.from_bytes(body[2:4], "little")
        dt_size, ds_size = int.from_bytes(body[4:6], "little"), int.from_bytes(body[6:8], "little")
        if version == 1:
            def pad(k):
                return -(-k // 8) * 8
            start, sizes = 8, (pad(name_size), pad(dt_size), pad(ds_size))
        elif version in (2, 3):
            start, sizes = 8 + (version == 3), (name_size, dt_size, ds_size)
        else:
            continue
        # libhdf5 takes the name up to its size - 1 or a NUL byte, whichever comes first.
        if bytes(body[start:start + max(name_size - 1, 0)]).split(b"\0", 1)[0] == wanted:
            datatype = start + sizes[0]
            return body[datatype:datatype + dt_size], body[start + sum(sizes):]
    return None


def _attributes_must_be_in_header(data, base, address, size_offsets, size_lengths) -> bool:
    """Whether every attribute of the object must be a message of its header: a version 1
    header in a file with a version 0 or 1 superblock (no shared messages), or a version 2
    header without an Attribute Info message (no dense storage)."""
    if data[address:address + 1] == b"\x01":
        return data[base + 8:base + 9] in (b"\x00", b"\x01")
    return all(kind != 0x0015 for kind, _ in
               _header_messages(data, base, address, size_offsets, size_lengths))


def _header_messages(data, base, address, size_offsets, size_lengths, limit=1 << 16):
    """(type, data) of the messages of the object header at `address` (version 1 or 2),
    following continuation messages; stops at anything out of bounds or repeated."""
    n = len(data)
    if address + 16 > n:
        return
    chunks, seen, found = [], set(), 0
    if data[address] == 1:  # version 1: 16-byte prefix, then 8-byte aligned messages
        size = int.from_bytes(data[address + 8:address + 12], "little")
        chunks.append((address + 16, address + 16 + size))
        version = 1
    elif data[address:address + 4] == b"OHDR" and data[address + 4] == 2:
        flags = data[address + 5]
        p = address + 6 + (16 if flags & 0x20 else 0) + (4 if flags & 0x10 else 0)
        width = 1 << (flags & 3)
        size = int.from_bytes(data[p:p + width], "little")
        chunks.append((p + width, p + width + size))
        version, order = 2, 2 if flags & 0x04 else 0
    else:
        return
    while chunks and found < limit:
        start, end = chunks.pop()
        if (start, end) in seen or end > n or start >= end:
            continue
        seen.add((start, end))
        p = start
        while found < limit:
            if version == 1:
                if p + 8 > end:
                    break
                kind = int.from_bytes(data[p:p + 2], "little")
                size = int.from_bytes(data[p + 2:p + 4], "little")
                body_start = p + 8
            else:
                if p + 4 + order > end:
                    break
                kind, size = data[p], int.from_bytes(data[p + 1:p + 3], "little")
                body_start = p + 4 + order
            if body_start + size > end:
                break
            body = data[body_start:body_start + size]
            found += 1
            if kind == 0x0010 and size >= size_offsets + size_lengths:  # continuation
                offset = base + int.from_bytes(body[:size_offsets], "little")
                length = int.from_bytes(body[size_offsets:size_offsets + size_lengths], "little")
                if version == 1:
                    chunks.append((offset, offset + length))
                elif data[offset:offset + 4] == b"OCHK":
                    chunks.append((offset + 4, offset + length - 4))
            yield kind, body
            p = body_start + size


def _superblock(data) -> tuple[int, int, int]:
    """(offset of the superblock, size of offsets, size of lengths); (0, 8, 8) unless the
    writer chose otherwise."""
    offset = 0
    while offset + 16 <= len(data):
        if data[offset:offset + 8] == _HDF5_SIGNATURE:
            version = data[offset + 8]
            sizes = (data[offset + 13], data[offset + 14]) if version in (0, 1) \
                else (data[offset + 9], data[offset + 10])
            if all(size in (2, 4, 8, 16) for size in sizes):
                return offset, sizes[0], sizes[1]
            break
        offset = 512 if offset == 0 else offset * 2
    return 0, 8, 8

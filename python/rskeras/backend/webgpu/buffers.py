"""Device arrays (`GpuArray`) and the pool that reuses their buffers by size class.

Every element is stored in 4 bytes: float32 (also float16/bfloat16, computed in float32) as
`f32`; int32, int64 (values must fit in int32: WGSL has no portable 64-bit integers), int16,
int8 and uint8 as `i32`; bool as `u32` 0/1. float64 has no portable WGSL type and is refused.
"""

from __future__ import annotations

import math

import numpy as np

# Logical dtype -> (WGSL type, NumPy type of the stored words).
STORAGE = {
    "float32": ("f32", np.float32),
    "float16": ("f32", np.float32),
    "bfloat16": ("f32", np.float32),
    "int32": ("i32", np.int32),
    "int64": ("i32", np.int32),
    "int16": ("i32", np.int32),
    "int8": ("i32", np.int32),
    "uint8": ("i32", np.int32),
    "bool": ("u32", np.uint32),
    "uint32": ("u32", np.uint32),  # kernel metadata (shapes and strides)
}

_MIN_CLASS = 256  # bytes; smaller arrays share the smallest class


def wgsl_type(dtype: str) -> str:
    """The WGSL element type a logical dtype is stored as.

    Raises:
        TypeError: for dtypes with no GPU storage (float64).
    """
    try:
        return STORAGE[dtype][0]
    except KeyError:
        raise TypeError(f"dtype {dtype} is not supported on the gpu device (WGSL has no portable "
                        f"64-bit floats); cast to float32 first") from None


def size_class(nbytes: int) -> int:
    """The pooled buffer size for `nbytes`: the next power of two, at least 256 bytes."""
    return max(_MIN_CLASS, 1 << (max(nbytes, 1) - 1).bit_length())


class BufferPool:
    """Free device buffers by size class. A buffer returns here when its `GpuArray` dies; a
    later array of the same class reuses it. Reuse is safe even while earlier commands that
    used the buffer are pending: all commands run in queue order."""

    def __init__(self, device, usage):
        self.device, self.usage = device, usage
        self.free: dict[int, list] = {}
        self.allocated = 0  # bytes held by live and pooled buffers

    def take(self, nbytes: int):
        size = size_class(nbytes)
        stack = self.free.get(size)
        if stack:
            return stack.pop()
        self.allocated += size
        return self.device.create_buffer(size=size, usage=self.usage)

    def give(self, buffer) -> None:
        self.free.setdefault(buffer.size, []).append(buffer)

    def clear(self) -> None:
        """Drop every pooled buffer (the memory is freed when wgpu releases them)."""
        for stack in self.free.values():
            self.allocated -= sum(b.size for b in stack)
        self.free.clear()


class GpuArray:
    """A tensor's storage on the GPU: a pooled buffer of `numel` 4-byte words, with the
    logical `shape` and `dtype` (a NumPy dtype name) the core reads back."""

    __slots__ = ("buffer", "shape", "dtype", "numel", "_pool", "readonly", "pooled")

    def __init__(self, buffer, shape, dtype: str, pool: BufferPool | None, readonly=False,
                 pooled=None):
        self.buffer, self.shape, self.dtype = buffer, tuple(int(d) for d in shape), dtype
        self.numel = math.prod(self.shape)
        self._pool = pool  # where the buffer goes when this array dies (None: a view, or own)
        # A cached constant (`Executor.constant`), shared by every op that sends the same
        # values: never handed to the core as a tensor's own storage.
        self.readonly = readonly
        # Whether the buffer is a pooled one (kept for the life of the process), also for a
        # view of a pooled array: bind groups of such buffers can be cached.
        self.pooled = pool is not None if pooled is None else pooled

    @property
    def wgsl(self) -> str:
        return wgsl_type(self.dtype)

    @property
    def nbytes(self) -> int:
        return 4 * self.numel

    def __del__(self):
        pool = self._pool
        if pool is not None and self.buffer is not None:
            pool.give(self.buffer)
            self.buffer = None

    def __repr__(self) -> str:
        return f"GpuArray(shape={self.shape}, dtype={self.dtype})"

"""The executor the Rust core sends every op on a GPU tensor to.

Dispatches are recorded into one command encoder (one compute pass) and submitted at
synchronization points only: a download, a buffer copy, or every `MAX_PENDING` dispatches.
Waiting is a readback (`queue.read_buffer`), which works on every wgpu-py version.
Kernel families register their launchers in `KERNELS` by op name (`kernels/*.py`).

Kernels that meet input the CPU would reject (a label or an index out of range) cannot raise
on the GPU: they record it in a small flags buffer, which the next read-back checks, raising
the CPU's error there.

Small host arrays (kernel metadata, weak scalars such as the `2.0` in `x * 2.0`) and uniform
blocks are cached on the device by content, so a training step that repeats the same
shapes and constants uploads none of them again.
"""

from __future__ import annotations

import functools
import math
import struct
import threading
from collections import OrderedDict

import numpy as np

from rskeras.backend.webgpu.buffers import STORAGE, BufferPool, GpuArray, wgsl_type
from rskeras.backend.webgpu.context import get_context
from rskeras.backend.webgpu.pipelines import PipelineCache

# op name -> launcher(executor, params: dict, inputs: list[GpuArray]) -> GpuArray
KERNELS: dict = {}
# op name -> updater(executor, params, targets: list[GpuArray], inputs: list[GpuArray]) -> None
UPDATES: dict = {}
# Ops of the core (`_core.op_names()`) that deliberately have no GPU kernel: op name -> why.
# Running one on a GPU tensor raises NotImplementedError giving the reason.
# tests/ops/test_op_contract.py fails for any other op of the core missing from KERNELS and
# UPDATES, and for any name in these tables that the core does not have. Empty today: every
# op runs on both devices (CONTRIBUTING.md says how to add a kernel).
CPU_ONLY: dict[str, str] = {}

MAX_PENDING = 512
# Host arrays up to this size are cached by content (`Executor.constant`), this many at most.
CONSTANT_BYTES = 1024
CONSTANT_ENTRIES = 2048
# The errors a kernel can record in the flags buffer, by code bit: the exception and the
# message the CPU kernels give (shaders/nn.wgsl, shaders/gather.wgsl).
CHECKS = {
    1: (ValueError, "sparse_categorical_crossentropy: label {value} is out of range for {bound} "
                    "classes (expected 0 <= label < {bound}); found on the gpu device"),
    2: (IndexError, "take: index {value} is out of bounds for an axis of size {bound}; found on "
                    "the gpu device"),
    4: (IndexError, "take_along_axis: index {value} is out of bounds for an axis of size {bound}; "
                    "found on the gpu device"),
}
# Bind groups kept for reuse (`Executor._bind_group`).
BIND_GROUP_ENTRIES = 8192
# Uploads up to this size use pooled buffers (`Executor.upload`).
POOLED_UPLOAD_BYTES = 16 << 20


def _register_in(table: dict, names):
    """A decorator that enters its function in `table` under every name of `names`."""
    def register(fn):
        for n in names:
            table[n] = fn
        return fn
    return register


def kernel(*names):
    """Register a launcher for the op `names` (as the core's `Op::name`)."""
    return _register_in(KERNELS, names)


def updater(*names):
    """Register an in-place update (optimizer steps) for the op `names`."""
    return _register_in(UPDATES, names)


def pack(*values) -> bytes:
    """A uniform block of 4-byte words: ints as u32 (two's complement), floats as f32 bits;
    padded to a multiple of 16 bytes."""
    fmt = "".join("I" if isinstance(v, (bool, int, np.integer)) else "f" for v in values)
    # Through float32 first: a float beyond its range packs as inf, as the CPU rounds it.
    ints = (int(v) & 0xFFFFFFFF if isinstance(v, (bool, int, np.integer)) else float(np.float32(v))
            for v in values)
    return struct.pack("<" + fmt + "x" * (4 * (-len(values) % 4)), *ints)


def _serialized(method):
    """Run `method` holding the executor's lock: the core calls the executor from any Python
    thread, and one op's recording (encoder, pass, flags, caches) must not interleave with
    another's (wgpu calls release the GIL)."""

    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return locked


class Executor:
    """Runs ops on the GPU for the core (see `rust/device/gpu.rs` for the protocol). Its entry
    points are serialized by one re-entrant lock, so concurrent threads never break the device."""

    def __init__(self):
        self._lock = threading.RLock()
        self.ctx = get_context()
        self.device = self.ctx.device
        wgpu = self.ctx.wgpu
        self._usage = wgpu.BufferUsage.STORAGE | wgpu.BufferUsage.COPY_SRC | wgpu.BufferUsage.COPY_DST
        self._uniform = wgpu.BufferUsage.UNIFORM | wgpu.BufferUsage.COPY_DST
        self.pool = BufferPool(self.device, self._usage)
        self.pipelines = PipelineCache(self.device)
        self._encoder = None
        self._pass = None
        self._pending = 0
        self._constants: OrderedDict = OrderedDict()  # (dtype, shape, bytes) -> GpuArray
        self._uniforms: OrderedDict = OrderedDict()  # packed bytes -> uniform buffer
        self._bind_groups: OrderedDict = OrderedDict()  # see `_bind_group`
        # Error flags (see CHECKS): [code bits, offending value, bound, unused], kept zero.
        zeros = np.zeros(4, np.uint32)
        self._flags = GpuArray(self.device.create_buffer_with_data(data=zeros, usage=self._usage),
                               (4,), "uint32", None, pooled=True)
        self._flags_used = False  # a checking kernel ran since the last check
        # Totals, for tests and benchmarks.
        self.dispatches = self.submits = self.uploads = self.downloads = self.uploaded_bytes = 0
        self.max_workgroup = int(self.ctx.limits["max-compute-invocations-per-workgroup"])
        self.max_groups = int(self.ctx.limits["max-compute-workgroups-per-dimension"])
        self.max_shared = int(self.ctx.limits["max-compute-workgroup-storage-size"])

    # -- arrays ---------------------------------------------------------------------------
    @_serialized
    def empty(self, shape, dtype: str) -> GpuArray:
        """A new device array (contents undefined until a kernel writes it)."""
        wgsl_type(dtype)
        return GpuArray(self.pool.take(4 * math.prod(shape)), shape, dtype, self.pool)

    @_serialized
    def upload(self, array) -> GpuArray:
        """Copy a host array to a new device array.

        Up to `POOLED_UPLOAD_BYTES` the array gets a pooled buffer, filled by a copy recorded
        in the command stream from a staging buffer: the pooled buffer may still be read by
        recorded commands, which must see its old contents (a `queue.write_buffer` would run
        before them). Larger arrays (a dataset kept on the device) get their own buffer of
        their exact size."""
        array = np.asarray(array)
        dtype = array.dtype.name
        if dtype not in STORAGE:
            wgsl_type(dtype)  # raises the TypeError for float64
            raise TypeError(f"dtype {dtype} is not supported on the gpu device")
        words = np.ascontiguousarray(array, dtype=STORAGE[dtype][1]).reshape(-1)
        if words.size == 0:
            words = np.zeros(1, words.dtype)
        self.uploads += 1
        self.uploaded_bytes += words.nbytes
        if words.nbytes > POOLED_UPLOAD_BYTES:
            buf = self.device.create_buffer_with_data(data=words, usage=self._usage)
            return GpuArray(buf, array.shape, dtype, None)
        out = GpuArray(self.pool.take(words.nbytes), array.shape, dtype, self.pool)
        staging = self.device.create_buffer_with_data(data=words, usage=self.ctx.wgpu.BufferUsage.COPY_SRC)
        self._end_pass()
        self._enc().copy_buffer_to_buffer(staging, 0, out.buffer, 0, words.nbytes)
        return out

    @_serialized
    def constant(self, array) -> GpuArray:
        """A read-only device copy of host `array`; arrays of at most `CONSTANT_BYTES` are
        cached by content (least recently used dropped first), larger ones uploaded."""
        array = np.asarray(array)
        if array.nbytes > CONSTANT_BYTES:
            return self.upload(array)
        key = (array.dtype.str, array.shape, array.tobytes())
        hit = self._constants.get(key)
        if hit is not None:
            self._constants.move_to_end(key)
            return hit
        out = self.upload(array)
        out.readonly = True
        self._constants[key] = out
        if len(self._constants) > CONSTANT_ENTRIES:
            self._constants.popitem(last=False)
        return out

    @_serialized
    def download(self, handle: GpuArray, shape=None, dtype=None) -> np.ndarray:
        """The values of `handle` as a NumPy array of its logical dtype (waits for the GPU)."""
        self.flush()
        shape = handle.shape if shape is None else tuple(shape)
        dtype = handle.dtype if dtype is None else dtype
        numel = int(np.prod(shape, dtype=np.int64))
        store = STORAGE[dtype][1]
        if numel == 0:
            return np.zeros(shape, _numpy_dtype(dtype))
        self.downloads += 1
        raw = np.frombuffer(self.ctx.queue.read_buffer(handle.buffer, 0, 4 * numel), dtype=store)
        self._check_flags()
        return raw.astype(_numpy_dtype(dtype), copy=False).reshape(shape)

    def _check_flags(self) -> None:
        """Raise the error a checking kernel recorded since the last check (then clear it).
        Called after a wait, when no command is pending."""
        if not self._flags_used:
            return
        self._flags_used = False
        code, value, bound, _ = np.frombuffer(self.ctx.queue.read_buffer(self._flags.buffer, 0, 16), np.uint32)
        if not code:
            return
        self.ctx.queue.write_buffer(self._flags.buffer, 0, np.zeros(4, np.uint32))
        value = int(np.array(value, np.uint32).view(np.int32))
        error, message = CHECKS[int(code) & -int(code)]  # the lowest code set
        raise error(message.format(value=value, bound=int(bound)))

    @_serialized
    def copy(self, handle: GpuArray) -> GpuArray:
        """A new device array with `handle`'s values (copy-on-write for in-place updates)."""
        out = self.empty(handle.shape, handle.dtype)
        if handle.numel:
            self._end_pass()
            self._enc().copy_buffer_to_buffer(handle.buffer, 0, out.buffer, 0, handle.nbytes)
        return out

    # -- encoding -------------------------------------------------------------------------
    def _enc(self):
        if self._encoder is None:
            self._encoder = self.device.create_command_encoder()
        return self._encoder

    def _end_pass(self):
        if self._pass is not None:
            self._pass.end()
            self._pass = None

    @_serialized
    def flush(self) -> None:
        """Submit the recorded commands (a synchronization point)."""
        self._end_pass()
        if self._encoder is not None:
            self.ctx.queue.submit([self._encoder.finish()])
            self._encoder = None
            self._pending = 0
            self.submits += 1

    @_serialized
    def synchronize(self) -> None:
        """Submit and wait until the GPU has finished all work."""
        self.flush()
        probe = self.empty((1,), "float32")
        self.ctx.queue.read_buffer(probe.buffer, 0, 4)
        self._check_flags()

    def grid(self, n: int, wg: int) -> tuple[int, int]:
        """Workgroups `(x, y)` covering `n` invocations of `wg` each, folded into a second
        dimension past the per-dimension limit; a kernel's flat index is
        `gid.x + gid.y * x * wg`."""
        groups = max(1, math.ceil(n / wg))
        if groups <= self.max_groups:
            return groups, 1
        return self.max_groups, math.ceil(groups / self.max_groups)

    def dispatch(self, family: str, arrays, groups, uniform=None, entry: str = "main",
                 checks: bool = False, **subs):
        """Record one dispatch of `family`'s `entry`: `arrays` (GpuArrays, in binding order
        0, 1, ...), then `uniform` (a `pack`ed block) at the next binding; with `checks`, the
        error flags (`array<atomic<u32>, 4>`, see CHECKS) at the binding after that."""
        pipe = self.pipelines.get(family, entry, **subs)
        if checks:
            self._flags_used = True
        group = self._bind_group(pipe, arrays, None if uniform is None else self._uniform_buffer(uniform),
                                 self._flags if checks else None)
        if self._pass is None:
            self._pass = self._enc().begin_compute_pass()
        self._pass.set_pipeline(pipe)
        self._pass.set_bind_group(0, group)
        self._pass.dispatch_workgroups(*groups)
        self._pending += 1
        self.dispatches += 1
        if self._pending >= MAX_PENDING:
            self.flush()

    def _bind_group(self, pipe, arrays, ubuf, flags=None):
        """The bind group of `arrays` (bindings 0, 1, ...), uniform buffer `ubuf` (the next
        binding) and the error `flags` array (the one after) for `pipe`.

        A training step repeats the same pooled buffers in the same order, so groups made
        only of pooled buffers (kept for the life of the process) and uniforms are cached; a
        group holding a large upload with its own buffer is not, so that it can be freed."""
        cacheable = all(a.pooled for a in arrays)
        if cacheable:
            key = (id(pipe), id(ubuf), flags is None, *((id(a.buffer), a.nbytes) for a in arrays))
            hit = self._bind_groups.get(key)
            if hit is not None:
                self._bind_groups.move_to_end(key)
                return hit[0]
        entries = [{"binding": i, "resource": {"buffer": a.buffer, "offset": 0,
                                               "size": max(4, a.nbytes)}}
                   for i, a in enumerate(arrays)]
        if ubuf is not None:
            entries.append({"binding": len(entries), "resource": {"buffer": ubuf, "offset": 0,
                                                                  "size": ubuf.size}})
        if flags is not None:
            entries.append({"binding": len(arrays) + 1, "resource": {"buffer": flags.buffer, "offset": 0,
                                                                     "size": 16}})
        group = self.device.create_bind_group(layout=self.pipelines.layout(pipe), entries=entries)
        if cacheable:
            # The buffers are kept with the group, so their ids in the key stay theirs.
            self._bind_groups[key] = (group, pipe, ubuf, [a.buffer for a in arrays])
            if len(self._bind_groups) > BIND_GROUP_ENTRIES:
                self._bind_groups.popitem(last=False)
        return group

    def _uniform_buffer(self, block: bytes):
        """The uniform buffer holding `block`, shared by every dispatch with the same words
        (a uniform is never written after creation)."""
        buf = self._uniforms.get(block)
        if buf is None:
            buf = self._uniforms[block] = self.device.create_buffer_with_data(data=block, usage=self._uniform)
            if len(self._uniforms) > CONSTANT_ENTRIES:
                self._uniforms.popitem(last=False)
        else:
            self._uniforms.move_to_end(block)
        return buf

    # -- the core's protocol --------------------------------------------------------------
    def _array(self, item) -> GpuArray:
        data, shape, dtype = item
        shape = tuple(shape)
        if isinstance(data, GpuArray):
            if data.shape == shape and data.dtype == dtype:
                return data
            # A reshape in the core: same words, new shape (kept alive through `data`).
            return GpuArray(data.buffer, shape, dtype, None, data.readonly, data.pooled)
        arr = np.asarray(data)
        if arr.dtype.name != dtype and dtype in STORAGE:
            arr = arr.astype(_numpy_dtype(dtype))
        return self.constant(arr.reshape(shape))

    @_serialized
    def execute(self, op: str, params: dict, inputs) -> GpuArray:
        launch = KERNELS.get(op)
        if launch is None:
            why = CPU_ONLY.get(op, "no GPU kernel yet")
            raise NotImplementedError(f"{op}: {why}; move the tensors to the CPU "
                                      f"with tensor.to('cpu')")
        arrays = [self._array(i) for i in inputs]
        out = launch(self, params, arrays)
        # A launcher may return an input unchanged; a cached constant must not become a
        # tensor's own (updatable) storage.
        return self.copy(out) if out.readonly else out

    @_serialized
    def update(self, op: str, params: dict, targets, inputs) -> None:
        run = UPDATES.get(op)
        if run is None:
            raise NotImplementedError(f"{op}: no GPU kernel yet")
        # Targets are the core's GPU buffers (`rust/device/gpu.rs` moves host ones first).
        run(self, params, [self._array(t) for t in targets], [self._array(i) for i in inputs])


def _numpy_dtype(dtype: str):
    if dtype == "bfloat16":
        return np.float32  # NumPy has no bfloat16; the core casts back
    return np.dtype(dtype)


_executor: Executor | None = None


def get_executor() -> Executor:
    """The process's executor (created with the GPU context on first use)."""
    global _executor
    if _executor is None:
        from rskeras.backend.webgpu import kernels  # noqa: F401 - registers the launchers

        _executor = Executor()
    return _executor

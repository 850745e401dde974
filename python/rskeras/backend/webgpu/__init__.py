"""The WebGPU backend: WGSL compute shaders (`shaders/*.wgsl`) run through wgpu-py on any
Vulkan, Metal or DX12 device.

`context` owns the adapter and device (with explicit limits), `buffers` the device arrays and
their pool, `pipelines` the compiled-shader cache, `executor` the object the Rust core sends
every op on a GPU tensor to, and `kernels/` one module per kernel family. `enable()` starts
it and registers the executor with the core.
"""

from __future__ import annotations

from rskeras.backend.webgpu.context import GpuUnavailableError, get_context


def enable():
    """Start the GPU (once) and register its executor with the core; returns the executor.

    Raises:
        GpuUnavailableError: when wgpu-py is missing or no GPU adapter is found (the message
            says what was looked for and how to install a driver).
    """
    from rskeras import _core
    from rskeras.backend.webgpu.executor import get_executor

    executor = get_executor()
    _core.register_gpu_executor(executor)
    return executor


__all__ = ["GpuUnavailableError", "enable", "get_context"]

"""The wgpu adapter and device, created once with explicit limits.

Limits are requested explicitly (the smaller of what rskeras wants and what the adapter
offers), never left to the adapter's maximums, and kernels size their workgroups and
workgroup memory from `Context.limits`: software Vulkan does not enforce the workgroup-memory
limit, real GPUs do.
"""

from __future__ import annotations

import os
import sys

# What the kernels need; the device gets min(adapter, wanted) of each.
WANTED_LIMITS = {
    "max-storage-buffer-binding-size": 1 << 30,
    "max-buffer-size": 1 << 30,
    "max-compute-workgroup-storage-size": 16384,
    "max-compute-invocations-per-workgroup": 256,
    "max-compute-workgroup-size-x": 256,
    "max-compute-workgroup-size-y": 256,
    "max-compute-workgroup-size-z": 64,
    "max-compute-workgroups-per-dimension": 65535,
    "max-storage-buffers-per-shader-stage": 8,
    "max-uniform-buffers-per-shader-stage": 4,
    "max-bind-groups": 4,
}

_INSTALL_HINT = (
    "rskeras looks for a WebGPU adapter through wgpu-py (Vulkan on Linux, Metal on macOS, "
    "DX12 or Vulkan on Windows). Install wgpu (`pip install wgpu`) and a GPU driver: the "
    "vendor's driver, or on Debian/Ubuntu `apt-get install mesa-vulkan-drivers libvulkan1` "
    "(which also gives the software Vulkan driver lavapipe)."
)


class GpuUnavailableError(RuntimeError):
    """No usable GPU: wgpu-py is not installed or no adapter was found."""


def _backends() -> list[str]:
    env = os.environ.get("RSKERAS_WEBGPU_BACKENDS")
    if env:
        return [b.strip() for b in env.split(",") if b.strip()]
    if sys.platform == "darwin":
        return ["Metal"]
    if sys.platform == "win32":
        return ["DX12", "Vulkan"]
    # Vulkan only: without a Vulkan driver wgpu would silently fall back to OpenGL.
    return ["Vulkan"]


class Context:
    """The adapter, device, queue and limits of the one GPU rskeras uses."""

    def __init__(self):
        try:
            import wgpu
            from wgpu.backends.wgpu_native.extras import set_instance_extras
        except ImportError as e:
            raise GpuUnavailableError(f"wgpu-py is not installed ({e}). {_INSTALL_HINT}") from None
        import logging
        import tempfile

        if not os.environ.get("XDG_RUNTIME_DIR"):
            # Mesa's window-system probing complains on stderr without one.
            runtime = os.path.join(tempfile.gettempdir(), f"rskeras-xdg-{os.getuid()}")
            os.makedirs(runtime, mode=0o700, exist_ok=True)
            os.environ["XDG_RUNTIME_DIR"] = runtime

        logging.getLogger("wgpu").setLevel(logging.ERROR)
        backends = _backends()
        try:
            set_instance_extras(backends=backends)
        except Exception:  # noqa: BLE001 - already set by an earlier Context: keep it
            pass
        try:
            adapter = wgpu.gpu.request_adapter_sync(power_preference="high-performance")
        except Exception as e:  # noqa: BLE001 - wgpu raises RuntimeError or its own errors
            adapter = None
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        if adapter is None:
            raise GpuUnavailableError(
                f"no GPU adapter found for backends {backends} ({reason}). {_INSTALL_HINT}")
        self.wgpu = wgpu
        self.adapter = adapter
        self.info = dict(adapter.info)
        offered = adapter.limits
        required = {k: min(offered[k], v) for k, v in WANTED_LIMITS.items() if k in offered}
        self.device = adapter.request_device_sync(label="rskeras", required_limits=required)
        self.queue = self.device.queue
        self.limits = dict(self.device.limits)

    @property
    def backend(self) -> str:
        """The adapter's backend: "Vulkan", "Metal", "D3D12", "OpenGL"..."""
        return self.info.get("backend_type", "")

    @property
    def name(self) -> str:
        return self.info.get("device", "") or self.info.get("description", "")


_context: Context | None = None


def get_context() -> Context:
    """The process's GPU context, created on first use.

    Raises:
        GpuUnavailableError: when no adapter can be created.
    """
    global _context
    if _context is None:
        _context = Context()
    return _context

"""Kernel launchers, one module per family; importing this package registers them all."""

from rskeras.backend.webgpu.kernels import elementwise  # noqa: F401
from rskeras.backend.webgpu.kernels import random  # noqa: F401
from rskeras.backend.webgpu.kernels import conv, norm, pool  # noqa: F401

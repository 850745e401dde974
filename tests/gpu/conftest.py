"""GPU tests run on the `gpu` device through wgpu-py: lavapipe (software Vulkan) in CI, a real
GPU where there is one. They skip when no adapter exists, unless RSKERAS_REQUIRE_GPU=1
(set by CI), where a missing driver must fail loudly instead."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/conftest helpers


@pytest.fixture(scope="session")
def gpu():
    """The WebGPU executor (registered with the core)."""
    from rskeras.backend import webgpu

    try:
        return webgpu.enable()
    except webgpu.GpuUnavailableError as e:
        if os.environ.get("RSKERAS_REQUIRE_GPU") == "1":
            raise
        pytest.skip(f"no GPU: {e}")


def to_gpu(x):
    """A NumPy array (or tensor) as a tensor on the gpu device."""
    import rskeras as keras

    return keras.ops.convert_to_tensor(np.asarray(x)).to("gpu")

"""Device placement on the gpu device: transfers, default device and scope, variables,
mixed host/device operands, and the errors users see."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import rskeras as keras
from rskeras import _core

from tests.conftest import require_extra, to_gpu


def test_adapter_backend_is_the_native_one(gpu):
    # A missing Vulkan driver would silently fall back to OpenGL without the backend filter.
    expected = {"linux": "Vulkan", "darwin": "Metal"}.get(sys.platform)
    if expected:
        assert gpu.ctx.backend == expected, gpu.ctx.info


def test_limits_are_requested_explicitly(gpu):
    from rskeras.backend.webgpu.context import WANTED_LIMITS

    for key, wanted in WANTED_LIMITS.items():
        assert gpu.ctx.limits[key] <= wanted


def test_round_trip_keeps_values_and_dtypes(gpu):
    for arr in (np.arange(12, dtype=np.float32).reshape(3, 4), np.array([1, -2, 3], np.int32),
                np.array([True, False]), np.array([5, -7], np.int64), np.zeros((0, 3), np.float32)):
        g = keras.ops.convert_to_tensor(arr).to("gpu")
        assert g.device == "gpu" and g.dtype == arr.dtype.name and g.shape == arr.shape
        back = g.to("cpu")
        assert back.device == "cpu"
        np.testing.assert_array_equal(np.asarray(back), arr)
        np.testing.assert_array_equal(np.asarray(g), arr)


def test_float64_is_refused_with_a_clear_error(gpu):
    with pytest.raises(TypeError, match="float64"):
        _core.Tensor(np.ones(3), "float64").to("gpu")


def test_host_operands_are_sent_along(gpu):
    g = to_gpu(np.arange(4, dtype=np.float32))
    out = g * np.float32(3) + np.ones(4, np.float32)
    assert out.device == "gpu"
    np.testing.assert_allclose(np.asarray(out), np.arange(4) * 3 + 1)


def test_scope_and_default_device_place_variables(gpu):
    assert keras.config.get_device() == "cpu"
    with keras.device("gpu"):
        assert keras.config.get_device() == "gpu"
        v = keras.Variable(np.ones((2, 2), np.float32))
    assert keras.config.get_device() == "cpu"
    assert v.device == "gpu"
    v.assign(np.full((2, 2), 3, np.float32))
    assert v.device == "gpu"
    np.testing.assert_array_equal(np.asarray(v), np.full((2, 2), 3))


def test_unknown_device_name():
    with pytest.raises(ValueError, match="unknown device"):
        keras.config.set_device("tpu")
    with pytest.raises(ValueError, match="unknown device"):
        _core.Tensor(np.ones(2, np.float32)).to("npu")


def _run(code, **env):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120)


def test_missing_adapter_names_what_was_looked_for():
    require_extra("wgpu", "pip install rskeras[gpu]")  # without wgpu-py the message differs
    code = ("import rskeras as k\n"
            "try:\n    k.config.set_device('gpu')\nexcept RuntimeError as e:\n    print('ERR', e)\n"
            "print('DEFAULT', k.config.get_device())")
    # Ask for a backend this platform does not have.
    r = _run(code, RSKERAS_WEBGPU_BACKENDS="DX12" if sys.platform == "darwin" else "Metal")
    assert "ERR no GPU adapter found" in r.stdout, r.stdout + r.stderr
    assert "mesa-vulkan-drivers" in r.stdout
    assert "DEFAULT cpu" in r.stdout


def test_environment_variable_sets_the_default(gpu):
    r = _run("import rskeras as k; print(k.config.get_device())", RSKERAS_DEVICE="gpu")
    assert r.stdout.strip().endswith("gpu"), r.stdout + r.stderr

"""Fixtures of tests/saving: `keras_python`, the real Keras in a separate Python.

The real Keras 3 never runs inside the rskeras test process: `keras_python` names another
interpreter (environment variable RSKERAS_KERAS_PYTHON, e.g. a venv with `pip install
keras==3.15.1 jax h5py`) that the tests run as a child process. Without it the tests that need
it skip with a reason, unless RSKERAS_REQUIRE_EXTRAS=1 (set by CI), where they fail instead, as
`require_extra` in tests/conftest.py does for in-process extras.
"""

from __future__ import annotations

import os
import subprocess

import pytest

KERAS_PYTHON_ENV = "RSKERAS_KERAS_PYTHON"
INSTALL_HINT = ("python -m venv .venv-keras && .venv-keras/bin/pip install keras==3.15.1 jax "
                "h5py, then RSKERAS_KERAS_PYTHON=$PWD/.venv-keras/bin/python")


def keras_child_env() -> dict:
    """The environment of a Keras child process: JAX on the CPU, quiet logs."""
    env = dict(os.environ)
    for key in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
        env.pop(key, None)
    env.update({"KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "TF_CPP_MIN_LOG_LEVEL": "3",
                "PYTHONHASHSEED": "0"})
    return env


@pytest.fixture(scope="session")
def keras_python() -> str:
    """The path of a Python that can `import keras` (with JAX and h5py), from
    RSKERAS_KERAS_PYTHON; skips (or fails, with RSKERAS_REQUIRE_EXTRAS=1) otherwise."""
    required = os.environ.get("RSKERAS_REQUIRE_EXTRAS") == "1"

    def unavailable(reason):
        if required:
            pytest.fail(f"{reason} (RSKERAS_REQUIRE_EXTRAS=1 requires it; {INSTALL_HINT})")
        pytest.skip(f"{reason}; to run these tests: {INSTALL_HINT}")

    python = os.environ.get(KERAS_PYTHON_ENV)
    if not python:
        unavailable(f"the real Keras is not available: {KERAS_PYTHON_ENV} is not set")
    probe = "import keras, jax, h5py; print(keras.__version__, keras.backend.backend())"
    try:
        done = subprocess.run([python, "-I", "-c", probe], env=keras_child_env(),
                              capture_output=True, text=True, timeout=180)
    except (OSError, subprocess.SubprocessError) as e:
        unavailable(f"{KERAS_PYTHON_ENV}={python} cannot be run: {e}")
    if done.returncode != 0:
        unavailable(f"{KERAS_PYTHON_ENV}={python} cannot import keras, jax and h5py: "
                    f"{done.stderr.strip().splitlines()[-1:] or done.returncode}")
    version, backend = done.stdout.split()[-2:]
    if not version.startswith("3.") or backend != "jax":
        unavailable(f"{KERAS_PYTHON_ENV}={python} has keras {version} on {backend}; "
                    "Keras 3 on JAX is needed")
    return python

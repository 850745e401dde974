"""The crate's thread pool: forked children and the thread count."""

import multiprocessing
import os
import subprocess
import sys

import numpy as np
import pytest

import rskeras as keras
from rskeras import _core


def _child(queue):
    x = keras.random.uniform((600, 600), seed=3)  # large enough to run on the pool
    queue.put(float(keras.ops.sum(x)))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_forked_child_after_pool_started_does_not_hang():
    parent = keras.random.uniform((600, 600), seed=3)  # starts the pool in the parent
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue,))
    proc.start()
    proc.join(60)
    alive = proc.is_alive()
    if alive:
        proc.kill()
    assert not alive, "the forked child hung on the inherited thread pool"
    assert queue.get(timeout=5) == pytest.approx(float(keras.ops.sum(parent)))


def test_num_threads_follows_environment():
    code = "import rskeras._core as c; print(c.num_threads())"
    env = dict(os.environ, RSKERAS_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"
    assert _core.num_threads() >= 1


def test_large_matmul_same_on_one_and_all_threads():
    code = ("import numpy as np, rskeras._core as c; r = np.random.default_rng(0); "
            "a = r.random((600, 600), dtype=np.float32); "
            "print(np.asarray(c.matmul(a, a)).tobytes().hex()[:4000])")
    outs = []
    for threads in ("1", "2"):
        env = dict(os.environ, RSKERAS_NUM_THREADS=threads)
        outs.append(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                   text=True, check=True).stdout)
    a = np.random.default_rng(0).random((600, 600), dtype=np.float32)
    ref = a.astype(np.float64) @ a.astype(np.float64)
    got = np.frombuffer(bytes.fromhex(outs[0].strip()), dtype=np.float32)
    np.testing.assert_allclose(got, ref.ravel()[: got.size], rtol=1e-4)
    np.testing.assert_allclose(np.frombuffer(bytes.fromhex(outs[1].strip()), dtype=np.float32), got, rtol=1e-5)


_BAD_THREADS_CHILD = """
import json
stage = "import"
try:
    import rskeras
    stage = "first op"
    x = rskeras.random.uniform((600, 600), seed=3)  # large enough to run on the pool
    float(rskeras.ops.sum(x))
    stage = "num_threads"
    rskeras._core.num_threads()
except Exception as e:
    print(json.dumps({"stage": stage, "type": type(e).__name__, "message": str(e)}))
else:
    print(json.dumps({"stage": "none", "type": None, "message": ""}))
"""


@pytest.mark.parametrize("bad", ["abc", "0", "-1", "2x", "1.5", "99999999999999999999"])
def test_bad_num_threads_is_a_value_error_naming_the_variable_and_value(bad):
    """A typo in RSKERAS_NUM_THREADS is an error (at import or at the first op), not a
    silent fallback to every core."""
    import json
    import re

    env = dict(os.environ, RSKERAS_NUM_THREADS=bad)
    out = subprocess.run([sys.executable, "-c", _BAD_THREADS_CHILD], env=env, capture_output=True,
                         text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["type"] == "ValueError", f"RSKERAS_NUM_THREADS={bad!r} gave {result}"
    message = result["message"]
    assert "RSKERAS_NUM_THREADS" in message, message
    assert re.search(r"(?<![\w.])" + re.escape(bad) + r"(?![\w.])", message), \
        f"the message does not show the bad value {bad!r}: {message}"

"""Ctrl-C during a long kernel: the core polls for KeyboardInterrupt while a kernel runs, so
SIGINT stops it within a second, and the process can go on using rskeras afterwards.

Each test runs a child process that starts a kernel lasting far longer than the test (a
1000 x 1000 max pool over a 2000 x 2000 image: minutes, or more), sends SIGINT from the
parent about 0.5 s later, and checks the child's timestamps: KeyboardInterrupt within 1 s of
the signal, then correct results from ops and from the model, and exit status 0. A hard
timeout kills the child, so a kernel that ignores the signal fails the test instead of
hanging the suite."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32" or not hasattr(signal, "SIGINT"),
                                reason="needs POSIX SIGINT delivered with os.kill")

SIGNAL_AFTER_S = 0.5
MAX_REACTION_S = 1.0
HARD_TIMEOUT_S = 60.0

_PRELUDE = """
import sys, time
import numpy as np
import rskeras as keras
from rskeras import ops

def stamp(what):
    print(what, repr(time.time()), flush=True)

def small_pool_is_right():
    a = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    got = np.asarray(ops.max_pool(a, pool_size=2, strides=2))
    np.testing.assert_array_equal(got.reshape(2, 2), [[5, 7], [13, 15]])
    b = np.random.default_rng(1).random((64, 64), dtype=np.float32)
    np.testing.assert_allclose(np.asarray(ops.matmul(b, b)), b.astype(np.float64) @ b, rtol=1e-4)

big = np.random.default_rng(0).random((1, 2000, 2000, 1), dtype=np.float32)
small_pool_is_right()  # warm up: the first op must not be what the signal meets
"""

_OP_CHILD = _PRELUDE + """
stamp("START")
try:
    ops.max_pool(big, pool_size=1000, strides=1, padding="same")
except KeyboardInterrupt:
    stamp("INTERRUPTED")
else:
    stamp("FINISHED")  # the kernel outran the signal: the test cannot judge
    sys.exit(3)
small_pool_is_right()
# The same kernel still works on a small input.
got = np.asarray(ops.max_pool(big[:, :8, :8, :], pool_size=1000, strides=1, padding="same"))
np.testing.assert_array_equal(got, np.full((1, 8, 8, 1), big[:, :8, :8, :].max()))
stamp("OK")
"""

_FIT_CHILD = _PRELUDE + """
keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((None, None, 1)),
                          keras.layers.MaxPooling2D(1000, strides=1, padding="same"),
                          keras.layers.Dense(2)])
model.compile("sgd", "mse")
probe = np.random.default_rng(2).random((1, 4, 4, 1), dtype=np.float32)
before = model.predict(probe, verbose=0)
stamp("START")
try:
    model.fit(big, np.zeros((1, 2000, 2000, 2), np.float32), verbose=0)
except KeyboardInterrupt:
    stamp("INTERRUPTED")
else:
    stamp("FINISHED")
    sys.exit(3)
small_pool_is_right()
# No step completed, the weights are untouched, the lock is free, the model still works.
assert model.optimizer.iterations == 0, model.optimizer.iterations
assert model._step_lock.acquire(blocking=False)
model._step_lock.release()
after = model.predict(probe, verbose=0)
np.testing.assert_array_equal(after, before)
kernel, bias = model.get_weights()
np.testing.assert_allclose(after, np.full((1, 4, 4, 1), probe.max()) @ kernel + bias, rtol=1e-6)
model.fit(probe, np.zeros((1, 4, 4, 2), np.float32), verbose=0)
assert model.optimizer.iterations == 1
stamp("OK")
"""


def _reader(stream, lines):
    for line in stream:
        lines.put(line)
    lines.put(None)


def _next_line(lines, deadline):
    try:
        return lines.get(timeout=max(0.0, deadline - time.monotonic()))
    except queue.Empty:
        return None


@pytest.mark.parametrize("child", ["op", "fit"])
def test_sigint_interrupts_a_long_kernel_within_a_second(child):
    code = textwrap.dedent(_OP_CHILD if child == "op" else _FIT_CHILD)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
    deadline = time.monotonic() + HARD_TIMEOUT_S
    seen, sent_at = {}, None
    try:
        while True:
            line = _next_line(lines, deadline)
            if line is None:
                break
            what, _, when = line.strip().partition(" ")
            seen[what] = float(when) if when else None
            if what == "START":
                time.sleep(SIGNAL_AFTER_S)
                sent_at = time.time()
                proc.send_signal(signal.SIGINT)
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        pass
    finally:
        timed_out = proc.poll() is None
        if timed_out:
            proc.kill()
            proc.wait()
        stderr = proc.stderr.read()[-4000:]
    assert "START" in seen, f"the child never started the kernel:\n{stderr}"
    assert sent_at is not None
    assert "FINISHED" not in seen, "the kernel finished before the signal: it is too short to test"
    assert not timed_out, (f"the child ignored SIGINT for {HARD_TIMEOUT_S:.0f} s (the kernel does "
                           f"not poll for interrupts) and was killed; it printed {sorted(seen)}")
    assert "INTERRUPTED" in seen, f"no KeyboardInterrupt in the child (exit {proc.returncode}):\n{stderr}"
    reaction = seen["INTERRUPTED"] - sent_at
    assert reaction < MAX_REACTION_S, f"KeyboardInterrupt came {reaction:.2f} s after SIGINT"
    assert proc.returncode == 0 and "OK" in seen, (
        f"after the interrupt rskeras misbehaved (exit {proc.returncode}):\n{stderr}")

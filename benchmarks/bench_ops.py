"""Kernel throughput of rskeras ops against NumPy (and PyTorch where installed), one run.

Measures, side by side:
- matmul GFLOP/s for square float32 matrices, n = 256, 1024, 2048, 4096;
- element-wise add, multiply, relu and exp on 1e6 and 1e7 float32 elements, in GB/s of
  input plus output traffic;
- sum over axis 1 and softmax over the last axis of a (4096, 1024) float32 matrix;
- the per-call overhead of `ops.add` on two 1-element tensors (median, microseconds).

Run: python benchmarks/bench_ops.py [--quick]
Each figure is the best of several repetitions (the least disturbed run on a shared machine).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np

import rskeras as keras

from _machine import cpu_name  # benchmarks/_machine.py
from rskeras import ops

try:
    import torch
except ImportError:  # torch is a benchmark-only peer
    torch = None


def best_time(fn, repeat: int, inner: int = 1) -> float:
    """Best wall time of `inner` calls, over `repeat` tries, in seconds per call."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(inner):
            fn()
        best = min(best, (time.perf_counter() - t) / inner)
    return best


def row(name, ours, numpy_value, torch_value, unit, higher_is_better=True):
    ratio = ours / numpy_value if higher_is_better else numpy_value / ours
    tv = f"{torch_value:.1f}" if torch_value is not None else "-"
    print(f"| {name} | {ours:.1f} | {numpy_value:.1f} | {tv} | {unit} | {ratio:.2f}x |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repetitions")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    repeat = 3 if args.quick else 7

    cpu = cpu_name()
    print(f"- machine: {cpu}, {os.cpu_count()} logical cores, Python {platform.python_version()}")
    print(f"- numpy {np.__version__}, rskeras {keras.__version__}, torch {torch.__version__ if torch else 'not installed'}"
          f", rskeras threads {keras._core.num_threads()}")
    print()
    print("| op | rskeras | numpy | torch | unit | rskeras/numpy |")
    print("|---|---:|---:|---:|---|---:|")

    for n in ([256, 1024] if args.quick else [256, 1024, 2048, 4096]):
        a = rng.random((n, n), dtype=np.float32)
        ta = ops.convert_to_tensor(a)
        flops = 2 * n ** 3
        reps = max(2, min(repeat, int(2e10 / flops) + 1))
        ours = flops / best_time(lambda: ops.matmul(ta, ta), reps) / 1e9
        ref = flops / best_time(lambda: a @ a, reps) / 1e9
        tv = None
        if torch is not None:
            t = torch.from_numpy(a)
            tv = flops / best_time(lambda: t @ t, reps) / 1e9
        row(f"matmul n={n}", ours, ref, tv, "GFLOP/s")

    sizes = [10 ** 6] if args.quick else [10 ** 6, 10 ** 7]
    for size in sizes:
        x, y = rng.random(size, dtype=np.float32), rng.random(size, dtype=np.float32)
        tx, ty = ops.convert_to_tensor(x), ops.convert_to_tensor(y)
        px, py = (torch.from_numpy(x), torch.from_numpy(y)) if torch is not None else (None, None)
        cases = [
            ("add", lambda: ops.add(tx, ty), lambda: np.add(x, y), (lambda: px + py) if torch else None, 3),
            ("multiply", lambda: ops.multiply(tx, ty), lambda: np.multiply(x, y), (lambda: px * py) if torch else None, 3),
            ("relu", lambda: ops.relu(tx), lambda: np.maximum(x, 0), (lambda: torch.relu(px)) if torch else None, 2),
            ("exp", lambda: ops.exp(tx), lambda: np.exp(x), (lambda: torch.exp(px)) if torch else None, 2),
        ]
        for name, ours_fn, np_fn, torch_fn, arrays in cases:
            nbytes = arrays * size * 4
            ours = nbytes / best_time(ours_fn, repeat) / 1e9
            ref = nbytes / best_time(np_fn, repeat) / 1e9
            tv = nbytes / best_time(torch_fn, repeat) / 1e9 if torch_fn else None
            row(f"{name} {size:.0e}", ours, ref, tv, "GB/s")

    m = rng.random((4096, 1024), dtype=np.float32)
    tm = ops.convert_to_tensor(m)
    pm = torch.from_numpy(m) if torch is not None else None

    def np_softmax():
        e = np.exp(m - m.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    nbytes = m.nbytes
    row("sum axis=1 (4096,1024)", nbytes / best_time(lambda: ops.sum(tm, axis=1), repeat) / 1e9,
        nbytes / best_time(lambda: m.sum(axis=1), repeat) / 1e9,
        nbytes / best_time(lambda: pm.sum(dim=1), repeat) / 1e9 if torch else None, "GB/s")
    row("softmax (4096,1024)", 2 * nbytes / best_time(lambda: ops.softmax(tm), repeat) / 1e9,
        2 * nbytes / best_time(np_softmax, repeat) / 1e9,
        2 * nbytes / best_time(lambda: torch.softmax(pm, -1), repeat) / 1e9 if torch else None, "GB/s")

    # Views: transpose and slicing re-address the buffer (O(rank), no copy), and matmul reads a
    # transposed operand through strides.
    def view_us(ours_fn, np_fn, torch_fn):
        def us(f):
            return best_time(f, repeat, inner=1000) * 1e6
        return us(ours_fn), us(np_fn), us(torch_fn) if torch else None

    ours, ref, tv = view_us(lambda: ops.transpose(tm)[::2, 1:], lambda: m.T[::2, 1:],
                            lambda: pm.T[::2, 1:])
    row("transpose+slice view (4096,1024)", ours, ref, tv, "µs/call (lower is better)", higher_is_better=False)
    n = 1024
    a = rng.random((n, n), dtype=np.float32)
    ta = ops.convert_to_tensor(a)
    flops = 2 * n ** 3
    row(f"matmul a.T @ a n={n} (view operand)",
        flops / best_time(lambda: ops.matmul(ops.transpose(ta), ta), repeat) / 1e9,
        flops / best_time(lambda: a.T @ a, repeat) / 1e9,
        flops / best_time(lambda: torch.from_numpy(a).T @ torch.from_numpy(a), repeat) / 1e9 if torch else None,
        "GFLOP/s")

    one = ops.convert_to_tensor(np.ones(1, np.float32))
    calls = 20_000
    samples = []
    for _ in range(15):
        t = time.perf_counter()
        for _ in range(calls):
            ops.add(one, one)
        samples.append((time.perf_counter() - t) / calls * 1e6)
    n1 = np.ones(1, np.float32)
    np_samples = []
    for _ in range(15):
        t = time.perf_counter()
        for _ in range(calls):
            np.add(n1, n1)
        np_samples.append((time.perf_counter() - t) / calls * 1e6)
    t_samples = []
    if torch is not None:
        p1 = torch.ones(1)
        for _ in range(15):
            t = time.perf_counter()
            for _ in range(calls):
                torch.add(p1, p1)
            t_samples.append((time.perf_counter() - t) / calls * 1e6)
    ours, ref = statistics.median(samples), statistics.median(np_samples)
    tv = statistics.median(t_samples) if t_samples else None
    row("ops.add 1-element overhead", ours, ref, tv, "µs/call (lower is better)", higher_is_better=False)


if __name__ == "__main__":
    main()

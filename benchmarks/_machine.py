"""What every benchmark table records about the machine it ran on (imported by the
bench_*.py scripts, which run from this folder)."""

from __future__ import annotations

import platform
from importlib import metadata


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo, else what `platform` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine() or "unknown"


def package_versions(packages) -> dict:
    """`{package: version or "not installed"}`."""
    versions = {}
    for package in packages:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


# --------------------------------------------------------------------------------------------
# Running contenders side by side: each in its own interpreter, pinned to the same CPUs with
# the same thread counts, reporting one JSON line (bench_optimizers.py, bench_mlp.py,
# bench_cnn.py).
# --------------------------------------------------------------------------------------------

THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                   "RAYON_NUM_THREADS", "RSKERAS_NUM_THREADS")
RESULT_MARKER = "BENCH_RESULT "
FRAMEWORKS = ("rskeras", "keras", "torch")  # one --<framework>-python option each


def cpu_flags() -> str:
    """The SIMD flags that decide kernel speed, from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next(line.split(":", 1)[1].split() for line in f if line.startswith("flags"))
    except (OSError, StopIteration):
        return "unknown"
    wanted = ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16")
    return " ".join(f for f in wanted if f in flags)


def add_interpreter_options(parser) -> None:
    """`--rskeras-python`, `--keras-python`, `--torch-python` (default: this interpreter) and
    `--threads` (default 2)."""
    import sys

    for framework in FRAMEWORKS:
        parser.add_argument(f"--{framework}-python", default=sys.executable,
                            help=f"the interpreter that runs the {framework} contenders "
                                 "(default: this one)")
    parser.add_argument("--threads", type=int, default=2,
                        help="CPUs each contender is pinned to, and its thread count (default 2)")


def interpreter(args, contender: str) -> str:
    """The interpreter of a contender: `keras-jax-spe32` runs on `--keras-python`."""
    return getattr(args, f"{contender.split('-')[0]}_python")


def pinned(threads: int):
    """`(cpus, env)`: the first `threads` CPUs this process may use, and an environment that
    sets every thread-count variable to their number."""
    import os

    cpus = sorted(os.sched_getaffinity(0))[:threads]
    env = dict(os.environ)
    for var in THREAD_ENV_VARS:
        env[var] = str(len(cpus))
    return cpus, env


def run_contender(python: str, argv, cpus, env, timeout: float | None = None) -> dict:
    """Run `python argv...` pinned to `cpus`; return the JSON the child printed after
    RESULT_MARKER, `{"missing": why}` when the interpreter or the framework is absent (the
    child reports an ImportError so), or `{"failed": why}` for anything else."""
    import json
    import os
    import subprocess

    try:
        proc = subprocess.run([python, *argv], check=False, capture_output=True, text=True, env=env,
                              timeout=timeout, preexec_fn=lambda: os.sched_setaffinity(0, cpus))
    except OSError as e:  # no such interpreter
        return {"missing": f"{python}: {e.strerror}"}
    except subprocess.TimeoutExpired:
        return {"failed": f"timed out after {timeout:.0f} s"}
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            return json.loads(line[len(RESULT_MARKER):])
    last = ((proc.stderr or proc.stdout).strip().splitlines() or ["no output"])[-1]
    return {"failed": f"exit code {proc.returncode}: {last}"}


def report(result: dict) -> None:
    """What a child prints for `run_contender`."""
    import json

    print(RESULT_MARKER + json.dumps(result), flush=True)


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, MiB (ru_maxrss is in KiB on Linux)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median_us(call, warmup: int = 20, calls: int = 200) -> float:
    """Median wall time of `call()` in microseconds, after `warmup` untimed calls."""
    import statistics
    import time

    for _ in range(warmup):
        call()
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    return 1e6 * statistics.median(times)


def best_of(old: dict, new: dict) -> dict:
    """Merge one more round into `old`: the lowest time or memory (keys ending in _s, _ms,
    _us, _mib) and the highest throughput (keys ending in _ips); other keys keep the first
    round's value."""
    for key, value in new.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or key not in old:
            old.setdefault(key, value)
        elif key.endswith(("_s", "_ms", "_us", "_mib")):
            old[key] = min(old[key], value)
        elif key.endswith("_ips"):
            old[key] = max(old[key], value)
    return old


def header(cpus, load_before: float, rounds: int) -> list:
    """The lines every side-by-side table starts with: the CPU, its flags, the pinning and the
    load from elsewhere (the machine may be shared: figures are the best of `rounds`)."""
    import os
    import platform

    return [
        (f"- machine: {cpu_name()} ({cpu_flags()}), {os.cpu_count()} logical cores, "
         f"Python {platform.python_version()}; each contender in its own process, pinned to "
         f"CPUs {list(cpus)} with {len(cpus)} threads"),
        (f"- load average (1 min): {load_before:.2f} before, {os.getloadavg()[0]:.2f} after "
         f"(this run included); each figure is the best of {rounds} alternating round(s)"),
    ]

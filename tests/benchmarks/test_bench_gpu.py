"""`benchmarks/bench_gpu.py` runs end to end (tiny sizes, on the software adapter CI has): a
check that the script works where no GPU is lent, not a timing."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks", "bench_gpu.py")


def _run(*args):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=300)


def test_bench_gpu_prints_its_tables(gpu):
    proc = _run("--allow-software", "--sizes", "16,48", "--only", "matmul,overhead,mlp",
                "--samples", "64", "--epochs", "1")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "| rskeras-wgsl |" in out and "| n=16 | n=48 |" in out
    error = float(out.split("max relative error vs NumPy at n=16: ")[1].split()[0])
    assert error < 1e-5
    launch_us = out.split("| rskeras-wgsl |")[2].split("|")[1:5]
    assert all(0 < float(v) < 1e5 for v in launch_us)
    assert "| mlp (batch 32) | rskeras-gpu |" in out and "| mlp (batch 32) | rskeras-cpu |" in out


def test_bench_gpu_refuses_a_software_adapter_without_the_flag(gpu):
    if gpu.ctx.info.get("adapter_type") != "CPU":
        return  # a hardware adapter: figures are wanted
    proc = _run("--sizes", "16", "--only", "matmul")
    assert "| rskeras-wgsl |" not in proc.stdout
    assert "software adapter" in proc.stdout

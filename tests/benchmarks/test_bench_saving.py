"""`benchmarks/bench_saving.py` runs end to end on a tiny model, rskeras only: a check that the
script works, not a timing (as tests/benchmarks/test_bench_gpu.py does for bench_gpu.py)."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks", "bench_saving.py")


def _run(*args, env=None):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True,
                          timeout=120, env=env, check=False)


def test_bench_saving_prints_its_table(tmp_path):
    proc = _run("--only", "rskeras", "--units", "16", "--hidden", "1", "--reps", "1",
                "--dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "| format | contender | save s | load s | file MB |" in out
    for fmt in (".keras", ".h5", ".weights.h5"):
        row = next(line for line in out.splitlines() if line.startswith(f"| `{fmt}` | rskeras |"))
        save_s, load_s, file_mb = (float(v) for v in row.split("|")[3:6])
        assert 0 < save_s < 10 and 0 < load_s < 10 and 0 < file_mb < 1
    assert "weights differ" not in out
    assert "12,730 parameters" in out  # 784*16+16 + 16*10+10
    assert os.listdir(tmp_path) == []  # the files are removed


def test_a_missing_keras_gives_a_not_installed_row(tmp_path):
    fake = tmp_path / "fake" / "keras"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('no keras here')\n")
    env = dict(os.environ, PYTHONPATH=str(fake.parent))
    proc = _run("--only", "keras-jax", "--units", "16", "--hidden", "1", "--reps", "1",
                "--dir", str(tmp_path / "files"), env=env)
    assert proc.returncode == 0, proc.stderr
    assert "| `.keras` | keras-jax | not installed (no keras here) | | |" in proc.stdout

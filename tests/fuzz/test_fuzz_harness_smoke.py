"""Keeps tests/fuzz/fuzz_load_model.py from rotting: its single-input function runs over the
seed corpus (and simple damage of it) without atheris; when atheris is installed, the
fuzzer itself runs a few hundred executions in a subprocess."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

HARNESS = Path(__file__).resolve().parent / "fuzz_load_model.py"


def _load_harness():
    spec = importlib.util.spec_from_file_location("fuzz_load_model", HARNESS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


harness = _load_harness()
SEEDS = harness.seed_inputs()


def test_seed_corpus_covers_every_mode():
    modes = {data[0] % len(harness.MODES) for data in SEEDS.values()}
    assert modes == set(range(len(harness.MODES)))
    assert len(SEEDS) >= 20


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_one_input_on_seeds(name):
    harness.test_one_input(SEEDS[name])


@pytest.mark.parametrize("name", sorted(SEEDS)[::3])
def test_one_input_on_damaged_seeds(name):
    data = SEEDS[name]
    for cut in (1, 2, 9, 100, len(data) // 2, len(data) - 1):
        harness.test_one_input(data[:cut])
    flipped = bytearray(data)
    for i in range(1, len(flipped), 997):
        flipped[i] ^= 0x5A
    harness.test_one_input(bytes(flipped))


def test_one_input_on_nothing():
    harness.test_one_input(b"")
    for mode in range(2 * len(harness.MODES)):
        harness.test_one_input(bytes([mode]))


def test_unexpected_exceptions_propagate(monkeypatch):
    """A finding must reach atheris: only ValueError and OSError are swallowed."""
    import rskeras as keras

    def boom(*args, **kwargs):
        raise KeyError("not an expected outcome")

    monkeypatch.setattr(keras.models, "load_model", boom)
    with pytest.raises(KeyError):
        harness.test_one_input(bytes([harness.kind_byte(".keras")]) + b"PK")


def test_fuzzer_runs(tmp_path):
    pytest.importorskip("atheris")
    corpus, findings = tmp_path / "corpus", tmp_path / "findings"
    findings.mkdir()
    result = subprocess.run(
        [
            sys.executable,
            str(HARNESS),
            "-atheris_runs=300",
            "-timeout=60",
            f"-artifact_prefix={findings}{os.sep}",
            str(corpus),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Done 300" in result.stderr, result.stderr[-3000:]
    assert len(os.listdir(corpus)) >= len(SEEDS)
    assert os.listdir(findings) == []

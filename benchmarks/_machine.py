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

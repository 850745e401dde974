"""Prints the hostile-input fuzzing tallies (tests/fuzz/test_ops_hostile.py) at the end of the
session: cases and outcomes per op family, and how many fault classes each one found."""

from __future__ import annotations

from . import _runner


def pytest_terminal_summary(terminalreporter):
    if not _runner.SUMMARIES:
        return
    tr = terminalreporter
    tr.section("hostile-input fuzzing of the ops")
    total = 0
    for summary in _runner.SUMMARIES.values():
        total += summary["cases"]
        tr.write_line(_runner.format_counts(summary))
        if summary["faults"]:
            tr.write_line(f"{'':>13}{len(summary['faults'])} fault classes")
    tr.write_line(f"{total} cases; report: {_runner.REPORT_PATH}")

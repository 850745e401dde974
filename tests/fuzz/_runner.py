"""The parent side of the hostile-input fuzzing: runs cases in batches in worker processes
(tests/fuzz/_op_worker.py), notices crashes and hangs, tallies outcomes and writes reports.

A worker that dies (negative return code: a signal such as SIGSEGV or SIGABRT; or any exit
before its last line) is charged to the case it was running, whose stderr (the Rust panic or
allocation message) goes into the report; a case that runs over `timeout` seconds is a hang:
the worker's process group is killed. The batch then goes on in a fresh worker. After two hangs
of one op its remaining cases are skipped (counted), so that a slow op cannot eat the run.
"""

from __future__ import annotations

import collections
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import _cases

# The worker runs as `python -m tests.fuzz._op_worker` from the repository root: with tests/
# itself on the path, tests/random/ would shadow the standard library's `random`.
ROOT_DIR = Path(__file__).resolve().parents[2]
CASE_TIMEOUT = 10.0
STARTUP_TIMEOUT = 120.0
BATCH = 150
HANGS_BEFORE_SKIP = 2

FAILURES = (
    "crash",
    "hang",
    "panic",
    "base_exception",
    "internal_error",
    "bad_exception",
    "error_where_numpy_answers",
    "no_error_where_numpy_raises",
    "mismatch",
    "bad_result",
    "harness_error",
)
REPORT_PATH = Path(os.environ.get("RSKERAS_FUZZ_REPORT", Path(tempfile.gettempdir()) / "rskeras-fuzz-ops-report.json"))

# family -> summary; filled by the tests, printed by tests/fuzz/conftest.py at the end
SUMMARIES: dict = {}


def _worker_env():
    env = dict(os.environ)
    env["RUST_BACKTRACE"] = "0"
    env["MALLOC_ARENA_MAX"] = "2"
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT_DIR)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    env.setdefault("PYTHONHASHSEED", "0")
    return env


def _stderr_of(text, index):
    """The stderr lines a case wrote (after its `@@case` marker)."""
    marker = f"@@case {index}\n"
    at = text.rfind(marker)
    part = text[at + len(marker) :] if at >= 0 else text[-2000:]
    lines = [ln for ln in part.splitlines() if ln.strip()]
    return "\n".join(lines[-6:])[-1200:]


def _signal_name(rc):
    try:
        return signal.Signals(-rc).name
    except (ValueError, AttributeError):
        return f"signal {-rc}"


def run_worker(cases, timeout=CASE_TIMEOUT):
    """Run `cases` in one worker. Returns (outcomes for a prefix of `cases`, the rest not run).
    When the worker crashes or hangs, the case it was running gets the outcome "crash" or
    "hang" and the prefix ends with it."""
    with tempfile.TemporaryFile("w+") as stdin, tempfile.TemporaryFile("w+") as stderr:
        json.dump(cases, stdin)
        stdin.seek(0)
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fuzz._op_worker"],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=stderr,
            cwd=ROOT_DIR,
            env=_worker_env(),
            start_new_session=True,
        )
        outcomes, buf, ready, checking = [], b"", False, None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        fd = proc.stdout.fileno()
        eof = False
        try:
            while len(outcomes) < len(cases):
                wait = deadline - time.monotonic()
                if wait <= 0:
                    break
                r, _, _ = select.select([fd], [], [], wait)
                if not r:
                    continue
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    eof = True
                    break
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    msg = json.loads(line)
                    if msg.get("ready"):
                        ready = True
                    elif "phase" in msg:
                        checking = msg["i"]
                    else:
                        outcomes.append(msg)
                    deadline = time.monotonic() + timeout
            if len(outcomes) == len(cases):
                proc.wait(timeout=30)
                return outcomes, []
            if not eof:  # a hang (or a worker that never got ready)
                os.killpg(proc.pid, signal.SIGKILL)
            rc = proc.wait()
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            proc.stdout.close()
        stderr.seek(0)
        err = stderr.read()
    if not ready:
        raise WorkerStartError(f"the fuzz worker did not start (rc={rc}):\n{err[-3000:]}")
    culprit = cases[len(outcomes)]
    if eof:
        how = _signal_name(rc) if rc < 0 else f"exit status {rc}"
        outcome = {"o": "crash", "exc": how, "msg": _stderr_of(err, culprit["i"]) or how}
    elif checking == culprit["i"]:
        outcome = {"o": "harness_error", "msg": f"the op answered but its reference ran over {timeout:g} s"}
    else:
        outcome = {"o": "hang", "msg": f"no answer within {timeout:g} s", "detail": _stderr_of(err, culprit["i"])}
    outcome["i"] = culprit["i"]
    outcome["t"] = None
    outcomes.append(outcome)
    return outcomes, cases[len(outcomes) :]


def run_cases(cases, batch=BATCH, timeout=CASE_TIMEOUT):
    """Outcomes of all `cases` (dicts with "i"), in order, with op names added."""
    for n, c in enumerate(cases):
        c["i"] = n
    by_index = {c["i"]: c for c in cases}
    done = {}
    hangs = collections.Counter()
    pending = list(cases)
    while pending:
        runnable = []
        for c in pending:
            if hangs[c["op"]] < HANGS_BEFORE_SKIP:
                runnable.append(c)
            else:
                done[c["i"]] = {"o": "skipped", "i": c["i"], "msg": "the op hung twice already", "t": None}
        if not runnable:
            break
        chunk, pending = runnable[:batch], runnable[batch:]
        outcomes, rest = _run_worker_retrying(chunk, timeout)
        for o in outcomes:
            done[o["i"]] = o
            if o["o"] == "hang":
                hangs[by_index[o["i"]]["op"]] += 1
        pending = rest + pending
    results = []
    for c in cases:
        o = done[c["i"]]
        o["op"] = c["op"]
        results.append(o)
    return results


def _run_worker_retrying(chunk, timeout):
    """The extension module may be rebuilt under a running suite: a worker that cannot even
    import rskeras is retried after a minute, twice."""
    for attempt in range(3):
        try:
            return run_worker(chunk, timeout)
        except WorkerStartError:
            if attempt == 2:
                raise
            time.sleep(60)
    raise AssertionError("unreachable")


class WorkerStartError(RuntimeError):
    pass


# ---------------------------------------------------------------------------------------------
# Reports


def _normalize(text):
    text = re.sub(r"0x[0-9a-f]+", "0x_", text or "")
    text = re.sub(r"\d+", "N", text)
    text = re.sub(r"'[^']*'", "'_'", text)
    return text[:120]


def label(outcome):
    o = outcome["o"]
    if o == "ok":
        return "ok (checked)" if outcome.get("checked") else "ok (unchecked)"
    if o == "error":
        return f"clean {outcome['exc']}"
    return o


def fault_key(outcome):
    """Faults of one class share a key: the kind and the normalized message (and the op, for
    wrong values, whose messages are values)."""
    o = outcome["o"]
    if o in ("mismatch", "no_error_where_numpy_raises", "bad_result", "hang", "harness_error"):
        return (o, outcome["op"], _normalize(outcome.get("msg", "")) if o == "harness_error" else "")
    msg = outcome.get("msg", "")
    if o == "crash":
        lines = [ln for ln in msg.splitlines() if ln.strip() and not ln.startswith("note:")]
        msg = " | ".join(lines[-2:])
    return (o, outcome.get("exc", ""), _normalize(msg))


def summarize(family, cases, results, seconds):
    counts = collections.Counter(label(r) for r in results)
    classes = {}
    for case, r in zip(cases, results):
        if r["o"] not in FAILURES:
            continue
        key = fault_key(r)
        line = _cases.repro(case)
        entry = classes.setdefault(
            key,
            {
                "kind": r["o"],
                "exc": r.get("exc", ""),
                "msg": r.get("msg", ""),
                "detail": r.get("detail", ""),
                "ops": collections.Counter(),
                "count": 0,
                "repro": line,
            },
        )
        entry["count"] += 1
        entry["ops"][case["op"]] += 1
        if len(line) < len(entry["repro"]):
            entry.update(repro=line, msg=r.get("msg", ""), detail=r.get("detail", ""))
    checked = collections.Counter(r["op"] for r in results if r["o"] == "ok" and r.get("checked"))
    slow = sorted(((r["t"], r["op"]) for r in results if r.get("t") and r["t"] > 2.0), reverse=True)[:5]
    summary = {
        "family": family,
        "cases": len(cases),
        "seconds": round(seconds, 1),
        "counts": dict(counts),
        "faults": sorted(classes.values(), key=lambda e: (-e["count"], e["kind"])),
        "checked_by_op": dict(checked),
        "slowest": slow,
        "clean_errors": _top_clean_errors(results),
    }
    for e in summary["faults"]:
        e["ops"] = dict(e["ops"])
    SUMMARIES[family] = summary
    _write_report()
    return summary


def _top_clean_errors(results, n=15):
    c = collections.Counter((r["op"], r["exc"], _normalize(r.get("msg", ""))) for r in results if r["o"] == "error")
    return [{"op": op, "exc": exc, "msg": msg, "count": k} for (op, exc, msg), k in c.most_common(n)]


def _write_report():
    try:
        REPORT_PATH.write_text(json.dumps(SUMMARIES, indent=1, default=str))
    except OSError:
        pass


def format_faults(summary, limit=40):
    lines = [
        f"{summary['family']}: {summary['cases']} cases in {summary['seconds']} s; "
        + ", ".join(f"{k}: {v}" for k, v in sorted(summary["counts"].items())),
        f"{len(summary['faults'])} fault classes (full report: {REPORT_PATH}):",
    ]
    for e in summary["faults"][:limit]:
        ops = ", ".join(sorted(e["ops"]))
        lines.append(f"- [{e['kind']}] x{e['count']} in {ops}: {e['exc']} {e['msg']}".rstrip()[:600])
        if e.get("detail"):
            lines.append(f"    {str(e['detail']).splitlines()[-1][:300]}")
        lines.append(f"    repro: {e['repro'][:1500]}")
    if len(summary["faults"]) > limit:
        lines.append(f"... and {len(summary['faults']) - limit} more classes in the report")
    return "\n".join(lines)


def format_counts(summary):
    return f"{summary['family']:>11}: {summary['cases']:>6} cases {summary['seconds']:>6.1f} s  " + ", ".join(
        f"{k} {v}" for k, v in sorted(summary["counts"].items())
    )

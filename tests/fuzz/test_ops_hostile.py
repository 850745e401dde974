"""Hostile-input fuzzing of every public op (`rskeras.ops`, `rskeras.random`): shapes with 0, 1,
huge and negative sizes, NaN/inf, every NumPy dtype, non-contiguous, Fortran-order, big-endian
and zero-stride arrays, ranks up to 64, absurd conv/pool/pad/tile/one_hot geometry.

Each family test draws cases from the op table (`_op_table.SPECS`) with hypothesis, runs them
in batches in worker processes (`_op_worker`, so a segfault kills only the worker) and fails
listing every fault class found, each with its shortest one-line repro:

  crash, hang (over 10 s), panic (pyo3 PanicException), base_exception, internal_error,
  bad_exception (a type other than ValueError, TypeError, IndexError, MemoryError,
  NotImplementedError, OverflowError), error_where_numpy_answers, no_error_where_numpy_raises,
  mismatch (value vs the NumPy reference), bad_result, harness_error (a defect of the suite).

Case counts: max(CASES_PER_OP, the hypothesis profile's max_examples) per op, plus the KNOWN
repros. The default profile (tests/conftest.py: 30 examples, derandomized) gives about 5,000
cases, under a minute on 2 cores; the `long` profile (`pytest tests/fuzz
--hypothesis-profile=long`) 1000 cases per op, about 166,000. Counts by outcome are printed at
the end of the session and written, with the fault classes, to $RSKERAS_FUZZ_REPORT (default:
<tmp>/rskeras-fuzz-ops-report.json).
"""

from __future__ import annotations

import inspect
import math
import time

import rskeras.random
from hypothesis import HealthCheck, Phase, given, settings
from rskeras import ops

from . import _cases as C
from . import _hostile as H
from . import _op_table as T
from . import _runner

CASES_PER_OP = 20


def _arr(values, dtype, shape=None, layout="C"):
    return {
        "$arr": {
            "dtype": dtype,
            "shape": list(shape if shape is not None else [len(values)]),
            "layout": layout,
            "values": values,
        }
    }


def _case(op, *args, **kwargs):
    return {"op": op, "args": list(args), "kwargs": kwargs}


def _huge_view(shape):
    """np.broadcast_to(np.float32(0.5), shape): a zero-stride view of absurd size."""
    return {"$arr": {"dtype": "float32", "shape": [1], "layout": "huge", "target": list(shape), "values": [0.5]}}


# Always run, whatever hypothesis draws: the faults reported in the robustness issue, then one
# repro of each fault class this suite has found (fixed ones stay as regression cases).
KNOWN = {
    "conversion": [
        _case("convert_to_tensor", _arr([2**63], "uint64")),
        _case("cast", _arr([math.inf, 3e9], "float32"), "int32"),
        _case("convert_to_tensor", 2.008804543120011e-16, dtype="float64"),
        _case("convert_to_tensor", _arr([0.0], "float32", [1] * 33)),
        _case("stop_gradient", _huge_view([2**40])),
    ],
    "elementwise": [
        _case("clip", _arr([0.5, 2.0], "float32"), 1, 0),
        _case("add", _arr([1.0, 1.0, 1.0], "float32", layout="be"), 1),
        _case("power", {"$np": ["int64", 3]}, {"$np": ["int64", 2**32 + 1]}),
        _case("greater", _arr([215], "uint8"), -1),
        _case("divide", _arr([127], "uint8"), 300),
        _case("elu", _arr([-1e-7], "float32")),
        _case("log_sigmoid", _arr([20.0], "float32")),
        _case("cos", _huge_view([2**20, 2**21])),
    ],
    "reduction": [
        _case("softmax", _arr([1.0, math.inf], "float32", [1, 2])),
        _case("sum", _huge_view([2**40])),
        _case("min", _arr([], "int32", [0, 4]), initial=math.inf),
        _case("normalize", _arr([9.0, math.nan], "float32", [2, 1]), axis=0, order=3),
        _case("in_top_k", _arr([0], "int32"), _arr([1.0, 1.0, 1.0], "float32", [3, 1]), 1),
        _case("any", _arr([], "float32", [0, 5]), axis=C.tup(0, 0)),
    ],
    "shape": [
        _case("broadcast_to", _arr([1.0, 1.0, 1.0], "float32"), C.tup(2**62, 3)),
        _case("tile", _arr([1.0] * 6, "float32", [2, 3]), C.tup(2**40)),
        _case("pad", 5, [[-1, 0]]),
        _case("take_along_axis", _arr([0.0, 1.0, 2.0], "float32"), _arr([2], "uint8"), 0),
        _case("reshape", _arr([], "float32", [0]), C.tup(0, 2**62, 2**62)),
        _case(
            "get_item", _arr([0.0, 1.0, 2.0, 3.0, 4.0], "float32"), C.tup(C.special("ellipsis"), _arr([1, 2], "int32"))
        ),
    ],
    "creation": [
        _case("one_hot", [0, 1], 2**62),
        _case("full", C.tup(0, 2**62, 2**62), True),
    ],
    "linalg": [_case("tensordot", _arr([], "float16"), _arr([], "float16", [0, 1]), axes=0)],
    "conv": [
        _case("max_pool", _arr([1.0] * 25, "float32", [1, 5, 5, 1]), 10**6, padding="same"),
        _case("conv_transpose", _arr([], "float32", [0, 3, 1, 3]), _arr([], "float32", [2, 10**6, 0, 3])),
        _case(
            "conv_transpose",
            _arr([], "float32", [2, 0, 1, 2]),
            _arr([0.0, 7.0], "float32", [1, 1, 1, 2]),
            dilation_rate=3,
        ),
    ],
    "nn": [_case("dot_product_attention", *[_arr([], "float32", [2, 2, 1, 0])] * 3)],
    "random": [
        _case("random.normal", C.tup(2**62)),
        _case("random.normal", C.tup(0, 2**62, 2**62)),
        _case("random.dropout", 0.99, 0.5, noise_shape=[3, 1, 3], seed=1),
    ],
}


def _finish(spec, drawn):
    args, kwargs = drawn
    case = {"op": spec.name, "args": args, "kwargs": kwargs}
    if spec.template:
        case["template"] = spec.template
    case["big"] = H.is_big(case)
    return case


def draw_cases(family):
    """The family's cases: the known repros, then hypothesis draws for each op in turn (one
    run per op: a single run over the whole family clusters its draws on a few ops)."""
    n = max(CASES_PER_OP, settings.default.max_examples)
    cases = [dict(c, big=H.is_big(c)) for c in KNOWN.get(family, [])]
    for spec in T.family_specs(family):
        _collect(spec, n, cases)
    return cases


def _collect(spec, n, into):
    @settings(
        max_examples=n,
        phases=[Phase.explicit, Phase.generate],
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(spec.args)
    def collect(drawn):
        into.append(_finish(spec, drawn))

    collect()


def run_family(family):
    t0 = time.monotonic()
    cases = draw_cases(family)
    results = _runner.run_cases(cases)
    summary = _runner.summarize(family, cases, results, time.monotonic() - t0)
    problems = []
    if summary["faults"]:
        problems.append(_runner.format_faults(summary))
    # A reference that never judges a value cannot fail: that would be a defect of the suite.
    silent = [
        s.name
        for s in T.family_specs(family)
        if (s.ref or s.check)
        and s.name not in summary["checked_by_op"]
        and not any(s.name in e["ops"] for e in summary["faults"])
    ]
    if silent:
        problems.append(f"suite defect: no case of {silent} was judged by its reference")
    assert not problems, "\n".join(problems)


def test_conversion_hostile_inputs():
    run_family("conversion")


def test_elementwise_hostile_inputs():
    run_family("elementwise")


def test_reduction_hostile_inputs():
    run_family("reduction")


def test_shape_hostile_inputs():
    run_family("shape")


def test_creation_hostile_inputs():
    run_family("creation")


def test_linalg_hostile_inputs():
    run_family("linalg")


def test_conv_hostile_inputs():
    run_family("conv")


def test_nn_hostile_inputs():
    run_family("nn")


def test_random_hostile_inputs():
    run_family("random")


def test_every_family_has_a_test():
    tests = {n[len("test_") : -len("_hostile_inputs")] for n in globals() if n.endswith("_hostile_inputs")}
    assert tests == set(T.FAMILIES)


def test_every_public_op_has_a_spec():
    public = {
        n
        for n in dir(ops)
        if not n.startswith("_") and callable(getattr(ops, n)) and not inspect.isclass(getattr(ops, n))
    }
    public |= {f"random.{n}" for n in rskeras.random.__all__ if not inspect.isclass(getattr(rskeras.random, n))}
    missing = sorted(public - set(T.TABLE))
    assert not missing, f"ops without a hostile-input spec in tests/fuzz/_op_table.py: {missing}"
    stale = sorted(set(T.TABLE) - public)
    assert not stale, f"specs for ops that are not public: {stale}"


def test_known_cases_render_as_runnable_repros():
    """The one-line repros in the reports are real Python (they are what a reader pastes)."""
    import numpy as np

    namespace = {"np": np, "ops": ops, "rskeras": rskeras}
    for cases in KNOWN.values():
        for case in cases:
            line = C.repro(case)
            code = compile(line, "<repro>", "eval")
            assert code.co_names, line
    x = C.decode(_arr([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "float32", [2, 3], "T"))
    assert not x.flags.c_contiguous and x.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    src = C.render(_arr([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "float32", [2, 3], "T"))
    assert eval(src, namespace).tolist() == x.tolist()
    for layout in ("F", "step", "neg", "be", "ro", "bcast"):
        a = _arr([1.0, 2.0, math.nan, 4.0, 5.0, 6.0], "float32", [2, 3], layout)
        if layout == "bcast":
            a["$arr"]["values"] = [1.0, 2.0, math.nan]
        built, rendered = C.decode(a), eval(C.render(a), namespace)
        np.testing.assert_array_equal(built, rendered)
        assert built.dtype == rendered.dtype


SELFTEST_EXPECTED = [  # (stand-in op, outcome, a word of the message or exception)
    ("_selftest.right", "ok", ""),
    ("_selftest.segfault", "crash", "SIGSEGV"),
    ("_selftest.right", "ok", ""),  # the batch goes on in a fresh worker
    ("_selftest.abort", "crash", "SIGABRT"),
    ("_selftest.sleep", "hang", ""),
    ("_selftest.panic", "panic", "PanicException"),
    ("_selftest.base", "base_exception", "KeyboardInterrupt"),
    ("_selftest.keyerror", "bad_exception", "KeyError"),
    ("_selftest.internal", "internal_error", "RuntimeError"),
    ("_selftest.refuses", "error_where_numpy_answers", "ValueError"),
    ("_selftest.clean", "error", "ValueError"),
    ("_selftest.lenient", "no_error_where_numpy_raises", ""),
    ("_selftest.wrong", "mismatch", ""),
    ("_selftest.wrong_nan", "mismatch", ""),
]


def test_the_harness_notices_every_kind_of_failure():
    """Each stand-in op fails in one way; the runner must report exactly that way."""
    x = _arr([1.0, math.nan, 3.0], "float32")
    cases = [{"op": op, "args": [x], "kwargs": {}, "big": False} for op, _, _ in SELFTEST_EXPECTED]
    results = _runner.run_cases(cases, batch=50, timeout=3.0)
    got = [(r["op"], r["o"]) for r in results]
    assert got == [(op, kind) for op, kind, _ in SELFTEST_EXPECTED]
    for r, (_, _, word) in zip(results, SELFTEST_EXPECTED):
        assert word in (r.get("exc", "") + r.get("msg", "")), r
    summary = _runner.summarize("selftest", cases, results, 0.0)
    _runner.SUMMARIES.pop("selftest")
    kinds = {e["kind"] for e in summary["faults"]}
    assert kinds == {k for _, k, _ in SELFTEST_EXPECTED} - {"ok", "error"}
    assert all(e["repro"].startswith("ops._selftest.") for e in summary["faults"])

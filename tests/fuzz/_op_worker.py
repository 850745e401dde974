"""Runs hostile-input cases in a child process, so that a segfault or an abort kills only it.

    python -m tests.fuzz._op_worker < cases.json   (from the repository root, as tests/fuzz/_runner.py does)

stdin: a JSON list of cases (`_cases`), each with an index "i". stdout: one JSON line
`{"ready": true}` once rskeras is imported, then one line per case, in order, flushed at
once, so the parent knows which case was running when the process died or hung. Before each
case a line `@@case <i>` goes to stderr, so the parent can cut out that case's stderr (a
Rust panic message, "memory allocation of N bytes failed", ...).

Outcome lines: {"i", "o", "t", ...} where "o" is
  ok                        the op returned; "checked" says whether a reference or a property
                            check judged the value
  error                     a clean error ("exc": its type; see ACCEPTED)
  panic | base_exception | internal_error | bad_exception
                            a pyo3 PanicException, a BaseException that is not an Exception, a
                            RuntimeError saying "internal error", or any type not in ACCEPTED
  error_where_numpy_answers the op raised although NumPy (the reference) answers
  no_error_where_numpy_raises
                            NumPy raises ValueError/IndexError (bad shapes, axes, indices) and the
                            op silently returned something
  mismatch                  the value differs from the reference, or a property check failed
  bad_result                the result cannot be converted (np.asarray, repr) or says a shape or
                            dtype it does not have
  harness_error             the case or its reference is broken (a defect of the suite)

Once the op has answered (and its result converted), a line `{"i", "phase": "checking"}`
says that the time from then on is the reference's: a reference that runs over the time limit
is a harness_error, not a hang of the op.

The process limits its address space (RLIMIT_AS, 1.5 GiB above what it uses after warm-up;
RSKERAS_FUZZ_NO_RLIMIT=1 turns that off), so that an op asking for terabytes gets an allocation
failure instead of the machine's memory.
"""

from __future__ import annotations

import json
import math
import os
import resource
import sys
import time
import traceback
import warnings

import numpy as np

# Acceptable exception types for hostile input. A RuntimeError is never acceptable (it means
# "something inside broke"), nor are KeyError, AttributeError, AssertionError, ZeroDivisionError,
# SystemError...: errors for bad input must say what is wrong with the input.
ACCEPTED = (ValueError, TypeError, IndexError, MemoryError, NotImplementedError, OverflowError)
NUMPY_ERRORS = (ValueError, TypeError, IndexError, OverflowError, MemoryError, ZeroDivisionError)
HEADROOM = 1536 * 2**20

_REAL_STDOUT = None


def classify(exc):
    """The failure kind of an exception raised by an op, or None for a clean error."""
    if type(exc).__name__ == "PanicException":
        return "panic"
    if not isinstance(exc, Exception):
        return "base_exception"
    if isinstance(exc, RuntimeError) and "internal error" in str(exc).lower():
        return "internal_error"
    if isinstance(exc, ACCEPTED):
        return None
    return "bad_exception"


def _msg(exc):
    text = str(exc).strip().splitlines()
    return (text[0] if text else "")[:300]


def _short(value):
    s = repr(value)
    return s if len(s) < 300 else s[:300] + "..."


# ---------------------------------------------------------------------------------------------
# References


def _converted(v):
    """An argument as rskeras documents converting it (uint16 -> int32, uint32/64 -> int64,
    native byte order), for the NumPy reference."""
    if isinstance(v, np.generic):
        v = np.asarray(v)
    if isinstance(v, np.ndarray):
        dt = v.dtype
        if dt.kind not in "biuf":
            return v
        if dt.kind == "u" and v.size and int(v.max()) >= 2**63:
            raise _Unrepresentable()
        target = {"uint16": "int32", "uint32": "int64", "uint64": "int64"}.get(dt.name, dt.name)
        with np.errstate(all="ignore"):
            return v.astype(np.dtype(target).newbyteorder("="))
    if isinstance(v, list):
        return [_converted(x) for x in v]
    if isinstance(v, tuple):
        return tuple(_converted(x) for x in v)
    return v


class _Unrepresentable(Exception):
    """A uint64 value beyond int64: no rskeras dtype holds it."""


def _unsupported(v, R):
    """Raise Unsupported for values rskeras does not take (complex, strings, objects, Python
    ints beyond int64): for those a clean error is the answer, whatever NumPy does."""
    from tests.fuzz._cases import SPECIALS

    special = tuple(id(s[0]) for k, s in SPECIALS.items() if k in ("bytes", "dict", "set", "object", "complex"))
    if isinstance(v, (np.ndarray, np.generic)):
        if np.asarray(v).dtype.kind not in "biuf":
            raise R.Unsupported("dtype")
    elif isinstance(v, int) and not isinstance(v, bool) and not -(2**63) <= v < 2**63:
        raise R.Unsupported("int beyond int64")
    elif isinstance(v, complex) or id(v) in special:
        raise R.Unsupported("object")
    elif isinstance(v, (list, tuple)):
        for x in v:
            _unsupported(x, R)


def _array_like(v, R, partner_kinds, partner_float=None):
    """An array-like argument as rskeras converts it: lists of Python floats to float32, of
    ints to int32 (int64 when they do not fit), of bools to bool. A bare Python scalar is weak
    (as in JAX and NumPy 2) when an array operand of its kind is present: it then takes that
    operand's dtype (a float is rounded to the widest float operand's dtype; an int stays a
    Python int, which NumPy refuses when it does not fit); otherwise it is converted like a
    list (a float next to an int or bool array computes in float32). None, strings and other
    objects are not array-likes (Unsupported)."""
    if isinstance(v, (list, tuple)) and any(isinstance(x, np.ndarray) for x in v):
        return type(v)(_array_like(x, R, partner_kinds, partner_float) for x in v)  # a sequence of arrays
    if isinstance(v, (np.ndarray, np.generic)):
        return v
    if isinstance(v, bool) and partner_kinds:
        return v
    if isinstance(v, int) and not isinstance(v, bool) and set(partner_kinds) & set("iuf"):
        return v
    if isinstance(v, float) and partner_float is not None:
        with np.errstate(all="ignore"):
            return np.asarray(v, dtype=partner_float)
    if isinstance(v, (bool, int, float, list, tuple)):
        try:
            a = np.asarray(v)
        except ValueError:
            return v  # ragged: NumPy refuses it too
        with np.errstate(all="ignore"):
            if a.dtype.kind == "f":
                return a.astype(np.float32)
            if a.dtype.kind in "iu":
                return a.astype(np.int32) if a.size == 0 or (a.min() >= -(2**31) and a.max() < 2**31) else a
            if a.dtype.kind == "b":
                return a
    raise R.Unsupported("not a numeric array-like")


def _cast_to(v, dt, mode, scalars=False):
    if (
        scalars
        and isinstance(v, (int, float))
        and not isinstance(v, bool)
        and mode in ("out", "float")
        and dt is not None
        and dt.kind == "f"
    ):
        with np.errstate(all="ignore"):  # a weak Python scalar takes the computation's float dtype
            return float(np.asarray(v, dtype=dt))
    if isinstance(v, list):
        return [_cast_to(x, dt, mode) for x in v]
    if isinstance(v, tuple):
        return tuple(_cast_to(x, dt, mode) for x in v)
    if not isinstance(v, np.ndarray) or v.dtype.kind not in "biuf":
        return v
    with np.errstate(all="ignore"):
        if mode == "floats":
            return v.astype(np.float64) if v.dtype.kind == "f" else v
        if mode == "float":
            return v.astype(np.float64)
        if mode == "out":
            v = v.astype(dt)
            return v.astype(np.float64) if v.dtype.kind == "f" else v
    return v


def reference_args(spec, case, out_dtype, R):
    from tests.fuzz._cases import decode

    args = decode(case["args"], tensors=False)
    kwargs = decode(case["kwargs"], tensors=False)
    _unsupported(args, R)
    _unsupported(list(kwargs.values()), R)
    positions = spec.arrays
    if positions == "all":
        positions = tuple(range(len(args)))
    elif positions == "rest":
        positions = tuple(range(1, len(args)))
    partners = [a for i, a in enumerate(args) if i in positions] + [v for k, v in kwargs.items() if k in positions]
    dts = [np.asarray(a).dtype for a in partners if isinstance(a, (np.ndarray, np.generic))]
    kinds = "".join(d.kind for d in dts)
    floats = [d for d in dts if d.kind == "f"]
    widest = max(floats, key=lambda d: d.itemsize) if floats else None
    args = [_array_like(a, R, kinds, widest) if i in positions else a for i, a in enumerate(args)]
    kwargs = {k: _array_like(v, R, kinds, widest) if k in positions else v for k, v in kwargs.items()}
    try:
        args = [_converted(a) for a in args]
        kwargs = {k: _converted(v) for k, v in kwargs.items()}
    except _Unrepresentable:
        if spec.family != "conversion":
            raise R.Unsupported("uint64 beyond int64") from None
        args = decode(case["args"], tensors=False)  # conversion ops judge these themselves
        kwargs = decode(case["kwargs"], tensors=False)
    mode = spec.cast
    if mode == "out" and (out_dtype is None or out_dtype.kind not in "biuf"):
        mode = "floats"
    if mode != "none":
        args = [a if i in spec.keep else _cast_to(a, out_dtype, mode, i in positions) for i, a in enumerate(args)]
        kwargs = {k: v if k in spec.keep else _cast_to(v, out_dtype, mode, k in positions) for k, v in kwargs.items()}
    return args, kwargs


def run_reference(fn, args, kwargs):
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


# ---------------------------------------------------------------------------------------------
# Comparing results


def _float_info(dt):
    if dt.kind == "f":
        fi = np.finfo(dt)
        return float(fi.eps), float(fi.tiny), float(fi.max)
    return 0.0, 0.0, math.inf


def _input_eps(case, ints_as_float32):
    """The largest epsilon among the float array inputs: a float16 operand may be computed
    in float16 before a float32 result is formed (dtype rules aside), so a result is only
    held to the precision of its least precise float input. Integer inputs of float math
    compute in float32 (documented), so they count as float32 when `ints_as_float32`."""
    from tests.fuzz._cases import decode

    found = [0.0]

    def walk(v):
        kind = np.asarray(v).dtype.kind if isinstance(v, (np.ndarray, np.generic)) else None
        if kind == "f":
            found.append(float(np.finfo(np.asarray(v).dtype).eps))
        elif kind in ("b", "i", "u") and ints_as_float32:
            found.append(float(np.finfo(np.float32).eps))
        elif isinstance(v, (list, tuple)):
            for x in v:
                walk(x)

    walk(decode(case["args"], tensors=False))
    walk(list(decode(case["kwargs"], tensors=False).values()))
    return max(found)


EPS_FLOOR = 0.0  # set per case by run_case (see _input_eps)


def array_diff(got, want, tol, atol):
    """Why `got` (the op's result as NumPy) differs from `want`, or None."""
    g, w = np.asarray(got), np.asarray(want)
    if g.shape != w.shape:
        return f"shape {g.shape}, NumPy {w.shape}"
    if g.size == 0:
        return None
    if g.dtype.kind not in "biuf" or w.dtype.kind not in "biuf":
        bad = ~np.asarray(g == w, dtype=bool)
    elif g.dtype.kind in "biu" and w.dtype.kind in "biu":
        bad = g.astype(object) != w.astype(object)
    else:
        eps, tiny, fmax = _float_info(g.dtype)
        eps = max(eps, EPS_FLOOR) if eps else eps
        with np.errstate(all="ignore"):
            wv = (w.astype(g.dtype) if g.dtype.kind == "f" else w).astype(np.float64)
            gv = g.astype(np.float64)
            gn, wn = np.isnan(gv), np.isnan(wv)
            bad = gn != wn
            huge = fmax / 2
            inf_ok = (gv == wv) | ((np.sign(gv) == np.sign(wv)) & (np.abs(gv) >= huge) & (np.abs(wv) >= huge))
            tolerance = np.asarray(atol, dtype=np.float64) * eps + tol * eps * np.abs(wv) + tiny
            close = np.abs(gv - wv) <= tolerance
            ok = np.where(np.isinf(gv) | np.isinf(wv), inf_ok, close)
            bad |= ~gn & ~wn & ~ok
    bad = np.asarray(bad, dtype=bool)
    if not bad.any():
        return None
    at = tuple(int(i) for i in np.argwhere(bad)[0])
    return (
        f"{int(bad.sum())} of {bad.size} values differ; at {at}: got {g[at]!r}, NumPy {w[at]!r} (got dtype {g.dtype})"
    )


def preserve_diff(got, want):
    """Conversion: values kept (floats may round into the result's float dtype; integers exact)."""
    g, w = np.asarray(got), want.value
    if g.shape != w.shape:
        return f"shape {g.shape}, input {w.shape}"
    if g.size == 0:
        return None
    if g.dtype.kind in "biu" and w.dtype.kind in "biu":
        bad = g.astype(object) != w.astype(object)
    else:
        with np.errstate(all="ignore"):
            wv = w.astype(g.dtype) if g.dtype.kind == "f" else w
            bad = ~((g == wv) | (np.isnan(g.astype(np.float64)) & np.isnan(wv.astype(np.float64))))
    if not bad.any():
        return None
    at = tuple(int(i) for i in np.argwhere(bad)[0])
    return f"{int(bad.sum())} of {bad.size} values changed; at {at}: input {w[at]!r} became {g[at]!r} ({g.dtype})"


def diff(got, want, tol, atol):
    from tests.fuzz._op_table import Preserve
    from tests.fuzz._references import Alternatives, MayRefuse

    if isinstance(want, Alternatives):
        reasons = []
        for i, w in enumerate(want):
            a = (
                atol[i]
                if isinstance(atol, Alternatives) and i < len(atol)
                else (atol[0] if isinstance(atol, Alternatives) else atol)
            )
            r = diff(got, w, tol, a)
            if r is None:
                return None
            reasons.append(r)
        return reasons[0] + (f" (and {len(reasons) - 1} other accepted answers differ)" if len(reasons) > 1 else "")
    if isinstance(want, Preserve):
        return preserve_diff(got, want)
    if isinstance(want, MayRefuse):
        return diff(got, want.value, tol, atol)
    if isinstance(want, (list, tuple)) and not isinstance(got, np.ndarray):
        if not isinstance(got, (list, tuple)) or len(got) != len(want):
            return f"{len(got) if isinstance(got, (list, tuple)) else type(got).__name__} outputs, NumPy {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            a = atol[i] if isinstance(atol, (list, tuple)) else atol
            r = diff(g, w, tol, a)
            if r:
                return f"output {i}: {r}"
        return None
    return array_diff(got, want, tol, atol)


def abs_bound(spec, args, kwargs, want):
    """The reference on |inputs| times the largest input size: the rounding-error scale of sums,
    products of sums, convolutions."""
    sizes = [1]

    def absolute(v):
        if isinstance(v, np.ndarray) and v.dtype.kind == "f":
            sizes.append(v.size)
            return np.abs(v)
        if isinstance(v, np.ndarray):
            sizes.append(v.size)
        if isinstance(v, list):
            return [absolute(x) for x in v]
        if isinstance(v, tuple):
            return tuple(absolute(x) for x in v)
        return v

    a = [absolute(v) for v in args]
    k = {n: absolute(v) for n, v in kwargs.items()}
    try:
        bound = run_reference(spec.ref, a, k)
    except Exception:
        return 0.0
    from tests.fuzz._references import Alternatives

    if isinstance(bound, Alternatives):
        bound = bound[0]
    n = 4.0 * max(sizes)

    def scale(b):
        if isinstance(b, (list, tuple)):
            return [scale(x) for x in b]
        with np.errstate(all="ignore"):
            return np.abs(np.asarray(b, dtype=np.float64)) * n

    return scale(bound)


# ---------------------------------------------------------------------------------------------
# Running one case


def materialize(result, tensor_type):
    """The result as NumPy values (and its repr exercised), or raise."""
    if isinstance(result, tensor_type):
        if result.ndim <= 16 or result.size <= 10**4:
            repr(result)  # (NumPy itself takes seconds to print 2**20 elements of rank 30: no summary)
        arr = np.asarray(result)
        shape = tuple(result.shape)
        if shape != arr.shape:
            raise _BadResult(f"tensor says shape {shape}, np.asarray gives {arr.shape}")
        if str(result.dtype) != arr.dtype.name and str(result.dtype) != "bfloat16":
            raise _BadResult(f"tensor says dtype {result.dtype}, np.asarray gives {arr.dtype}")
        return arr
    if isinstance(result, (list, tuple)):
        return type(result)(materialize(r, tensor_type) for r in result)
    return result


class _BadResult(Exception):
    pass


def _first_dtype(got):
    if isinstance(got, np.ndarray):
        return got.dtype
    if isinstance(got, (list, tuple)) and got:
        return _first_dtype(got[0])
    if isinstance(got, (bool, np.bool_)):
        return np.dtype(bool)
    return None


def run_case(case, table, R, tensor_type):
    from tests.fuzz._cases import decode

    spec = table.get(case["op"])
    if spec is None:
        return {"o": "harness_error", "msg": f"no spec for {case['op']}"}
    try:
        args = decode(case["args"])
        kwargs = decode(case["kwargs"])
    except BaseException as e:  # a tensor argument that cannot be made is a finding of its own
        kind = classify(e)
        if kind:
            return {"o": kind, "exc": type(e).__name__, "msg": "while building a tensor argument: " + _msg(e)}
        return {"o": "harness_error", "msg": f"decode: {e!r}"}
    fn = spec.function()
    big = case.get("big", False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = fn(*args, **kwargs)
    except BaseException as e:
        kind = classify(e)
        if kind:
            return {"o": kind, "exc": f"{type(e).__module__}.{type(e).__name__}", "msg": _msg(e)}
        out = {"o": "error", "exc": type(e).__name__, "msg": _msg(e)}
        if big or (spec.ref is None and "valid" not in spec.extra):
            return out
        if "valid" in spec.extra:
            raw = decode(case["args"], tensors=False), decode(case["kwargs"], tensors=False)
            if spec.extra["valid"](*raw[0], **raw[1]):
                return {
                    "o": "error_where_numpy_answers",
                    "exc": type(e).__name__,
                    "msg": _msg(e),
                    "detail": "a valid call (per the docs) failed",
                }
            return out
        R.OUT_DTYPE = None
        try:
            ra, rk = reference_args(spec, case, None, R)
            want = run_reference(spec.ref, ra, rk)
        except Exception:
            return out
        if isinstance(want, R.MayRefuse):
            return out
        return {
            "o": "error_where_numpy_answers",
            "exc": type(e).__name__,
            "msg": _msg(e),
            "detail": "NumPy: " + _short(want),
        }
    try:
        got = materialize(result, tensor_type)
    except _BadResult as e:
        return {"o": "bad_result", "msg": str(e)}
    except BaseException as e:
        kind = classify(e)
        if kind:
            return {
                "o": kind,
                "exc": f"{type(e).__module__}.{type(e).__name__}",
                "msg": "converting the result: " + _msg(e),
            }
        if big:
            return {"o": "ok", "checked": False, "note": "result too big to convert"}
        return {"o": "bad_result", "exc": type(e).__name__, "msg": "converting the result: " + _msg(e)}
    if big:
        return {"o": "ok", "checked": False}
    _emit({"i": case["i"], "phase": "checking"})  # from here on, time is the suite's, not the op's
    if spec.check is not None:
        raw_args, raw_kwargs = decode(case["args"], tensors=False), decode(case["kwargs"], tensors=False)
        if not isinstance(got, np.ndarray):
            return {"o": "mismatch", "msg": f"returned {type(got).__name__}"}
        try:
            with np.errstate(all="ignore"):
                why = spec.check(got, *raw_args, **raw_kwargs)
        except R.Unsupported:
            return {"o": "ok", "checked": False}
        except NUMPY_ERRORS:
            return {"o": "ok", "checked": False}
        return {"o": "mismatch", "msg": why} if why else {"o": "ok", "checked": True}
    if spec.ref is None:
        return {"o": "ok", "checked": False}
    out_dtype = _first_dtype(got)
    R.OUT_DTYPE = out_dtype
    try:
        ra, rk = reference_args(spec, case, out_dtype, R)
        want = run_reference(spec.ref, ra, rk)
    except R.Unsupported:
        return {"o": "ok", "checked": False}
    except NUMPY_ERRORS as e:
        if spec.strict and isinstance(e, (ValueError, IndexError)):
            return {
                "o": "no_error_where_numpy_raises",
                "msg": f"NumPy: {type(e).__name__}: {_msg(e)}",
                "detail": "got " + _short(got),
            }
        return {"o": "ok", "checked": False}
    except Exception as e:
        return {
            "o": "harness_error",
            "msg": f"reference {type(e).__name__}: {_msg(e)}",
            "detail": traceback.format_exc()[-1500:],
        }
    if spec.cast == "float" and out_dtype is not None and out_dtype.kind == "f" and out_dtype.itemsize < 8:
        # NumPy's own float32/float16 functions are a reference too (its float32 cos(2**31) is
        # as far from the float64 value as any other float32 implementation)
        try:
            narrow = [_cast_to(a, out_dtype, "out") if isinstance(a, np.ndarray) else a for a in ra]
            narrow = [a.astype(out_dtype) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in narrow]
            alt = run_reference(spec.ref, narrow, rk)
            if not isinstance(want, (R.Alternatives, R.MayRefuse, tuple, list)):
                want = R.Alternatives([want, alt])
        except Exception:
            pass
    if spec.atol == "abs":
        atol = abs_bound(spec, ra, rk, want)
    elif callable(spec.atol):
        try:
            with np.errstate(all="ignore"):
                atol = spec.atol(*ra, **rk)
        except Exception:
            atol = 0.0
    else:
        atol = 0.0
    global EPS_FLOOR
    EPS_FLOOR = _input_eps(case, spec.cast == "float") if spec.cast in ("float", "out") else 0.0
    try:
        why = diff(got, want, spec.tol, atol)
    except Exception as e:
        return {
            "o": "harness_error",
            "msg": f"compare {type(e).__name__}: {_msg(e)}",
            "detail": traceback.format_exc()[-1500:],
        }
    if why:
        return {"o": "mismatch", "msg": why}
    return {"o": "ok", "checked": True}


# ---------------------------------------------------------------------------------------------


def _vm_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _emit(obj):
    _REAL_STDOUT.write(json.dumps(obj) + "\n")
    _REAL_STDOUT.flush()


def main():
    global _REAL_STDOUT
    _REAL_STDOUT = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything else printed goes to stderr, not into the outcome stream
    sys.stdout = sys.stderr
    cases = json.load(sys.stdin)

    import rskeras  # noqa: F401
    from rskeras import ops

    from tests.fuzz import _references as R
    from tests.fuzz._op_table import SELFTEST, TABLE

    # warm up the thread pools before limiting the address space (thread stacks are mapped)
    a = ops.convert_to_tensor(np.ones((512, 512), np.float32))
    np.asarray(ops.sum(ops.matmul(a, a) + a))
    if os.environ.get("RSKERAS_FUZZ_NO_RLIMIT") != "1":
        limit = _vm_bytes() + HEADROOM
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    warnings.simplefilter("ignore")
    _emit({"ready": True})
    for case in cases:
        sys.stderr.write(f"\n@@case {case['i']}\n")
        sys.stderr.flush()
        t0 = time.perf_counter()
        try:
            out = run_case(case, {**TABLE, **SELFTEST}, R, ops.Tensor)
        except BaseException as e:  # never lose the line: the parent counts on one per case
            out = {
                "o": "harness_error",
                "msg": f"worker {type(e).__name__}: {_msg(e)}",
                "detail": traceback.format_exc()[-1500:],
            }
        out["i"] = case["i"]
        out["t"] = round(time.perf_counter() - t0, 4)
        _emit(out)


if __name__ == "__main__":
    main()

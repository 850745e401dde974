"""Hypothesis strategies for hostile op arguments, as the JSON encodings of `_cases`.

Arrays come in every NumPy dtype (bool, int8..int64, uint8..uint64, float16/32/64,
complex64/128, str, object), every memory layout of `_cases` (Fortran, transposed, strided,
negative strides, big-endian, read-only, zero-stride), ranks 0 to 64, sizes 0 and 1, values
with NaN, +-inf, -0.0, subnormals, float32/float16 overflow and integer extremes. Integer
arguments (sizes, axes, counts, windows) come small, negative, huge (2**31 .. 2**63 - 1) or
beyond int64 (2**63, 2**64, 10**30).
"""

from __future__ import annotations

import math

import numpy as np
from tests.conftest import broadcastable_shapes, shapes
from hypothesis import strategies as st

from . import _cases as C

SUPPORTED = (
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "float32",
    "float64",
)
UNSUPPORTED = ("complex64", "complex128", "<U3", "object")
ALL_DTYPES = SUPPORTED + UNSUPPORTED
FLOATS = ("float16", "float32", "float64")
INTS = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
# float32 dominates real use: it gets the most draws.
_WEIGHTED = ("float32",) * 8 + ("float64", "float64", "int32", "int32", "int64", "bool") + ALL_DTYPES

HUGE = (2**31, 2**32, 2**40, 2**62, 2**63 - 1)
BEYOND_INT64 = (2**63, 2**64, 10**30)
NEGATIVE = (-1, -2, -(2**31), -(2**63))
# Every real allocation of a case stays tiny; a "big" size is one no machine can hold.
ABSURD_ELEMENTS = 2**40

FLOAT_SPECIALS = (
    math.nan,
    math.inf,
    -math.inf,
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    -2.5,
    3.0,
    1e-30,
    -1e-30,
    1e-45,
    1e-310,
    1e30,
    -1e30,
    3.4e38,
    -3.4e38,
    65504.0,
    70000.0,
    2147483648.0,
    -2147483904.0,
    3e9,
    9.3e18,
    1e300,
)
MODERATE_SPECIALS = (math.nan, math.inf, -math.inf, 0.0, -0.0, 1.0, -1.0, 0.5)


def weighted(*pairs):
    """One of the strategies, drawn with the given weights: `weighted((8, a), (1, b))`.
    (`st.one_of(a, a, b)` does not weight: hypothesis merges equal branches.)"""
    total = sum(w for w, _ in pairs)

    @st.composite
    def pick(draw):
        k = draw(st.integers(0, total - 1))
        for w, strategy in pairs:
            if k < w:
                return draw(strategy)
            k -= w
        raise AssertionError("unreachable")

    return pick()


def mostly(valid, hostile, weight=4):
    """`valid` `weight` times out of `weight + 1`, else `hostile`."""
    return weighted((weight, valid), (1, hostile))


def dtypes(which="all"):
    if which == "all":
        return st.sampled_from(_WEIGHTED)
    if which == "supported":
        return st.sampled_from(tuple(d for d in _WEIGHTED if d in SUPPORTED))
    if which == "float":
        return st.sampled_from(("float32",) * 4 + FLOATS)
    if which == "int":
        return st.sampled_from(("int32",) * 3 + INTS)
    return st.sampled_from(which)


# ---------------------------------------------------------------------------------------------
# Element values


def elements(dtype, profile="any"):
    """Values for an array of `dtype`. Profiles: "any" (everything hostile), "moderate"
    (|x| <= 100 plus NaN/inf/-0), "grid" (integers in [-10, 10] plus NaN/inf/-0: sums and
    variances stay well-conditioned), "finite_grid" (the same without NaN/inf), "finite"
    (|x| <= 100), "positive" (0 < x <= 100), "unit" ([0, 1]), "index" (small ints, some negative
    or out of range), "label" (class ids)."""
    dt = np.dtype(dtype)
    kind = dt.kind
    if kind == "b":
        return st.booleans()
    if kind in "iu":
        info = np.iinfo(dt)
        if profile in ("grid", "finite_grid"):
            return st.integers(max(info.min, -10), min(info.max, 10))
        if profile in ("index", "label"):
            lo, hi = max(info.min, -6), min(info.max, 8)
            return st.integers(lo, hi)
        if profile in ("moderate", "finite", "positive", "unit"):
            lo = 0 if profile in ("positive", "unit") else max(info.min, -100)
            return st.integers(lo, min(info.max, 1 if profile == "unit" else 100))
        extremes = [
            v
            for v in (
                info.min,
                info.max,
                info.min + 1,
                info.max - 1,
                0,
                1,
                -1,
                2,
                -2,
                127,
                128,
                255,
                256,
                2**31 - 1,
                2**31,
                2**63 - 1,
            )
            if info.min <= v <= info.max
        ]
        return st.one_of(
            st.sampled_from(extremes),
            st.integers(info.min, info.max),
            st.integers(-8, 8).filter(lambda v: info.min <= v <= info.max),
        )
    if kind == "f":
        if profile == "finite_grid":
            return st.integers(-10, 10).map(float)
        if profile == "grid":
            grid = st.integers(-10, 10).map(float)
            return mostly(grid, st.sampled_from(MODERATE_SPECIALS))
        if profile == "finite":
            return st.floats(-100, 100)
        if profile == "positive":
            return st.floats(1e-3, 100)
        if profile == "unit":
            return st.floats(0, 1)
        if profile == "moderate":
            return weighted((1, st.sampled_from(MODERATE_SPECIALS)), (2, st.floats(-100, 100)))
        return st.one_of(st.sampled_from(FLOAT_SPECIALS), st.floats(-1e6, 1e6), st.floats(allow_nan=True))
    if kind == "c":
        part = elements("float64", "moderate")
        return st.tuples(part, part).map(list)
    if kind == "U":
        return st.sampled_from(("", "a", "1.5", "nan", "-1", "inf"))
    return st.sampled_from((0, 1, -1, 2.5, None, "a", 2**70, math.nan))


# ---------------------------------------------------------------------------------------------
# Shapes


def high_rank_shape():
    """Ranks 5..64 (NumPy's limit), size-1 dimensions with at most two of length 2 or 0."""

    @st.composite
    def build(draw):
        rank = draw(st.sampled_from((5, 8, 16, 32, 33, 63, 64)))
        shape = [1] * rank
        for _ in range(draw(st.integers(0, 2))):
            shape[draw(st.integers(0, rank - 1))] = draw(st.sampled_from((0, 2)))
        return shape

    return build()


def array_shapes(min_dims=0, max_dims=4, max_side=5, high_rank=True):
    small = shapes(min_dims=min_dims, max_dims=max_dims, max_side=max_side).map(list)
    if not high_rank or max_dims < 5:
        return small
    return mostly(small, high_rank_shape(), 7)


# ---------------------------------------------------------------------------------------------
# Arrays


LAYOUTS = ("C",) * 6 + ("F", "T", "step", "neg", "be", "ro", "bcast")


@st.composite
def arrays(draw, dtype="all", shape=None, profile="any", layouts=LAYOUTS, tensor=0.15, **shape_kw):
    """An `$arr` (or `$tensor`) encoding. `dtype`: a name, or a group for `dtypes()`;
    `shape`: a list or a strategy (default `array_shapes(**shape_kw)`)."""
    if isinstance(dtype, st.SearchStrategy):
        dtype = draw(dtype)
    dt = dtype if dtype in ALL_DTYPES or dtype == "bfloat16" else draw(dtypes(dtype))
    if shape is None:
        shape = array_shapes(**shape_kw)
    shape = list(draw(shape)) if isinstance(shape, st.SearchStrategy) else list(shape)
    layout = draw(st.sampled_from(layouts))
    spec = {"dtype": dt, "shape": shape, "layout": layout}
    fill = C._fill_shape(spec)
    n = math.prod(fill) if fill else 1
    elem = elements(dt, profile)
    if n <= C.EXPLICIT_MAX:
        spec["values"] = draw(st.lists(elem, min_size=n, max_size=n))
    else:
        spec["values"] = None
        spec["pal"] = draw(st.lists(elem, min_size=1, max_size=6))
        spec["seed"] = draw(st.integers(0, 2**16))
    arr = {"$arr": spec}
    if dt in SUPPORTED and dt != "uint64" and layout == "C" and tensor and draw(st.floats(0, 1)) < tensor:
        return {"$tensor": arr, "view": draw(st.sampled_from(("C", "C", "T", "step")))}
    return arr


def huge_zero_stride_array(dtype="float32"):
    """A zero-stride view of absurd size: `np.broadcast_to(x, (2**40,))` and friends."""

    @st.composite
    def build(draw):
        target = draw(
            st.sampled_from(([2**40], [2**20, 2**21], [3, 2**58], [2**30, 2**30]))
        )  # NumPy's limit: 2**63 bytes
        return {
            "$arr": {
                "dtype": dtype,
                "shape": [1],
                "layout": "huge",
                "target": target,
                "values": [draw(elements(dtype, "moderate"))],
            }
        }

    return build()


def python_values():
    """Things that are not arrays but reach ops anyway."""
    return st.one_of(
        st.integers(-5, 5),
        st.sampled_from((2**31, 2**63, 2**70, -(2**70))),
        st.floats(allow_nan=True),
        st.booleans(),
        st.none(),
        st.just("abc"),
        st.sampled_from(("ellipsis", "bytes", "dict", "set", "object", "complex")).map(C.special),
        st.just([[1.0, 2.0], [3.0]]),  # ragged
        st.just([1, "a"]),
        st.just([[]]),
        st.just([[1, 2], [3, 4]]),
        st.just([1.5, math.nan]),
        st.tuples(
            st.sampled_from(("float16", "float32", "int8", "int64", "bool", "float64")),
            st.sampled_from((0, 1, -1, 100)),
        ).map(lambda p: {"$np": list(p)}),
        st.sampled_from((0, 1, 2**64 - 1)).map(lambda v: {"$np": ["uint64", v]}),
    )


def any_x(dtype="all", profile="any", **kw):
    """An array argument, sometimes a Python value or an absurd zero-stride array instead."""
    return weighted((30, arrays(dtype, profile=profile, **kw)), (2, python_values()), (1, huge_zero_stride_array()))


# ---------------------------------------------------------------------------------------------
# Integer arguments


def sizes(small=(0, 1, 2, 3, 5)):
    """A size/count: mostly small, sometimes negative, huge or beyond int64."""
    return weighted(
        (6, st.sampled_from(small)),
        (1, st.sampled_from(NEGATIVE)),
        (1, st.sampled_from(HUGE)),
        (1, st.sampled_from(BEYOND_INT64)),
    )


def hostile_scalars():
    return st.one_of(
        st.sampled_from((1.5, math.nan, math.inf, True, "1", None)),
        st.sampled_from(("complex", "object")).map(C.special),
    )


def shape_args(max_dims=4):
    """A `shape` argument: a tuple or list of sizes, an int, or something worse."""
    dims = st.lists(sizes(), min_size=0, max_size=max_dims)
    return st.one_of(
        dims.map(lambda d: C.tup(*d)),
        dims.map(list),
        dims.map(lambda d: C.tup(*d)),
        sizes(),
        st.lists(st.sampled_from((1, 2)), min_size=5, max_size=65).map(lambda d: C.tup(*d)),
        hostile_scalars(),
        st.just([2.0, 3.0]),
        st.just(C.tup(2**31, 2**31)),
        st.just(C.tup(0, 2**62, 2**62)),
    )


def axes(ndim, allow_none=True, allow_tuple=True):
    """An `axis` argument for a rank-`ndim` input: valid (int, negative, tuple, None) most
    of the time, else out of range, repeated, huge or not an int."""
    valid = []
    if allow_none:
        valid.append(st.none())
    if ndim > 0:
        valid.append(st.integers(-ndim, ndim - 1))
        if allow_tuple:
            valid.append(
                st.lists(st.integers(-ndim, ndim - 1), min_size=1, max_size=ndim, unique_by=lambda a: a % ndim).map(
                    lambda a: C.tup(*a)
                )
            )
    bad = [
        st.sampled_from((ndim, -ndim - 1, 2**62, -(2**63), 2**64, 1.5, "0", True)),
        st.just(C.tup(0, 0)),
        st.just([0, -1]),
    ]
    if not valid:
        return st.one_of(*bad)
    return mostly(st.one_of(*valid), st.one_of(*bad))


def broadcast_pair_shapes(max_dims=4):
    """Two shapes that broadcast (mostly) or do not."""
    ok = broadcastable_shapes(2, max_dims=max_dims, max_side=4).map(lambda b: [list(s) for s in b.input_shapes])
    bad = st.tuples(array_shapes(1, 3, 4, False), array_shapes(1, 3, 4, False)).map(list)
    return mostly(ok, bad)


def is_big(case) -> bool:
    """Whether a case asks for an absurd size somewhere (no NumPy reference is computed)."""

    def walk(v):
        if isinstance(v, bool):
            return False
        if isinstance(v, int):
            return abs(v) >= 2**31
        if isinstance(v, list):
            return any(walk(x) for x in v)
        if isinstance(v, dict):
            if "$arr" in v:
                return v["$arr"]["layout"] == "huge"
            if "$tensor" in v or "$np" in v:
                return False
            return any(walk(x) for x in v.values())
        return False

    return walk(case["args"]) or walk(case["kwargs"])

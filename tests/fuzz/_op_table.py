"""The table of public ops under hostile-input fuzzing: one `Spec` per op.

A spec names the op, its family (one test per family), a hypothesis strategy for its
arguments (`(args, kwargs)` in the JSON encoding of `_cases`), and how a result is judged:

  ref     a NumPy reference (`_references` or a NumPy function), or None; a check of
          properties (`check`) stands in for random ops
  cast    how array arguments reach the reference, after the conversion rskeras documents
          (uint16 -> int32, uint32/uint64 -> int64, native byte order):
            "none"    as they are
            "floats"  float arrays as float64
            "float"   every numeric array as float64 (ops computing in a float dtype)
            "out"     every array in the result's dtype (so integer wrap-around follows the
                      dtype rskeras chose), floats then widened to float64
          `keep` lists arguments left alone (e.g. `where`'s condition)
  tol     allowed error in units of the result dtype's epsilon (0: exact, up to subnormals)
  atol    extra absolute error in epsilons: "abs" (the reference on |inputs| times the input
          size: the rounding bound of sums and products) or a function of the reference args
  strict  when NumPy raises ValueError/IndexError for the arguments, rskeras must raise too
  arrays  the arguments (positions or keyword names) that are array-likes: there Python
          scalars and lists are converted as rskeras documents (floats -> float32, ints ->
          int32 or int64), and None, strings and objects are unsupported (a clean error is
          the answer, whatever NumPy makes of them)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st

from . import _cases as C
from . import _hostile as H
from . import _references as R


@dataclass
class Spec:
    name: str
    family: str
    args: Any  # strategy of (args, kwargs)
    ref: Callable | None = None
    cast: str = "floats"
    keep: tuple = ()
    tol: float = 0
    atol: Any = None
    strict: bool = True
    arrays: tuple = (0,)
    check: Callable | None = None
    call: Callable | None = None
    template: str | None = None
    extra: dict = field(default_factory=dict)

    def function(self):
        if self.call is not None:
            return self.call
        if self.name.startswith("random."):
            import rskeras.random

            return getattr(rskeras.random, self.name.split(".", 1)[1])
        from rskeras import ops

        return getattr(ops, self.name)


# ---------------------------------------------------------------------------------------------
# Argument helpers


def shape_of(enc):
    """The shape of an encoded array argument (None for other values)."""
    if isinstance(enc, dict):
        if "$tensor" in enc:
            enc = enc["$tensor"]
        if "$arr" in enc:
            a = enc["$arr"]
            return list(a["target"]) if a["layout"] == "huge" else list(a["shape"])
        if "$np" in enc:
            return []
    if isinstance(enc, (int, float)) and not isinstance(enc, bool):
        return []
    return None


def ndim_of(enc, default=1):
    s = shape_of(enc)
    return default if s is None else len(s)


def call(*args, **kwargs):
    """(args, kwargs) from strategies; kwargs given as `name=(strategy, optional)` pairs or
    plain strategies (always present)."""
    required = {k: v for k, v in kwargs.items() if not isinstance(v, tuple)}
    optional = {k: v[0] for k, v in kwargs.items() if isinstance(v, tuple)}
    return st.tuples(st.tuples(*args).map(list), st.fixed_dictionaries(required, optional=optional))


def opt(strategy):
    return (strategy, True)


X = H.any_x  # a hostile array (or worse)


def grid_floats(**kw):
    """Small integers as floats, with NaN/inf: sums and variances stay well-conditioned."""
    return H.arrays("float", profile="grid", **kw)


@st.composite
def unary(draw, dtype="all", profile="any", **kwargs):
    x = draw(X(dtype, profile))
    kw = {k: draw(v) for k, v in kwargs.items() if draw(st.booleans())}
    return [x], kw


@st.composite
def binary(draw, dtype="all", profile="any"):
    s1, s2 = draw(H.broadcast_pair_shapes())
    d1 = draw(H.dtypes(dtype))
    d2 = d1 if draw(st.booleans()) else draw(H.dtypes(dtype))
    x1 = draw(H.arrays(d1, shape=s1, profile=profile))
    x2 = draw(H.arrays(d2, shape=s2, profile=profile))
    form = draw(st.sampled_from(("arrays",) * 6 + ("scalar_right", "scalar_left", "python")))
    scalar = st.one_of(
        st.sampled_from((0, 1, -1, 2, 0.5, -0.0, math.nan, math.inf, 300, 1e10, True)), st.floats(-100, 100)
    )
    if form == "scalar_right":
        x2 = draw(scalar)
    elif form == "scalar_left":
        x1 = draw(scalar)
    elif form == "python":
        x1 = draw(H.python_values())
    return [x1, x2], {}


@st.composite
def with_axis(draw, arrays=None, names=("axis",), allow_none=True, allow_tuple=True, required=False, **kwargs):
    x = draw(arrays if arrays is not None else X())
    nd = ndim_of(x)
    kw = {}
    for n in names:
        if required or draw(st.integers(0, 4)):
            kw[n] = draw(H.axes(nd, allow_none, allow_tuple))
    for k, v in kwargs.items():
        if draw(st.booleans()):
            kw[k] = draw(v)
    return [x], kw


def abs_bound():
    return "abs"


def spread(x, *args, **kwargs):
    """n * max|x|**2 (in epsilons): the rounding bound of variances on finite data."""
    x = np.asarray(x, dtype=np.float64)
    fin = np.abs(x[np.isfinite(x)])
    m = float(fin.max()) if fin.size else 0.0
    return 8.0 * max(x.size, 1) * (m * m + m + 1.0)


def magnitude(x, *args, **kwargs):
    """n * max|x| (in epsilons)."""
    x = np.asarray(x, dtype=np.float64)
    fin = np.abs(x[np.isfinite(x)])
    return 8.0 * max(x.size, 1) * ((float(fin.max()) if fin.size else 0.0) + 1.0)


# ---------------------------------------------------------------------------------------------
# Conversion


DTYPE_NAMES = (
    "float32",
    "float64",
    "float16",
    "bfloat16",
    "int32",
    "int64",
    "int8",
    "int16",
    "uint8",
    "bool",
    "uint16",
    "uint32",
    "uint64",
    "complex64",
    "str",
    "object",
    "float8",
    "",
)
dtype_args = H.mostly(
    st.sampled_from(DTYPE_NAMES),
    st.one_of(st.sampled_from((None, 5)), st.sampled_from(("np.float32", "np.dtype.float32")).map(C.special)),
)


class Preserve:
    """The result must hold these values: floats may round to the result's float dtype,
    integers must be exact (no wrap-around into the result's dtype)."""

    def __init__(self, value):
        self.value = np.asarray(value)


def convert_ref(x, dtype=None):
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise R.Unsupported("dtype")
    want = R.cast(arr, dtype) if dtype is not None else Preserve(arr)
    if arr.dtype.kind == "u" and arr.size and int(arr.max()) >= 2**63:
        return R.MayRefuse(want)  # no rskeras dtype holds it: refusing is right, wrapping is not
    return want


def identity_ref(x):
    return convert_ref(x)


def cast_ref(x, dtype):
    if dtype is None:
        raise R.Unsupported("cast needs a dtype")
    want = convert_ref(x, dtype)
    if isinstance(x, float) and dtype in ("float64", "float16"):
        # Keras converts a Python float to floatx (float32) before casting it
        via32 = R.cast(np.float32(x), dtype)
        return R.Alternatives([want, via32])
    return want


def conversion_x():
    return H.weighted(
        (6, X()), (1, H.arrays(shape=H.high_rank_shape())), (1, H.huge_zero_stride_array()), (1, H.python_values())
    )


CONVERSION = [
    Spec(
        "convert_to_tensor",
        "conversion",
        unary(dtype="all") | call(conversion_x(), dtype=opt(dtype_args)),
        convert_ref,
        cast="none",
        arrays=(),
    ),
    Spec("cast", "conversion", call(conversion_x(), dtype_args), cast_ref, cast="none", arrays=()),
    Spec("convert_to_numpy", "conversion", call(conversion_x()), identity_ref, cast="none", arrays=()),
    Spec("stop_gradient", "conversion", call(conversion_x()), identity_ref, cast="none", arrays=()),
    Spec("is_tensor", "conversion", call(conversion_x()), arrays=()),
    Spec("dtype", "conversion", call(conversion_x()), arrays=()),
    Spec("shape", "conversion", call(conversion_x()), np.shape, cast="none", arrays=()),
    Spec("size", "conversion", call(conversion_x()), np.size, cast="none", arrays=()),
    Spec("ndim", "conversion", call(conversion_x()), np.ndim, cast="none", arrays=()),
]


# ---------------------------------------------------------------------------------------------
# Element-wise


def _unary_float(name, ref, **kw):
    return Spec(name, "elementwise", unary(**kw.pop("gen", {})), ref, cast="float", tol=kw.pop("tol", 16), **kw)


def _scale_of_x(x, *args, **kwargs):
    """16 (|x| + 1) epsilons, element-wise: compositions such as x * sigmoid(x) or
    0.5 x (1 + tanh(...)) lose a few bits to cancellation in float32."""
    with np.errstate(all="ignore"):
        return 16.0 * (np.abs(np.asarray(x, dtype=np.float64)) + 1.0)


def _rsqrt(x):
    return 1.0 / np.sqrt(x)


ELEMENTWISE = [
    *[
        _unary_float(n, getattr(np, n))
        for n in (
            "sqrt",
            "exp",
            "log",
            "tanh",
            "expm1",
            "log1p",
            "log2",
            "log10",
            "sin",
            "cos",
            "tan",
            "arcsin",
            "arccos",
            "arctan",
            "sinh",
            "cosh",
            "arcsinh",
            "arccosh",
            "arctanh",
        )
    ],
    _unary_float("rsqrt", _rsqrt),
    _unary_float("reciprocal", np.reciprocal, tol=2),
    _unary_float("sigmoid", R.sigmoid, atol=_scale_of_x),
    _unary_float("softplus", lambda x: np.logaddexp(x, 0.0), atol=_scale_of_x),
    _unary_float("relu", lambda x: np.maximum(x, 0.0), tol=0),
    _unary_float("relu6", R.relu6, tol=0),
    _unary_float("silu", lambda x: x * R.sigmoid(x), tol=32, atol=_scale_of_x),
    _unary_float("swish", lambda x: x * R.sigmoid(x), tol=32, atol=_scale_of_x),
    _unary_float("log_sigmoid", R.log_sigmoid, tol=32),  # jax.nn.log_sigmoid is accurate for tiny results
    _unary_float("hard_sigmoid", R.hard_sigmoid, tol=4),
    _unary_float("hard_silu", lambda x: x * R.hard_sigmoid(x), tol=8, atol=_scale_of_x),
    _unary_float("hard_swish", lambda x: x * R.hard_sigmoid(x), tol=8, atol=_scale_of_x),
    _unary_float("selu", R.selu, tol=32),  # as elu
    _unary_float("softsign", lambda x: x / (1.0 + np.abs(x)), tol=4, atol=_scale_of_x),
    _unary_float("erf", R.erf, tol=32),
    _unary_float("gelu", R.gelu, tol=64, gen={"approximate": st.booleans()}, atol=_scale_of_x),
    _unary_float("elu", R.elu, tol=32, gen={"alpha": st.sampled_from((1.0, 0.5, 0.0, -1.0, math.nan, 1e30))}),
    _unary_float(
        "leaky_relu",
        R.leaky_relu,
        tol=2,
        gen={"negative_slope": st.sampled_from((0.2, 0.0, 1.0, -1.0, math.nan, math.inf))},
    ),
    *[
        Spec(n, "elementwise", unary(), f, cast="out")
        for n, f in (
            ("abs", np.abs),
            ("absolute", np.abs),
            ("negative", np.negative),
            ("square", np.square),
            ("sign", np.sign),
        )
    ],
    *[Spec(n, "elementwise", unary(), getattr(np, n), cast="floats") for n in ("floor", "ceil")],
    *[
        Spec(n, "elementwise", unary(), getattr(np, n), cast="none")
        for n in ("isnan", "isinf", "isfinite", "logical_not")
    ],
    Spec(
        "round",
        "elementwise",
        unary(decimals=st.one_of(st.integers(-3, 3), st.sampled_from((400, -400, 2**62, 1.5)))),
        R.round_,
        cast="none",
        tol=2,
    ),
    Spec(
        "nan_to_num",
        "elementwise",
        unary(
            nan=st.sampled_from((0.0, 1e10, math.nan, -5)),
            posinf=st.sampled_from((None, 1.0, math.inf, 1e300)),
            neginf=st.sampled_from((None, -1.0, -math.inf)),
        ),
        R.nan_to_num,
        cast="none",
    ),
    *[
        Spec(n, "elementwise", binary(), getattr(np, n), cast="out", arrays=(0, 1))
        for n in ("add", "subtract", "multiply", "maximum", "minimum")
    ],
    Spec("divide", "elementwise", binary(), np.true_divide, cast="float", tol=2, arrays=(0, 1)),
    Spec("true_divide", "elementwise", binary(), np.true_divide, cast="float", tol=2, arrays=(0, 1)),
    Spec("floor_divide", "elementwise", binary(), R.floor_divide, cast="out", tol=2, arrays=(0, 1)),
    Spec("mod", "elementwise", binary(), R.mod, cast="out", tol=2, atol=magnitude, arrays=(0, 1)),
    Spec("power", "elementwise", binary(), R.power, cast="out", tol=32, arrays=(0, 1)),
    Spec("arctan2", "elementwise", binary(), np.arctan2, cast="float", tol=16, arrays=(0, 1)),
    Spec("divide_no_nan", "elementwise", binary(), R.divide_no_nan, cast="float", tol=2, arrays=(0, 1)),
    *[
        Spec(n, "elementwise", binary(), R.compare_op(getattr(np, n)), cast="none", arrays=(0, 1))
        for n in ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal")
    ],
    *[
        Spec(n, "elementwise", binary(), getattr(np, n), cast="none", arrays=(0, 1))
        for n in ("logical_and", "logical_or")
    ],
]


@st.composite
def where_args(draw):
    shapes = draw(H.broadcastable_shapes(3, max_dims=3, max_side=3))
    cond = draw(H.arrays("all", shape=list(shapes.input_shapes[0])))
    d = draw(H.dtypes("supported"))
    x1 = draw(H.arrays(d, shape=list(shapes.input_shapes[1])))
    x2 = draw(
        st.one_of(
            H.arrays(d, shape=list(shapes.input_shapes[2])),
            H.arrays("all", shape=list(shapes.input_shapes[2])),
            st.sampled_from((0.0, math.nan, 1)),
        )
    )
    if draw(st.integers(0, 9)) == 0:
        return [cond, x1], {}
    return [cond, x1, x2], {}


bounds = st.one_of(
    st.floats(-10, 10),
    st.sampled_from((math.nan, math.inf, -math.inf, 0, 1, "1", None)),
    H.arrays("float32", shape=[2]),
)

ELEMENTWISE += [
    Spec("where", "elementwise", where_args(), R.where, cast="out", keep=(0,), arrays=(0, 1, 2)),
    Spec("clip", "elementwise", call(X(), bounds, bounds), R.clip, cast="none", tol=0),
]


# ---------------------------------------------------------------------------------------------
# Reductions and friends


def small(dtype="all", profile="any", **kw):
    return H.arrays(dtype, profile=profile, **kw)


keepdims = st.booleans()

REDUCTION = [
    Spec("sum", "reduction", with_axis(X(profile="grid"), keepdims=keepdims), R.reduce(np.sum), cast="out", atol="abs"),
    Spec(
        "mean",
        "reduction",
        with_axis(X(profile="grid"), keepdims=keepdims),
        R.reduce(np.mean),
        cast="float",
        atol="abs",
        tol=4,
    ),
    Spec(
        "max",
        "reduction",
        with_axis(keepdims=keepdims, initial=st.sampled_from((None, 0, -1.5, math.nan))),
        R.max_min(np.max),
        cast="floats",
    ),
    Spec(
        "min",
        "reduction",
        with_axis(keepdims=keepdims, initial=st.sampled_from((None, 0, 1.5, math.inf))),
        R.max_min(np.min),
        cast="floats",
    ),
    Spec(
        "prod",
        "reduction",
        with_axis(small(profile="moderate", max_dims=2, max_side=4), keepdims=keepdims),
        R.reduce(np.prod),
        cast="out",
        tol=64,
    ),
    Spec("any", "reduction", with_axis(keepdims=keepdims), R.reduce(np.any), cast="none"),
    Spec("all", "reduction", with_axis(keepdims=keepdims), R.reduce(np.all), cast="none"),
    Spec("argmax", "reduction", with_axis(allow_tuple=False, keepdims=keepdims), R.arg_reduce(np.argmax), cast="none"),
    Spec("argmin", "reduction", with_axis(allow_tuple=False, keepdims=keepdims), R.arg_reduce(np.argmin), cast="none"),
    Spec("std", "reduction", with_axis(X(profile="grid"), keepdims=keepdims), R.std, cast="float", tol=8, atol=spread),
    Spec("var", "reduction", with_axis(X(profile="grid"), keepdims=keepdims), R.var, cast="float", tol=8, atol=spread),
    Spec("count_nonzero", "reduction", with_axis(), R.count_nonzero, cast="none"),
    Spec(
        "logsumexp",
        "reduction",
        with_axis(X(profile="grid"), keepdims=keepdims),
        R.logsumexp,
        cast="float",
        tol=8,
        atol=magnitude,
    ),
    Spec(
        "cumsum",
        "reduction",
        with_axis(X(profile="grid"), allow_tuple=False),
        R.cumulative(np.cumsum),
        cast="out",
        atol="abs",
    ),
    Spec(
        "cumprod",
        "reduction",
        with_axis(small(profile="moderate", max_dims=2, max_side=4), allow_tuple=False),
        R.cumulative(np.cumprod),
        cast="out",
        tol=64,
    ),
    Spec("argsort", "reduction", with_axis(allow_tuple=False), R.argsort, cast="none"),
    Spec("sort", "reduction", with_axis(allow_tuple=False), R.sort, cast="none"),
    Spec(
        "softmax",
        "reduction",
        with_axis(X(profile="grid"), allow_none=False),
        R.softmax,
        cast="float",
        tol=16,
        atol=lambda *a, **k: 16,
    ),
    Spec(
        "log_softmax",
        "reduction",
        with_axis(X(profile="grid"), allow_none=False),
        R.log_softmax,
        cast="float",
        tol=16,
        atol=magnitude,
    ),
    Spec(
        "moments",
        "reduction",
        with_axis(X(profile="grid"), names=("axes",), required=True, keepdims=keepdims, synchronized=st.just(False)),
        R.moments,
        cast="float",
        tol=8,
        atol=spread,
    ),
    Spec(
        "normalize",
        "reduction",
        with_axis(
            X(profile="grid"),
            allow_none=False,
            order=st.sampled_from((1, 2, 2, 3, 0, -1, 1.5, True)),
            epsilon=st.sampled_from((None, 0.0, 1e-3, math.nan)),
        ),
        R.normalize,
        cast="float",
        tol=64,
        atol=lambda *a, **k: 64,
    ),
]


@st.composite
def average_args(draw):
    x = draw(X(profile="grid"))
    nd = ndim_of(x)
    kw = {}
    if draw(st.booleans()):
        kw["axis"] = draw(H.axes(nd))
    if draw(st.booleans()):
        shape = shape_of(x) or []
        axis = kw.get("axis")
        if isinstance(axis, int) and not isinstance(axis, bool) and -len(shape) <= axis < len(shape):
            wshape = draw(st.sampled_from(([shape[axis]], shape, [7])))
        else:
            wshape = draw(st.sampled_from((shape, [2], [])))
        if math.prod(wshape) > 10**4:  # x is an absurd zero-stride view: weights stay real and small
            wshape = [2]
        kw["weights"] = draw(H.arrays("float", shape=wshape, profile="positive"))
    return [x], kw


@st.composite
def top_k_args(draw):
    x = draw(X())
    n = (shape_of(x) or [0])[-1] if shape_of(x) else 0
    k = draw(st.one_of(st.integers(0, max(n, 0)), st.sampled_from((-1, n + 1, 2**62, 1.5))))
    return [x, k], ({"sorted": draw(st.booleans())} if draw(st.booleans()) else {})


@st.composite
def in_top_k_args(draw):
    b, c = draw(st.integers(0, 4)), draw(st.integers(0, 5))
    preds = draw(H.arrays("supported", shape=[b, c], profile="moderate"))
    targets = draw(st.one_of(H.arrays("int", shape=[b], profile="label"), X()))
    k = draw(st.one_of(st.integers(0, c + 1), st.sampled_from((-1, 2**62))))
    return [targets, preds, k], {}


REDUCTION += [
    Spec("average", "reduction", average_args(), R.average, cast="float", tol=8, atol=magnitude, arrays=(0, "weights")),
    Spec("top_k", "reduction", top_k_args(), R.top_k, cast="none"),
    Spec("in_top_k", "reduction", in_top_k_args(), R.in_top_k, cast="none", arrays=(0, 1)),
]


# ---------------------------------------------------------------------------------------------
# Shapes, indexing and layout


@st.composite
def reshape_args(draw):
    x = draw(X())
    shape = shape_of(x) or []
    n = math.prod(shape) if shape else 1
    choice = draw(st.integers(0, 5))
    if choice <= 2 and 0 < n <= 10**4:
        dims = []
        rest = n
        for _ in range(draw(st.integers(0, 3))):
            d = draw(st.sampled_from([f for f in range(1, rest + 1) if rest % f == 0]))
            dims.append(d)
            rest //= d
        dims.append(rest)
        if draw(st.booleans()):
            dims[draw(st.integers(0, len(dims) - 1))] = -1
        new = C.tup(*dims) if draw(st.booleans()) else dims
    elif choice == 3:
        new = C.tup(*(draw(st.lists(st.sampled_from((0, -1, 1)), min_size=1, max_size=3)) + shape))
    else:
        new = draw(H.shape_args())
    return [x, new], {}


@st.composite
def transpose_args(draw):
    x = draw(X())
    nd = ndim_of(x)
    perm = draw(st.permutations(list(range(nd))))
    axes = draw(
        st.one_of(
            st.none(),
            st.just(C.tup(*perm)),
            st.just(list(perm)),
            st.just(C.tup(*[p - nd for p in perm])),
            st.lists(st.integers(-nd - 1, nd), max_size=nd + 1).map(lambda a: C.tup(*a)),
        )
    )
    return [x], ({"axes": axes} if axes is not None or draw(st.booleans()) else {})


@st.composite
def broadcast_to_args(draw):
    x = draw(X(max_dims=3, max_side=3))
    shape = shape_of(x) or []
    choice = draw(st.integers(0, 3))
    if choice <= 1:
        target = draw(st.lists(st.integers(0, 3), max_size=2)) + [
            draw(st.sampled_from((d, 2, 0))) if d == 1 else d for d in shape
        ]
        target = C.tup(*target)
    elif choice == 2:
        target = C.tup(*([draw(st.sampled_from(H.HUGE))] + shape))
    else:
        target = draw(H.shape_args())
    return [x, target], {}


def _ax_arg(name):
    @st.composite
    def build(draw):
        x = draw(X())
        nd = ndim_of(x)
        extra = 1 if name == "expand_dims" else 0
        return [x, draw(H.axes(nd + extra, allow_none=False, allow_tuple=False))], {}

    return build()


@st.composite
def squeeze_args(draw):
    x = draw(X())
    kw = {"axis": draw(H.axes(ndim_of(x)))} if draw(st.booleans()) else {}
    return [x], kw


@st.composite
def swapaxes_args(draw):
    x = draw(X())
    nd = ndim_of(x)
    ax = H.axes(nd, allow_none=False, allow_tuple=False)
    return [x, draw(ax), draw(ax)], {}


@st.composite
def moveaxis_args(draw):
    x = draw(X())
    nd = ndim_of(x)
    src = draw(H.axes(nd, allow_none=False))
    dst = draw(st.one_of(H.axes(nd, allow_none=False), st.just(src)))
    return [x, src, dst], {}


counts = H.mostly(st.integers(0, 3), st.sampled_from((-1, 2**31, 2**40, 2**62, 2**63, 1.5)), 3)


@st.composite
def tile_args(draw):
    x = draw(X(max_dims=3, max_side=3))
    reps = draw(st.one_of(counts, st.lists(counts, max_size=4).map(lambda r: C.tup(*r)), st.lists(counts, max_size=4)))
    return [x, reps], {}


@st.composite
def repeat_args(draw):
    x = draw(X(max_dims=3, max_side=3))
    shape = shape_of(x) or []
    kw = {}
    if draw(st.booleans()) and shape:
        kw["axis"] = draw(H.axes(len(shape), allow_tuple=False))
    axis = kw.get("axis")
    n = (
        shape[axis]
        if isinstance(axis, int) and not isinstance(axis, bool) and -len(shape) <= axis < len(shape)
        else math.prod(shape)
        if axis is None
        else 1
    )
    reps = draw(
        st.one_of(
            counts,
            st.lists(st.integers(0, 3), min_size=n, max_size=n) if n <= 30 else counts,
            st.lists(counts, max_size=3),
        )
    )
    return [x, reps], kw


@st.composite
def concat_args(draw, stack=False):
    base = draw(H.array_shapes(0, 3, 3, high_rank=False))
    k = draw(st.integers(0, 4))
    axis = draw(st.one_of(st.integers(-len(base) - 1, len(base)), H.axes(len(base))))
    xs = []
    for _ in range(k):
        shape = list(base)
        if (
            not stack
            and base
            and isinstance(axis, int)
            and not isinstance(axis, bool)
            and -len(base) <= axis < len(base)
        ):
            shape[axis] = draw(st.integers(0, 3))
        if draw(st.integers(0, 9)) == 0:
            shape = draw(H.array_shapes(0, 3, 3, high_rank=False))
        xs.append(draw(H.arrays(shape=shape)))
    seq = C.tup(*xs) if draw(st.booleans()) else xs
    return [seq], ({"axis": axis} if draw(st.integers(0, 5)) else {})


@st.composite
def split_args(draw):
    x = draw(X(max_dims=3))
    shape = shape_of(x) or []
    kw = {}
    if draw(st.booleans()):
        kw["axis"] = draw(H.axes(len(shape), allow_none=False, allow_tuple=False))
    ios = draw(
        st.one_of(
            st.integers(1, 4),
            st.sampled_from((0, -1, 2**62)),
            st.lists(st.integers(0, 6), max_size=3).map(sorted),
            st.lists(st.integers(-3, 8), max_size=3),
        )
    )
    return [x, ios], kw


@st.composite
def take_args(draw):
    x = draw(X(max_dims=3))
    shape = shape_of(x) or []
    kw = {}
    if draw(st.booleans()) and shape:
        kw["axis"] = draw(H.axes(len(shape), allow_tuple=False))
    idx = draw(
        st.one_of(
            H.arrays("int", profile="index", max_dims=2, max_side=3, layouts=("C", "T", "be")),
            st.integers(-4, 4),
            st.lists(st.integers(-4, 4), max_size=4),
            st.sampled_from((2**31, -(2**62), 2**63)),
            H.arrays("float", max_dims=1, max_side=3),
        )
    )
    return [x, idx], kw


@st.composite
def take_along_args(draw):
    x = draw(H.arrays(max_dims=3, max_side=3))
    shape = shape_of(x)
    ishape = [draw(st.sampled_from((d, 1, 2))) for d in shape]
    idx = draw(st.one_of(H.arrays("int", shape=ishape, profile="index"), H.arrays("int", profile="index", max_dims=2)))
    kw = {"axis": draw(H.axes(len(shape), allow_tuple=False))} if draw(st.integers(0, 3)) else {}
    return [x, idx], kw


@st.composite
def get_item_args(draw):
    x = draw(H.arrays(max_dims=3, max_side=4))
    nd = len(shape_of(x))
    parts = []
    bound = st.one_of(st.none(), st.integers(-6, 6), st.sampled_from((2**62, -(2**63), 2**64)))
    part = st.one_of(
        st.integers(-5, 5),
        st.sampled_from((2**31, -(2**62), 2**64)),
        st.builds(C.slc, bound, bound, st.one_of(st.none(), st.integers(-3, 3), st.sampled_from((2**62, -(2**63))))),
        st.none(),
        st.just(C.special("ellipsis")),
        H.arrays("int", profile="index", max_dims=1, max_side=3, tensor=0),
        st.lists(st.integers(-4, 4), max_size=3),
        st.just(True),
        st.just(1.5),
        st.just("a"),
    )
    for _ in range(draw(st.integers(0, nd + 1))):
        parts.append(draw(part))
    key = C.tup(*parts) if len(parts) != 1 or draw(st.booleans()) else parts[0]
    return [x, key], {}


@st.composite
def pad_args(draw):
    x = draw(X(max_dims=3, max_side=3))
    nd = ndim_of(x)
    w = H.mostly(st.integers(0, 2), st.sampled_from((-1, 2**31, 2**40, 2**62)), 6)
    widths = draw(
        st.one_of(
            w,
            st.tuples(w, w).map(list),
            st.lists(st.tuples(w, w).map(list), min_size=nd, max_size=nd),
            st.lists(st.tuples(w, w).map(list), max_size=nd + 1),
            st.just(1.5),
        )
    )
    kw = {}
    if draw(st.booleans()):
        kw["constant_values"] = draw(st.sampled_from((0, 1.5, math.nan, -1, 300)))
    if draw(st.integers(0, 7)) == 0:
        kw["mode"] = draw(st.sampled_from(("reflect", "constant", 3)))
    return [x, widths], kw


def tri_args():
    return call(X(), k=opt(st.one_of(st.integers(-4, 4), st.sampled_from((2**62, -(2**63), 2**64, 1.5)))))


@st.composite
def meshgrid_args(draw):
    xs = draw(st.lists(X(max_dims=2, max_side=3), max_size=4))
    kw = {"indexing": draw(st.sampled_from(("xy", "ij", "xx", None)))} if draw(st.booleans()) else {}
    return xs, kw


@st.composite
def unstack_args(draw):
    x = draw(X(max_dims=3))
    shape = shape_of(x) or []
    kw = {}
    if draw(st.booleans()):
        kw["axis"] = draw(H.axes(len(shape), allow_none=False, allow_tuple=False))
    if draw(st.booleans()):
        kw["num"] = draw(st.one_of(st.integers(0, 4), st.sampled_from((-1, 2**62))))
    return [x], kw


def _starts(nd):
    s = st.one_of(st.integers(-4, 4), st.integers(0, 2), st.sampled_from((2**62, -(2**63), 2**64)))
    return st.one_of(
        st.lists(s, min_size=nd, max_size=nd),
        st.lists(s, max_size=nd + 1),
        st.lists(s, min_size=nd, max_size=nd).map(lambda v: C.tup(*v)),
    )


@st.composite
def slice_args(draw):
    x = draw(X(max_dims=3))
    nd = ndim_of(x)
    size = st.one_of(st.integers(-1, 3), st.sampled_from((-2, 2**62)))
    shape = draw(st.one_of(st.lists(size, min_size=nd, max_size=nd), st.lists(size, max_size=nd + 1)))
    return [x, draw(_starts(nd)), shape], {}


@st.composite
def slice_update_args(draw):
    x = draw(H.arrays("supported", max_dims=3))
    shape = shape_of(x)
    ushape = (
        [draw(st.integers(0, d)) for d in shape] if draw(st.integers(0, 3)) else draw(H.array_shapes(0, 3, 3, False))
    )
    u = draw(H.arrays("all" if draw(st.integers(0, 5)) == 0 else "supported", shape=ushape))
    return [x, draw(_starts(len(shape))), u], {}


@st.composite
def scatter_args(draw):
    shape = draw(st.lists(st.integers(0, 3), min_size=1, max_size=3))
    k = draw(st.integers(1, len(shape)))
    n = draw(st.integers(0, 4))
    idx = draw(H.arrays("int", shape=[n, k], profile="index", tensor=0))
    values = draw(st.one_of(H.arrays(shape=[n] + shape[k:], profile="grid"), X()))
    shape_arg = draw(st.one_of(st.just(C.tup(*shape)), H.shape_args()))
    return [idx, values, shape_arg], {}


@st.composite
def scatter_update_args(draw):
    x = draw(H.arrays("supported", max_dims=3, max_side=3, high_rank=False))
    shape = shape_of(x)
    k = draw(st.integers(1, max(len(shape), 1)))
    rows = (
        [
            list(r)
            for r in draw(
                st.lists(st.tuples(*[st.integers(0, max(d - 1, 0)) for d in shape[:k]]), max_size=3, unique=True)
            )
        ]
        if shape and 0 not in shape[:k]
        else []
    )
    valid = {
        "$arr": {
            "dtype": draw(H.dtypes("int")),
            "shape": [len(rows), k],
            "layout": "C",
            "values": [v for r in rows for v in r],
        }
    }
    idx = draw(H.mostly(st.just(valid), H.arrays("int", shape=[draw(st.integers(0, 3)), k], profile="index", tensor=0)))
    n = idx["$arr"]["shape"][0]
    updates = draw(H.mostly(H.arrays(shape=[n] + shape[k:], profile="grid"), X()))
    return [x, idx, updates], {}


def _cond_call(pred, a, b):
    from rskeras import ops

    return ops.cond(pred, lambda: a, lambda: b)


SHAPE = [
    Spec("reshape", "shape", reshape_args(), np.reshape, cast="none"),
    Spec("transpose", "shape", transpose_args(), np.transpose, cast="none"),
    Spec("broadcast_to", "shape", broadcast_to_args(), lambda x, s: np.broadcast_to(x, s).copy(), cast="none"),
    Spec("expand_dims", "shape", _ax_arg("expand_dims"), R.expand_dims, cast="none"),
    Spec("squeeze", "shape", squeeze_args(), R.squeeze, cast="none"),
    Spec("swapaxes", "shape", swapaxes_args(), lambda x, a, b: np.swapaxes(x, R.index(a), R.index(b)), cast="none"),
    Spec(
        "moveaxis", "shape", moveaxis_args(), lambda x, s, d: np.moveaxis(x, R.axis_arg(s), R.axis_arg(d)), cast="none"
    ),
    Spec("flip", "shape", with_axis(), lambda x, axis=None: np.flip(x, R.axis_arg(axis)), cast="none"),
    Spec("tile", "shape", tile_args(), R.tile, cast="none"),
    Spec("repeat", "shape", repeat_args(), R.repeat, cast="none"),
    Spec("concatenate", "shape", concat_args(), R.concatenate, cast="out"),
    Spec("stack", "shape", concat_args(stack=True), R.stack, cast="out"),
    Spec("split", "shape", split_args(), R.split, cast="none"),
    Spec("take", "shape", take_args(), R.take, cast="none", arrays=(0, 1)),
    Spec("take_along_axis", "shape", take_along_args(), R.take_along_axis, cast="none", arrays=(0, 1)),
    Spec("get_item", "shape", get_item_args(), R.get_item, cast="none"),
    Spec("pad", "shape", pad_args(), R.pad, cast="none"),
    Spec("tril", "shape", tri_args(), R.tri(np.tril), cast="none"),
    Spec("triu", "shape", tri_args(), R.tri(np.triu), cast="none"),
    Spec("meshgrid", "shape", meshgrid_args(), R.meshgrid, cast="none", arrays="all"),
    Spec("unstack", "shape", unstack_args(), R.unstack, cast="none"),
    Spec("slice", "shape", slice_args(), R.dynamic_slice, cast="none"),
    Spec("slice_update", "shape", slice_update_args(), R.slice_update, cast="none", arrays=(0, 2)),
    Spec("scatter", "shape", scatter_args(), R.scatter, cast="float", keep=(0,), atol="abs", arrays=(0, 1)),
    Spec("scatter_update", "shape", scatter_update_args(), R.scatter_update, cast="none", arrays=(0, 1, 2)),
    Spec(
        "cond",
        "shape",
        call(X(), X(), X()),
        R.cond,
        cast="none",
        call=_cond_call,
        arrays=(),
        template="ops.cond({0}, lambda: {1}, lambda: {2})",
    ),
]


# ---------------------------------------------------------------------------------------------
# Creation


creation_dtype = H.weighted((2, st.none()), (1, dtype_args))
fills = st.one_of(
    st.sampled_from((0, 1.5, -1, math.nan, math.inf, True, 300, 2**40, "a", None)), H.arrays(max_dims=2, max_side=3)
)
numbers = st.one_of(
    st.integers(-5, 10),
    st.floats(-10, 10),
    st.sampled_from((0.1, 1e-300, math.nan, math.inf, -math.inf, 2**62, -(2**63), 10**30, "1", None)),
    H.arrays("supported", shape=[]),
)


@st.composite
def arange_args(draw):
    n = draw(st.integers(1, 3))
    args = [draw(numbers) for _ in range(n)]
    kw = {"dtype": draw(creation_dtype)} if draw(st.booleans()) else {}
    if n == 3 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in args):
        lo, hi, step = args
        with np.errstate(all="ignore"):
            length = (hi - lo) / step if step and math.isfinite(step) else 0
        if isinstance(length, float) and math.isfinite(length) and 10**6 < length < 2**40:
            args[2] = (hi - lo) / 7  # a real allocation of hundreds of MB: keep the case small
    return args, kw


@st.composite
def linspace_args(draw):
    start = draw(st.one_of(numbers, H.arrays("float", max_dims=2, max_side=3, profile="moderate")))
    stop = draw(st.one_of(numbers, H.arrays("float", max_dims=2, max_side=3, profile="moderate")))
    kw = {}
    if draw(st.booleans()):
        kw["num"] = draw(st.one_of(st.integers(0, 7), st.sampled_from((-1, 2**40, 2**62, 1.5))))
    for k, s in (
        ("endpoint", st.booleans()),
        ("retstep", st.booleans()),
        ("dtype", creation_dtype),
        ("axis", st.integers(-3, 2)),
    ):
        if draw(st.integers(0, 2)) == 0:
            kw[k] = draw(s)
    return [start, stop], kw


@st.composite
def one_hot_args(draw, multi=False):
    x = draw(st.one_of(H.arrays("int", profile="label", max_dims=3, max_side=3), X()))
    classes = draw(st.one_of(st.integers(0, 6), st.sampled_from((-1, 2**31, 2**40, 2**62, 2**64, 1.5, None))))
    kw = {}
    if draw(st.integers(0, 3)) == 0:
        kw["axis"] = draw(st.sampled_from((-1, 0, 1, 5, -(2**62))))
    if draw(st.integers(0, 3)) == 0:
        kw["dtype"] = draw(creation_dtype)
    return [x, classes], kw


CREATION = [
    Spec("zeros", "creation", call(H.shape_args(), dtype=opt(creation_dtype)), R.zeros, cast="none", arrays=()),
    Spec("ones", "creation", call(H.shape_args(), dtype=opt(creation_dtype)), R.ones, cast="none", arrays=()),
    Spec("zeros_like", "creation", call(X(), dtype=opt(creation_dtype)), R.like(np.zeros), cast="none"),
    Spec("ones_like", "creation", call(X(), dtype=opt(creation_dtype)), R.like(np.ones), cast="none"),
    Spec("full", "creation", call(H.shape_args(), fills, dtype=opt(creation_dtype)), R.full, cast="none", arrays=()),
    Spec("full_like", "creation", call(X(), fills, dtype=opt(creation_dtype)), R.full_like, cast="none"),
    Spec("arange", "creation", arange_args(), R.arange, cast="none", tol=1, arrays=()),
    Spec("linspace", "creation", linspace_args(), R.linspace, cast="float", tol=4, atol=magnitude, arrays=()),
    Spec(
        "eye",
        "creation",
        call(
            H.sizes(),
            M=opt(st.one_of(st.none(), H.sizes())),
            k=opt(st.one_of(st.integers(-3, 3), st.sampled_from((2**62, -(2**63))))),
            dtype=opt(creation_dtype),
        ),
        R.eye,
        cast="none",
        arrays=(),
    ),
    Spec("one_hot", "creation", one_hot_args(), R.one_hot, cast="none"),
    Spec("multi_hot", "creation", one_hot_args(multi=True), R.multi_hot, cast="none"),
]


# ---------------------------------------------------------------------------------------------
# Linear algebra


@st.composite
def matmul_args(draw, kind="matmul"):
    m, k, n = (draw(st.integers(0, 4)) for _ in range(3))
    batch = draw(st.lists(st.integers(1, 3), max_size=2))
    choice = draw(st.integers(0, 5))
    if choice <= 2:
        s1, s2 = batch + [m, k], batch[len(batch) // 2 :] + [k, n]
    elif choice == 3:
        s1, s2 = [k], draw(st.sampled_from(([k], [k, n], batch + [k, n])))
    else:
        s1, s2 = draw(H.array_shapes(0, 3, 4, False)), draw(H.array_shapes(0, 3, 4, False))
    d = draw(H.dtypes("supported"))
    x1 = draw(H.arrays(d, shape=s1, profile="grid"))
    x2 = draw(H.arrays(d if draw(st.booleans()) else draw(H.dtypes("all")), shape=s2, profile="grid"))
    if kind == "tensordot":
        axes = draw(
            st.one_of(
                st.integers(0, 2),
                st.sampled_from((-1, 5, 2**62)),
                st.just(C.tup(C.tup(len(s1) - 1) if s1 else C.tup(), C.tup(0) if s2 else C.tup())),
                st.just([[0], [0]]),
                st.just([[0, 1], [0]]),
            )
        )
        return [x1, x2], ({"axes": axes} if draw(st.integers(0, 4)) else {})
    return [x1, x2], {}


EINSUM_SPECS = (
    "ij,jk->ik",
    "ij,jk",
    "bij,bjk->bik",
    "i,i",
    "i,i->",
    "i,j->ij",
    "ii->i",
    "ii",
    "ij->ji",
    "...ij->...ji",
    "ij->",
    "ijk->kji",
    "ij,ij->ij",
    "i,ij,j",
    "bi,bj->bij",
    "...i,...i->...",
    # hostile
    "ij,jk->il",
    "i->ii",
    "",
    "->",
    "ij,,jk",
    "i,i,i,i",
    "iJ,Jk->ik",
    "ab" * 30,
    "ï,ï",
    "i-j",
    "...i...",
    "ij->i->j",
)


@st.composite
def einsum_args(draw):
    spec = draw(st.sampled_from(EINSUM_SPECS))
    lhs = spec.split("->")[0]
    sizes = {}
    ops = []
    for term in lhs.split(","):
        shape = [draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 2)))] if "..." in term else []
        top = 3 if len(term) <= 8 else 1  # 60 labels of size 3 would not fit in memory
        for c in term.replace("...", ""):
            if c not in sizes:
                sizes[c] = draw(st.integers(0, top))
            shape.append(sizes[c] if draw(st.integers(0, 9)) else draw(st.integers(0, top)))
        ops.append(draw(H.arrays("supported", shape=shape, profile="grid")))
    if draw(st.integers(0, 9)) == 0:
        ops.append(draw(X()))
    return [spec] + ops, {}


LINALG = [
    Spec("matmul", "linalg", matmul_args(), np.matmul, cast="out", atol="abs", arrays=(0, 1)),
    Spec("dot", "linalg", matmul_args(), R.dot, cast="out", atol="abs", arrays=(0, 1)),
    Spec("tensordot", "linalg", matmul_args("tensordot"), R.tensordot, cast="out", atol="abs", arrays=(0, 1)),
    Spec("einsum", "linalg", einsum_args(), R.einsum, cast="out", atol="abs", strict=False, arrays="rest"),
    Spec(
        "outer",
        "linalg",
        call(X(max_dims=2, max_side=4), X(max_dims=2, max_side=4)),
        R.outer,
        cast="out",
        arrays=(0, 1),
    ),
]


# ---------------------------------------------------------------------------------------------
# Convolution and pooling


hostile_geometry = st.sampled_from((0, -1, 10**6, 2**31, 2**62, 2**64, 1.5, C.tup(1, 2, 3), C.tup(-1, 1)))
paddings = H.mostly(st.sampled_from(("valid", "same")), st.sampled_from(("causal", "SAME", "full", None, 3)))
formats = H.weighted(
    (6, st.none()), (2, st.just("channels_last")), (2, st.just("channels_first")), (1, st.just("NHWC"))
)


@st.composite
def conv_args(draw, kind="conv"):
    """Mostly valid geometry (so that values are compared), with hostile sizes, windows of
    10**6 or 0, strides and dilations 0, negative or huge, groups that do not divide."""
    rank = draw(H.mostly(st.sampled_from((1, 2)), st.sampled_from((0, 3)), 6))
    first = draw(formats)
    nd = max(rank, 1)
    window = [draw(H.mostly(st.integers(1, 3), st.sampled_from((0, 10**6)), 12)) for _ in range(nd)]
    kw = {}
    strides = draw(H.mostly(st.integers(1, 2), hostile_geometry, 6)) if draw(st.booleans()) else None
    dilation = draw(H.mostly(st.integers(1, 2), hostile_geometry, 6)) if draw(st.booleans()) else None
    pooling = kind in ("max_pool", "average_pool")
    if strides is not None:
        kw["strides"] = strides
    if dilation is not None and not pooling:
        kw["dilation_rate"] = dilation
    if draw(st.booleans()):
        kw["padding"] = draw(paddings)
    if first is not None:
        kw["data_format"] = first
    d = dilation if isinstance(dilation, int) and 1 <= dilation <= 3 and not pooling else 1
    spans = [max((w - 1) * d + 1, 0) if w <= 3 else None for w in window[:rank]]
    spatial = [
        draw(H.mostly(st.integers(span, span + 4), st.integers(0, 6), 6))
        if span is not None
        else draw(st.integers(0, 6))
        for span in spans
    ]
    c = draw(H.mostly(st.integers(1, 4), st.just(0), 8))
    batch = draw(H.mostly(st.integers(1, 2), st.just(0), 8))
    shape = [batch, c] + spatial if first == "channels_first" else [batch] + spatial + [c]
    x = draw(H.arrays(H.mostly(st.just("float"), st.just("all"), 5), shape=shape, profile="grid"))
    if pooling:
        pool = draw(H.mostly(st.just(C.tup(*window)), st.sampled_from((1, 2, 3, 10**6, 0, -1, 2**62)), 3))
        return [x, pool], kw
    groups = draw(H.mostly(st.just(1), st.sampled_from((2, 3, 0)), 4))
    cin = c // groups if groups and c % groups == 0 else draw(st.integers(0, 3))
    out_c = draw(H.mostly(st.integers(1, 3), st.just(0), 8))
    if kind == "conv":
        kshape = window + [cin, out_c * (groups if groups and c % groups == 0 else 1)]
    elif kind == "conv_transpose":
        kshape = window + [out_c, c]
        if draw(st.integers(0, 7)) == 0:
            kw["output_padding"] = 1
    else:
        kshape = window + [c, draw(H.mostly(st.integers(1, 2), st.just(0)))]
    if 10**6 in window and math.prod(kshape) * 8 > 64 * 2**20:
        kshape = [1 if w == 10**6 else w for w in kshape]  # keep real allocations small
    kernel = draw(
        # finite: a kernel weight of inf times a padded zero is NaN in im2col (and XLA) but skipped by the
        # reference, and neither is wrong
        H.arrays(H.mostly(st.just("float32"), st.just("supported")), shape=kshape, profile="finite_grid", tensor=0.1)
    )
    if kind == "separable_conv":
        m = kshape[-1]
        pw = draw(H.arrays("float32", shape=([1] * nd) + [c * m, draw(st.integers(1, 3))], profile="finite_grid"))
        return [x, kernel, pw], kw
    return [x, kernel], kw


CONV = [
    Spec("conv", "conv", conv_args(), R.conv, cast="float", atol="abs", arrays=(0, 1)),
    Spec(
        "conv_transpose", "conv", conv_args("conv_transpose"), R.conv_transpose, cast="float", atol="abs", arrays=(0, 1)
    ),
    Spec(
        "depthwise_conv", "conv", conv_args("depthwise_conv"), R.depthwise_conv, cast="float", atol="abs", arrays=(0, 1)
    ),
    Spec(
        "separable_conv",
        "conv",
        conv_args("separable_conv"),
        R.separable_conv,
        cast="float",
        atol="abs",
        arrays=(0, 1, 2),
    ),
    Spec("max_pool", "conv", conv_args("max_pool"), R.max_pool, cast="float"),
    Spec("average_pool", "conv", conv_args("average_pool"), R.average_pool, cast="float", atol="abs"),
]


# ---------------------------------------------------------------------------------------------
# Normalisation, attention and losses


@st.composite
def batch_norm_args(draw):
    x = draw(H.arrays("supported", max_dims=4, max_side=3, profile="grid", high_rank=False))
    shape = shape_of(x)
    valid_axis = st.integers(-len(shape), len(shape) - 1) if shape else st.just(0)
    axis = draw(
        H.mostly(valid_axis, st.one_of(st.integers(-len(shape) - 1, len(shape)), st.sampled_from((2**62, 1.5))))
    )
    n = shape[axis] if isinstance(axis, int) and -len(shape) <= axis < len(shape) else 2
    stat = H.mostly(H.arrays("float", shape=[n], profile="grid"), H.arrays("float", shape=[n + 1]))
    var = st.one_of(H.arrays("float", shape=[n], profile="positive"), H.arrays("float", shape=[n], profile="moderate"))
    kw = {}
    for k, s in (("offset", stat), ("scale", stat), ("epsilon", st.sampled_from((1e-3, 0.0, -1.0, math.nan)))):
        if draw(st.booleans()):
            kw[k] = draw(s)
    return [x, draw(stat), draw(var), axis], kw


@st.composite
def layer_norm_args(draw):
    x = draw(H.arrays("supported", max_dims=4, max_side=3, profile="grid", high_rank=False))
    shape = shape_of(x)
    kw = {}
    if draw(st.booleans()) and shape:
        kw["axis"] = draw(H.axes(len(shape), allow_none=False))
    last = shape[-1:] if shape else []
    for k in ("gamma", "beta"):
        if draw(st.booleans()):
            kw[k] = draw(st.one_of(H.arrays("float", shape=last, profile="grid"), H.arrays("float", shape=[7])))
    if draw(st.booleans()):
        kw["epsilon"] = draw(st.sampled_from((None, 1e-3, 0.0, -1.0, math.nan)))
    return [x], kw


@st.composite
def attention_args(draw):
    b, t, s, n, h = (draw(st.integers(0, 3)) for _ in range(5))
    kv = draw(st.sampled_from((n, n, 1, 0, 2)))
    # finite: where inf meets a zero weight, NaN or inf depends on the order of operations
    q = draw(H.arrays("float", shape=[b, t, n, h], profile="finite_grid"))
    k = draw(H.arrays("float", shape=[b, s, kv, h], profile="finite_grid"))
    v = draw(H.arrays("float", shape=[b, s, kv, draw(st.sampled_from((h, h, 2)))], profile="finite_grid"))
    if draw(st.integers(0, 7)) == 0:
        q = draw(X())
    kw = {}
    if draw(st.integers(0, 2)) == 0:
        kw["mask"] = draw(H.arrays("bool", shape=[b, n, t, s]))
    if draw(st.integers(0, 3)) == 0:
        kw["bias"] = draw(H.arrays("float", shape=[t, s], profile="grid"))
    if draw(st.integers(0, 2)) == 0:
        kw["is_causal"] = draw(st.booleans())
    if draw(st.integers(0, 3)) == 0:
        kw["scale"] = draw(st.sampled_from((None, 0.5, 0.0, math.nan, math.inf)))
    return [q, k, v], kw


@st.composite
def bce_args(draw):
    s1, s2 = draw(H.broadcast_pair_shapes(3))
    t = draw(H.arrays("supported", shape=s1, profile="unit"))
    o = draw(H.arrays("float", shape=s2, profile=draw(st.sampled_from(("unit", "moderate", "any")))))
    return [t, o], ({"from_logits": draw(st.booleans())} if draw(st.booleans()) else {})


@st.composite
def cce_args(draw):
    shape = draw(H.array_shapes(0, 3, 4, False))
    t = draw(H.arrays("float", shape=shape, profile="unit"))
    o = draw(
        H.arrays(
            "float",
            shape=shape if draw(st.integers(0, 5)) else draw(H.array_shapes(0, 3, 4, False)),
            profile=draw(st.sampled_from(("unit", "positive", "moderate"))),
        )
    )
    kw = {}
    if draw(st.booleans()):
        kw["from_logits"] = draw(st.booleans())
    if draw(st.integers(0, 3)) == 0:
        kw["axis"] = draw(H.axes(len(shape), allow_none=False, allow_tuple=False))
    return [t, o], kw


@st.composite
def scce_args(draw):
    shape = draw(H.array_shapes(1, 3, 4, False))
    labels = shape[:-1] + ([1] if draw(st.integers(0, 3)) == 0 else [])
    valid = st.lists(st.integers(0, max(shape[-1] - 1, 0)), min_size=math.prod(labels), max_size=math.prod(labels))
    t = draw(
        H.weighted(
            (
                4,
                st.builds(
                    lambda v, d: {"$arr": {"dtype": d, "shape": labels, "layout": "C", "values": v}},
                    valid,
                    H.dtypes("int"),
                ),
            ),
            (1, H.arrays("int", shape=labels, profile="label")),
            (1, X()),
        )
    )
    o = draw(H.arrays("float", shape=shape, profile=draw(st.sampled_from(("unit", "positive", "moderate")))))
    kw = {"from_logits": draw(st.booleans())} if draw(st.booleans()) else {}
    if draw(st.integers(0, 7)) == 0:
        kw["axis"] = 0
    return [t, o], kw


def nn_spec(name, args, tol, atol, arrays, keep=()):
    """An `nn` op, checked in float against `R.<name>` with the absolute tolerance `atol`."""
    return Spec(name, "nn", args, getattr(R, name), cast="float", tol=tol, arrays=arrays, keep=keep,
                atol=lambda *a, **k: atol)


NN = [
    nn_spec("batch_normalization", batch_norm_args(), tol=16, atol=1e4, arrays=(0, 1, 2, "offset", "scale")),
    nn_spec("layer_normalization", layer_norm_args(), tol=64, atol=1e4, arrays=(0, "gamma", "beta")),
    nn_spec("dot_product_attention", attention_args(), tol=64, atol=1e3, arrays=(0, 1, 2, "bias", "mask")),
    nn_spec("binary_crossentropy", bce_args(), tol=64, atol=1e3, arrays=(0, 1), keep=(1,)),
    nn_spec("categorical_crossentropy", cce_args(), tol=64, atol=1e4, arrays=(0, 1), keep=(1,)),
    nn_spec("sparse_categorical_crossentropy", scce_args(), tol=64, atol=1e4, arrays=(0, 1), keep=(0, 1)),
]


# ---------------------------------------------------------------------------------------------
# Random ops: no reference, but properties every result must have


def _requested_shape(shape):
    if isinstance(shape, (list, tuple)):
        return tuple(R.index(d) for d in shape)
    return (R.index(shape),)


def _finite(*vs):
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in vs)


def check_uniform(got, shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    if got.shape != _requested_shape(shape):
        return f"shape {got.shape}, requested {shape}"
    limit = float(np.finfo(got.dtype).max) if got.dtype.kind == "f" else math.inf
    if _finite(minval, maxval) and minval < maxval and got.size and max(abs(minval), abs(maxval)) < limit:
        lo, hi = float(np.min(got)), float(np.max(got))
        if lo < minval or hi > maxval:
            return f"values in [{lo}, {hi}] outside [{minval}, {maxval})"
    return None


_EPS = {"bfloat16": 2.0**-7, "float16": 2.0**-10, "float64": 2.0**-52}


def check_normal(got, shape, mean=0.0, stddev=1.0, dtype=None, seed=None, truncated=False):
    if got.shape != _requested_shape(shape):
        return f"shape {got.shape}, requested {shape}"
    if _finite(mean, stddev) and got.size and got.dtype.kind == "f":
        if abs(mean) + 10 * abs(stddev) < float(np.finfo(got.dtype).max) / 2 and not np.isfinite(got).all():
            return "non-finite values from finite parameters"
        if truncated and stddev >= 0:
            dev = np.abs(got.astype(np.float64) - mean)
            eps = _EPS.get(dtype, 2.0**-23)  # the mean itself rounds in the result's dtype
            if (dev > 2 * stddev * (1 + 1e-2) + 4 * eps * (abs(mean) + 1)).any():
                return f"truncated_normal value {float(dev.max())} from the mean, more than 2 stddev ({stddev})"
    return None


def check_truncated(got, shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    return check_normal(got, shape, mean, stddev, dtype, seed, truncated=True)


def check_randint(got, shape, minval, maxval, dtype="int32", seed=None):
    if got.shape != _requested_shape(shape):
        return f"shape {got.shape}, requested {shape}"
    if got.dtype.kind not in "iu":
        return f"dtype {got.dtype}"
    if got.size and (int(got.min()) < minval or int(got.max()) >= maxval):
        return f"values in [{got.min()}, {got.max()}] outside [{minval}, {maxval})"
    return None


def check_dropout(got, inputs, rate, noise_shape=None, seed=None):
    x = np.asarray(inputs)
    if got.shape != x.shape:
        return f"shape {got.shape} != input shape {x.shape}"
    if x.dtype.kind == "f" and _finite(rate) and 0 <= rate < 1 and x.size:
        with np.errstate(all="ignore"):
            xs = x.astype(got.dtype).astype(np.float64)  # the input as the result's dtype holds it
        g = got.astype(np.float64)
        scaled = xs / (1 - rate)
        ok = (
            (g == 0)
            | np.isclose(g, scaled, rtol=1e-3, equal_nan=True)
            | (np.isnan(xs) & np.isnan(g))
            | (np.isinf(scaled) & (np.abs(g) >= float(np.finfo(got.dtype).max) / 4))
        )
        if not ok.all():
            return "values neither 0 nor x / (1 - rate)"
    return None


def check_shuffle(got, x, axis=0, seed=None):
    x = np.asarray(x)
    if got.shape != x.shape:
        return f"shape {got.shape} != input shape {x.shape}"
    a = R.index(axis)

    def slices(arr):
        return sorted(bytes(row) for row in np.moveaxis(arr.astype(np.float64), a, 0).reshape(x.shape[a], -1))

    if x.size and slices(got) != slices(x):
        return "not a permutation of the input's slices"
    return None


def check_categorical(got, logits, num_samples, dtype="int32", seed=None):
    lg = np.asarray(logits)
    n = R.index(num_samples)
    if lg.ndim != 2 or got.shape != (lg.shape[0], n):
        return f"shape {got.shape}, expected {(lg.shape[0] if lg.ndim else '?', n)}"
    if got.size and lg.shape[1] and ((got < 0) | (got >= lg.shape[1])).any():
        return "class index out of range"
    return None


# Calls that the docs promise to answer: an error for one of them is a failure.


def _small_shape(shape):
    dims = list(shape) if isinstance(shape, (list, tuple)) else [shape]
    return all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 64 for d in dims)


def _seed_ok(seed):
    return seed is None or (isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed < 2**64)


def _number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and abs(v) < 1e30


def _float_dtype_ok(dtype):
    return dtype in (None, "float16", "float32", "float64", "bfloat16")


def valid_uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    return (
        _small_shape(shape)
        and _number(minval)
        and _number(maxval)
        and minval < maxval
        and _float_dtype_ok(dtype)
        and _seed_ok(seed)
    )


def valid_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    return (
        _small_shape(shape)
        and _number(mean)
        and _number(stddev)
        and stddev >= 0
        and _float_dtype_ok(dtype)
        and _seed_ok(seed)
    )


def valid_randint(shape, minval, maxval, dtype="int32", seed=None):
    limit = 2**31 if dtype == "int32" else 2**62
    return (
        _small_shape(shape)
        and all(isinstance(v, int) and not isinstance(v, bool) for v in (minval, maxval))
        and -limit <= minval < maxval < limit
        and dtype in ("int32", "int64")
        and _seed_ok(seed)
    )


def _float_array(x, min_ndim=0):
    return (
        isinstance(x, np.ndarray) and x.dtype.kind == "f" and x.dtype.isnative and x.ndim >= min_ndim and x.ndim <= 32
    )


def valid_dropout(inputs, rate, noise_shape=None, seed=None):
    return _float_array(inputs) and _number(rate) and 0 <= rate < 1 and noise_shape is None and _seed_ok(seed)


def valid_shuffle(x, axis=0, seed=None):
    return (
        _float_array(x, 1)
        and isinstance(axis, int)
        and not isinstance(axis, bool)
        and -x.ndim <= axis < x.ndim
        and _seed_ok(seed)
    )


def valid_categorical(logits, num_samples, dtype="int32", seed=None):
    return (
        _float_array(logits)
        and logits.ndim == 2
        and logits.shape[1] >= 1
        and isinstance(num_samples, int)
        and not isinstance(num_samples, bool)
        and 0 <= num_samples <= 64
        and dtype in ("int32", "int64")
        and _seed_ok(seed)
    )


_small_random_shape = st.lists(st.integers(0, 4), max_size=3).map(lambda s: C.tup(*s))
random_shape = H.mostly(_small_random_shape, H.shape_args(), 3)
params = H.mostly(st.floats(-5, 5), st.sampled_from((0.0, math.nan, math.inf, -math.inf, 1e30, -1.0, "a", None)), 3)
seeds = H.mostly(st.integers(0, 2**32), st.sampled_from((None, -1, 2**64, 2**70, 1.5, "s", True)), 3)


@st.composite
def randint_args(draw):
    lo = draw(H.mostly(st.integers(-5, 5), st.sampled_from((-(2**63), -(2**31), 2**40))))
    hi = draw(
        H.weighted(
            (6, st.integers(1, 10).map(lambda d: lo + d)),
            (1, st.integers(-5, 10)),
            (1, st.sampled_from((2**31, 2**63, 2**62, 2**31 - 1))),
        )
    )
    kw = {}
    if draw(st.booleans()):
        kw["dtype"] = draw(st.sampled_from(("int32", "int64", "int32", "float32", "uint8")))
    if draw(st.booleans()):
        kw["seed"] = draw(seeds)
    return [draw(random_shape), lo, hi], kw


rnd_dtype = st.sampled_from(("float32", "float64", "float16", "bfloat16", None, "int32", "uint8", "str"))


@st.composite
def dropout_args(draw):
    x = draw(X())
    kw = {}
    if draw(st.integers(0, 3)) == 0:
        nd = ndim_of(x)
        kw["noise_shape"] = draw(
            st.one_of(
                st.just(C.tup(*(shape_of(x) or []))),
                st.lists(st.sampled_from((1, None, 2, 0)), min_size=nd, max_size=nd).map(lambda v: C.tup(*v)),
                H.shape_args(),
            )
        )
    if draw(st.booleans()):
        kw["seed"] = draw(seeds)
    rate = draw(st.one_of(st.sampled_from((0.0, 0.5, 0.9, 0.999999, 1.0, -0.1, math.nan, 2)), st.floats(0, 1)))
    return [x, rate], kw


def random_spec(name, args, check, valid):
    """A `random.*` op: no array inputs to fuzz; `check` tests the draws, `valid` the arguments."""
    return Spec(name, "random", args, check=check, arrays=(), extra={"valid": valid})


# random.normal and random.truncated_normal take the same arguments.
normal_args = call(random_shape, mean=opt(params), stddev=opt(params), dtype=opt(rnd_dtype), seed=opt(seeds))

RANDOM = [
    random_spec(
        "random.uniform",
        call(random_shape, minval=opt(params), maxval=opt(params), dtype=opt(rnd_dtype), seed=opt(seeds)),
        check_uniform,
        valid_uniform,
    ),
    random_spec(
        "random.normal",
        normal_args,
        check_normal,
        valid_normal,
    ),
    random_spec(
        "random.truncated_normal",
        normal_args,
        check_truncated,
        valid_normal,
    ),
    random_spec("random.randint", randint_args(), check_randint, valid_randint),
    random_spec("random.dropout", dropout_args(), check_dropout, valid_dropout),
    random_spec(
        "random.shuffle",
        with_axis(
            st.one_of(H.arrays("float", min_dims=1), X()),
            names=("axis",),
            allow_none=False,
            allow_tuple=False,
            seed=seeds,
        ),
        check_shuffle,
        valid_shuffle,
    ),
    random_spec(
        "random.categorical",
        call(
            st.one_of(
                H.arrays("float", shape=st.lists(st.integers(0, 4), min_size=2, max_size=2), profile="moderate"), X()
            ),
            st.one_of(st.integers(0, 4), st.sampled_from((-1, 2**31, 2**62))),
            dtype=opt(st.sampled_from(("int32", "int64", "float32"))),
            seed=opt(seeds),
        ),
        check_categorical,
        valid_categorical,
    ),
]


SPECS = CONVERSION + ELEMENTWISE + REDUCTION + SHAPE + CREATION + LINALG + CONV + NN + RANDOM
TABLE = {s.name: s for s in SPECS}
FAMILIES = sorted({s.family for s in SPECS})


def family_specs(family):
    return [s for s in SPECS if s.family == family]


# ---------------------------------------------------------------------------------------------
# Stand-in ops that fail in each way the harness must notice (tests/fuzz/test_ops_hostile.py
# runs them to show that no failure kind can slip through).


class PanicException(BaseException):
    """Named like pyo3's, which is what the worker recognises."""


def _selftest(kind):
    def op(x=None):
        import ctypes
        import os
        import time

        from rskeras import ops

        if kind == "segfault":
            ctypes.string_at(0)
        if kind == "abort":
            os.abort()
        if kind == "sleep":
            time.sleep(3600)
        if kind == "panic":
            raise PanicException("called `Option::unwrap()` on a `None` value")
        if kind == "base":
            raise KeyboardInterrupt
        if kind == "keyerror":
            raise KeyError("k")
        if kind == "internal":
            raise RuntimeError("internal error: entered unreachable code")
        if kind in ("refuses", "clean"):
            raise ValueError("refused")
        if kind == "wrong":
            return ops.convert_to_tensor(np.asarray(x) + 1)
        if kind == "wrong_nan":
            return ops.convert_to_tensor(np.where(np.isnan(x), 0.0, x).astype(np.asarray(x).dtype))
        return ops.convert_to_tensor(x)

    return op


def _strict_ref(x):
    raise ValueError("NumPy refuses")


SELFTEST = {
    s.name: s
    for s in [
        Spec(f"_selftest.{k}", "selftest", None, np.asarray, cast="none", call=_selftest(k))
        for k in (
            "segfault",
            "abort",
            "sleep",
            "panic",
            "base",
            "keyerror",
            "internal",
            "refuses",
            "wrong",
            "wrong_nan",
            "right",
        )
    ]
    + [
        Spec("_selftest.clean", "selftest", None, None, call=_selftest("clean")),
        Spec("_selftest.lenient", "selftest", None, _strict_ref, cast="none", call=_selftest("lenient")),
    ]
}

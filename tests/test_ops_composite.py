"""Composite NumPy-style ops built from core primitives (swapaxes, moveaxis, stack, split, unstack,
tile, repeat, flip, arange, linspace, eye, full, tril/triu, meshgrid, outer, dot, tensordot,
einsum, var/std, logsumexp, slice, get_item, count_nonzero, average, size/ndim): forward against
NumPy or formulas, gradients through GradientTape against finite differences or analytic
cotangent maps, and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rskeras as keras
from conftest import (
    T, array_and_axis, assert_close, assert_grad_matches, float_arrays, floats32, int_arrays, normalize_axes,
    shapes, to_np,
)
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from rskeras import ops

F64 = np.float64
SMALL = {"max_dims": 3, "max_side": 3}  # shapes for finite-difference gradient checks


def _exact(got, expected, dtype=None):
    g = to_np(got)
    assert g.shape == np.shape(expected), f"shape {g.shape} != {np.shape(expected)}"
    if dtype is not None:
        assert got.dtype == dtype, f"dtype {got.dtype} != {dtype}"
    np.testing.assert_array_equal(g, expected)


def _np_axis(axis):
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


@st.composite
def array_and_two_axes(draw, **kw):
    x = draw(float_arrays(min_dims=1, **kw))
    nd = x.ndim
    return x, draw(st.integers(-nd, nd - 1)), draw(st.integers(-nd, nd - 1))


# ---------------------------------------------------------------------------------------------
# swapaxes / moveaxis


@given(case=array_and_two_axes())
def test_swapaxes_matches_numpy(case):
    x, a, b = case
    _exact(ops.swapaxes(T(x), a, b), np.swapaxes(x, a, b), dtype="float32")


@settings(max_examples=15)
@given(case=array_and_two_axes(**SMALL))
def test_swapaxes_grad_is_swapped_cotangent(case):
    x, a, b = case
    assert_grad_matches(lambda t: ops.swapaxes(t, a, b), x, expected=lambda x, w: [np.swapaxes(w, a, b)],
                        rtol=0, atol=0)


@st.composite
def moveaxis_case(draw):
    x = draw(float_arrays(min_dims=1))
    nd = x.ndim
    k = draw(st.integers(1, nd))
    src = draw(st.permutations(range(nd)))[:k]
    dst = draw(st.permutations(range(nd)))[:k]
    src = [draw(st.sampled_from([a, a - nd])) for a in src]
    dst = [draw(st.sampled_from([a, a - nd])) for a in dst]
    if k == 1 and draw(st.booleans()):
        return x, src[0], dst[0]
    return x, src, dst


@given(case=moveaxis_case())
def test_moveaxis_matches_numpy(case):
    x, src, dst = case
    _exact(ops.moveaxis(T(x), src, dst), np.moveaxis(x, src, dst))


def test_moveaxis_grad_and_int_dtype():
    x = np.arange(24, dtype=np.int32).reshape(2, 3, 4)
    _exact(ops.moveaxis(x, 0, -1), np.moveaxis(x, 0, -1), dtype="int32")
    xf = np.random.default_rng(1).standard_normal((2, 3, 4)).astype(np.float32)
    assert_grad_matches(lambda t: ops.moveaxis(t, [0, 2], [1, 0]), xf,
                        expected=lambda x, w: [np.moveaxis(w, [1, 0], [0, 2])], rtol=0, atol=0)


# ---------------------------------------------------------------------------------------------
# stack / split / unstack


@st.composite
def stack_case(draw, **kw):
    shape = draw(shapes(max_dims=3, **kw))
    n = draw(st.integers(1, 4))
    xs = [draw(float_arrays(shape)) for _ in range(n)]
    nd = len(shape) + 1
    return xs, draw(st.integers(-nd, nd - 1))


@given(case=stack_case())
def test_stack_matches_numpy(case):
    xs, axis = case
    _exact(ops.stack([T(x) for x in xs], axis=axis), np.stack(xs, axis=axis), dtype="float32")


@settings(max_examples=15)
@given(case=stack_case(max_side=3))
def test_stack_grad_routes_each_slot_to_its_input(case):
    xs, axis = case
    assert_grad_matches(lambda *ts: ops.stack(list(ts), axis=axis), *xs,
                        expected=lambda *a: [np.take(a[-1], i, axis=axis) for i in range(len(xs))],
                        rtol=0, atol=0)


def test_stack_dtypes_and_errors():
    i = np.array([1, 2], np.int32)
    _exact(ops.stack([i, i + 1]), np.stack([i, i + 1]), dtype="int32")
    _exact(ops.stack([i, np.array([0.5, 1.5], np.float32)], axis=1), [[1, 0.5], [2, 1.5]], dtype="float32")
    _exact(ops.stack([np.array([True, False])] * 2), [[True, False]] * 2, dtype="bool")
    with pytest.raises(ValueError, match="stack"):
        ops.stack([])
    with pytest.raises(ValueError, match="stack"):
        ops.stack([np.ones(2), np.ones(3)])
    with pytest.raises(ValueError, match="stack"):
        ops.stack([np.ones(2), np.ones(2)], axis=2)


@st.composite
def split_case(draw, **kw):
    x = draw(float_arrays(min_dims=1, **kw))
    axis = draw(st.integers(-x.ndim, x.ndim - 1))
    d = x.shape[axis]
    if draw(st.booleans()):
        n = draw(st.sampled_from([k for k in range(1, 7) if d % k == 0]))
        return x, n, axis
    idx = sorted(draw(st.lists(st.integers(-1, d + 2), max_size=4)))
    return x, idx, axis


@given(case=split_case())
def test_split_matches_numpy(case):
    x, sections, axis = case
    got = ops.split(T(x), sections, axis=axis)
    expected = np.split(x, sections, axis=axis)
    assert isinstance(got, list) and len(got) == len(expected)
    for g, e in zip(got, expected):
        _exact(g, e)


@settings(max_examples=15)
@given(case=split_case(**SMALL))
def test_split_grad(case):
    x, sections, axis = case

    def op(t):  # a weighted recombination, so each part has its own cotangent
        return ops.stack([ops.sum(p) * (i + 1.0) for i, p in enumerate(ops.split(t, sections, axis=axis))])

    assert_grad_matches(op, x)


def test_split_errors():
    with pytest.raises(ValueError, match="split.*equal division"):
        ops.split(np.ones((5, 2)), 2)
    with pytest.raises(ValueError, match="split"):
        ops.split(np.ones((4, 2)), 0)
    with pytest.raises(ValueError, match="split"):
        ops.split(np.ones((4, 2)), 2, axis=2)
    with pytest.raises(ValueError, match="split"):
        ops.split(np.float32(1.0), 1)


@given(x=float_arrays(min_dims=1), data=st.data())
def test_unstack_matches_numpy(x, data):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    got = ops.unstack(T(x), axis=axis)
    assert len(got) == x.shape[axis]
    for i, g in enumerate(got):
        _exact(g, np.take(x, i, axis=axis))


def test_unstack_grad_and_errors():
    x = np.random.default_rng(2).standard_normal((3, 2, 2)).astype(np.float32)
    assert_grad_matches(lambda t: ops.stack([u * (i + 1.0) for i, u in enumerate(ops.unstack(t, num=2, axis=-2))]),
                        x, expected=lambda x, w: [np.stack([w[0] * 1.0, w[1] * 2.0], axis=-2)], rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="unstack"):
        ops.unstack(np.float32(1.0))
    with pytest.raises(ValueError, match="unstack"):
        ops.unstack(x, axis=3)
    with pytest.raises(ValueError, match="unstack"):
        ops.unstack(x, num=2, axis=0)


# ---------------------------------------------------------------------------------------------
# tile / repeat / flip


@given(x=float_arrays(max_dims=3, max_side=3), reps=st.one_of(st.integers(0, 3), st.lists(st.integers(0, 3), max_size=4)))
def test_tile_matches_numpy(x, reps):
    _exact(ops.tile(T(x), reps), np.tile(x, reps))


@settings(max_examples=15)
@given(x=float_arrays(**SMALL), reps=st.lists(st.integers(0, 2), max_size=3))
def test_tile_grad_sums_the_copies(x, reps):
    def expected(x, w):
        nd = max(len(reps), x.ndim)
        r = [1] * (nd - len(reps)) + list(reps)
        s = [1] * (nd - x.ndim) + list(x.shape)
        g = w.reshape([v for rr, d in zip(r, s) for v in (rr, d)]).sum(axis=tuple(range(0, 2 * nd, 2)))
        return [g.reshape(x.shape)]

    assert_grad_matches(lambda t: ops.tile(t, reps), x, expected=expected, rtol=1e-6, atol=1e-6)


@st.composite
def repeat_case(draw, **kw):
    x = draw(float_arrays(**kw))
    axis = draw(st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1))) if x.ndim else None
    d = x.size if axis is None else x.shape[axis]
    reps = draw(st.one_of(st.integers(0, 3), st.lists(st.integers(0, 3), min_size=d, max_size=d),
                          st.lists(st.integers(0, 3), min_size=1, max_size=1)))
    return x, reps, axis


@given(case=repeat_case())
def test_repeat_matches_numpy(case):
    x, reps, axis = case
    _exact(ops.repeat(T(x), reps, axis=axis), np.repeat(x, reps, axis=axis))


@settings(max_examples=15)
@given(case=repeat_case(**SMALL))
def test_repeat_grad(case):
    x, reps, axis = case
    assert_grad_matches(lambda t: ops.repeat(t, reps, axis=axis), x)


def test_repeat_and_tile_errors_and_dtype():
    _exact(ops.repeat(np.array([[1, 2]], np.int32), 2, axis=0), [[1, 2], [1, 2]], dtype="int32")
    with pytest.raises(ValueError, match="repeat"):
        ops.repeat(np.ones(3), -1)
    with pytest.raises(ValueError, match="repeat"):
        ops.repeat(np.ones(3), [1, 2])
    with pytest.raises(ValueError, match="repeat"):
        ops.repeat(np.ones(3), 2, axis=1)
    with pytest.raises(ValueError, match="tile"):
        ops.tile(np.ones(3), [-1])


@given(xa=array_and_axis(float_arrays()))
def test_flip_matches_numpy(xa):
    x, axis = xa
    _exact(ops.flip(T(x), axis=axis), np.flip(x, axis=_np_axis(axis)))


@settings(max_examples=15)
@given(xa=array_and_axis(float_arrays(**SMALL)))
def test_flip_grad_is_flipped_cotangent(xa):
    x, axis = xa
    assert_grad_matches(lambda t: ops.flip(t, axis=axis), x,
                        expected=lambda x, w: [np.flip(w, axis=_np_axis(axis))], rtol=0, atol=0)


def test_flip_errors():
    with pytest.raises(ValueError, match="flip"):
        ops.flip(np.ones((2, 2)), axis=2)
    with pytest.raises(ValueError, match="flip"):
        ops.flip(np.ones((2, 2)), axis=(0, -2))


# ---------------------------------------------------------------------------------------------
# arange / linspace / eye / full / full_like


@given(start=st.integers(-20, 20), stop=st.one_of(st.none(), st.integers(-20, 20)),
       step=st.integers(-5, 5).filter(lambda s: s != 0))
def test_arange_int_args_give_int32_range(start, stop, step):
    got = ops.arange(start, stop, step)
    expected = list(range(start, stop, step)) if stop is not None else list(range(0, start, step))
    _exact(got, np.array(expected, np.int32), dtype="int32")


@given(start=st.floats(-10, 10), stop=st.floats(-10, 10), step=st.floats(0.05, 3) | st.floats(-3, -0.05))
def test_arange_float_args_give_float32(start, stop, step):
    got = ops.arange(start, stop, step)
    n = max(math.ceil((stop - start) / step), 0)
    assert got.dtype == "float32" and got.shape == (n,)
    assert_close(got, start + np.arange(n) * step, rtol=1e-5, atol=1e-5)


def test_arange_dtype_and_errors():
    _exact(ops.arange(3.0), [0.0, 1.0, 2.0], dtype="float32")
    _exact(ops.arange(1, 4, dtype="float32"), [1.0, 2.0, 3.0], dtype="float32")
    _exact(ops.arange(0, 2.5), [0.0, 1.0, 2.0], dtype="float32")
    _exact(ops.arange(4, dtype="int64"), [0, 1, 2, 3], dtype="int64")
    with pytest.raises(ValueError, match="arange"):
        ops.arange(0, 5, 0)


def _linspace_reference(lo, hi, num, endpoint):
    """NumPy's definition, samples on a new last axis: `lo + i * (hi - lo) / div`, the last one
    exactly `hi` when `endpoint`."""
    lo, hi = np.asarray(lo, F64)[..., None], np.asarray(hi, F64)[..., None]
    div = (num - 1) if endpoint else num
    i = np.arange(num, dtype=F64)
    y = lo + i * ((hi - lo) / div) if div > 0 else np.broadcast_to(lo, lo.shape[:-1] + (num,)).copy()
    if endpoint and num > 1:
        y[..., -1] = hi[..., 0]
    return y


ENDPOINT = floats32(-100, 100)


@given(lo=ENDPOINT, hi=ENDPOINT, num=st.integers(0, 9), endpoint=st.booleans(), as_tensor=st.booleans())
def test_linspace_matches_formula(lo, hi, num, endpoint, as_tensor):
    a, b = (T(np.float32(lo)), T(np.float32(hi))) if as_tensor else (lo, hi)
    got = ops.linspace(a, b, num, endpoint=endpoint)
    assert got.dtype == "float32"
    assert_close(got, _linspace_reference(lo, hi, num, endpoint), rtol=1e-5, atol=1e-4)
    if endpoint and num > 1:
        assert to_np(got)[-1] == np.float32(hi)  # exact end point


@given(shape=shapes(max_dims=2, max_side=3), num=st.integers(0, 5), endpoint=st.booleans(), data=st.data())
def test_linspace_array_endpoints_with_axis(shape, num, endpoint, data):
    lo = data.draw(float_arrays(shape))
    hi = data.draw(float_arrays(shape))
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    expected = np.moveaxis(_linspace_reference(lo, hi, num, endpoint), -1, axis)
    for a, b in ((lo, hi), (T(lo), T(hi))):
        assert_close(ops.linspace(a, b, num, endpoint=endpoint, axis=axis), expected, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("lo,hi", [(-100.0, 1e-3), (3.3, -7.1), (-1.1, 2.2)])
def test_linspace_end_point_is_exact_where_float32_rounding_would_miss_it(lo, hi):
    # float32 lo + 1.0 * (hi - lo) != hi for these endpoints; NumPy pins the last sample to stop
    for a, b in ((lo, hi), (T(np.float32(lo)), T(np.float32(hi)))):
        y = to_np(ops.linspace(a, b, 7))
        assert y[-1] == np.float32(hi) and y[0] == np.float32(lo)


def test_linspace_retstep_int_dtype_and_errors():
    for as_tensor in (False, True):
        f = T if as_tensor else (lambda v: v)
        y, step = ops.linspace(f(0.0), f(2.0), 5, retstep=True)
        assert_close(y, [0.0, 0.5, 1.0, 1.5, 2.0])
        assert float(step) == 0.5
        y, step = ops.linspace(f(0.0), f(1.0), 1, retstep=True)
        assert_close(y, [0.0])
        assert math.isnan(float(step))
        _exact(ops.linspace(f(-10.0), f(0.0), 4, dtype="int32"), np.array([-10, -7, -4, 0]), dtype="int32")
    with pytest.raises(ValueError, match="linspace"):
        ops.linspace(0, 1, -1)
    with pytest.raises(ValueError, match="linspace"):
        ops.linspace(0, 1, 5, axis=1)


def test_linspace_grad_through_tensor_endpoints():
    lo, hi = np.array([0.5, -1.0], np.float32), np.array([2.0, 3.0], np.float32)
    frac = np.arange(4) / 3.0

    def expected(lo, hi, w):  # y[k, i] = lo[k] + frac[i] (hi[k] - lo[k]), samples on the last axis
        return [np.sum(w * (1 - frac), axis=-1), np.sum(w * frac, axis=-1)]

    assert_grad_matches(lambda a, b: ops.linspace(a, b, 4, axis=-1), lo, hi, expected=expected, rtol=1e-5, atol=1e-5)


@given(n=st.integers(0, 5), m=st.one_of(st.none(), st.integers(0, 5)), k=st.integers(-6, 6))
def test_eye_matches_definition(n, m, k):
    cols = n if m is None else m
    expected = np.array([[1.0 if j - i == k else 0.0 for j in range(cols)] for i in range(n)]).reshape(n, cols)
    _exact(ops.eye(n, m, k), expected, dtype="float32")


def test_eye_dtype_and_errors():
    _exact(ops.eye(2, dtype="int32"), [[1, 0], [0, 1]], dtype="int32")
    with pytest.raises(ValueError, match="eye"):
        ops.eye(-1)


@given(shape=shapes(max_dims=3), value=st.one_of(st.integers(-5, 5), floats32(-5, 5)))
def test_full_and_full_like(shape, value):
    _exact(ops.full(shape, value), np.full(shape, value, np.float32), dtype="float32")
    _exact(ops.full(shape, value, dtype="int32"), np.full(shape, int(value), np.int32), dtype="int32")
    like = np.zeros(shape, np.int32)
    _exact(ops.full_like(like, value), np.full(shape, int(value), np.int32), dtype="int32")
    _exact(ops.full_like(T(like), value, dtype="float32"), np.full(shape, value, np.float32), dtype="float32")


def test_full_tensor_fill_value_broadcasts_and_is_differentiable():
    v = np.array([1.0, -2.0, 3.0], np.float32)
    _exact(ops.full((2, 3), T(v)), np.broadcast_to(v, (2, 3)))
    _exact(ops.full(3, 7), [7.0, 7.0, 7.0], dtype="float32")
    assert_grad_matches(lambda t: ops.full((4, 3), t), v, expected=lambda v, w: [w.sum(axis=0)], rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="full"):
        ops.full((-1, 2), 0.0)
    with pytest.raises(ValueError, match="full"):
        ops.full((2, 2), T(v))


# ---------------------------------------------------------------------------------------------
# tril / triu / meshgrid / outer


def _tri_mask(shape, k, lower):
    i = np.arange(shape[-2])[:, None]
    j = np.arange(shape[-1])[None, :]
    return (j - i <= k) if lower else (j - i >= k)


@pytest.mark.parametrize("lower", [True, False])
@given(x=float_arrays(min_dims=2), k=st.integers(-5, 5))
def test_tril_triu_match_definition(lower, x, k):
    op = ops.tril if lower else ops.triu
    _exact(op(T(x), k), np.where(_tri_mask(x.shape, k, lower), x, np.float32(0)))


@pytest.mark.parametrize("lower", [True, False])
@settings(max_examples=10)
@given(x=float_arrays(min_dims=2, max_dims=3, max_side=3), k=st.integers(-3, 3))
def test_tril_triu_grad_is_masked_cotangent(lower, x, k):
    op = ops.tril if lower else ops.triu
    assert_grad_matches(lambda t: op(t, k), x, expected=lambda x, w: [np.where(_tri_mask(x.shape, k, lower), w, 0)],
                        rtol=0, atol=0)


def test_tril_triu_int_bool_and_errors():
    x = np.arange(1, 10, dtype=np.int32).reshape(3, 3)
    _exact(ops.tril(x), np.tril(x), dtype="int32")
    _exact(ops.triu(x.astype(bool), -1), np.triu(x.astype(bool), -1), dtype="bool")
    for op, name in ((ops.tril, "tril"), (ops.triu, "triu")):
        with pytest.raises(ValueError, match=name):
            op(np.ones(3))


@given(lengths=st.lists(st.integers(0, 4), max_size=3), indexing=st.sampled_from(["xy", "ij"]))
def test_meshgrid_matches_numpy(lengths, indexing):
    xs = [np.arange(n, dtype=np.float32) * (i + 1) for i, n in enumerate(lengths)]
    got = ops.meshgrid(*[T(x) for x in xs], indexing=indexing)
    expected = np.meshgrid(*xs, indexing=indexing)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        _exact(g, e)


def test_meshgrid_grad_and_errors():
    x, y = np.array([1.0, 2.0], np.float32), np.array([3.0, 4.0, 5.0], np.float32)
    assert_grad_matches(lambda a, b: ops.meshgrid(a, b)[0] * 2.0 + ops.meshgrid(a, b)[1], x, y,
                        expected=lambda a, b, w: [2 * w.sum(axis=0), w.sum(axis=1)], rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="meshgrid"):
        ops.meshgrid(x, y, indexing="xx")


@given(a=float_arrays(max_dims=2, max_side=4), b=float_arrays(max_dims=2, max_side=4))
def test_outer_matches_numpy(a, b):
    assert_close(ops.outer(T(a), T(b)), np.outer(a.astype(F64), b.astype(F64)), rtol=1e-6, atol=1e-5)


def test_outer_grad():
    a = np.array([[1.0, -2.0]], np.float32)
    b = np.array([0.5, 3.0, -1.0], np.float32)
    assert_grad_matches(ops.outer, a, b, expected=lambda a, b, w: [(w @ b).reshape(a.shape), a.reshape(-1) @ w],
                        rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# dot / tensordot


@st.composite
def dot_case(draw, max_side=3):
    ra, rb = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    side = st.integers(0, max_side)
    k = draw(side)
    a_shape = tuple(draw(side) for _ in range(ra - 1)) + ((k,) if ra else ())
    if rb >= 2:
        b_shape = tuple(draw(side) for _ in range(rb - 2)) + (k, draw(side))
    else:
        b_shape = (k,) if rb == 1 and ra >= 1 else tuple(draw(side) for _ in range(rb))
    return draw(float_arrays(a_shape, -3, 3)), draw(float_arrays(b_shape, -3, 3))


@given(case=dot_case())
def test_dot_matches_numpy(case):
    a, b = case
    assert_close(ops.dot(T(a), T(b)), np.dot(a.astype(F64), b.astype(F64)), rtol=1e-5, atol=1e-4)


@settings(max_examples=15)
@given(case=dot_case(max_side=2))
def test_dot_grad(case):
    assert_grad_matches(ops.dot, *case)


@st.composite
def tensordot_case(draw, max_side=3):
    side = st.integers(0, max_side)
    a_shape = draw(st.lists(side, max_size=3))
    if draw(st.booleans()):  # axes=int: last n of a against first n of b
        n = draw(st.integers(0, len(a_shape)))
        b_shape = a_shape[len(a_shape) - n:] + draw(st.lists(side, max_size=2))
        axes = n
    else:
        ax_a = draw(st.permutations(range(len(a_shape))))[: draw(st.integers(0, len(a_shape)))]
        free_b = draw(st.lists(side, max_size=2))
        b_shape = list(free_b)
        ax_b = []
        for i in ax_a:
            pos = draw(st.integers(0, len(b_shape)))
            ax_b = [p + 1 if p >= pos else p for p in ax_b] + [pos]
            b_shape.insert(pos, a_shape[i])
        ax_a = [draw(st.sampled_from([i, i - len(a_shape)])) for i in ax_a]
        axes = (ax_a, ax_b)
    return draw(float_arrays(tuple(a_shape), -3, 3)), draw(float_arrays(tuple(b_shape), -3, 3)), axes


@given(case=tensordot_case())
def test_tensordot_matches_numpy(case):
    a, b, axes = case
    assert_close(ops.tensordot(T(a), T(b), axes), np.tensordot(a.astype(F64), b.astype(F64), axes),
                 rtol=1e-5, atol=1e-4)


@settings(max_examples=15)
@given(case=tensordot_case(max_side=2))
def test_tensordot_grad(case):
    a, b, axes = case
    assert_grad_matches(lambda x, y: ops.tensordot(x, y, axes), a, b)


@pytest.mark.parametrize("a_shape,b_shape,axes", [
    ((2, 3, 4), (3, 4, 5), 2),
    ((2, 3, 4), (4, 3, 5), ([1, 2], [1, 0])),
    ((2, 3, 4), (4, 3, 5), ([2, 1], [0, 1])),
    ((3, 2, 4), (4, 2, 3), ([0, 1, 2], [2, 1, 0])),
    ((2, 3), (3, 2), ([0, 1], [1, 0])),
    ((2, 3, 4), (5, 4, 2), ([-1, 0], [1, 2])),
])
def test_tensordot_multi_axis_contractions(a_shape, b_shape, axes):
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal(a_shape).astype(np.float32), rng.standard_normal(b_shape).astype(np.float32)
    assert_close(ops.tensordot(a, b, axes), np.tensordot(a.astype(F64), b.astype(F64), axes), rtol=1e-5, atol=1e-5)
    assert_grad_matches(lambda x, y: ops.tensordot(x, y, axes), a, b)


def test_dot_tensordot_dtypes_and_errors():
    i = np.arange(6, dtype=np.int32).reshape(2, 3)
    _exact(ops.dot(i, i.T), np.dot(i, i.T), dtype="int32")
    _exact(ops.tensordot(i, np.ones(3, np.float32), 1), i.sum(axis=1).astype(np.float32), dtype="float32")
    _exact(ops.tensordot(np.ones((2, 3)), np.full((2, 3), 2.0)), np.float32(12.0))  # default axes=2
    with pytest.raises(ValueError, match="dot"):
        ops.dot(np.ones((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="tensordot"):
        ops.tensordot(np.ones((2, 3)), np.ones((2, 3)), axes=([1], [1, 0]))
    with pytest.raises(ValueError, match="tensordot"):
        ops.tensordot(np.ones((2, 3)), np.ones((2, 3)), axes=([1], [0]))
    with pytest.raises(ValueError, match="tensordot"):
        ops.tensordot(np.ones((2, 3)), np.ones((3,)), axes=2)
    with pytest.raises(ValueError, match="tensordot"):
        ops.tensordot(np.ones((2, 3)), np.ones((3,)), axes=([2], [0]))


# ---------------------------------------------------------------------------------------------
# einsum


@st.composite
def einsum_case(draw, max_side=3, max_operands=3):
    labels = "abcdE"
    sizes = {c: draw(st.integers(0, max_side)) for c in labels}
    terms = ["".join(draw(st.lists(st.sampled_from(labels), max_size=3)))
             for _ in range(draw(st.integers(1, max_operands)))]
    used = sorted(set("".join(terms)))
    out = None
    if draw(st.booleans()):
        out = "".join(draw(st.permutations(draw(st.lists(st.sampled_from(used), unique=True)) if used else [])))
    operands = [draw(float_arrays(tuple(sizes[c] for c in t), -2, 2)) for t in terms]
    spec = ",".join(terms) + ("" if out is None else "->" + out)
    return spec, operands


@given(case=einsum_case())
def test_einsum_matches_numpy(case):
    spec, operands = case
    expected = np.einsum(spec, *[x.astype(F64) for x in operands])
    assert_close(ops.einsum(spec, *[T(x) for x in operands]), expected, rtol=1e-5, atol=1e-4)


@settings(max_examples=15)
@given(case=einsum_case(max_side=2))
def test_einsum_grad(case):
    spec, operands = case
    assert_grad_matches(lambda *ts: ops.einsum(spec, *ts), *operands)


@pytest.mark.parametrize("spec,shapes_", [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),
    ("i,i", [(3,), (3,)]),
    ("ij->ji", [(2, 3)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("iij->ji", [(2, 2, 3)]),
    ("...ij,...jk->...ik", [(2, 1, 2, 3), (4, 3, 2)]),
    ("...i->...", [(2, 3, 4)]),
    ("ij...,jk", [(2, 3, 4), (3, 2)]),
    ("ij,j->i", [(2, 1), (3,)]),  # a size-1 axis broadcasts
    ("i,j,k,l->lkji", [(2,), (1,), (3,), (2,)]),
    (" ij , jk -> ki ", [(2, 3), (3, 2)]),
    (",i->i", [(), (3,)]),
])
def test_einsum_fixed_cases(spec, shapes_):
    rng = np.random.default_rng(3)
    operands = [rng.standard_normal(s).astype(np.float32) for s in shapes_]
    got = ops.einsum(spec, *[T(x) for x in operands])
    assert_close(got, np.einsum(spec.replace(" ", ""), *[x.astype(F64) for x in operands]), rtol=1e-5, atol=1e-5)
    assert_grad_matches(lambda *ts: ops.einsum(spec, *ts), *operands)


def test_einsum_int_operands_stay_int():
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    _exact(ops.einsum("ij,kj->ik", a, a), np.einsum("ij,kj->ik", a, a), dtype="int32")


@pytest.mark.parametrize("spec,shapes_", [
    ("ij,jk->ik", [(2, 3)]),  # too few operands
    ("ij", [(2, 3), (3,)]),  # too many operands
    ("ijk->i", [(2, 3)]),  # rank mismatch
    ("ij,jk->ik", [(2, 3), (4, 2)]),  # size mismatch
    ("ij->ix", [(2, 3)]),  # output label not in inputs
    ("ij->ii", [(2, 3)]),  # repeated output label
    ("i1->i", [(2, 3)]),  # bad character
    ("ij->i->j", [(2, 3)]),
    ("...i->i", [(2, 3)]),  # ellipsis dims dropped from an explicit output
    ("ii->i", [(2, 3)]),  # diagonal of a non-square pair
])
def test_einsum_errors(spec, shapes_):
    with pytest.raises(ValueError, match="einsum"):
        ops.einsum(spec, *[np.ones(s, np.float32) for s in shapes_])


# ---------------------------------------------------------------------------------------------
# var / std / logsumexp / count_nonzero / average


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy on empty reductions
@pytest.mark.parametrize("name", ["var", "std"])
@given(xa=array_and_axis(float_arrays()), keepdims=st.booleans())
def test_var_std_match_numpy(name, xa, keepdims):
    x, axis = xa
    with np.errstate(all="ignore"):
        expected = getattr(np, name)(x.astype(F64), axis=_np_axis(axis), keepdims=keepdims)
    got = getattr(ops, name)(T(x), axis=axis, keepdims=keepdims)
    assert got.dtype == "float32"
    assert_close(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["var", "std"])
@settings(max_examples=15)
@given(xa=array_and_axis(float_arrays(min_value=-1, max_value=1, min_side=2, **SMALL)), keepdims=st.booleans())
def test_var_std_grad(name, xa, keepdims):
    x, axis = xa
    # a ramp keeps every reduced slice spread out (std well above 0, where sqrt is smooth)
    x = np.asarray(x + 3.0 * np.arange(x.size).reshape(x.shape), np.float32)

    def expected(x, w):  # d var = 2 (x - mean) / N; d std = d var / (2 std)
        axes = normalize_axes(axis, x.ndim)
        n = int(np.prod([x.shape[a] for a in axes]))
        x = x.astype(F64)
        centered = x - x.mean(axis=axes, keepdims=True)
        w = w if keepdims else np.expand_dims(w, axes)
        g = 2.0 * centered / n * w
        if name == "std":  # a rank-0 x has std 0: 0/0 = NaN, as the tape (and jax) give
            with np.errstate(invalid="ignore"):
                g = g / (2.0 * np.sqrt((centered ** 2).mean(axis=axes, keepdims=True)))
        return [g]

    assert_grad_matches(lambda t: getattr(ops, name)(t, axis=axis, keepdims=keepdims), x, expected=expected,
                        rtol=1e-4, atol=1e-5)


def test_var_std_int_input_and_errors():
    x = np.array([[1, 2, 3], [4, 6, 8]], np.int32)
    assert_close(ops.var(x, axis=1), np.var(x, axis=1), dtype="float32")
    assert_close(ops.std(x), np.std(x), dtype="float32")
    for name in ("var", "std"):
        with pytest.raises(ValueError, match=name):
            getattr(ops, name)(x, axis=2)
        with pytest.raises(ValueError, match=name):
            getattr(ops, name)(x, axis=(0, -2))


def _logsumexp_ref(x, axis, keepdims):
    x = x.astype(F64)
    with np.errstate(all="ignore"):
        return np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))


@given(xa=array_and_axis(float_arrays(min_value=-30, max_value=30)), keepdims=st.booleans(), shift=st.sampled_from([0.0, 500.0, -500.0]))
def test_logsumexp_matches_reference_and_is_stable(xa, keepdims, shift):
    x, axis = xa
    expected = _logsumexp_ref(x, _np_axis(axis), keepdims) + (shift if x.size else 0.0)
    got = ops.logsumexp(T(x + np.float32(shift)), axis=axis, keepdims=keepdims)
    assert got.dtype == "float32"
    assert_close(got, expected, rtol=1e-5, atol=1e-4)


@settings(max_examples=15)
@given(xa=array_and_axis(float_arrays(min_value=-5, max_value=5, **SMALL)), keepdims=st.booleans())
def test_logsumexp_grad_is_softmax(xa, keepdims):
    x, axis = xa

    def expected(x, w):
        axes = normalize_axes(axis, x.ndim)
        e = np.exp(x.astype(F64) - x.max(axis=axes, keepdims=True)) if x.size else x.astype(F64)
        soft = e / e.sum(axis=axes, keepdims=True) if x.size else e
        return [soft * (w if keepdims else np.expand_dims(w, axes))]

    assert_grad_matches(lambda t: ops.logsumexp(t, axis=axis, keepdims=keepdims), x, expected=expected,
                        rtol=1e-5, atol=1e-6)


def test_logsumexp_infinities_empty_and_errors():
    _exact(ops.logsumexp(np.array([-np.inf, -np.inf], np.float32)), np.float32(-np.inf))
    _exact(ops.logsumexp(np.array([np.inf, 1.0], np.float32)), np.float32(np.inf))
    assert math.isnan(float(ops.logsumexp(np.array([np.nan, 1.0], np.float32))))
    _exact(ops.logsumexp(np.zeros((0, 3), np.float32), axis=0), np.full(3, -np.inf, np.float32))
    assert_close(ops.logsumexp(np.array([1, 2], np.int32)), np.log(np.e + np.e ** 2), dtype="float32")
    with pytest.raises(ValueError, match="logsumexp"):
        ops.logsumexp(np.ones((2, 2)), axis=2)


@given(xa=array_and_axis(int_arrays(min_value=-2, max_value=2) | float_arrays(
    elements=st.sampled_from([0.0, -0.0, 1.5, np.nan, np.inf]).map(np.float32))))
def test_count_nonzero_matches_numpy(xa):
    x, axis = xa
    got = ops.count_nonzero(T(x), axis=axis)
    assert got.dtype == "int32"
    _exact(got, np.asarray(np.count_nonzero(x, axis=_np_axis(axis))).astype(np.int32))


def test_count_nonzero_errors():
    with pytest.raises(ValueError, match="count_nonzero"):
        ops.count_nonzero(np.ones(3), axis=1)


@st.composite
def average_case(draw, **kw):
    x, axis = draw(array_and_axis(float_arrays(**kw)))
    kind = draw(st.sampled_from(["none", "full", "1d"] if isinstance(axis, int) else ["none", "full"]))
    if kind == "none":
        return x, axis, None
    w_shape = x.shape if kind == "full" else (x.shape[axis],)
    return x, axis, draw(float_arrays(w_shape, 0.1, 3.0))  # positive weights: no zero sums


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's mean of an empty slice
@given(case=average_case())
def test_average_matches_numpy(case):
    x, axis, w = case
    assume(w is None or x.size > 0)  # NumPy raises ZeroDivisionError for an empty weight sum
    with np.errstate(all="ignore"):
        # (np.average itself divides by zero for an unweighted (0, 0) input, so plain mean there)
        expected = (np.mean(x.astype(F64), axis=_np_axis(axis)) if w is None
                    else np.average(x.astype(F64), axis=_np_axis(axis), weights=w.astype(F64)))
    assert_close(ops.average(T(x), axis=axis, weights=None if w is None else T(w)), expected,
                 rtol=1e-5, atol=1e-5, dtype="float32")


@settings(max_examples=15)
@given(case=average_case(min_side=1, **SMALL))
def test_average_grad(case):
    x, axis, w = case
    if w is None:
        assert_grad_matches(lambda t: ops.average(t, axis=axis), x)
    else:
        assert_grad_matches(lambda t, u: ops.average(t, axis=axis, weights=u), x, w)


def test_average_zero_weights_and_errors():
    got = to_np(ops.average(np.ones((2, 3), np.float32), axis=0, weights=np.zeros(2, np.float32)))
    assert np.isnan(got).all() and got.shape == (3,)
    with pytest.raises(ValueError, match="average"):
        ops.average(np.ones((2, 3)), weights=np.ones(3))  # 1-D weights need an int axis
    with pytest.raises(ValueError, match="average"):
        ops.average(np.ones((2, 3)), axis=1, weights=np.ones(2))
    with pytest.raises(ValueError, match="average"):
        ops.average(np.ones((2, 3)), axis=2)


# ---------------------------------------------------------------------------------------------
# slice / get_item / size / ndim


@st.composite
def slice_case(draw):
    x = draw(float_arrays(min_dims=1, max_dims=3, max_side=4))
    starts, sizes = [], []
    for d in x.shape:
        starts.append(draw(st.integers(-d - 1, d + 1)))
        sizes.append(draw(st.sampled_from([-1] + list(range(d + 1)))))
    return x, starts, sizes


def _slice_reference(x, starts, sizes):
    key = []
    for d, s, n in zip(x.shape, starts, sizes):
        s = s + d if s < 0 else s  # negative starts count from the end ...
        s = min(max(s, 0), d)
        n = d - s if n == -1 else n
        s = min(s, d - n)  # ... then the block is clamped inside the axis (jax.lax.dynamic_slice)
        key.append(slice(s, s + n))
    return x[tuple(key)]


@given(case=slice_case())
def test_slice_matches_dynamic_slice_semantics(case):
    x, starts, sizes = case
    _exact(ops.slice(T(x), starts, sizes), _slice_reference(x, starts, sizes))
    _exact(ops.slice(T(x), np.array(starts), tuple(sizes)), _slice_reference(x, starts, sizes))


def test_slice_known_values_grad_and_errors():
    x = np.arange(20, dtype=np.float32).reshape(4, 5)
    _exact(ops.slice(x, (3, -1), (2, 2)), [[13.0, 14.0], [18.0, 19.0]])  # values from keras (jax)
    _exact(ops.slice(x, (1, 1), (-1, 2)), [[6.0, 7.0], [11.0, 12.0], [16.0, 17.0]])
    _exact(ops.slice(np.arange(6, dtype=np.int32), [2], [3]), np.array([2, 3, 4], np.int32), dtype="int32")

    def expected(x, w):
        g = np.zeros_like(x, dtype=F64)
        g[1:3, 2:5] = w
        return [g]

    assert_grad_matches(lambda t: ops.slice(t, [1, 2], [2, -1]), x, expected=expected, rtol=0, atol=0)
    with pytest.raises(ValueError, match="slice"):
        ops.slice(x, [0], [1, 1])
    with pytest.raises(ValueError, match="slice"):
        ops.slice(x, [0, 0], [5, 1])
    with pytest.raises(ValueError, match="slice"):
        ops.slice(x, [0, 0], [1, -2])


def test_get_item_size_ndim():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    for key in [(0, slice(None, None, -1)), (Ellipsis, None, 1), np.array([1, 0, 1]), (slice(1, None), 2, slice(3, 0, -2))]:
        _exact(ops.get_item(T(x), key), x[key])
    assert_grad_matches(lambda t: ops.get_item(t, (slice(None), slice(None, None, -2))),
                        np.ascontiguousarray(x[:, :, 0]),
                        expected=lambda x, w: [np.stack([w[:, 1], np.zeros(2), w[:, 0]], axis=1)], rtol=0, atol=0)
    for value, n, nd in [(x, 24, 3), (T(x), 24, 3), (3.0, 1, 0), ([[1, 2, 3]], 3, 2), (np.zeros((0, 5)), 0, 2)]:
        assert ops.size(value) == n and isinstance(ops.size(value), int)
        assert ops.ndim(value) == nd and isinstance(ops.ndim(value), int)


# ---------------------------------------------------------------------------------------------
# axis errors name the op


@pytest.mark.parametrize("call,name", [
    (lambda x: ops.swapaxes(x, 0, 3), "swapaxes"),
    (lambda x: ops.swapaxes(x, -4, 0), "swapaxes"),
    (lambda x: ops.moveaxis(x, 0, 3), "moveaxis"),
    (lambda x: ops.moveaxis(x, [0, 1], [0]), "moveaxis"),
    (lambda x: ops.moveaxis(x, [0, 0], [1, 2]), "moveaxis"),
    (lambda x: ops.split(x, 3, axis=-4), "split"),
    (lambda x: ops.repeat(x, 2, axis=3), "repeat"),
    (lambda x: ops.flip(x, axis=(0, 3)), "flip"),
    (lambda x: ops.var(x, axis=-4), "var"),
    (lambda x: ops.average(x, axis=5), "average"),
    (lambda x: ops.count_nonzero(x, axis=(1, 1)), "count_nonzero"),
])
def test_bad_axis_raises_value_error_naming_the_op(call, name):
    with pytest.raises(ValueError, match=name):
        call(np.ones((2, 3, 4), np.float32))


def test_composites_are_recorded_on_the_tape_as_one_graph():
    # A chain of several composites: the tape sees every primitive inside them.
    x = T(np.arange(6, dtype=np.float32).reshape(2, 3))
    with keras.GradientTape() as tape:
        tape.watch(x)
        y = ops.sum(ops.einsum("ij,kj->ik", ops.flip(x, 0), ops.tile(x, (1, 1))) * ops.eye(2))
    g = to_np(tape.gradient(y, x))
    # y = sum_i <x[1-i], x[i]> = 2 <x0, x1>: dy/dx0 = 2 x1, dy/dx1 = 2 x0
    np.testing.assert_allclose(g, 2 * np.arange(6, dtype=np.float32).reshape(2, 3)[::-1], rtol=1e-6)

"""Shape ops: reshape, transpose, broadcast_to, __getitem__, take, one_hot, expand_dims, squeeze;
forward against NumPy, gradients, errors."""

from __future__ import annotations

import numpy as np
import pytest
import rskeras as keras
from conftest import T, assert_grad_matches, float_arrays, int_arrays, shapes, to_np, unbroadcast
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from rskeras import ops

F64 = np.float64


def _exact(got, expected):
    g = to_np(got)
    assert g.shape == np.shape(expected), f"shape {g.shape} != {np.shape(expected)}"
    np.testing.assert_array_equal(g, expected)


# ---------------------------------------------------------------------------------------------
# reshape


@st.composite
def reshape_case(draw, max_side=5):
    """An array and a compatible new shape (dims permuted, merged, 1s inserted, maybe one -1)."""
    x = draw(float_arrays(max_side=max_side))
    dims = list(draw(st.permutations(list(x.shape))))
    merged = []
    for d in dims:
        if merged and draw(st.booleans()):
            merged[-1] *= d
        else:
            merged.append(d)
    for _ in range(draw(st.integers(0, 2))):
        merged.insert(draw(st.integers(0, len(merged))), 1)
    if merged and draw(st.booleans()):
        i = draw(st.integers(0, len(merged) - 1))
        others = int(np.prod(merged[:i] + merged[i + 1:]))
        if others != 0:
            merged[i] = -1
    return x, tuple(merged)


@given(case=reshape_case())
def test_reshape_matches_numpy(case):
    x, new = case
    _exact(ops.reshape(T(x), new), np.reshape(x, new))


def test_reshape_accepts_int_none_and_list():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    _exact(ops.reshape(x, -1), x.reshape(-1))
    _exact(ops.reshape(x, [None, 6]), x.reshape(-1, 6))
    _exact(ops.reshape(x, (2, 1, -1)), x.reshape(2, 1, -1))
    _exact(ops.reshape(np.float32(5.0), (1, 1)), np.full((1, 1), 5.0))
    _exact(ops.reshape(np.ones((1, 1), np.float32), ()), np.float32(1.0))
    _exact(ops.reshape(np.zeros((0, 3), np.float32), (-1, 3)), np.zeros((0, 3)))


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.bool_])
def test_reshape_keeps_dtype(dtype):
    x = (np.arange(6) % 2).astype(dtype).reshape(2, 3)
    out = ops.reshape(x, (3, 2))
    assert out.dtype == np.dtype(dtype).name
    _exact(out, x.reshape(3, 2))


@given(case=reshape_case(max_side=3))
def test_reshape_grad_is_reshaped_cotangent(case):
    x, new = case
    assert_grad_matches(lambda t: ops.reshape(t, new), x, expected=lambda x, w: [w.reshape(x.shape)], rtol=0, atol=0)


@pytest.mark.parametrize("shape,new", [((2, 3), (4, 2)), ((2, 3), (-1, 4)), ((2, 3), (-1, -1)), ((0, 3), (0, -1)),
                                       ((4,), (-2, -2))])
def test_reshape_wrong_size_raises_value_error(shape, new):
    with pytest.raises(ValueError, match="reshape"):
        ops.reshape(np.zeros(shape, np.float32), new)


# ---------------------------------------------------------------------------------------------
# transpose


@st.composite
def transpose_case(draw, max_side=5):
    x = draw(float_arrays(max_side=max_side))
    if draw(st.booleans()):
        return x, None
    perm = draw(st.permutations(range(x.ndim)))
    perm = [draw(st.sampled_from([a, a - x.ndim])) for a in perm]  # mix in negative axes
    return x, tuple(perm)


@given(case=transpose_case())
def test_transpose_matches_numpy(case):
    x, axes = case
    _exact(ops.transpose(T(x), axes), np.transpose(x, axes))


@given(x=float_arrays())
def test_tensor_T_reverses_axes(x):
    _exact(T(x).T, x.T)


@given(case=transpose_case(max_side=3))
def test_transpose_grad_is_inverse_permutation(case):
    x, axes = case
    inv = None if axes is None else tuple(np.argsort([a % x.ndim for a in axes]))
    assert_grad_matches(lambda t: ops.transpose(t, axes), x, expected=lambda x, w: [np.transpose(w, inv)],
                        rtol=0, atol=0)


@pytest.mark.parametrize("axes", [(0, 0, 1), (0, 1), (0, 1, 3), (0, 1, 2, 3)])
def test_transpose_bad_axes_raise_value_error(axes):
    with pytest.raises(ValueError, match="transpose"):
        ops.transpose(np.zeros((2, 3, 4), np.float32), axes)


# ---------------------------------------------------------------------------------------------
# broadcast_to


@st.composite
def broadcast_to_case(draw, max_side=4):
    target = draw(shapes(max_side=max_side))
    xs = draw(hnp.broadcastable_shapes(target, min_dims=0, max_dims=len(target), min_side=0, max_side=max_side))
    assume(np.broadcast_shapes(xs, target) == target)
    x = draw(float_arrays(xs))
    return x, target


@given(case=broadcast_to_case())
def test_broadcast_to_matches_numpy(case):
    x, target = case
    _exact(ops.broadcast_to(T(x), target), np.broadcast_to(x, target))


@given(case=broadcast_to_case(max_side=3))
def test_broadcast_to_grad_sums_over_broadcast_axes(case):
    x, target = case
    assert_grad_matches(lambda t: ops.broadcast_to(t, target), x,
                        expected=lambda x, w: [unbroadcast(w, x.shape)], rtol=1e-6, atol=1e-6)


@given(case=broadcast_to_case(max_side=3))
def test_broadcast_to_grad_finite_differences(case):
    x, target = case
    assert_grad_matches(lambda t: ops.broadcast_to(t, target), x)


@pytest.mark.parametrize("shape,target", [((2, 3), (3, 3)), ((2, 3), (3,)), ((3,), (3, 2)), ((2,), (-1, 2))])
def test_broadcast_to_incompatible_raises_value_error(shape, target):
    with pytest.raises(ValueError, match="broadcast_to"):
        ops.broadcast_to(np.zeros(shape, np.float32), target)


# ---------------------------------------------------------------------------------------------
# __getitem__


@st.composite
def basic_index_case(draw, max_side=5):
    x = draw(float_arrays(max_side=max_side))
    idx = draw(hnp.basic_indices(x.shape, allow_newaxis=True, allow_ellipsis=True))
    return x, idx


@given(case=basic_index_case())
def test_getitem_basic_indexing_matches_numpy(case):
    x, idx = case
    _exact(T(x)[idx], x[idx])


@given(case=basic_index_case(max_side=4))
def test_getitem_grad_scatters_cotangent(case):
    x, idx = case

    def expected(x, w):
        g = np.zeros(x.shape, F64)
        g[idx] = w  # basic indexing selects every element at most once
        return [g]

    assert_grad_matches(lambda t: t[idx], x, expected=expected, rtol=0, atol=0)


@given(case=basic_index_case(max_side=3))
def test_getitem_grad_finite_differences(case):
    x, idx = case
    assert_grad_matches(lambda t: t[idx], x)


def test_getitem_negative_steps_and_ellipsis_examples():
    x = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    t = T(x)
    for idx in [(slice(None, None, -1),), (Ellipsis, slice(None, None, -2)), (1, None, slice(3, 0, -1), Ellipsis),
                (slice(-1, -4, -1), 2), (Ellipsis, None), (-1, -1, -1), (slice(10, 20),), (slice(None, None, 3), 0)]:
        _exact(t[idx], x[idx])


@st.composite
def int_array_index_case(draw):
    x = draw(float_arrays(min_dims=1, min_side=1, max_side=4))
    n = x.shape[0]
    idx = draw(hnp.arrays(draw(st.sampled_from([np.int32, np.int64])), shapes(max_dims=2, max_side=4),
                          elements=st.integers(-n, n - 1)))
    return x, idx


@given(case=int_array_index_case(), kind=st.sampled_from(["ndarray", "list", "tensor"]))
def test_getitem_integer_array_is_take_on_axis_0(case, kind):
    x, idx = case
    key = {"ndarray": idx, "list": idx.tolist(), "tensor": T(idx)}[kind]
    if kind == "list" and (idx.ndim == 0 or idx.size == 0):
        key = idx  # a 0-d list is just an int; empty lists: see test_getitem_empty_list_index
    _exact(T(x)[key], x[idx])


@given(case=int_array_index_case())
def test_getitem_integer_array_grad_accumulates_duplicates(case):
    x, idx = case

    def expected(x, w):
        g = np.zeros(x.shape, F64)
        np.add.at(g, idx, w)
        return [g]

    assert_grad_matches(lambda t: t[idx], x, expected=expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("key", [3, -4, (0, 5), (0, 0, 0), (Ellipsis, Ellipsis)])
def test_getitem_out_of_range_raises_index_error(key):
    with pytest.raises(IndexError):
        T(np.zeros((3, 5), np.float32))[key]


def test_getitem_empty_list_index():
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    _exact(T(x)[[]], x[[]])


def test_getitem_integer_array_out_of_range_raises_index_error():
    with pytest.raises(IndexError):
        T(np.zeros((3, 5), np.float32))[np.array([0, 3])]
    with pytest.raises(IndexError):
        T(np.zeros((3, 5), np.float32))[[-4]]


def test_getitem_unsupported_keys_raise_index_error():
    t = T(np.zeros((3, 5), np.float32))
    with pytest.raises(IndexError):
        t[np.array([True, False])]  # a boolean mask must match the leading axes
    with pytest.raises(IndexError):
        t[1.5]


def test_getitem_of_int_and_bool_tensors_keeps_dtype():
    x = np.arange(12, dtype=np.int64).reshape(3, 4)
    out = T(x)[::-1, 1:3]
    assert out.dtype == "int64"
    _exact(out, x[::-1, 1:3])
    b = x % 3 == 0
    out = T(b)[:, None, 2]
    assert out.dtype == "bool"
    _exact(out, b[:, None, 2])


def test_getitem_accepts_numpy_integer_scalars():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    _exact(T(x)[np.int64(1)], x[1])
    _exact(T(x)[np.int32(-1), 1:], x[-1, 1:])


# ---------------------------------------------------------------------------------------------
# take


@st.composite
def take_case(draw, max_side=4):
    x = draw(float_arrays(min_dims=1, max_side=max_side))
    axis = draw(st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1)))
    n = x.size if axis is None else x.shape[axis]
    idx_shape = draw(shapes(max_dims=2, max_side=4))
    if n == 0:
        idx_shape = idx_shape if int(np.prod(idx_shape)) == 0 else (0,)
    idx = draw(hnp.arrays(draw(st.sampled_from([np.int32, np.int64])), idx_shape,
                          elements=st.integers(-n, n - 1) if n else st.just(0)))
    return x, idx, axis


@given(case=take_case())
def test_take_matches_numpy(case):
    x, idx, axis = case
    _exact(ops.take(T(x), T(idx), axis=axis), np.take(x, idx, axis=axis))


@given(case=take_case(max_side=3))
def test_take_grad_scatter_adds_duplicates(case):
    x, idx, axis = case

    def expected(x, w):
        if axis is None:
            g = np.zeros(x.size, F64)
            np.add.at(g, idx, w)
            return [g.reshape(x.shape)]
        a = axis % x.ndim
        g = np.zeros(np.moveaxis(x, a, 0).shape, F64)  # the gathered axis first
        np.add.at(g, idx, _take_cot(w, idx, a))
        return [np.moveaxis(g, 0, a)]

    assert_grad_matches(lambda t: ops.take(t, idx, axis=axis), x, expected=expected, rtol=1e-6, atol=1e-6)


def _take_cot(w, idx, a):
    """Rearrange the cotangent of take (shape x[:a] + idx + x[a+1:]) to idx + x[:a] + x[a+1:],
    matching `np.add.at(g, idx, .)` on g = moveaxis(x, a, 0)."""
    k = idx.ndim
    order = list(range(a, a + k)) + list(range(a)) + list(range(a + k, w.ndim))
    return np.transpose(w, order)


@given(case=take_case(max_side=3))
def test_take_grad_finite_differences(case):
    x, idx, axis = case
    assert_grad_matches(lambda t: ops.take(t, idx, axis=axis), x)


def test_take_python_list_indices_and_int_dtypes():
    x = np.arange(12, dtype=np.int32).reshape(3, 4)
    out = ops.take(x, [[2, -1], [0, 0]], axis=1)
    assert out.dtype == "int32"
    _exact(out, np.take(x, [[2, -1], [0, 0]], axis=1))
    _exact(ops.take(x, np.array(5)), np.take(x, 5))


@pytest.mark.parametrize("idx,axis", [([3], 0), ([-4], 0), ([0, 5], 1), ([12], None), ([-13], None)])
def test_take_out_of_bounds_raises_index_error(idx, axis):
    with pytest.raises(IndexError, match="take"):
        ops.take(np.zeros((3, 4), np.float32), np.array(idx), axis=axis)


def test_take_errors():
    with pytest.raises(TypeError, match="take"):
        ops.take(np.zeros((3,), np.float32), np.array([1.0], np.float32))
    with pytest.raises(ValueError, match="take"):
        ops.take(np.zeros((3,), np.float32), np.array([0]), axis=1)


# ---------------------------------------------------------------------------------------------
# one_hot


@given(labels=int_arrays(min_value=-2, max_value=6, max_dims=3), num_classes=st.integers(0, 5),
       dtype=st.sampled_from([np.int32, np.int64]))
def test_one_hot_matches_reference_and_zeroes_out_of_range(labels, num_classes, dtype):
    labels = labels.astype(dtype)
    out = ops.one_hot(T(labels), num_classes)
    assert out.dtype == "float32"
    expected = (labels[..., None] == np.arange(num_classes)).astype(np.float32)
    _exact(out, expected)


def test_one_hot_errors_and_dtype():
    with pytest.raises(TypeError, match="one_hot"):
        ops.one_hot(np.array([0.0, 1.0], np.float32), 3)
    with pytest.raises(ValueError, match="one_hot"):
        ops.one_hot(np.array([0, 1]), 3, axis=0)
    _exact(ops.one_hot([1, 0], 2, dtype="int32"), np.array([[0, 1], [1, 0]]))


# ---------------------------------------------------------------------------------------------
# expand_dims / squeeze


@given(data=st.data())
def test_expand_dims_matches_numpy(data):
    x = data.draw(float_arrays())
    axis = data.draw(st.integers(-x.ndim - 1, x.ndim))
    _exact(ops.expand_dims(T(x), axis), np.expand_dims(x, axis))


@pytest.mark.parametrize("axis", [3, -4])
def test_expand_dims_out_of_range_raises_value_error(axis):
    with pytest.raises(ValueError, match="expand_dims"):
        ops.expand_dims(np.zeros((2, 3), np.float32), axis)


@given(data=st.data())
def test_squeeze_matches_numpy(data):
    x = data.draw(float_arrays(shapes(max_side=3)))
    ones = [i for i, d in enumerate(x.shape) if d == 1]
    axis = data.draw(st.one_of(st.none(), st.sampled_from(ones) if ones else st.none(),
                               st.lists(st.sampled_from(ones), unique=True, min_size=1).map(tuple) if ones else st.none()))
    if axis is not None:
        axis = data.draw(st.sampled_from([axis, (axis - x.ndim) if isinstance(axis, int)
                                          else tuple(a - x.ndim for a in axis)]))
    _exact(ops.squeeze(T(x), axis), np.squeeze(x, axis))


def test_squeeze_non_unit_axis_raises_value_error():
    with pytest.raises(ValueError, match="squeeze"):
        ops.squeeze(np.zeros((1, 2), np.float32), axis=1)
    with pytest.raises(ValueError, match="squeeze"):
        ops.squeeze(np.zeros((1, 2), np.float32), axis=5)


def test_expand_dims_squeeze_grads():
    x = np.arange(6, dtype=np.float32).reshape(2, 1, 3)
    assert_grad_matches(lambda t: ops.expand_dims(t, 0), x, expected=lambda x, w: [w.reshape(x.shape)], rtol=0, atol=0)
    assert_grad_matches(lambda t: ops.squeeze(t), x, expected=lambda x, w: [w.reshape(x.shape)], rtol=0, atol=0)


# ---------------------------------------------------------------------------------------------
# Large tensors (parallel copy kernels)


def test_large_shape_ops_match_numpy():
    x = np.random.default_rng(0).standard_normal((200, 300, 5)).astype(np.float32)
    t = T(x)
    _exact(ops.transpose(t, (2, 0, 1)), x.transpose(2, 0, 1))
    _exact(t[::-3, 5:250:2, ::-1], x[::-3, 5:250:2, ::-1])
    _exact(ops.broadcast_to(t[:, :1], (200, 300, 5)), np.broadcast_to(x[:, :1], (200, 300, 5)))
    _exact(ops.take(t, np.array([4, 0, 4]), axis=2), np.take(x, [4, 0, 4], axis=2))
    _exact(ops.reshape(t, (-1, 15)), x.reshape(-1, 15))
    with keras.GradientTape() as tape:
        tape.watch(t)
        y = ops.sum(ops.square(t[::2, 10:20]))
    ref = np.zeros_like(x)
    ref[::2, 10:20] = 2 * x[::2, 10:20]
    _exact(tape.gradient(y, t), ref)


# ---------------------------------------------------------------------------------------------
# Chained shape ops under one tape


def test_chained_shape_ops_grad_finite_differences():
    x = np.random.default_rng(3).standard_normal((2, 3, 4)).astype(np.float32)

    def f(t):
        y = ops.transpose(ops.reshape(t, (6, 4)), (1, 0))[::-1, 1:5]
        y = ops.take(ops.broadcast_to(y, (2, 4, 4)), np.array([0, 3, 3]), axis=2)
        return y * y

    assert_grad_matches(f, x)


def test_boolean_mask_indexing_matches_numpy_and_is_differentiable():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    for mask in (x > 10, (x > 10)[..., 0], np.array([True, False]), np.zeros((2, 3), bool)):
        np.testing.assert_array_equal(np.asarray(ops.convert_to_tensor(x)[ops.convert_to_tensor(mask)]), x[mask])
    t = ops.convert_to_tensor(x)
    mask = ops.convert_to_tensor(x % 3 == 0)
    with keras.GradientTape() as tape:
        tape.watch(t)
        y = ops.sum(t[mask] * 2.0)
    np.testing.assert_array_equal(np.asarray(tape.gradient(y, t)), np.where(x % 3 == 0, 2.0, 0.0))
    with pytest.raises(IndexError, match="boolean mask"):
        t[ops.convert_to_tensor(np.ones((3, 3), bool))]

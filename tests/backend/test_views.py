"""Strided views: transpose, basic slicing and broadcast_to share their input's buffer.

Each test checks both halves of the contract: no copy is made (NumPy sees shared memory), and
every consumer of a view (element-wise kernels, reductions, matmul, reshape, NumPy export,
gradients, variable updates) sees exactly the values NumPy computes on the same view.
"""

from __future__ import annotations

import numpy as np
import pytest
import rskeras as keras
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp
from rskeras import ops

from tests.conftest import assert_grad_matches


def _shares(a, b) -> bool:
    return np.shares_memory(np.asarray(a), np.asarray(b))


@pytest.fixture
def x():
    return ops.convert_to_tensor(np.arange(24, dtype="float32").reshape(2, 3, 4))


def test_transpose_slice_index_and_broadcast_are_views(x):
    assert _shares(x, ops.transpose(x))
    assert _shares(x, ops.transpose(x, (1, 0, 2)))
    assert _shares(x, x[:, 1:, ::2])
    assert _shares(x, x[1])
    assert _shares(x, x[..., 2])
    assert _shares(x, ops.expand_dims(x[0], 0))
    assert _shares(x, ops.broadcast_to(x[:, :1], (2, 5, 4)))


def test_views_of_views_compose(x):
    ref = np.arange(24, dtype="float32").reshape(2, 3, 4)
    v = ops.transpose(x[:, ::2, 1:], (2, 0, 1))[::-1]
    np.testing.assert_array_equal(np.asarray(v), ref[:, ::2, 1:].transpose(2, 0, 1)[::-1])
    np.testing.assert_array_equal(np.asarray(ops.reshape(v, (-1,))), ref[:, ::2, 1:].transpose(2, 0, 1)[::-1].ravel())


def test_reversed_view_exports_a_correct_copy(x):
    ref = np.arange(24, dtype="float32").reshape(2, 3, 4)
    np.testing.assert_array_equal(np.asarray(x[:, ::-1, ::-2]), ref[:, ::-1, ::-2])


def test_view_scalars_and_items(x):
    assert x[1, 2, 3].item() == 23.0
    assert float(ops.transpose(x)[3, 2, 1]) == 23.0
    assert bool(x[0, 0, 1])


_slices = st.builds(
    slice,
    st.one_of(st.none(), st.integers(-5, 5)),
    st.one_of(st.none(), st.integers(-5, 5)),
    st.one_of(st.none(), st.integers(-3, 3).filter(lambda s: s != 0)),
)


@given(
    a=hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=4, max_side=5), elements=st.floats(-9, 9, width=32)),
    data=st.data(),
)
def test_ops_on_random_views_match_numpy(a, data):
    perm = data.draw(st.permutations(range(a.ndim)))
    key = tuple(data.draw(_slices) for _ in range(a.ndim))
    ref = a.transpose(perm)[key]
    v = ops.transpose(ops.convert_to_tensor(a), perm)[key]
    np.testing.assert_array_equal(np.asarray(v), ref)
    np.testing.assert_array_equal(np.asarray(v + 1.0), ref + 1.0)
    np.testing.assert_array_equal(np.asarray(v * v), ref * ref)
    np.testing.assert_allclose(np.asarray(ops.sum(v, axis=-1)), ref.sum(axis=-1), rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(np.asarray(ops.reshape(v, (-1,))), ref.reshape(-1))
    np.testing.assert_array_equal(np.asarray(ops.cast(v, "int32")), ref.astype("int32"))


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64"])
@pytest.mark.parametrize(
    "make",
    [
        lambda a, b: (ops.transpose(a), b),  # a^T @ b through strides
        lambda a, b: (ops.transpose(b), a),  # transposed left operand of another shape
        lambda a, b: (a[::2], b),  # row-strided operand
        lambda a, b: (a[:, 1:], b[1:]),  # offset operands
        lambda a, b: (a[:, ::-1], b[::-1]),  # reversed: copied first
    ],
)
def test_matmul_reads_view_operands(dtype, make):
    rng = np.random.default_rng(0)
    a = ops.convert_to_tensor((rng.standard_normal((6, 6)) * 4).astype(dtype))
    b = ops.convert_to_tensor((rng.standard_normal((6, 5)) * 4).astype(dtype))
    va, vb = make(a, b)
    got = ops.matmul(va, vb)
    want = np.asarray(va).astype("float64") @ np.asarray(vb).astype("float64")
    np.testing.assert_allclose(np.asarray(got), want.astype(dtype), rtol=1e-5, atol=1e-4)


def test_batched_matmul_with_broadcast_and_transposed_views():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((3, 4, 5)).astype("float32")
    b = rng.standard_normal((5, 2)).astype("float32")
    ta = ops.transpose(ops.convert_to_tensor(a), (0, 2, 1))  # (3, 5, 4)
    tb = ops.broadcast_to(ops.convert_to_tensor(b.T), (3, 2, 5))
    got = ops.matmul(ops.transpose(ta, (0, 2, 1)), ops.transpose(tb, (0, 2, 1)))
    np.testing.assert_allclose(np.asarray(got), a @ b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "int8", "uint8", "bool"])
def test_views_of_narrow_dtypes(dtype):
    a = (np.arange(12).reshape(3, 4) % 5).astype("float32")
    t = ops.cast(ops.convert_to_tensor(a), dtype)
    v = ops.transpose(t)[1:]
    assert ops.dtype(v) == dtype
    ref = np.asarray(ops.cast(t, "float32")).T[1:]
    np.testing.assert_array_equal(np.asarray(ops.cast(v, "float32")), ref)
    np.testing.assert_array_equal(np.asarray(ops.cast(ops.maximum(v, v), "float32")), ref)


def test_gradients_flow_through_view_chains():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((3, 4, 5))

    def f(t):
        v = ops.transpose(t, (2, 0, 1))[1:, ::2]
        w = ops.broadcast_to(t[:1, :, :1], (3, 4, 5))
        return ops.sum(ops.matmul(v, ops.transpose(v, (0, 2, 1))) ** 2) + ops.sum(w * t)

    assert_grad_matches(f, a)


def test_optimizer_update_does_not_change_views_of_the_variable():
    v = keras.Variable(np.ones((3, 2), "float32"))
    t = ops.transpose(v.value if hasattr(v, "value") else v)
    before = np.asarray(t).copy()
    opt = keras.optimizers.SGD(learning_rate=0.5)
    opt.apply_gradients([(ops.transpose(ops.ones((2, 3))), v)])  # gradient is itself a view
    np.testing.assert_array_equal(np.asarray(v), np.full((3, 2), 0.5, "float32"))
    np.testing.assert_array_equal(np.asarray(t), before)


def test_assign_from_a_view():
    v = keras.Variable(np.zeros((2, 3), "float32"))
    src = ops.convert_to_tensor(np.arange(6, dtype="float32").reshape(3, 2))
    v.assign(ops.transpose(src))
    np.testing.assert_array_equal(np.asarray(v), np.arange(6, dtype="float32").reshape(3, 2).T)

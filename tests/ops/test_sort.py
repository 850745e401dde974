"""argsort on both devices (the CPU kernel in rust/ops/sort.rs; on the gpu `shaders/sort.wgsl`,
`backend/webgpu/kernels/sort.py`) against NumPy's stable argsort and a Python transcription of
the order: ties in index order, NaN last ascending and first descending, -0.0 tied with 0.0, rows
of length 0 and 1, any axis, integer and bool dtypes; and the ops built on it (sort with its
gradient, top_k)."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import rskeras as keras
from rskeras import _core, ops

from tests.conftest import T, to_np


def reference(x: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    """The CPU kernel's order: a stable sort, NaN after every number, reversed comparison when
    descending (so NaN first, ties still in index order)."""
    def cmp(a, b):
        na = x.dtype.kind == "f" and bool(np.isnan(a))
        nb = x.dtype.kind == "f" and bool(np.isnan(b))
        c = int(na) - int(nb) if (na or nb) else int(a > b) - int(a < b)
        return -c if descending else c

    moved = np.moveaxis(x, axis, -1)
    out = np.empty(moved.shape, np.int32)
    for idx in np.ndindex(moved.shape[:-1]):
        row = moved[idx]
        out[idx] = sorted(range(row.shape[0]), key=functools.cmp_to_key(lambda i, j: cmp(row[i], row[j])))
    return np.moveaxis(out, -1, axis)


rng = np.random.default_rng(0)


def ties_and_specials(shape):
    """float32 values with many ties, NaN, +-inf and -0.0 mixed in."""
    x = rng.integers(-3, 4, shape).astype(np.float32)
    specials = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0], np.float32)
    mask = rng.random(shape) < 0.3
    x[mask] = rng.choice(specials, int(mask.sum()))
    return x


CASES = [
    ((0,), 0), ((1,), 0), ((7,), 0), ((7,), -1),
    ((3, 0), -1), ((3, 0), 0), ((0, 4), 1), ((3, 1), -1), ((3, 1), 0),
    ((4, 9), -1), ((4, 9), 0), ((2, 5, 3), 1), ((2, 5, 3), -3),
    ((2, 300), -1),  # rows longer than a workgroup
]


@pytest.mark.parametrize("shape,axis", CASES)
@pytest.mark.parametrize("descending", [False, True])
def test_float_ties_nan_inf_against_numpy_and_the_reference(shape, axis, descending, device):
    x = ties_and_specials(shape)
    got = _core.argsort(T(x), axis, descending)
    assert got.dtype == "int32"
    got = to_np(got)
    np.testing.assert_array_equal(got, reference(x, axis % max(len(shape), 1), descending))
    if not descending:
        np.testing.assert_array_equal(got, np.argsort(x, axis=axis, kind="stable"))


@pytest.mark.parametrize("dtype", ["int32", "int64", "bool", "float16"])
@pytest.mark.parametrize("descending", [False, True])
def test_other_dtypes(dtype, descending, device):
    x = rng.integers(-4, 5, (3, 11)).astype(dtype)
    got = to_np(_core.argsort(T(x), -1, descending))
    np.testing.assert_array_equal(got, reference(x, 1, descending))
    if not descending:
        np.testing.assert_array_equal(got, np.argsort(x, axis=-1, kind="stable"))


def test_public_argsort_scalar_and_flattened(device):
    x = ties_and_specials((3, 4))
    np.testing.assert_array_equal(to_np(ops.argsort(T(x), axis=None)), np.argsort(x.reshape(-1), kind="stable"))
    # The argsort of a scalar is the constant 0, made on the host whatever the operand's device.
    assert int(np.asarray(ops.argsort(T(np.float32(2.0))))) == 0


def test_sort_and_its_gradient(device):
    x = rng.standard_normal((3, 6)).astype(np.float32)
    xs = T(x)
    with keras.GradientTape() as tape:
        tape.watch(xs)
        y = ops.sort(xs, axis=-1)
        loss = ops.sum(y * np.arange(6, dtype=np.float32))
    g = tape.gradient(loss, xs)
    assert y.device == g.device == device
    np.testing.assert_array_equal(to_np(y), np.sort(x, axis=-1))
    want = np.empty_like(x)
    np.put_along_axis(want, np.argsort(x, axis=-1, kind="stable"), np.arange(6, dtype=np.float32)[None], axis=-1)
    np.testing.assert_allclose(to_np(g), want)


def test_top_k_ties_take_the_lower_index(device):
    x = rng.integers(0, 5, (4, 10)).astype(np.float32)  # ties: the lower index first
    values, indices = ops.top_k(T(x), 3)
    want = reference(x, 1, True)[:, :3]
    np.testing.assert_array_equal(to_np(indices), want)
    np.testing.assert_array_equal(to_np(values), np.take_along_axis(x, want, axis=1))

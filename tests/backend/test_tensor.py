"""The Tensor type: conversion from NumPy / lists / scalars and back (read-only, zero-copy views),
dtype promotion of mixed operands, casting, repr, item/float/int/bool/len, conversion errors,
and that no error path can crash the interpreter."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import rskeras as keras
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp
from rskeras import ops

from tests.conftest import T, shapes

# ---------------------------------------------------------------------------------------------
# NumPy -> Tensor -> NumPy

# NumPy dtype -> rskeras dtype
CONVERSIONS = {
    np.float32: "float32",
    np.float64: "float64",   # NumPy float64 arrays stay float64, as in Keras
    np.float16: "float16",
    np.int32: "int32",
    np.int64: "int64",
    np.int8: "int8",
    np.int16: "int16",
    np.uint8: "uint8",
    np.uint16: "int32",
    np.uint32: "int64",
    np.bool_: "bool",
}


@pytest.mark.parametrize("np_dtype", list(CONVERSIONS), ids=lambda d: np.dtype(d).name)
@given(data=st.data())
def test_from_numpy_dtype_mapping_and_values(np_dtype, data):
    kind, bits = np.dtype(np_dtype).kind, np.dtype(np_dtype).itemsize * 8
    elements = st.floats(-1e4, 1e4, width=bits) if kind == "f" else None  # None: the dtype's full range
    x = data.draw(hnp.arrays(np_dtype, shapes(), elements=elements))
    t = T(x)
    assert t.dtype == CONVERSIONS[np_dtype]
    assert t.shape == x.shape and isinstance(t.shape, tuple)
    out = np.asarray(t)
    assert out.dtype == np.dtype(CONVERSIONS[np_dtype])
    np.testing.assert_array_equal(out, x.astype(out.dtype))


@given(x=hnp.arrays(np.float32, shapes(), elements=st.floats(width=32, allow_nan=True, allow_infinity=True)))
def test_float32_roundtrip_is_bit_exact(x):
    assert np.asarray(T(x)).tobytes() == x.tobytes()
    assert T(x).numpy().tobytes() == x.tobytes()


@given(x=hnp.arrays(np.float32, shapes(min_dims=2, min_side=1)))
def test_strided_non_contiguous_arrays_convert_by_value(x):
    y = np.moveaxis(np.stack([x, x + 1]), 0, 1)  # usually neither C- nor F-contiguous
    for view in (x[..., ::-1][::2], x[::-1], x[..., 1:], y):
        if view.flags.f_contiguous and not view.flags.c_contiguous:
            continue  # Fortran order: covered by test_fortran_ordered_arrays_convert_by_value
        np.testing.assert_array_equal(np.asarray(T(view)), view)


@pytest.mark.parametrize("make", [lambda x: x.T, np.asfortranarray, lambda x: x.T.copy(order="F")],
                         ids=["transposed", "asfortranarray", "fortran_copy"])
def test_fortran_ordered_arrays_convert_by_value(make):
    x = make(np.arange(6, dtype=np.float32).reshape(2, 3))
    np.testing.assert_array_equal(np.asarray(T(x)), x)
    np.testing.assert_array_equal(np.asarray(ops.add(x, 0.0)), x)


def test_np_asarray_is_a_read_only_zero_copy_view():
    t = T(np.arange(6, dtype=np.float32).reshape(2, 3))
    a, b = np.asarray(t), np.asarray(t)
    assert not a.flags.writeable
    assert not a.flags.owndata
    assert np.shares_memory(a, b)  # both views address the tensor's own buffer
    with pytest.raises(ValueError):
        a[0, 0] = 42.0
    np.testing.assert_array_equal(a, np.arange(6).reshape(2, 3))


def test_numpy_method_returns_a_writable_copy():
    t = T(np.arange(3, dtype=np.float32))
    c = t.numpy()
    assert c.flags.writeable and not np.shares_memory(c, np.asarray(t))
    c[0] = 100.0
    np.testing.assert_array_equal(np.asarray(t), [0.0, 1.0, 2.0])


def test_source_array_is_copied_on_conversion():
    x = np.arange(3, dtype=np.float32)
    t = T(x)
    x[0] = 50.0
    np.testing.assert_array_equal(np.asarray(t), [0.0, 1.0, 2.0])


def test_view_outlives_the_tensor():
    a = np.asarray(T(np.full((1000,), 7.0, np.float32)))  # the tensor object is gone now
    import gc
    gc.collect()
    np.testing.assert_array_equal(a, 7.0)


def test_views_are_unaffected_by_later_variable_updates():
    v = keras.Variable(np.array([1.0, 2.0], np.float32))
    view, snapshot = np.asarray(v), ops.convert_to_tensor(v)
    v.assign(np.array([5.0, 6.0], np.float32))
    v.assign_add(np.array([1.0, 1.0], np.float32))
    np.testing.assert_array_equal(view, [1.0, 2.0])  # copy-on-write: the old buffer is intact
    np.testing.assert_array_equal(np.asarray(snapshot), [1.0, 2.0])
    np.testing.assert_array_equal(np.asarray(v), [6.0, 7.0])
    with pytest.raises(ValueError):
        v.assign(np.zeros((3,), np.float32))


def test_asarray_with_dtype_and_copy():
    t = T(np.array([1.5, -2.5], np.float32))
    np.testing.assert_array_equal(np.asarray(t, dtype=np.float64), [1.5, -2.5])
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    c = np.array(t, copy=True)
    assert c.flags.writeable
    np.testing.assert_array_equal(c, [1.5, -2.5])


# ---------------------------------------------------------------------------------------------
# Lists and scalars


@pytest.mark.parametrize("value,dtype,shape", [
    (3, "int32", ()),
    (2.5, "float32", ()),
    (True, "bool", ()),
    ([1, 2, 3], "int32", (3,)),
    ([[1.0, 2.0], [3.0, 4.0]], "float32", (2, 2)),
    ([1, 2.5], "float32", (2,)),
    ([True, False], "bool", (2,)),
    ([], "float32", (0,)),
    ([[], []], "float32", (2, 0)),
    (np.float64(1.25), "float32", ()),
    (np.float32(1.25), "float32", ()),
    (np.array(3.5), "float64", ()),
    (np.bool_(True), "bool", ()),
])
def test_lists_and_scalars(value, dtype, shape):
    t = T(value)
    assert t.dtype == dtype and t.shape == shape
    np.testing.assert_array_equal(np.asarray(t), np.asarray(value).astype(dtype))


def test_tensor_constructor_and_dtype_argument():
    t = keras.Tensor([1.7, -1.7, 2.5], dtype="int32")
    assert t.dtype == "int32"
    np.testing.assert_array_equal(np.asarray(t), [1, -1, 2])  # truncation toward zero
    assert T([1, 2], dtype=np.float32).dtype == "float32"
    assert T([1, 2], dtype=np.dtype("int64")).dtype == "int64"
    assert T(T([1.0])).dtype == "float32"


@given(x=hnp.arrays(np.float32, shapes(), elements=st.floats(-1e9, 1e9, width=32)),
       dtype=st.sampled_from(["int32", "int64", "bool", "float32"]))
def test_cast_matches_numpy(x, dtype):
    out = ops.cast(T(x), dtype)
    assert out.dtype == dtype
    np.testing.assert_array_equal(np.asarray(out), x.astype(dtype))


def test_cast_from_bool_and_int():
    b = np.array([True, False, True])
    np.testing.assert_array_equal(np.asarray(ops.cast(b, "float32")), [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(np.asarray(ops.cast(np.array([0, -3, 2]), "bool")), [False, True, True])
    i64 = np.array([2**40 + 3, -5], np.int64)
    np.testing.assert_array_equal(np.asarray(ops.cast(i64, "int32")), i64.astype(np.int32))


# ---------------------------------------------------------------------------------------------
# dtype promotion


def test_int32_plus_float32_is_float32():
    out = T(np.array([1, 2], np.int32)) + T(np.array([0.5, 0.25], np.float32))
    assert out.dtype == "float32"
    np.testing.assert_array_equal(np.asarray(out), [1.5, 2.25])


def test_int_tensor_plus_python_float_is_float32():
    out = T(np.array([1, 2], np.int32)) + 1.5
    assert out.dtype == "float32"
    np.testing.assert_array_equal(np.asarray(out), [2.5, 3.5])
    out = 0.5 * T(np.array([1, 3], np.int64))
    assert out.dtype == "float32"
    np.testing.assert_array_equal(np.asarray(out), [0.5, 1.5])


def test_float_tensor_plus_python_int_stays_float32():
    out = T(np.array([1.5], np.float32)) + 2
    assert out.dtype == "float32"
    np.testing.assert_array_equal(np.asarray(out), [3.5])
    assert (3 - T(np.array([1.5], np.float32))).dtype == "float32"


def test_int32_tensor_plus_python_int_stays_int32():
    out = T(np.array([1, 2], np.int32)) + 3
    assert out.dtype == "int32"
    np.testing.assert_array_equal(np.asarray(out), [4, 5])
    out = 10 - T(np.array([1, 2], np.int32))
    assert out.dtype == "int32"
    np.testing.assert_array_equal(np.asarray(out), [9, 8])
    assert (T(np.array([1], np.int64)) * 2).dtype == "int64"


def test_python_scalar_promotion_through_ops_functions():
    i = T(np.array([1, 2], np.int32))
    assert ops.add(i, 1).dtype == "int32"
    assert ops.add(1, i).dtype == "int32"
    assert ops.multiply(i, 0.5).dtype == "float32"
    assert ops.multiply(0.5, i).dtype == "float32"
    assert ops.divide(i, 2).dtype == "float32"
    assert ops.add(T(np.array([True])), 1).dtype == "int32"


def test_numpy_operand_promotion():
    f = T(np.array([1.0], np.float32))
    assert (f + np.array([1.0], np.float64)).dtype == "float64"
    assert (T(np.array([1], np.int32)) + np.array([1], np.int64)).dtype == "int64"
    assert (np.array([1], np.int32) + T(np.array([0.5], np.float32))).dtype == "float32"


@pytest.mark.parametrize("make", [
    lambda: T([2**40, 1]),
    lambda: T(2**40),
    lambda: T(np.int64(2**40)),
    lambda: T(np.array([1], np.int32)) + 2**40,
], ids=["list", "python_int", "numpy_int64_scalar", "int32_tensor_plus_big_int"])
def test_out_of_int32_range_integers_are_not_silently_corrupted(make):
    try:
        t = make()
    except (OverflowError, ValueError, TypeError):
        return  # raising is acceptable
    values = np.asarray(t).astype(object)
    assert 2**40 in values or 2**40 + 1 in values, f"silently changed to {values}"


# ---------------------------------------------------------------------------------------------
# Python protocol


def test_shape_dtype_ndim_size_device():
    t = T(np.zeros((2, 0, 3), np.float32))
    assert t.shape == (2, 0, 3) and isinstance(t.shape, tuple)
    assert t.ndim == 3 and t.size == 0 and t.dtype == "float32" and t.device == "cpu"
    assert ops.shape(t) == (2, 0, 3) and ops.dtype(t) == "float32"
    assert ops.is_tensor(t) and not ops.is_tensor(np.zeros(2))
    assert isinstance(ops.convert_to_numpy(t), np.ndarray)


def test_repr_shows_shape_dtype_and_values():
    r = repr(T(np.array([[1.5, 2.0, -3.0], [4.0, 5.0, 6.0]], np.float32)))
    assert "Tensor" in r and "float32" in r
    assert "(2, 3)" in r or "[2, 3]" in r
    assert "1.5" in r and "-3." in r
    r = repr(T(np.array([7, 8], np.int64)))
    assert "int64" in r and "7" in r and "8" in r


def test_item_float_int_bool():
    assert T(2.5).item() == 2.5 and isinstance(T(2.5).item(), float)
    assert T(np.array([[7]], np.int32)).item() == 7 and isinstance(T(np.array([7])).item(), int)
    assert T(np.array([True])).item() is True
    assert float(T(np.array([1.25], np.float32))) == 1.25
    assert float(T(3)) == 3.0
    assert int(T(np.array([-7.9], np.float32))) == -7
    assert bool(T(1.0)) is True and bool(T(0.0)) is False and bool(T(np.array([[2]]))) is True
    with pytest.raises(ValueError):
        T(np.zeros(2)).item()
    with pytest.raises(ValueError):
        bool(T(np.zeros(2)))
    with pytest.raises(ValueError):
        float(T(np.zeros((0,))))


def test_len_and_iteration():
    t = T(np.arange(6, dtype=np.float32).reshape(3, 2))
    assert len(t) == 3
    assert len(T(np.zeros((0, 4)))) == 0
    rows = list(t)
    assert len(rows) == 3
    np.testing.assert_array_equal(np.asarray(rows[2]), [4.0, 5.0])
    with pytest.raises(TypeError):
        len(T(1.0))


def test_large_tensors_convert_and_compute():
    x = np.random.default_rng(0).standard_normal((300, 500)).astype(np.float32)
    t = T(x)
    np.testing.assert_array_equal(np.asarray(t * 2.0), x * 2.0)
    np.testing.assert_array_equal(np.asarray(ops.relu(t)), np.maximum(x, 0))


def test_zeros_ones_like():
    np.testing.assert_array_equal(np.asarray(ops.zeros((2, 3))), np.zeros((2, 3)))
    assert ops.ones((2,), "int32").dtype == "int32"
    z = ops.zeros_like(T(np.array([1, 2], np.int64)))
    assert z.dtype == "int64" and z.shape == (2,)
    np.testing.assert_array_equal(np.asarray(ops.ones_like(np.zeros((1, 2), np.float32))), [[1.0, 1.0]])


# ---------------------------------------------------------------------------------------------
# Conversion errors


@pytest.mark.parametrize("value", ["abc", ["a", "b"], np.array(["x"]), [[1, 2], [3]], np.array([1 + 2j]), None,
                                   {"a": 1}, object()],
                         ids=["str", "str_list", "str_array", "ragged", "complex", "none", "dict", "object"])
def test_unconvertible_values_raise_type_error(value):
    with pytest.raises(TypeError):
        ops.convert_to_tensor(value)


def test_unsupported_dtype_name_raises():
    with pytest.raises((TypeError, ValueError)):
        ops.convert_to_tensor([1.0], "complex128")
    with pytest.raises((TypeError, ValueError)):
        ops.cast([1.0], "complex64")


# ---------------------------------------------------------------------------------------------
# No error path may crash the interpreter

_ERROR_SCRIPT = textwrap.dedent("""
    import numpy as np, rskeras as keras
    from rskeras import ops
    cases = [
        lambda: ops.add(np.ones((2, 3), np.float32), np.ones((4,), np.float32)),
        lambda: ops.sum(np.ones((2, 3), np.float32), axis=5),
        lambda: ops.max(np.zeros((0,), np.float32)),
        lambda: ops.argmax(np.zeros((0,), np.float32)),
        lambda: ops.matmul(np.ones((2, 3), np.float32), np.ones((4, 5), np.float32)),
        lambda: ops.matmul(np.float32(1), np.ones((2, 2), np.float32)),
        lambda: ops.take(np.ones((3,), np.float32), np.array([3])),
        lambda: ops.take(np.float32(1), np.array([0]), axis=0),
        lambda: ops.convert_to_tensor(np.ones((3,), np.float32))[3],
        lambda: ops.convert_to_tensor(np.ones((3,), np.float32))[0, 0],
        lambda: ops.reshape(np.ones((3,), np.float32), (2, 2)),
        lambda: ops.transpose(np.ones((2, 3), np.float32), (0, 0)),
        lambda: ops.broadcast_to(np.ones((3,), np.float32), (2,)),
        lambda: ops.convert_to_tensor("abc"),
        lambda: ops.sparse_categorical_crossentropy(np.array([5]), np.ones((1, 3), np.float32)),
        lambda: ops.sparse_categorical_crossentropy(np.array([0]), np.ones((1, 0), np.float32)),
        lambda: ops.softmax(np.float32(1)),
        lambda: ops.one_hot(np.array([0.5]), 2),
        lambda: keras.random.uniform((-1,), seed=0),
        lambda: keras.random.uniform((2**40, 2**40), seed=0),
        lambda: ops.where(np.ones((2,), bool), np.ones((3,), np.float32), np.ones((2,), np.float32)),
        lambda: ops.cast(np.ones(2), "complex64"),
    ]
    for i, case in enumerate(cases):
        try:
            case()
        except (ValueError, TypeError, IndexError, OverflowError, MemoryError) as e:
            pass
        except BaseException as e:  # e.g. pyo3 PanicException
            print("case", i, "raised", type(e).__name__, e)
            raise SystemExit(3)
        else:
            print("case", i, "did not raise")
            raise SystemExit(4)
    print("OK")
""")


def test_error_paths_never_crash_the_interpreter():
    out = subprocess.run([sys.executable, "-c", _ERROR_SCRIPT], check=False, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"rc={out.returncode}\nstdout={out.stdout}\nstderr={out.stderr[-2000:]}"
    assert out.stdout.strip().endswith("OK")

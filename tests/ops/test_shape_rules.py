"""Every op's shape/dtype rule (`rskeras.ops.shape_rules`) against its kernel.

The arguments come from the hostile-input op table (tests/fuzz/_op_table.py): for each case
where the eager op returns, the rule, given KerasTensors of the same shapes and dtypes in
place of the tensor arguments, must give the same output shapes and dtypes. Cases with
arrays over 100,000 elements are left to the fuzz suite (they run in worker processes)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings

from rskeras import ops
from rskeras.backend.keras_tensor import KerasTensor
from rskeras.ops import operation
from tests.fuzz import _cases
from tests.fuzz._op_table import TABLE

_CONVERTED = {"uint16": "int32", "uint32": "int64", "uint64": "int64"}
_TENSOR_DTYPES = ("bool", "int8", "uint8", "int16", "int32", "int64", "float16", "float32", "float64")

# Ops registered with a rule and present in the op table.
RULED = sorted(set(operation.op_names()) & set(TABLE))


def test_every_public_op_with_tensor_inputs_has_a_rule():
    """Functions of tensors are Operations; the rest make tensors from Python values
    (arange, zeros, eye...) or answer questions about them (shape, ndim, is_tensor...)."""
    no_tensor_input = {"arange", "linspace", "eye", "zeros", "ones", "full", "shape", "ndim", "size",
                       "dtype", "is_tensor", "convert_to_numpy", "cond", "Tensor", "Operation"}
    public = {n for n in dir(ops) if not n.startswith("_") and callable(getattr(ops, n))}
    ruled = set(operation.op_names())
    missing = sorted(n for n in public - no_tensor_input if getattr(getattr(ops, n), "op_name", None) not in ruled)
    assert not missing, f"ops without a shape rule: {missing}"


def _as_keras_tensor(value):
    """A KerasTensor standing for a tensor argument (None when `value` is not one)."""
    if hasattr(value, "shape") and hasattr(value, "dtype") and not np.isscalar(value):
        dtype = str(getattr(value.dtype, "name", value.dtype))
        if isinstance(value, np.ndarray):  # as ops.convert_to_tensor converts it
            dtype = _CONVERTED.get(dtype, dtype)
        if dtype not in _TENSOR_DTYPES or np.ndim(value) == 0 and isinstance(value, np.generic):
            return None
        return KerasTensor(tuple(value.shape), dtype)
    return None


def _symbolic(value, arrays, key):
    # `arrays`: the table's tensor arguments ("rest", "all": every positional one; none: the
    # first, for the conversion ops)
    if arrays in ("rest", "all") or key in (arrays or (0,)):
        if isinstance(value, list) and value and all(_as_keras_tensor(v) is not None for v in value):
            return [_as_keras_tensor(v) for v in value]
        kt = _as_keras_tensor(value)
        if kt is not None:
            return kt
    return value


def _too_big(value) -> bool:
    if isinstance(value, (list, tuple)):
        return any(_too_big(v) for v in value)
    if isinstance(value, type):  # a dtype given as a class (np.float32) has no shape
        return False
    return int(np.prod(getattr(value, "shape", ()), dtype=np.float64)) > 100_000


def _size(shape) -> float:
    return float(np.prod([1 if d is None else d for d in shape], dtype=np.float64))


def _big_numbers(values) -> bool:
    """Python ints or int sequences whose use as sizes could make a large tensor."""
    for v in values:
        if isinstance(v, (list, tuple)):
            if _big_numbers(v):
                return True
        elif isinstance(v, (int, np.integer)) and not isinstance(v, bool) and abs(int(v)) > 10_000:
            return True
    return False


def _outputs(result):
    return list(result) if isinstance(result, (list, tuple)) else [result]


@pytest.mark.parametrize("name", RULED)
def test_rule_matches_kernel(name):
    spec = TABLE[name]
    fn = spec.function()
    rule = operation._OPS[name][1]
    checked = []

    @settings(max_examples=25, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=spec.args)
    def check(case):
        enc_args, enc_kwargs = case
        try:
            args = [_cases.decode(a) for a in enc_args]
            kwargs = {k: _cases.decode(v) for k, v in enc_kwargs.items()}
        except Exception:
            assume(False)
        assume(not _too_big(args) and not _too_big(list(kwargs.values())))
        sym_args = [_symbolic(a, spec.arrays, i) for i, a in enumerate(args)]
        sym_kwargs = {k: _symbolic(v, spec.arrays, k) for k, v in kwargs.items()}
        if not any(isinstance(a, KerasTensor) or (isinstance(a, list) and a and isinstance(a[0], KerasTensor))
                   for a in [*sym_args, *sym_kwargs.values()]):
            return
        try:
            got = _outputs(rule(*sym_args, **sym_kwargs))
        except Exception as exc:  # the rule rejects: so must the kernel, on small sizes
            assume(not _big_numbers([*args, *kwargs.values()]))
            got = exc
        else:  # the rule's outputs bound the kernel's memory
            assume(all(_size(g.shape) <= 1_000_000 for g in got))
        try:
            with np.errstate(all="ignore"):
                want = _outputs(fn(*args, **kwargs))
        except Exception:
            return  # rejected inputs: the rule may reject them too, or not (value checks)
        assert not isinstance(got, Exception), f"{name}: the rule raised {got!r} where the kernel answers"
        assert len(got) == len(want), f"{name}: rule gives {len(got)} outputs, kernel {len(want)}"
        for g, w in zip(got, want):
            assert tuple(g.shape) == tuple(w.shape), f"{name}: rule {g.shape}, kernel {w.shape}"
            assert g.dtype == w.dtype, f"{name}: rule dtype {g.dtype}, kernel {w.dtype}"
        checked.append(1)

    check()
    assert checked, f"{name}: no case of the table ran eagerly, so the rule was never compared"


def test_unknown_sizes_stay_unknown_and_known_ones_are_kept():
    x = KerasTensor((None, 5, 3))
    assert ops.sum(x, axis=1).shape == (None, 3)
    assert ops.reshape(x, (-1, 15)).shape == (None, 15)
    assert ops.matmul(x, KerasTensor((3, 7))).shape == (None, 5, 7)
    assert ops.concatenate([x, x], axis=0).shape == (None, 5, 3)
    assert ops.concatenate([x, x], axis=1).shape == (None, 10, 3)
    assert x[:, 1:4].shape == (None, 3, 3)
    assert ops.conv(KerasTensor((None, None, None, 3)), KerasTensor((3, 3, 3, 8))).shape == (None, None, None, 8)
    with pytest.raises(ValueError, match="matmul"):
        ops.matmul(x, KerasTensor((4, 7)))
    with pytest.raises(ValueError, match="broadcast"):
        ops.add(x, KerasTensor((None, 4, 3)))

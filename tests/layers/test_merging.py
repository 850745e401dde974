"""Merging layers (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot) against
NumPy: values, gradients to every input, masks, configs and errors."""

from __future__ import annotations

import numpy as np
import pytest
import rskeras as keras
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp
from rskeras import ops

from tests.conftest import assert_close, float_arrays
from tests.layer_conformance import check_layer

L = keras.layers


def rand(*shape, seed=0, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Merging


def _np_merge(arrays):
    """Arrays expanded after the batch axis to a common rank (Keras's rule)."""
    top = max(a.ndim for a in arrays)
    return [a.reshape((a.shape[0],) + (1,) * (top - a.ndim) + a.shape[1:]) for a in arrays]


NP_MERGES = {
    "Add": (L.Add, L.add, lambda xs: sum(xs[1:], xs[0])),
    "Multiply": (L.Multiply, L.multiply, lambda xs: np.prod(np.broadcast_arrays(*xs), axis=0)),
    "Average": (L.Average, L.average, lambda xs: sum(xs[1:], xs[0]) / len(xs)),
    "Maximum": (L.Maximum, L.maximum, lambda xs: np.max(np.broadcast_arrays(*xs), axis=0)),
    "Minimum": (L.Minimum, L.minimum, lambda xs: np.min(np.broadcast_arrays(*xs), axis=0)),
    "Subtract": (L.Subtract, L.subtract, lambda xs: xs[0] - xs[1]),
}


@st.composite
def merge_inputs(draw, num):
    batch = draw(st.integers(1, 3))
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=num, min_dims=0, max_dims=3,
                                                    min_side=1, max_side=4))
    return [draw(float_arrays((batch,) + s)) for s in shapes.input_shapes]


@pytest.mark.parametrize("name", sorted(NP_MERGES))
@given(data=st.data())
def test_merge_layers_match_numpy(name, data):
    cls, fn, reference = NP_MERGES[name]
    num = 2 if name == "Subtract" else data.draw(st.integers(1, 4))
    xs = data.draw(merge_inputs(num))
    expected = reference(_np_merge(xs))
    check_layer(cls, xs, expected_output=expected, supports_gradient=False, rtol=1e-6, atol=1e-6)
    assert_close(fn(xs), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", sorted(NP_MERGES))
def test_merge_layer_errors(name):
    cls = NP_MERGES[name][0]
    layer = cls(name=f"my_{name.lower()}")
    with pytest.raises(ValueError, match=rf'my_{name.lower()}.*\(2, 3\).*\(2, 4\)'):
        layer([rand(2, 3), rand(2, 4)])
    with pytest.raises(ValueError, match="batch sizes"):
        cls()([rand(2, 3), rand(3, 3)])
    with pytest.raises(ValueError, match="list"):
        cls()(rand(2, 3))
    with pytest.raises(ValueError, match="incompatible"):
        cls().compute_output_shape([(None, 3), (None, 5)])
    if name == "Subtract":
        with pytest.raises(ValueError, match="exactly 2"):
            cls()([rand(2, 3)] * 3)


class _MergeWithAffine(keras.Layer):
    """`merge([x, 2x + 1])`: puts a merge layer into a single-input model."""

    def __init__(self, merge, **kwargs):
        super().__init__(**kwargs)
        self.merge = merge

    def call(self, inputs):
        return self.merge([inputs, inputs * 2.0 + 1.0])

    def compute_output_shape(self, input_shape):
        return self.merge.compute_output_shape([input_shape, input_shape])


@pytest.mark.parametrize("name", sorted(NP_MERGES))
def test_merge_layers_config_and_sequential(name):
    cls, _, reference = NP_MERGES[name]
    layer = cls(name=f"merge_{name.lower()}")
    config = layer.get_config()
    assert cls.from_config(config).get_config() == config
    # Inside a Sequential (whose layers take one tensor, as in Keras): a layer that merges
    # its input with 2x + 1.
    model = keras.Sequential([_MergeWithAffine(cls())])
    model.build((None, 3))
    assert model.output_shape == (None, 3)
    x = rand(4, 3)
    assert_close(model.predict(x, verbose=0), reference([x, 2 * x + 1]), rtol=1e-6, atol=1e-6)


def test_merge_gradients_flow_to_every_input():
    a, b = ops.convert_to_tensor(rand(2, 3)), ops.convert_to_tensor(rand(2, 1, seed=1))
    with keras.GradientTape() as tape:
        tape.watch([a, b])
        y = ops.sum(L.multiply([a, b]))
    ga, gb = tape.gradient(y, [a, b])
    assert_close(ga, np.broadcast_to(np.asarray(b), (2, 3)), rtol=1e-6)
    assert_close(gb, np.asarray(a).sum(axis=1, keepdims=True), rtol=1e-6)


def test_merge_compute_mask_is_or():
    m1 = np.array([[True, False, False]])
    m2 = np.array([[False, False, True]])
    xs = [rand(1, 3, 2), rand(1, 3, 2)]
    assert_close(L.Add().compute_mask(xs, [m1, m2]), m1 | m2)
    assert L.Add().compute_mask(xs, [m1, None]) is None
    assert L.Add().compute_mask(xs, None) is None


@st.composite
def concat_case(draw):
    rank = draw(st.integers(2, 4))
    base = list(draw(hnp.array_shapes(min_dims=rank, max_dims=rank, min_side=1, max_side=3)))
    axis = draw(st.integers(-rank, rank - 1))
    n = draw(st.integers(1, 3))
    arrays = []
    for _ in range(n):
        shape = list(base)
        shape[axis] = draw(st.integers(0 if axis % rank else 1, 3))
        arrays.append(draw(float_arrays(tuple(shape))))
    return arrays, axis


@given(concat_case())
def test_concatenate_matches_numpy(case):
    arrays, axis = case
    expected = np.concatenate(arrays, axis=axis)
    check_layer(L.Concatenate(axis=axis), arrays, expected_output=expected, supports_gradient=False,
                rtol=0, atol=0)
    assert_close(L.concatenate(arrays, axis=axis), expected, rtol=0, atol=0)


def test_concatenate_errors_and_unknown_sizes():
    layer = L.Concatenate(name="cat")
    with pytest.raises(ValueError, match=r"cat.*\(2, 3, 4\).*\(2, 5, 4\)"):
        layer([rand(2, 3, 4), rand(2, 5, 4)])
    with pytest.raises(ValueError, match="same rank"):
        L.Concatenate()([rand(2, 3), rand(2, 3, 1)])
    with pytest.raises(ValueError, match=r"every axis but.*\(2, 3\).*\(3, 3\)"):
        L.Concatenate(axis=1)([rand(2, 3), rand(3, 3)])
    assert tuple(L.Concatenate(axis=0)([rand(2, 3), rand(1, 3)]).shape) == (3, 3)
    with pytest.raises(ValueError, match="axis"):
        L.Concatenate(axis=1.5)
    with pytest.raises(ValueError, match="out of range"):
        L.Concatenate(axis=3)([rand(2, 3), rand(2, 3)])
    assert L.Concatenate().compute_output_shape([(None, 3), (None, 4)]) == (None, 7)
    assert L.Concatenate(axis=1).compute_output_shape([(None, None, 2), (None, 4, 2)]) == (None, None, 2)


def test_concatenate_compute_mask():
    xs = [rand(1, 2, 3), rand(1, 2, 3)]
    m1 = np.array([[True, False]])
    out = L.Concatenate(axis=1).compute_mask(xs, [m1, None])
    expected = np.concatenate([np.broadcast_to(m1[..., None], (1, 2, 3)), np.ones((1, 2, 3), bool)], 1).any(-1)
    assert_close(out, expected)
    assert L.Concatenate().compute_mask(xs, [None, None]) is None


def _np_batch_dot(x, y, a0, a1):
    out = np.stack([np.tensordot(x[i], y[i], axes=([a0 - 1], [a1 - 1])) for i in range(len(x))])
    return out.reshape(len(x), 1) if out.ndim == 1 else out


@st.composite
def dot_case(draw):
    batch = draw(st.integers(1, 3))
    k = draw(st.integers(1, 4))
    sx = list(draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=3)))
    sy = list(draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=3)))
    a0 = draw(st.integers(1, len(sx) + 1))
    a1 = draw(st.integers(1, len(sy) + 1))
    sx.insert(a0 - 1, k)
    sy.insert(a1 - 1, k)
    x = draw(float_arrays((batch, *sx)))
    y = draw(float_arrays((batch, *sy)))
    axes = draw(st.sampled_from([(a0, a1), (a0 - x.ndim, a1 - y.ndim)]))
    return x, y, a0, a1, axes


@given(dot_case(), st.booleans())
def test_dot_matches_numpy(case, normalize):
    x, y, a0, a1, axes = case
    xn, yn = x.astype(np.float64), y.astype(np.float64)
    if normalize:
        xn = xn / np.maximum(np.linalg.norm(xn, axis=a0, keepdims=True), 1e-7)
        yn = yn / np.maximum(np.linalg.norm(yn, axis=a1, keepdims=True), 1e-7)
    expected = _np_batch_dot(xn, yn, a0, a1)
    check_layer(L.Dot(axes=axes, normalize=normalize), [x, y], expected_output=expected,
                supports_gradient=False, rtol=1e-4, atol=1e-4)


def test_dot_keras_examples_and_errors():
    x = np.arange(10, dtype=np.float32).reshape(1, 5, 2)
    y = np.arange(10, 20, dtype=np.float32).reshape(1, 2, 5)
    out = L.Dot(axes=(1, 2))([x, y])
    assert_close(out, np.matmul(x[0].T, y[0].T)[None], rtol=0, atol=0)
    a, b = rand(4, 3), rand(4, 3, seed=1)
    assert_close(L.dot([a, b], axes=1), (a * b).sum(1, keepdims=True), rtol=1e-6, atol=1e-6)
    assert L.Dot(axes=-1).compute_output_shape([(None, 3), (None, 3)]) == (None, 1)
    with pytest.raises(ValueError, match=r"dot_layer.*\(4, 3\).*\(4, 5\)"):
        L.Dot(axes=1, name="dot_layer")([a, rand(4, 5)])
    with pytest.raises(ValueError, match="batch axis 0"):
        L.Dot(axes=0)([a, b])
    with pytest.raises(ValueError, match="exactly 2"):
        L.Dot(axes=1)([a, b, a])
    with pytest.raises(ValueError, match="rank >= 2"):
        L.Dot(axes=1)([rand(4), rand(4)])
    for bad in [(1, 2, 3), "x", (1.0, 2)]:
        with pytest.raises(ValueError, match="axes"):
            L.Dot(axes=bad)
    layer = L.Dot(axes=(1, 2), normalize=True)
    assert L.Dot.from_config(layer.get_config()).get_config() == layer.get_config()
    assert L.Dot(axes=1).compute_mask([a, b], [None, None]) is None

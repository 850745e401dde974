"""Convolution and pooling ops against a direct NumPy reference (Keras padding rules) and
their gradients against finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_grad_matches
from fuzz._references import conv2d, pads
from hypothesis import given
from hypothesis import strategies as st
from rskeras import ops


def ref_conv(x, k, s, padding, d, groups=1):
    """Direct NHWC convolution in float64 (the fuzz suite's reference)."""
    return conv2d(x, k, s, padding, d, groups)


def ref_pool(x, p, s, padding, kind):
    n, h, w, c = x.shape
    oh, pt = pads(h, p[0], s[0], 1, padding)
    ow, pl = pads(w, p[1], s[1], 1, padding)
    out = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            y0, x0 = i * s[0] - pt, j * s[1] - pl
            win = x[:, max(y0, 0):y0 + p[0], max(x0, 0):x0 + p[1], :]
            out[:, i, j] = win.max(axis=(1, 2)) if kind == "max" else win.mean(axis=(1, 2))
    return out


@st.composite
def conv_case(draw):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (1, 1) if max(s) > 1 else (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = draw(st.sampled_from(["valid", "same"]))
    groups = draw(st.sampled_from([1, 1, 2]))
    cg, og = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h = draw(st.integers((kh - 1) * d[0] + 1, 7))
    w = draw(st.integers((kw - 1) * d[1] + 1, 7))
    n = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 1000)))
    x = rng.standard_normal((n, h, w, cg * groups)).astype("float32")
    k = rng.standard_normal((kh, kw, cg, og * groups)).astype("float32")
    return x, k, s, padding, d, groups


@given(case=conv_case())
def test_conv2d_matches_reference(case):
    x, k, s, padding, d, groups = case
    got = ops.conv(x, k, s, padding, dilation_rate=d)
    np.testing.assert_allclose(np.asarray(got), ref_conv(x, k, s, padding, d, groups), rtol=1e-4, atol=1e-4)


@given(case=conv_case())
def test_conv2d_gradients(case):
    x, k, s, padding, d, _ = case
    assert_grad_matches(lambda a, b: ops.conv(a, b, s, padding, dilation_rate=d), x, k)


def test_conv_float64_and_channels_first():
    rng = np.random.default_rng(0)
    x, k = rng.standard_normal((2, 6, 5, 3)), rng.standard_normal((3, 3, 3, 4))
    got = ops.conv(x, k, 1, "same")
    assert got.dtype == "float64"
    np.testing.assert_allclose(np.asarray(got), ref_conv(x, k, (1, 1), "same", (1, 1)), rtol=1e-12)
    cf = ops.conv(np.moveaxis(x, -1, 1), k, 1, "same", data_format="channels_first")
    np.testing.assert_allclose(np.asarray(cf), np.moveaxis(np.asarray(got), -1, 1), rtol=1e-12)


def test_conv1d_and_causal_padding():
    rng = np.random.default_rng(1)
    x, k = rng.standard_normal((2, 9, 3)).astype("float32"), rng.standard_normal((3, 3, 4)).astype("float32")
    want = ref_conv(x[:, None], k[None], (1, 2), "same", (1, 1))[:, 0]
    np.testing.assert_allclose(np.asarray(ops.conv(x, k, 2, "same")), want, rtol=1e-5, atol=1e-5)
    causal = np.asarray(ops.conv(x, k, 1, "causal", dilation_rate=2))
    padded = np.pad(x, ((0, 0), (4, 0), (0, 0)))
    np.testing.assert_allclose(causal, ref_conv(padded[:, None], k[None], (1, 1), "valid", (1, 2))[:, 0],
                               rtol=1e-5, atol=1e-5)
    assert causal.shape == (2, 9, 4)


def test_depthwise_and_separable_conv():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 6, 6, 3)).astype("float32")
    dk = rng.standard_normal((3, 3, 3, 2)).astype("float32")
    pk = rng.standard_normal((1, 1, 6, 4)).astype("float32")
    grouped = dk.reshape(3, 3, 1, 6)  # output channel c * 2 + m is channel c with filter m
    want = ref_conv(x, grouped, (1, 1), "same", (1, 1), groups=3)
    np.testing.assert_allclose(np.asarray(ops.depthwise_conv(x, dk, 1, "same")), want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(ops.separable_conv(x, dk, pk, 1, "same")),
                               want @ pk[0, 0], rtol=1e-4, atol=1e-4)
    assert_grad_matches(lambda a, b: ops.depthwise_conv(a, b, 2, "valid"), x, dk)


@pytest.mark.parametrize("s, padding", [(1, "valid"), (2, "valid"), (3, "valid"), (2, "same"), (1, "same")])
def test_conv_transpose_is_the_adjoint_of_conv(s, padding):
    # <conv(x, k), y> == <x, conv_transpose(y, k)> for every x, y: conv_transpose is conv's adjoint.
    rng = np.random.default_rng(3)
    k = rng.standard_normal((3, 2, 4, 5))  # conv: 4 -> 5 channels; transpose: 5 -> 4
    y = rng.standard_normal((2, 4, 3, 5))
    out = np.asarray(ops.conv_transpose(y, k, s, padding))
    x = rng.standard_normal(out.shape)
    fwd = np.asarray(ops.conv(x, k, s, padding))
    assert fwd.shape == y.shape
    np.testing.assert_allclose(np.sum(fwd * y), np.sum(x * out), rtol=1e-10)
    assert_grad_matches(lambda a, b: ops.conv_transpose(a, b, s, padding),
                        y.astype("float32"), k.astype("float32"))


@given(data=st.data())
def test_pooling_matches_reference_and_gradients(data):
    p = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    s = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    padding = data.draw(st.sampled_from(["valid", "same"]))
    h, w = data.draw(st.integers(p[0], 7)), data.draw(st.integers(p[1], 7))
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    x = rng.permutation(2 * h * w * 3).reshape(2, h, w, 3).astype("float32") / 7  # no ties
    for kind, fn in (("max", ops.max_pool), ("avg", ops.average_pool)):
        got = np.asarray(fn(x, p, s, padding))
        np.testing.assert_allclose(got, ref_pool(x, p, s, padding, kind), rtol=1e-5, atol=1e-6)
        assert_grad_matches(lambda t, fn=fn: fn(t, p, s, padding), x, eps=1e-2)


def test_max_pool_ties_send_the_gradient_to_the_first_maximum_and_nan_propagates():
    import rskeras as keras

    x = ops.convert_to_tensor(np.ones((1, 2, 2, 1), "float32"))
    with keras.GradientTape() as tape:
        tape.watch(x)
        y = ops.sum(ops.max_pool(x, 2))
    np.testing.assert_array_equal(np.asarray(tape.gradient(y, x))[0, :, :, 0], [[1, 0], [0, 0]])
    x = np.array([1.0, np.nan, 0.0, 2.0], "float32").reshape(1, 2, 2, 1)
    assert np.isnan(np.asarray(ops.max_pool(x, 2))).all()


def test_conv_and_pool_errors_name_the_op_and_shapes():
    x = np.zeros((1, 5, 5, 3), "float32")
    with pytest.raises(ValueError, match=r"conv: input channels \(3\).*kernel"):
        ops.conv(x, np.zeros((3, 3, 2, 4), "float32"))
    with pytest.raises(ValueError, match=r"conv.*larger than the input dimension 5"):
        ops.conv(x, np.zeros((6, 1, 3, 4), "float32"))
    with pytest.raises(ValueError, match="padding must be 'valid' or 'same'"):
        ops.conv(x, np.zeros((1, 1, 3, 4), "float32"), padding="full")
    with pytest.raises(ValueError, match=r"conv: expected an input of rank 3 .* or 4"):
        ops.conv(np.zeros((5, 3), "float32"), np.zeros((1, 3, 4), "float32"))
    with pytest.raises(ValueError, match=r"max_pool.*larger than the input"):
        ops.max_pool(x, 6)
    with pytest.raises(ValueError, match="strides"):
        ops.max_pool(x, 2, strides=(1, 2, 3))
    with pytest.raises(ValueError, match="output_padding"):
        ops.conv_transpose(x, np.zeros((2, 2, 4, 3), "float32"), output_padding=1)

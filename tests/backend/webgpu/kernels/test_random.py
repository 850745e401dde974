"""Random fills on the gpu device (`shaders/random.wgsl`): the same Philox 4x32-10 stream as
the CPU generator, so `random.uniform` is bit-identical to the CPU's and `random.normal`
agrees to about 1 ulp (the shader computes its own log, sin and cos)."""

from __future__ import annotations

import numpy as np
import pytest
import rskeras as keras
from rskeras import _core

SHAPES = [(7,), (1,), (), (33, 5), (2, 3, 5), (4, 4), (0,), (3, 0, 2), (1001,)]
STREAMS = [(0, 0), (1, 0), (42, 7), (123456789012345, 2**40 + 3), (2**64 - 1, 2**64 - 1)]


def on_gpu(fn, *args):
    """`fn(*args)` with random ops creating their results on the gpu device."""
    _core.set_default_device("gpu")
    try:
        out = fn(*args)
    finally:
        _core.set_default_device("cpu")
    assert out.device == "gpu"
    return out


@pytest.mark.parametrize("shape", SHAPES)
def test_uniform_is_bit_identical_to_the_cpu(gpu, shape):
    for seed, counter in STREAMS[:3] if len(shape) != 1 else STREAMS:
        for lo, hi in [(0.0, 1.0), (-3.5, 7.25)]:
            want = _core.random_uniform(shape, lo, hi, seed, counter).numpy()
            got = on_gpu(_core.random_uniform, shape, lo, hi, seed, counter)
            assert tuple(got.shape) == shape and got.dtype == "float32"
            np.testing.assert_array_equal(np.asarray(got), want)


@pytest.mark.parametrize("lo, hi", [(2.0, 2.0), (-1e-3, 1e30), (-5.0, -4.999999), (0.0, 1e-38)])
def test_uniform_edge_ranges_match_the_cpu(gpu, lo, hi):
    want = _core.random_uniform((257,), lo, hi, 9, 1).numpy()
    got = np.asarray(on_gpu(_core.random_uniform, (257,), lo, hi, 9, 1))
    np.testing.assert_array_equal(got, want)
    assert np.all(got >= lo) and (lo == hi or np.all(got < hi))


@pytest.mark.parametrize("shape", SHAPES)
def test_normal_matches_the_cpu(gpu, shape):
    for seed, counter in STREAMS:
        for mean, stddev in [(0.0, 1.0), (3.0, 0.5)]:
            want = _core.random_normal(shape, mean, stddev, seed, counter).numpy()
            got = on_gpu(_core.random_normal, shape, mean, stddev, seed, counter)
            assert tuple(got.shape) == shape and got.dtype == "float32"
            np.testing.assert_allclose(np.asarray(got), want, rtol=2e-6, atol=1e-6)


def test_large_draws_match_the_cpu(gpu):
    # Every block of the stream, including values near the ends of (0, 1) that stress the
    # shader's log (u -> 0 and u -> 1) and its sin/cos range reduction.
    want = _core.random_normal((100_001,), 0.0, 1.0, 7, 9).numpy()
    got = np.asarray(on_gpu(_core.random_normal, (100_001,), 0.0, 1.0, 7, 9))
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-6)
    want = _core.random_uniform((100_003,), -2.0, 3.0, 7, 9).numpy()
    got = np.asarray(on_gpu(_core.random_uniform, (100_003,), -2.0, 3.0, 7, 9))
    np.testing.assert_array_equal(got, want)


def test_public_api_with_a_seed_is_device_independent(gpu):
    want_u = np.asarray(keras.random.uniform((5, 9), minval=-1.0, maxval=2.0, seed=1234))
    want_n = np.asarray(keras.random.normal((5, 9), mean=1.0, stddev=2.0, seed=1234))
    got_u = on_gpu(keras.random.uniform, (5, 9), -1.0, 2.0, None, 1234)
    got_n = on_gpu(keras.random.normal, (5, 9), 1.0, 2.0, None, 1234)
    np.testing.assert_array_equal(np.asarray(got_u), want_u)
    np.testing.assert_allclose(np.asarray(got_n), want_n, rtol=2e-6, atol=2e-6)


def test_streams_differ_and_look_uniform(gpu):
    a = np.asarray(on_gpu(_core.random_uniform, (4096,), 0.0, 1.0, 1, 0))
    b = np.asarray(on_gpu(_core.random_uniform, (4096,), 0.0, 1.0, 1, 1))
    assert not np.array_equal(a, b)
    assert 0.0 <= a.min() and a.max() < 1.0 and abs(a.mean() - 0.5) < 0.02
    n = np.asarray(on_gpu(_core.random_normal, (4096,), 0.0, 1.0, 2, 0))
    assert abs(n.mean()) < 0.06 and abs(n.std() - 1.0) < 0.05

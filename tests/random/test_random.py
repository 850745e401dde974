"""Counter-based random numbers: Philox 4x32-10 known answers, reproducibility, SeedGenerator
streams, distribution sanity of uniform / normal, dropout, and bit-identical results whatever
the thread count."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import rskeras as keras
from hypothesis import given, strategies as st
from rskeras import _core, ops

from tests.conftest import to_np

U32 = st.integers(0, 2**32 - 1)


# ---------------------------------------------------------------------------------------------
# Philox 4x32-10


# Known-answer vectors of the Random123 reference implementation (kat_vectors, philox4x32_10).
PHILOX_KAT = [
    ([0, 0, 0, 0], [0, 0], [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
    ([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2, [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
    ([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0],
     [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]),
]


@pytest.mark.parametrize("counter,key,expected", PHILOX_KAT)
def test_philox_known_answer_vectors(counter, key, expected):
    assert list(_core.philox4x32_10(counter, key)) == expected


def _philox_reference(counter, key):
    """A direct Python transcription of Philox4x32-10 (Salmon et al., SC'11)."""
    m0, m1, w0, w1 = 0xD2511F53, 0xCD9E8D57, 0x9E3779B9, 0xBB67AE85
    c, k = list(counter), list(key)
    for r in range(10):
        if r:
            k = [(k[0] + w0) & 0xFFFFFFFF, (k[1] + w1) & 0xFFFFFFFF]
        p0, p1 = m0 * c[0], m1 * c[2]
        c = [(p1 >> 32) ^ c[1] ^ k[0], p1 & 0xFFFFFFFF, (p0 >> 32) ^ c[3] ^ k[1], p0 & 0xFFFFFFFF]
    return c


@given(counter=st.lists(U32, min_size=4, max_size=4), key=st.lists(U32, min_size=2, max_size=2))
def test_philox_matches_python_reference(counter, key):
    assert list(_core.philox4x32_10(counter, key)) == _philox_reference(counter, key)


@given(c1=st.lists(U32, min_size=4, max_size=4), c2=st.lists(U32, min_size=4, max_size=4),
       key=st.lists(U32, min_size=2, max_size=2))
def test_philox_different_counters_give_different_blocks(c1, c2, key):
    # Philox is a bijection of the counter for a fixed key.
    out1, out2 = _core.philox4x32_10(c1, key), _core.philox4x32_10(c2, key)
    assert (list(out1) == list(out2)) == (c1 == c2)


def test_philox_neighbouring_counters_and_keys_differ():
    base = list(_core.philox4x32_10([0, 0, 0, 0], [0, 0]))
    for i in range(4):
        c = [0, 0, 0, 0]
        c[i] = 1
        assert list(_core.philox4x32_10(c, [0, 0])) != base
    assert list(_core.philox4x32_10([0, 0, 0, 0], [1, 0])) != base
    assert list(_core.philox4x32_10([0, 0, 0, 0], [0, 1])) != base


def test_philox_rejects_out_of_range_words():
    with pytest.raises((OverflowError, TypeError, ValueError)):
        _core.philox4x32_10([2**32, 0, 0, 0], [0, 0])
    with pytest.raises((TypeError, ValueError)):
        _core.philox4x32_10([0, 0, 0], [0, 0])


# ---------------------------------------------------------------------------------------------
# Reproducibility and streams


DRAWS = {
    "uniform": lambda shape, seed: keras.random.uniform(shape, seed=seed),
    "normal": lambda shape, seed: keras.random.normal(shape, seed=seed),
    "dropout": lambda shape, seed: keras.random.dropout(np.ones(shape, np.float32), 0.5, seed=seed),
}


@pytest.mark.parametrize("kind", sorted(DRAWS))
@given(seed=st.integers(0, 2**64 - 1), shape=st.lists(st.integers(0, 7), max_size=3).map(tuple))
def test_same_int_seed_gives_bit_identical_draws(kind, seed, shape, device):
    a, b = to_np(DRAWS[kind](shape, seed)), to_np(DRAWS[kind](shape, seed))
    assert a.shape == shape and a.dtype == np.float32
    assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("kind", ["uniform", "normal"])
@given(s1=st.integers(0, 2**63), s2=st.integers(0, 2**63))
def test_different_seeds_give_different_draws(kind, s1, s2):
    a, b = to_np(DRAWS[kind]((64,), s1)), to_np(DRAWS[kind]((64,), s2))
    assert (a.tobytes() == b.tobytes()) == (s1 == s2)


def test_prefix_property_element_i_depends_only_on_seed_and_index(device):
    small = to_np(keras.random.uniform((10,), seed=7))
    big = to_np(keras.random.uniform((100_000,), seed=7))
    np.testing.assert_array_equal(big[:10], small)
    assert to_np(keras.random.uniform((2, 5), seed=7)).tobytes() == small.tobytes()


def test_seed_generator_advances_and_replays(device):
    g1, g2 = keras.random.SeedGenerator(123), keras.random.SeedGenerator(123)
    a1, a2 = to_np(keras.random.uniform((50,), seed=g1)), to_np(keras.random.uniform((50,), seed=g1))
    assert a1.tobytes() != a2.tobytes()  # each draw uses the next counter
    b1, b2 = to_np(keras.random.uniform((50,), seed=g2)), to_np(keras.random.uniform((50,), seed=g2))
    assert a1.tobytes() == b1.tobytes() and a2.tobytes() == b2.tobytes()
    other = to_np(keras.random.uniform((50,), seed=keras.random.SeedGenerator(124)))
    assert other.tobytes() != a1.tobytes()


def test_unseeded_draws_differ_and_global_seed_replays():
    from rskeras.utils import set_random_seed

    a, b = to_np(keras.random.normal((32,))), to_np(keras.random.normal((32,)))
    assert a.tobytes() != b.tobytes()
    set_random_seed(99)
    x = [to_np(keras.random.uniform((16,))) for _ in range(2)]
    set_random_seed(99)
    y = [to_np(keras.random.uniform((16,))) for _ in range(2)]
    assert x[0].tobytes() == y[0].tobytes() and x[1].tobytes() == y[1].tobytes()
    assert x[0].tobytes() != x[1].tobytes()


def test_bad_seeds_raise_value_error():
    with pytest.raises(ValueError):
        keras.random.uniform((2,), seed="abc")
    with pytest.raises(ValueError):
        keras.random.SeedGenerator(1.5)


# ---------------------------------------------------------------------------------------------
# Distributions (fixed seeds: deterministic; thresholds are >= 5 standard errors)

N = 100_000


@pytest.mark.parametrize("minval,maxval,seed", [(0.0, 1.0, 0), (-3.0, 5.0, 1), (10.0, 10.5, 2), (-1e-3, 1e-3, 3)])
def test_uniform_range_mean_std(minval, maxval, seed, device):
    raw = to_np(keras.random.uniform((N,), minval=minval, maxval=maxval, seed=seed))
    assert raw.dtype == np.float32 and raw.shape == (N,)
    x = raw.astype(np.float64)
    assert x.min() >= minval and x.max() < maxval
    width = maxval - minval
    assert abs(x.mean() - (minval + maxval) / 2) < 5 * width / np.sqrt(12 * N)
    assert abs(x.std() - width / np.sqrt(12)) < 0.01 * width
    # chi-square over 20 equal bins (19 dof: P(chi2 > 60) ~ 3e-6)
    counts, _ = np.histogram(x, bins=20, range=(minval, maxval))
    chi2 = np.sum((counts - N / 20) ** 2 / (N / 20))
    assert chi2 < 60, chi2


def test_uniform_never_returns_maxval():
    x = to_np(keras.random.uniform((173_327,), minval=10.0, maxval=10.5, seed=0))
    assert x.max() < 10.5


def test_uniform_bits_look_independent():
    x = to_np(keras.random.uniform((N,), seed=11)).astype(np.float64)
    lag1 = np.corrcoef(x[:-1], x[1:])[0, 1]
    lag4 = np.corrcoef(x[:-4], x[4:])[0, 1]  # across Philox blocks of 4 words
    assert abs(lag1) < 5 / np.sqrt(N) and abs(lag4) < 5 / np.sqrt(N)


@pytest.mark.parametrize("mean,stddev,seed", [(0.0, 1.0, 0), (3.0, 0.5, 5), (-2.0, 10.0, 6)])
def test_normal_mean_std_and_shape(mean, stddev, seed, device):
    x = to_np(keras.random.normal((N,), mean=mean, stddev=stddev, seed=seed)).astype(np.float64)
    assert np.all(np.isfinite(x))
    assert abs(x.mean() - mean) < 5 * stddev / np.sqrt(N)
    assert abs(x.std() / stddev - 1) < 0.015
    z = (x - mean) / stddev
    assert abs(np.mean(np.abs(z) < 1) - 0.6827) < 0.008
    assert abs(np.mean(z**3)) < 0.05  # skewness
    assert abs(np.mean(z**4) - 3) < 0.1  # kurtosis


def test_random_shapes_and_errors():
    assert to_np(keras.random.uniform((0, 3), seed=1)).shape == (0, 3)
    assert to_np(keras.random.normal((), seed=1)).shape == ()
    assert to_np(keras.random.uniform(5, seed=1)).shape == (5,)
    assert keras.random.uniform((2,), seed=1).dtype == "float32"
    with pytest.raises(ValueError):
        keras.random.uniform((-1, 2), seed=1)
    with pytest.raises(ValueError):
        keras.random.uniform((2,), minval=1.0, maxval=0.0, seed=1)
    with pytest.raises(ValueError):
        keras.random.normal((2,), dtype="int32", seed=1)


# ---------------------------------------------------------------------------------------------
# dropout


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.9])
def test_dropout_keep_rate_and_scaling(rate, device):
    x = np.random.default_rng(0).uniform(0.5, 2.0, size=(N,)).astype(np.float32)
    y = to_np(keras.random.dropout(x, rate, seed=3))
    kept = y != 0
    keep = 1 - rate
    assert abs(kept.mean() - keep) < 5 * np.sqrt(rate * keep / N)
    np.testing.assert_allclose(y[kept], x[kept] * np.float32(1 / keep), rtol=1e-6)
    # the expectation is preserved
    assert abs(y.mean() / x.mean() - 1) < 5 * np.sqrt(rate / keep / N) * 1.5


def test_dropout_rate_zero_is_identity_and_bad_rates_raise():
    x = np.arange(6, dtype=np.float32)
    np.testing.assert_array_equal(to_np(keras.random.dropout(x, 0.0, seed=1)), x)
    for rate in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError, match="dropout"):
            keras.random.dropout(x, rate, seed=1)


def test_dropout_noise_shape_broadcasts_one_mask():
    x = np.ones((64, 8), np.float32)
    y = to_np(keras.random.dropout(x, 0.5, noise_shape=(1, 8), seed=4))
    assert np.all(y == y[:1])  # the same columns are dropped in every row
    assert set(np.unique(y)) <= {0.0, 2.0}
    y = to_np(keras.random.dropout(x, 0.5, noise_shape=(None, 1), seed=4))
    assert np.all(y == y[:, :1])


def test_dropout_gradient_is_the_mask(device):
    x = ops.convert_to_tensor(np.ones((1000,), np.float32))
    with keras.GradientTape() as tape:
        tape.watch(x)
        y = keras.random.dropout(x, 0.25, seed=8)
    g = to_np(tape.gradient(y, x))
    np.testing.assert_array_equal(g, to_np(y))  # d(x * mask)/dx = mask, and y = mask for x = 1


# ---------------------------------------------------------------------------------------------
# Thread-count independence


_SCRIPT = textwrap.dedent("""
    import hashlib, numpy as np, rskeras as keras
    h = hashlib.sha256()
    for shape, seed in [((1000, 1000), 42), ((100_003,), 2**63 + 5), ((3, 7), 1)]:
        h.update(np.asarray(keras.random.uniform(shape, minval=-2.0, maxval=3.0, seed=seed)).tobytes())
        h.update(np.asarray(keras.random.normal(shape, seed=seed)).tobytes())
    g = keras.random.SeedGenerator(77)
    for _ in range(3):
        h.update(np.asarray(keras.random.dropout(np.ones((400, 500), np.float32), 0.3, seed=g)).tobytes())
    print(h.hexdigest())
""")


def _digest_in_subprocess(threads):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, check=False, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_same_seed_bit_identical_across_thread_counts():
    one, two = _digest_in_subprocess(1), _digest_in_subprocess(2)
    assert len(one) == 64
    assert one == two
    # and the same bytes in this process (whatever its pool size)
    ns = {}
    exec(_SCRIPT.replace("print(h.hexdigest())", "result = h.hexdigest()"), ns)
    assert ns["result"] == one


def test_digest_is_sensitive_to_the_stream():
    """Guard for the test above: the hashed draws do change with the seed."""
    a = hashlib.sha256(np.asarray(keras.random.uniform((1000,), seed=42)).tobytes()).hexdigest()
    b = hashlib.sha256(np.asarray(keras.random.uniform((1000,), seed=43)).tobytes()).hexdigest()
    assert a != b


def test_truncated_normal_range_moments_and_reproducibility(device):
    z = np.asarray(keras.random.truncated_normal((200_000,), mean=1.0, stddev=2.0, seed=7))
    assert z.min() >= 1.0 - 4.0 and z.max() <= 1.0 + 4.0
    # a standard normal truncated at +-2 has standard deviation 0.87962
    assert abs(z.mean() - 1.0) < 0.02
    assert abs(z.std() - 2.0 * 0.87962) < 0.02
    again = np.asarray(keras.random.truncated_normal((200_000,), mean=1.0, stddev=2.0, seed=7))
    np.testing.assert_array_equal(z, again)


def test_randint_covers_the_half_open_range_uniformly(device):
    r = np.asarray(keras.random.randint((80_000,), -2, 3, seed=1))
    assert r.dtype == np.int32
    counts = np.bincount(r + 2, minlength=5)
    assert counts.size == 5 and r.min() == -2 and r.max() == 2
    assert np.all(np.abs(counts / r.size - 0.2) < 0.01)
    with pytest.raises(ValueError, match="minval < maxval"):
        keras.random.randint((3,), 5, 5)


def test_shuffle_is_a_permutation_along_the_axis(device):
    x = np.arange(24).reshape(6, 4)
    s = np.asarray(keras.random.shuffle(x, axis=0, seed=3))
    assert sorted(map(tuple, s)) == sorted(map(tuple, x))
    assert not np.array_equal(s, x)
    s1 = np.asarray(keras.random.shuffle(x, axis=1, seed=3))
    np.testing.assert_array_equal(np.sort(s1, axis=1), x)


def test_categorical_matches_the_softmax_probabilities(device):
    probs = np.array([[0.2, 0.8], [0.6, 0.1 + 0.3]], dtype=np.float32)
    draws = np.asarray(keras.random.categorical(np.log(probs), 40_000, seed=4))
    assert draws.shape == (2, 40_000) and draws.dtype == np.int32
    np.testing.assert_allclose(draws.mean(axis=1), probs[:, 1], atol=0.01)
    with pytest.raises(ValueError, match="batch, classes"):
        keras.random.categorical(np.zeros(3), 2)

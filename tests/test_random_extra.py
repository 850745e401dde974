"""keras.random: truncated_normal, randint, shuffle, categorical."""

import numpy as np
import pytest

import rskeras as keras


def test_truncated_normal_range_moments_and_reproducibility():
    z = np.asarray(keras.random.truncated_normal((200_000,), mean=1.0, stddev=2.0, seed=7))
    assert z.min() >= 1.0 - 4.0 and z.max() <= 1.0 + 4.0
    # a standard normal truncated at +-2 has standard deviation 0.87962
    assert abs(z.mean() - 1.0) < 0.02
    assert abs(z.std() - 2.0 * 0.87962) < 0.02
    again = np.asarray(keras.random.truncated_normal((200_000,), mean=1.0, stddev=2.0, seed=7))
    np.testing.assert_array_equal(z, again)


def test_randint_covers_the_half_open_range_uniformly():
    r = np.asarray(keras.random.randint((80_000,), -2, 3, seed=1))
    assert r.dtype == np.int32
    counts = np.bincount(r + 2, minlength=5)
    assert counts.size == 5 and r.min() == -2 and r.max() == 2
    assert np.all(np.abs(counts / r.size - 0.2) < 0.01)
    with pytest.raises(ValueError, match="minval < maxval"):
        keras.random.randint((3,), 5, 5)


def test_shuffle_is_a_permutation_along_the_axis():
    x = np.arange(24).reshape(6, 4)
    s = np.asarray(keras.random.shuffle(x, axis=0, seed=3))
    assert sorted(map(tuple, s)) == sorted(map(tuple, x))
    assert not np.array_equal(s, x)
    s1 = np.asarray(keras.random.shuffle(x, axis=1, seed=3))
    np.testing.assert_array_equal(np.sort(s1, axis=1), x)


def test_categorical_matches_the_softmax_probabilities():
    probs = np.array([[0.2, 0.8], [0.6, 0.1 + 0.3]], dtype=np.float32)
    draws = np.asarray(keras.random.categorical(np.log(probs), 40_000, seed=4))
    assert draws.shape == (2, 40_000) and draws.dtype == np.int32
    np.testing.assert_allclose(draws.mean(axis=1), probs[:, 1], atol=0.01)
    with pytest.raises(ValueError, match="batch, classes"):
        keras.random.categorical(np.zeros(3), 2)

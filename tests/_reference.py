"""Loading the Keras reference values (tests/fixtures/keras_reference.npz).

The file is written once, by hand, by tests/fixtures/make_keras_fixtures.py with the real Keras
3 (jax backend); the tests only read it and never import keras."""

from __future__ import annotations

import functools
import os

import numpy as np

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "keras_reference.npz")

RTOL = 1e-5
ATOL = 1e-6


@functools.lru_cache(maxsize=None)
def reference() -> dict:
    with np.load(FIXTURE) as data:
        return {k: data[k] for k in data.files}


def ref(key: str) -> np.ndarray:
    return reference()[key]


def assert_matches(got, expected, rtol=RTOL, atol=ATOL, what=""):
    got = np.asarray(got)
    expected = np.asarray(expected)
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != Keras {expected.shape}"
    np.testing.assert_allclose(got.astype(np.float64), expected.astype(np.float64), rtol=rtol, atol=atol,
                               err_msg=what)

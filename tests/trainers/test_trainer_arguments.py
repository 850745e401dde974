"""fit/evaluate/predict refuse bad arguments with a ValueError that names the argument, and
predict on 0 samples gives outputs with 0 rows (issue: robustness, item 5)."""

from __future__ import annotations

import numpy as np
import pytest
import rskeras as keras


def _model():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile("adam", "mse")
    return model


X, Y = np.ones((5, 4), "float32"), np.ones((5, 3), "float32")


def test_predict_on_zero_samples_keeps_the_output_shape():
    assert _model().predict(X[:0], verbose=0).shape == (0, 3)
    inp = keras.Input((4,))
    two = keras.Model(inp, [keras.layers.Dense(2)(inp), keras.layers.Dense(1)(inp)])
    assert [a.shape for a in two.predict(X[:0], verbose=0)] == [(0, 2), (0, 1)]


@pytest.mark.parametrize("call, match", [
    (lambda m: m.predict(None), "predict: `x` must be given"),
    (lambda m: m.evaluate(None, Y), "evaluate: `x` must be given"),
    (lambda m: m.predict(X, batch_size=0), "`batch_size` must be a positive int"),
    (lambda m: m.evaluate(X, Y, batch_size=-3), "`batch_size` must be a positive int"),
    (lambda m: m.fit(X, Y, batch_size=2.5), "`batch_size` must be a positive int"),
    (lambda m: m.fit(X, Y, epochs=-1), "`epochs` must be an int >= 0"),
    (lambda m: m.fit(X, Y, validation_split=1.5), r"`validation_split` must be a float in \[0, 1\)"),
    (lambda m: m.fit(X, Y, validation_split=-0.1), r"`validation_split` must be a float in \[0, 1\)"),
    (lambda m: m.fit(X[:0], Y[:0]), "fit: the data has no samples"),
    (lambda m: m.evaluate(X[:0], Y[:0]), "evaluate: the data has no samples"),
])
def test_bad_arguments_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call(_model())


def test_zero_epochs_trains_nothing():
    model = _model()
    before = model.get_weights()
    model.fit(X, Y, epochs=0, verbose=0)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("call, error, match", [
    (lambda m: m.fit("abc", Y, verbose=0), TypeError, r"`x` must be an array of numbers .* got str"),
    (lambda m: m.predict(3.0, verbose=0), TypeError, r"`x` must be an array of numbers .* scalar"),
    (lambda m: m.fit(X, np.array([object()] * len(X)), verbose=0), TypeError,
     r"`y` must be an array of numbers .*dtype object"),
    (lambda m: m.predict([[1.0, 2.0], [3.0]], verbose=0), ValueError, "`x`: cannot make an array"),
    (lambda m: m.predict(X[:, :2], verbose=0), ValueError,
     r"expected axis -1 of input shape to have value 4, but received input with shape \(\d+, 2\)"),
])
def test_inputs_of_the_wrong_kind_or_structure_are_refused(call, error, match):
    with pytest.raises(error, match=match):
        call(_model())

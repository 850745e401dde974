"""`fit` scales the loss with the optimizer before the gradients (Keras's `scale_loss`), so
`loss_scale_factor` and `LossScaleOptimizer` give the unscaled optimizer's weights and logs."""

from __future__ import annotations

import numpy as np
import pytest

import rskeras as keras


def _fit(optimizer):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = rng.normal(size=(64, 1)).astype("float32")
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer, "mse")
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0, shuffle=False)
    return model.get_weights(), history.history["loss"]


@pytest.mark.parametrize("make", [
    lambda: keras.optimizers.SGD(0.01, loss_scale_factor=128.0),
    lambda: keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.01)),
], ids=["loss_scale_factor", "LossScaleOptimizer"])
def test_scaled_fit_equals_unscaled(make):
    weights, losses = _fit(keras.optimizers.SGD(0.01))
    scaled_weights, scaled_losses = _fit(make())
    for a, b in zip(weights, scaled_weights):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(scaled_losses, losses, rtol=1e-6)
    assert weights[0].ravel()[0] != pytest.approx(float(_initial_kernel()[0, 0]))


def _initial_kernel():
    keras.utils.set_random_seed(1)
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)]).get_weights()[0]

"""Optimizers against the real Keras: 5-step trajectories of two variables (a (5, 3) kernel and
a (3,) bias) under a fixed sequence of gradients, compared after every step
(values in tests/fixtures/keras_reference.npz)."""

from __future__ import annotations

import numpy as np
import pytest
import rskeras as keras

from tests._reference import assert_matches, ref
from tests.fixtures._keras_cases import optimizer_cases

OPTIMIZERS = optimizer_cases(keras)


def _variables():
    return keras.Variable(ref("opt/w0")), keras.Variable(ref("opt/b0"))


def _grads(step):
    return (keras.ops.convert_to_tensor(ref("opt/grads_w")[step]),
            keras.ops.convert_to_tensor(ref("opt/grads_b")[step]))


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_trajectory_matches_keras(name, device):
    opt = OPTIMIZERS[name]()
    vw, vb = _variables()
    assert vw.device == vb.device == device
    want_w, want_b = ref(f"opt/{name}/w"), ref(f"opt/{name}/b")
    for step in range(5):
        opt.apply(list(_grads(step)), [vw, vb])
        assert_matches(vw.numpy(), want_w[step], what=f"{name} kernel after step {step + 1}")
        assert_matches(vb.numpy(), want_b[step], what=f"{name} bias after step {step + 1}")
    assert opt.iterations == 5
    assert vw.device == vb.device == device


@pytest.mark.parametrize("name", ["sgd_momentum", "adam", "rmsprop_centered"])
def test_apply_gradients_pairs_equal_apply(name, device):
    opt = OPTIMIZERS[name]()
    vw, vb = _variables()
    for step in range(5):
        gw, gb = _grads(step)
        opt.apply_gradients([(gw, vw), (gb, vb)])
    assert_matches(vw.numpy(), ref(f"opt/{name}/w")[4])
    assert_matches(vb.numpy(), ref(f"opt/{name}/b")[4])


def test_numpy_gradients_are_accepted():
    opt = keras.optimizers.SGD(0.1, momentum=0.9)
    vw, vb = _variables()
    for step in range(5):
        opt.apply([ref("opt/grads_w")[step], ref("opt/grads_b")[step]], [vw, vb])
    assert_matches(vw.numpy(), ref("opt/sgd_momentum/w")[4])


def test_none_gradient_skips_variable_but_updates_others():
    opt = keras.optimizers.Adam()
    vw, vb = _variables()
    for step in range(5):
        gw, _ = _grads(step)
        opt.apply([gw, None], [vw, vb])
    np.testing.assert_array_equal(vb.numpy(), ref("opt/b0"))
    # the kernel's Adam trajectory does not depend on the bias: same as Keras's kernel
    assert_matches(vw.numpy(), ref("opt/adam/w")[4])


def test_all_none_gradients_raise():
    vw, vb = _variables()
    with pytest.raises(ValueError):
        keras.optimizers.SGD(0.1).apply([None, None], [vw, vb])


def test_gradient_shape_mismatch_raises():
    vw, vb = _variables()
    with pytest.raises(ValueError):
        keras.optimizers.SGD(0.1).apply([np.zeros((3, 5), np.float32), np.zeros(3, np.float32)], [vw, vb])


def test_slot_variables_per_optimizer():
    # Keras 3 slots: SGD momentum: 1 per variable; Adam: momentum + velocity (+ velocity_hat);
    # RMSprop: velocity (+ momentum) (+ average_gradient).
    expected = {"sgd": 0, "sgd_momentum": 2, "adam": 4, "adam_amsgrad": 6, "rmsprop": 2,
                "rmsprop_momentum": 4, "rmsprop_centered": 4}
    for name, n in expected.items():
        opt = OPTIMIZERS[name]()
        vw, vb = _variables()
        opt.apply(list(_grads(0)), [vw, vb])
        assert len(opt.variables) == n, name


def test_defaults_match_keras():
    assert keras.optimizers.SGD().learning_rate == pytest.approx(0.01)
    assert keras.optimizers.Adam().learning_rate == pytest.approx(0.001)
    assert keras.optimizers.RMSprop().learning_rate == pytest.approx(0.001)
    adam = keras.optimizers.Adam()
    assert (adam.beta_1, adam.beta_2, adam.epsilon) == (0.9, 0.999, 1e-7)
    rms = keras.optimizers.RMSprop()
    assert (rms.rho, rms.momentum, rms.epsilon, rms.centered) == (0.9, 0.0, 1e-7, False)


def test_get_by_name():
    assert isinstance(keras.optimizers.get("adam"), keras.optimizers.Adam)
    assert isinstance(keras.optimizers.get("SGD"), keras.optimizers.SGD)
    assert isinstance(keras.optimizers.get("rmsprop"), keras.optimizers.RMSprop)
    with pytest.raises(ValueError):
        keras.optimizers.get("adamw_nonexistent")


def test_clipvalue_and_clipnorm(device):
    g = np.array([3.0, -4.0], np.float32)  # L2 norm 5
    v = keras.Variable(np.zeros(2, np.float32))
    keras.optimizers.SGD(1.0, clipvalue=1.0).apply([g], [v])
    assert v.device == device
    np.testing.assert_allclose(v.numpy(), [-1.0, 1.0], rtol=1e-6)
    v = keras.Variable(np.zeros(2, np.float32))
    keras.optimizers.SGD(1.0, clipnorm=1.0).apply([g], [v])
    np.testing.assert_allclose(v.numpy(), [-0.6, 0.8], rtol=1e-6)
    with pytest.raises(ValueError):
        keras.optimizers.SGD(1.0, clipnorm=1.0, clipvalue=1.0)


def test_sgd_negative_momentum_rejected():
    with pytest.raises(ValueError):
        keras.optimizers.SGD(0.1, momentum=-0.5)


def test_training_step_updates_weights_in_place_and_keeps_no_graph():
    """A step must neither copy the weights (copy-on-write triggered by a stray reference) nor
    leave tape nodes holding them: both would make memory and time grow with the model."""
    import rskeras as keras

    rng = np.random.default_rng(0)
    x = rng.random((16, 6), dtype=np.float32)
    y = rng.integers(0, 3, 16).astype(np.int32)
    model = keras.Sequential([keras.layers.Dense(5, activation="relu", input_shape=(6,)),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.train_on_batch(x, y)
    before = [v._buffer_address for v in model.trainable_variables]
    values = [v.numpy() for v in model.trainable_variables]
    model.train_on_batch(x, y)
    after = [v._buffer_address for v in model.trainable_variables]
    assert after == before
    assert all(v._buffer_refs == 1 for v in model.trainable_variables)
    assert any(not np.array_equal(a, v.numpy()) for a, v in zip(values, model.trainable_variables))


def test_a_variable_made_from_a_view_is_updated_in_its_own_element_order():
    """An initializer that returns a transposed view (of another tensor's buffer): the
    variable holds row-major values of its own, so the fused update writes each element where
    NumPy's SGD would, and the source tensor is left alone."""
    base = keras.ops.convert_to_tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    view = keras.ops.transpose(base)  # a strided view of base's buffer, shape (3, 2)
    var = keras.Variable(view)
    grad = np.arange(6, dtype=np.float32).reshape(3, 2) * 0.5
    keras.optimizers.SGD(learning_rate=0.1).apply([keras.ops.convert_to_tensor(grad)], [var])
    expected = np.arange(6, dtype=np.float32).reshape(2, 3).T - 0.1 * grad
    np.testing.assert_allclose(var.numpy(), expected, rtol=1e-6)
    np.testing.assert_array_equal(base.numpy(), np.arange(6, dtype=np.float32).reshape(2, 3))

"""Optimizers' configs, `get`/`serialize`/`deserialize`, saving with state in every file format,
errors, and the base options' behaviour beyond the Keras trajectories (LossScaleOptimizer's
skipped steps, EMA at the end of `fit`)."""

from __future__ import annotations

import numpy as np
import pytest
import rskeras as keras

from tests.fixtures._optimizer_cases import cases

CASES = cases(keras)
NAMES = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam", "Ftrl",
         "Lion", "Lamb"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_config_round_trip(name):
    opt = CASES[name][0]()
    config = opt.get_config()
    again = type(opt).from_config(config)
    assert again.get_config() == config
    record = keras.optimizers.serialize(opt)
    assert record["module"] == "keras.optimizers" and record["class_name"] == type(opt).__name__
    assert keras.optimizers.deserialize(record).get_config() == config


def test_schedule_config_is_keras_record():
    opt = CASES["sgd_schedule"][0]()
    lr = opt.get_config()["learning_rate"]
    assert lr["module"] == "keras.optimizers.schedules"
    assert lr["class_name"] == "ExponentialDecay"
    again = keras.optimizers.SGD.from_config(opt.get_config())
    assert isinstance(again._learning_rate, keras.optimizers.schedules.ExponentialDecay)


@pytest.mark.parametrize("name", NAMES)
def test_get_by_any_case(name):
    for key in (name, name.lower(), name.upper()):
        assert type(keras.optimizers.get(key)).__name__ == name
    assert keras.optimizers.get({"class_name": name, "config": {}}).__class__.__name__ == name


def test_keras_defaults():
    O = keras.optimizers
    assert O.AdamW().weight_decay == 0.004 and O.AdamW().name == "adam_w"
    assert O.Adagrad().initial_accumulator_value == 0.1
    assert (O.Adadelta().rho, O.Adadelta().learning_rate) == (0.95, pytest.approx(0.001))
    assert (O.Lion().beta_1, O.Lion().beta_2) == (0.9, 0.99)
    ftrl = O.Ftrl()
    assert (ftrl.learning_rate_power, ftrl.initial_accumulator_value, ftrl.beta) == (-0.5, 0.1, 0.0)
    lso = O.LossScaleOptimizer(O.SGD())
    assert (lso.initial_scale, lso.dynamic_growth_steps) == (32768.0, 2000)
    assert O.Adam().get_config()["learning_rate"] == float(np.float32(0.001))


def test_bad_inputs_name_the_optimizer():
    O = keras.optimizers
    with pytest.raises(ValueError, match="Could not interpret optimizer identifier"):
        O.get("adamw_nonexistent")
    with pytest.raises(ValueError, match="AdamW"):
        O.AdamW(weight_decay=None)
    with pytest.raises(ValueError, match="Lion"):
        O.Lion(beta_1=0.0)
    with pytest.raises(ValueError, match="Ftrl"):
        O.Ftrl(learning_rate_power=0.5)
    with pytest.raises(ValueError, match="Nadam.*not recognized"):
        O.Nadam(bogus=1)
    with pytest.raises(ValueError, match="gradient_accumulation_steps"):
        O.Adam(gradient_accumulation_steps=1)
    with pytest.raises(ValueError, match="LossScaleOptimizer does not support `clipnorm`"):
        O.LossScaleOptimizer(O.SGD(), clipnorm=1.0)
    v = keras.Variable(np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match="Lamb: gradient shape"):
        O.Lamb().apply([np.zeros((3,), np.float32)], [v])
    with pytest.raises(ValueError, match="Adagrad"):
        O.Adagrad().apply([None], [v])


def test_lr_schedule_is_not_settable_with_a_float():
    opt = CASES["sgd_schedule"][0]()
    with pytest.raises(TypeError, match="not settable"):
        opt.learning_rate = 0.1


def test_loss_scale_optimizer_skips_non_finite_steps_and_halves_the_scale(device):
    opt = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(1.0), initial_scale=8.0,
                                              dynamic_growth_steps=2)
    v = keras.Variable(np.ones(2, np.float32))
    opt.apply([np.array([np.inf, 1.0], np.float32)], [v])
    np.testing.assert_array_equal(v.numpy(), [1.0, 1.0])
    assert float(opt.dynamic_scale.numpy()) == 4.0 and opt.iterations == 0
    opt.apply([np.array([4.0, 8.0], np.float32)], [v])  # unscaled: [1, 2]
    np.testing.assert_allclose(v.numpy(), [0.0, -1.0])
    opt.apply([np.array([0.0, 0.0], np.float32)], [v])  # 2 finite steps: the scale doubles
    assert float(opt.dynamic_scale.numpy()) == 8.0 and int(opt.step_counter.numpy()) == 0
    assert float(np.asarray(opt.scale_loss(keras.ops.convert_to_tensor(1.5)))) == 12.0


def test_ema_variables_and_finalize(device):
    opt = keras.optimizers.SGD(0.5, use_ema=True, ema_momentum=0.5)
    a, b = keras.Variable(np.ones(2, np.float32)), keras.Variable(np.zeros(3, np.float32))
    opt.apply([np.ones(2, np.float32), np.ones(3, np.float32)], [a, b])
    avg = opt._model_variables_moving_average[opt._get_variable_index(b)]
    np.testing.assert_allclose(avg.numpy(), [-0.5] * 3)  # the first step copies the weights
    opt.apply([np.ones(2, np.float32), np.ones(3, np.float32)], [a, b])
    np.testing.assert_allclose(avg.numpy(), [-0.75] * 3)  # 0.5 * -0.5 + 0.5 * -1
    opt.finalize_variable_values([a, b])
    np.testing.assert_allclose(b.numpy(), [-0.75] * 3)
    np.testing.assert_allclose(a.numpy(), [0.25] * 2)


def test_fit_ends_with_the_ema_weights():
    rng = np.random.default_rng(0)
    x, y = rng.random((16, 3), dtype=np.float32), rng.random((16, 1), dtype=np.float32)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1, use_ema=True), loss="mse")
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    opt = model.optimizer
    for v in model.trainable_variables:
        avg = opt._model_variables_moving_average[opt._get_variable_index(v)]
        np.testing.assert_array_equal(v.numpy(), avg.numpy())


def test_exclude_from_weight_decay_by_variable_and_name():
    opt = keras.optimizers.SGD(1.0, weight_decay=0.5)
    a = keras.Variable(np.ones(2, np.float32), name="kernel")
    b = keras.Variable(np.ones(2, np.float32), name="my_bias")
    c = keras.Variable(np.ones(2, np.float32), name="other")
    opt.exclude_from_weight_decay(var_list=[c], var_names=["bias"])
    zeros = np.zeros(2, np.float32)
    opt.apply([zeros, zeros, zeros], [a, b, c])
    np.testing.assert_allclose(a.numpy(), [0.5, 0.5])
    np.testing.assert_array_equal(b.numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(c.numpy(), [1.0, 1.0])


@pytest.mark.parametrize("name", ["adam_accumulate", "nadam", "adagrad", "ftrl_regularized",
                                  "lamb", "adam_ema", "loss_scale_optimizer", "adam_schedule"])
@pytest.mark.parametrize("fmt", [".keras", ".weights.h5", ".h5"])
def test_saved_model_resumes_with_identical_state(name, fmt, tmp_path):
    rng = np.random.default_rng(1)
    x, y = rng.random((12, 3), dtype=np.float32), rng.random((12, 2), dtype=np.float32)

    def make():
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        model.compile(optimizer=CASES[name][0](), loss="mse")
        return model

    model = make()
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    path = str(tmp_path / f"m{fmt}")
    if fmt == ".weights.h5":
        model.save_weights(path)
        loaded = make()
        loaded.build((None, 3))
        loaded.load_weights(path)
    else:
        model.save(path)
        loaded = keras.saving.load_model(path)
    assert type(loaded.optimizer) is type(model.optimizer)
    want, got = model.optimizer.get_state_arrays(), loaded.optimizer.get_state_arrays()
    assert len(got) == len(want)  # names follow each model's variable paths
    for (n, a), (_, b) in zip(want, got):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=n)
    for m in (model, loaded):
        m.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


class _KerasStyleSGD(keras.optimizers.Optimizer):
    """A custom optimizer written as the Keras guide writes one."""

    def __init__(self, learning_rate=0.1, momentum=0.5, name="my_sgd", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.momentum = momentum

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self.m = self.add_optimizer_variables(var_list, "momentum")

    def update_step(self, gradient, variable, learning_rate):
        m = self.m[self._get_variable_index(variable)]
        self.assign(m, self.momentum * m - learning_rate * gradient)
        self.assign_add(variable, m)


def test_a_keras_style_subclass_runs_its_update_step(device):
    opt = _KerasStyleSGD(weight_decay=0.5)
    opt.exclude_from_weight_decay(var_names=["bias"])
    w = keras.Variable(np.ones(3, np.float32), name="kernel")
    b = keras.Variable(np.ones(2, np.float32), name="bias")
    for _ in range(2):
        opt.apply([np.ones(3, np.float32), np.ones(2, np.float32)], [w, b])
    # bias: m = -0.1, then -0.15: 1 - 0.1 - 0.15; kernel also decays by w * 0.5 * 0.1 first.
    np.testing.assert_allclose(b.numpy(), [0.75, 0.75], rtol=1e-6)
    np.testing.assert_allclose(w.numpy(), [(0.95 - 0.1) * 0.95 - 0.15] * 3, rtol=1e-6)
    assert [n for n, _ in opt.get_state_arrays()] == [
        "my_sgd/iteration", "my_sgd/learning_rate", "my_sgd/kernel_momentum", "my_sgd/bias_momentum"]

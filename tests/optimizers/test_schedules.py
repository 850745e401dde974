"""`rskeras.optimizers.schedules` against the rates real Keras 3 gives (tests/fixtures/
keras_schedules.npz, written by tests/fixtures/make_schedule_fixtures.py), the records Keras
writes for them, config round trips, argument errors, and an optimizer driven by a schedule."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import rskeras as keras
from rskeras.optimizers import schedules

from tests.fixtures._schedule_cases import CASES, STEPS

FIXTURE = np.load(os.path.join(os.path.dirname(__file__), "..", "fixtures", "keras_schedules.npz"))
RECORDS = json.loads(str(FIXTURE["records"]))


def _make(key):
    class_name, kwargs = CASES[key]
    return getattr(schedules, class_name)(**kwargs)


def _rates(schedule, steps=STEPS):
    return np.array([schedule(int(s)) for s in steps], np.float32)


def test_fixture_steps_and_cases_are_the_scripts():
    np.testing.assert_array_equal(FIXTURE["steps"], STEPS)
    assert sorted(CASES) == sorted(k for k in FIXTURE.files if k not in ("steps", "records"))


@pytest.mark.parametrize("key", sorted(CASES))
def test_rates_match_keras(key):
    # A few float32 ulps apart at most (pow/cos/log differ by an ulp between libms); the tiny
    # atol covers a subnormal rate that XLA flushes to zero.
    np.testing.assert_allclose(_rates(_make(key)), FIXTURE[key], rtol=1e-6, atol=1e-30,
                               err_msg=key)


@pytest.mark.parametrize("key", sorted(CASES))
def test_returns_python_float_for_any_step_type(key):
    schedule = _make(key)
    want = schedule(17)
    assert type(want) is float
    for step in (np.int32(17), np.int64(17), np.array(17), keras.ops.convert_to_tensor(17)):
        assert schedule(step) == want, type(step)
    if CASES[key][0] != "PiecewiseConstantDecay":  # there a float step keeps float bounds
        assert schedule(17.0) == want


def test_piecewise_boundaries_follow_the_step_type():
    schedule = schedules.PiecewiseConstantDecay([5.5], [1.0, 0.5])
    # An integer step truncates the boundary to 5 (Keras casts it to the step's dtype).
    assert schedule(5) == 1.0 and schedule(6) == 0.5
    assert schedule(5.0) == 1.0 and schedule(5.6) == 0.5
    assert schedules.PiecewiseConstantDecay([2], [1, 2])(3) == 2.0


@pytest.mark.parametrize("key", sorted(CASES))
def test_config_round_trip(key):
    schedule = _make(key)
    config = schedule.get_config()
    assert config == RECORDS[key]["config"]
    again = type(schedule).from_config(config)
    assert again.get_config() == config
    np.testing.assert_array_equal(_rates(again), _rates(schedule))


@pytest.mark.parametrize("key", sorted(CASES))
def test_serialize_writes_what_keras_writes(key):
    assert schedules.serialize(_make(key)) == RECORDS[key]
    json.dumps(schedules.serialize(_make(key)))


@pytest.mark.parametrize("key", sorted(CASES))
def test_deserialize_reads_keras_records(key):
    schedule = schedules.deserialize(RECORDS[key])
    assert type(schedule) is getattr(schedules, CASES[key][0])
    np.testing.assert_allclose(_rates(schedule), FIXTURE[key], rtol=1e-6, atol=1e-30)


def test_deserialize_reads_legacy_records_and_instances():
    record = {"class_name": "ExponentialDecay", "config": RECORDS["exponential"]["config"]}
    schedule = schedules.deserialize(record)
    assert isinstance(schedule, schedules.ExponentialDecay)
    assert schedules.deserialize(schedule) is schedule
    generic = keras.saving.deserialize_keras_object(RECORDS["cosine_warmup"])
    assert isinstance(generic, schedules.CosineDecay)
    assert keras.saving.serialize_keras_object(generic) == RECORDS["cosine_warmup"]


def test_custom_schedule_round_trip():
    @keras.saving.register_keras_serializable(package="TestSchedules")
    class Halving(schedules.LearningRateSchedule):
        def __init__(self, initial, every=10):
            self.initial, self.every = initial, every

        def __call__(self, step):
            return self.initial / 2 ** (int(step) // self.every)

        def get_config(self):
            return {"initial": self.initial, "every": self.every}

    record = schedules.serialize(Halving(0.4, every=3))
    assert record["class_name"] == "Halving"
    assert record["registered_name"] == "TestSchedules>Halving"
    again = schedules.deserialize(json.loads(json.dumps(record)))
    assert isinstance(again, Halving) and again(7) == 0.1


def test_custom_schedule_by_custom_objects():
    class Constant(schedules.LearningRateSchedule):
        def __init__(self, rate):
            self.rate = rate

        def __call__(self, step):
            return self.rate

        def get_config(self):
            return {"rate": self.rate}

    record = schedules.serialize(Constant(0.3))
    again = schedules.deserialize(record, custom_objects={"Constant": Constant})
    assert isinstance(again, Constant) and again(5) == 0.3


def test_unknown_records_are_refused():
    with pytest.raises(ValueError, match="NoSuchDecay"):
        schedules.deserialize({"module": "keras.optimizers.schedules",
                               "class_name": "NoSuchDecay", "config": {}})
    with pytest.raises(ValueError, match="learning rate schedule"):
        schedules.deserialize("ExponentialDecay")


def test_base_class_must_be_overridden():
    base = schedules.LearningRateSchedule()
    with pytest.raises(NotImplementedError, match="__call__"):
        base(0)
    with pytest.raises(NotImplementedError, match="get_config"):
        base.get_config()


@pytest.mark.parametrize("make, name", [
    (lambda: schedules.ExponentialDecay(0.1, 0, 0.9), "ExponentialDecay.*decay_steps"),
    (lambda: schedules.ExponentialDecay(0.1, -5, 0.9), "ExponentialDecay.*decay_steps"),
    (lambda: schedules.PolynomialDecay(0.1, 0), "PolynomialDecay.*decay_steps"),
    (lambda: schedules.InverseTimeDecay(0.1, 0, 0.5), "InverseTimeDecay.*decay_steps"),
    (lambda: schedules.CosineDecay(0.1, 0), "CosineDecay.*decay_steps"),
    (lambda: schedules.CosineDecay(0.1, 10, warmup_target=0.2, warmup_steps=-1),
     "CosineDecay.*warmup_steps"),
    (lambda: schedules.CosineDecayRestarts(0.1, 0), "CosineDecayRestarts.*first_decay_steps"),
    (lambda: schedules.CosineDecayRestarts(0.1, 10, t_mul=0.0), "CosineDecayRestarts.*t_mul"),
    (lambda: schedules.PiecewiseConstantDecay([1, 2], [0.1, 0.2]),
     "PiecewiseConstantDecay.*1 less than"),
    (lambda: schedules.PiecewiseConstantDecay([], [0.1]), "PiecewiseConstantDecay"),
    (lambda: schedules.ExponentialDecay("0.1", 10, 0.9), "ExponentialDecay.*initial_learning_rate"),
    (lambda: schedules.PolynomialDecay(0.1, 10, power=None), "PolynomialDecay.*power"),
])
def test_bad_arguments_raise_value_error_naming_the_schedule(make, name):
    with pytest.raises(ValueError, match=name):
        make()


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_optimizer_learning_rate_follows_iterations(optimizer):
    schedule = schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    opt = getattr(keras.optimizers, optimizer)(learning_rate=schedule)
    w = keras.Variable(np.ones(3, np.float32))
    for step in range(6):
        assert opt.iterations == step
        assert opt.learning_rate == schedule(step)
        opt.apply([np.ones(3, np.float32)], [w])
    assert opt.iterations == 6 and opt.learning_rate == schedule(6)


def test_sgd_steps_use_the_rate_at_the_current_iteration():
    schedule = schedules.PiecewiseConstantDecay([1, 3], [0.5, 0.25, 0.125])
    opt = keras.optimizers.SGD(learning_rate=schedule)
    w = keras.Variable(np.zeros(2, np.float32))
    for _ in range(5):
        opt.apply([np.ones(2, np.float32)], [w])
    # steps 0,1 -> 0.5; 2,3 -> 0.25; 4 -> 0.125 (Keras evaluates at `iterations` before the
    # increment)
    np.testing.assert_allclose(w.numpy(), -(0.5 * 2 + 0.25 * 2 + 0.125) * np.ones(2), rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# Schedules inside optimizer configs and saved models


def test_optimizer_config_carries_the_schedule_record():
    schedule = _make("exponential")
    opt = keras.optimizers.Adam(learning_rate=schedule)
    config = opt.get_config()
    assert config["learning_rate"] == RECORDS["exponential"]
    again = keras.optimizers.Adam.from_config(json.loads(json.dumps(config)))
    assert again.get_config() == config
    assert again.learning_rate == schedule(0)


def test_keras_optimizer_record_with_a_schedule_loads():
    opt = keras.optimizers.deserialize(RECORDS["adam"])
    assert isinstance(opt, keras.optimizers.Adam)
    assert opt.learning_rate == _make("exponential")(0)
    assert keras.optimizers.serialize(opt) == RECORDS["adam"]


def test_keras_file_with_a_schedule_driven_optimizer_round_trips(tmp_path):
    schedule = schedules.PiecewiseConstantDecay([2], [0.1, 0.01])
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=schedule, momentum=0.5),
                  loss="mse")
    x, y = np.ones((8, 3), np.float32), np.zeros((8, 2), np.float32)
    model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    assert model.optimizer.iterations == 4
    path = str(tmp_path / "scheduled.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.optimizer, keras.optimizers.SGD)
    assert loaded.optimizer.get_config()["learning_rate"] == schedules.serialize(schedule)
    assert int(loaded.optimizer.iterations) == 4
    assert loaded.optimizer.learning_rate == schedule(4) == np.float32(0.01)

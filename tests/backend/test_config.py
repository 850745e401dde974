"""`rskeras.config` (keras.config): the module, its settings shared with `rskeras.backend`, and
the flags it keeps itself."""

from __future__ import annotations

import types

import numpy as np
import pytest
import rskeras as keras
from rskeras import backend, ops

from tests.conftest import assert_close

KERAS_CONFIG_NAMES = [
    "backend", "disable_interactive_logging", "disable_traceback_filtering", "enable_interactive_logging",
    "enable_traceback_filtering", "enable_unsafe_deserialization", "epsilon", "floatx", "image_data_format",
    "is_interactive_logging_enabled", "is_traceback_filtering_enabled", "set_epsilon", "set_floatx",
    "set_image_data_format",
]


@pytest.fixture
def restore_config():
    """Put every global setting back after the test, whatever it changed."""
    cfg = keras.config
    saved = (cfg.floatx(), cfg.epsilon(), cfg.image_data_format(), cfg.is_traceback_filtering_enabled(),
             cfg.is_interactive_logging_enabled(), cfg._UNSAFE_DESERIALIZATION)
    yield cfg
    cfg.set_floatx(saved[0])
    cfg.set_epsilon(saved[1])
    cfg.set_image_data_format(saved[2])
    (cfg.enable_traceback_filtering if saved[3] else cfg.disable_traceback_filtering)()
    (cfg.enable_interactive_logging if saved[4] else cfg.disable_interactive_logging)()
    cfg._UNSAFE_DESERIALIZATION = saved[5]


def test_config_is_its_own_module_with_the_keras_names():
    import rskeras.config

    assert isinstance(keras.config, types.ModuleType)
    assert keras.config is rskeras.config
    assert keras.config is not backend.config
    for name in KERAS_CONFIG_NAMES:
        assert callable(getattr(keras.config, name)), name
    # Keras's names, plus the device settings rskeras adds (set_device / get_device).
    assert sorted(keras.config.__all__) == sorted(KERAS_CONFIG_NAMES + ["get_device", "set_device"])


def test_defaults():
    cfg = keras.config
    assert cfg.backend() == "rskeras"
    assert cfg.floatx() == "float32"
    assert cfg.epsilon() == 1e-7
    assert cfg.image_data_format() == "channels_last"
    assert cfg.is_traceback_filtering_enabled() is True
    assert cfg.is_interactive_logging_enabled() is True


def test_set_epsilon_is_shared_with_backend_and_used_by_ops(restore_config):
    cfg = restore_config
    x = np.array([0.0, 1e-3], np.float32)
    assert_close(ops.normalize(x), [0.0, 1.0], rtol=1e-6)  # norm 1e-3 > epsilon 1e-7
    cfg.set_epsilon(0.5)
    assert cfg.epsilon() == 0.5 and backend.epsilon() == 0.5
    assert_close(ops.normalize(x), [0.0, 2e-3], rtol=1e-6)  # now x / 0.5
    backend.set_epsilon(1e-2)  # and the other way round
    assert cfg.epsilon() == 1e-2
    assert isinstance(cfg.epsilon(), float)


def test_set_floatx_validation(restore_config):
    cfg = restore_config
    cfg.set_floatx("float32")
    assert cfg.floatx() == backend.floatx() == "float32"
    cfg.set_floatx("float64")
    assert cfg.floatx() == backend.floatx() == "float64"
    for bad in ("int32", "float8", "mixed_float16"):
        with pytest.raises(ValueError, match="float32"):
            cfg.set_floatx(bad)
    assert cfg.floatx() == "float64"


def test_set_image_data_format_is_shared_and_validated(restore_config):
    cfg = restore_config
    cfg.set_image_data_format("channels_first")
    assert cfg.image_data_format() == backend.image_data_format() == "channels_first"
    cfg.set_image_data_format("Channels_Last")  # case-insensitive, as Keras
    assert backend.image_data_format() == "channels_last"
    for bad in ("channels_middle", "NHWC", None):
        with pytest.raises(ValueError, match="channels_first"):
            cfg.set_image_data_format(bad)
    assert cfg.image_data_format() == "channels_last"


@pytest.mark.parametrize("flag", ["traceback_filtering", "interactive_logging"])
def test_enable_and_disable_flag(restore_config, flag):
    cfg = restore_config
    getattr(cfg, f"disable_{flag}")()
    assert getattr(cfg, f"is_{flag}_enabled")() is False
    getattr(cfg, f"enable_{flag}")()
    assert getattr(cfg, f"is_{flag}_enabled")() is True


def test_enable_unsafe_deserialization_sets_the_flag(restore_config):
    cfg = restore_config
    cfg._UNSAFE_DESERIALIZATION = False
    assert cfg.enable_unsafe_deserialization() is None
    assert cfg._UNSAFE_DESERIALIZATION is True

"""The core's fused optimizer entries, one per optimizer and named as it (`_core.sgd_update`,
`adam_update`, `rmsprop_update`, `adagrad_update`, ...; ops "sgd", "adam", "rmsprop",
"adagrad", ...): slot lists by name, checked against the hyperparameters that need them, all or
none of the variables updated; the weight decay and its per-variable mask inside the call."""

from __future__ import annotations

import numpy as np
import pytest
import rskeras as keras
from rskeras import _core, ops


def variables(*values):
    return [keras.Variable(np.asarray(v, np.float32)) for v in values]


def grads(*values):
    return [ops.convert_to_tensor(np.asarray(v, np.float32)) for v in values]


def test_the_ops_are_named_as_the_optimizers():
    names = set(_core.op_names())
    assert {"sgd", "adam", "rmsprop", "adagrad", "adadelta", "adamax", "nadam", "ftrl", "lion",
            "lamb", "ema"} <= names
    assert not {n for n in names if n.endswith(".apply")}


def test_adam_update_matches_the_optimizer_class():
    w = [np.array([1.0, -2.0], np.float32), np.array([[0.5]], np.float32)]
    g = [np.array([0.3, -0.7], np.float32), np.array([[2.0]], np.float32)]
    vs, ms, vels = variables(*w), variables(*[np.zeros_like(a) for a in w]), \
        variables(*[np.zeros_like(a) for a in w])
    _core.adam_update(vs, grads(*g), ms, vels, learning_rate=0.01, beta_1=0.9, beta_2=0.999,
                      epsilon=1e-7, step=1)
    opt, ref = keras.optimizers.Adam(0.01), variables(*w)
    opt.apply(grads(*g), ref)
    for a, b in zip(vs, ref):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_sgd_without_momentum_takes_no_slots():
    (w,) = variables([1.0, 2.0])
    _core.sgd_update([w], grads([1.0, 1.0]), learning_rate=0.5)
    np.testing.assert_array_equal(np.asarray(w), [0.5, 1.5])
    with pytest.raises(ValueError, match="sgd: momentums are only used when momentum != 0"):
        _core.sgd_update([w], grads([1.0, 1.0]), variables([0.0, 0.0]), learning_rate=0.5)
    with pytest.raises(ValueError, match="sgd: momentums are needed when momentum != 0"):
        _core.sgd_update([w], grads([1.0, 1.0]), learning_rate=0.5, momentum=0.9)


def test_slot_lists_follow_the_flags_that_need_them():
    w, v = variables([1.0]), variables([0.0])
    with pytest.raises(ValueError, match="adam: velocity_hats are needed when amsgrad"):
        _core.adam_update(w, grads([1.0]), variables([0.0]), v, learning_rate=0.1, amsgrad=True)
    with pytest.raises(ValueError, match="rmsprop: average_gradients are needed when centered"):
        _core.rmsprop_update(w, grads([1.0]), v, learning_rate=0.1, centered=True)
    with pytest.raises(ValueError, match="rmsprop: momentums are only used when momentum > 0"):
        _core.rmsprop_update(w, grads([1.0]), v, variables([0.0]), learning_rate=0.1)


def test_lengths_and_repeated_targets_are_refused_before_any_update():
    w = variables([1.0], [2.0])
    with pytest.raises(ValueError, match="adam: expected 2 momentums for 2 gradients, got 1"):
        _core.adam_update(w, grads([1.0], [1.0]), variables([0.0]), variables([0.0], [0.0]),
                          learning_rate=0.1)
    with pytest.raises(ValueError, match="sgd: expected 1 variables for 1 gradients, got 2"):
        _core.sgd_update(w, grads([1.0]), learning_rate=0.1)
    (m,) = variables([0.0])
    with pytest.raises(ValueError, match="appears twice"):
        _core.sgd_update([w[0], w[1]], grads([1.0], [1.0]), [m, m], learning_rate=0.1, momentum=0.9)
    np.testing.assert_array_equal([np.asarray(a) for a in w], [[1.0], [2.0]])


def test_weight_decay_mask_is_checked_and_applied_per_variable(device):
    w = variables([2.0], [2.0])
    zero = grads([0.0], [0.0])
    with pytest.raises(ValueError, match="lion: decay_mask has 1 entries for 2 variables"):
        _core.lion_update(w, zero, variables([0.0], [0.0]), learning_rate=0.5, weight_decay=0.1,
                          decay_mask=[True])
    np.testing.assert_array_equal([np.asarray(a) for a in w], [[2.0], [2.0]])
    _core.sgd_update(w, zero, learning_rate=0.5, weight_decay=0.1, decay_mask=[False, True])
    np.testing.assert_allclose([np.asarray(a) for a in w], [[2.0], [1.9]], rtol=1e-6)


@pytest.mark.parametrize("entry, slots", [("adagrad_update", 1), ("adadelta_update", 2),
                                          ("adamax_update", 2), ("ftrl_update", 2),
                                          ("lion_update", 1), ("lamb_update", 2)])
def test_new_entries_refuse_mismatched_shapes_naming_the_op(entry, slots):
    w = variables([1.0, 2.0])
    with pytest.raises(ValueError, match=entry.replace("_update", "") + ": variable of shape"):
        getattr(_core, entry)(w, grads([1.0]), *[variables([0.0, 0.0]) for _ in range(slots)],
                              learning_rate=0.1)
    np.testing.assert_array_equal(np.asarray(w[0]), [1.0, 2.0])


def test_ema_update_averages_in_place(device):
    (avg,), v = variables([1.0]), variables([3.0])
    _core.ema_update([avg], v, momentum=0.25)
    np.testing.assert_allclose(np.asarray(avg), [2.5])

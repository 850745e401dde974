"""Reading a model's optimizer learning rate(s) as Python floats, for the callbacks that log
or change it (ReduceLROnPlateau, LearningRateScheduler, TensorBoard)."""

from __future__ import annotations


def lr_value(optimizer) -> float:
    """`optimizer.learning_rate` as a float (it may be a float, a tensor or a variable)."""
    import numpy as np

    return float(np.asarray(optimizer.learning_rate))


def inner_optimizer(model):
    """The model's optimizer, unwrapped from a loss-scale wrapper as Keras does."""
    optimizer = model.optimizer
    return getattr(optimizer, "inner_optimizer", optimizer)


def optimizers_of(model) -> list:
    """`[(log key suffix, optimizer)]`: `("", opt)` for one optimizer, or one entry per
    optimizer of a multi-optimizer (`optimizer.optimizers`), named `_<opt.name>` as Keras
    names their `learning_rate_<name>` logs."""
    optimizer = model.optimizer
    if hasattr(optimizer, "optimizers"):
        return [(f"_{opt.name}", opt) for opt in optimizer.optimizers]
    return [("", optimizer)]


def log_learning_rates(model, logs: dict) -> dict:
    """Add `learning_rate` (or `learning_rate_<name>` per inner optimizer) to `logs`."""
    for suffix, opt in optimizers_of(model):
        logs[f"learning_rate{suffix}"] = lr_value(opt)
    return logs

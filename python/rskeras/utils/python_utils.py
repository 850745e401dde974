"""Turning the logs of a training step into Python numbers."""

from __future__ import annotations

from rskeras import _core


def pythonify_logs(logs) -> dict:
    """`logs` with every one-element tensor as a Python float (Keras's `pythonify_logs`) and
    every other tensor as a NumPy array.

    The values on the GPU are stacked and read back in one transfer, so a step's logs cost
    one synchronization however many metrics there are. Other values are kept as they are.
    """
    if not logs:
        return {}
    out = dict(logs)
    scalars = {k: v for k, v in out.items() if isinstance(v, _core.Tensor) and v.size == 1}
    on_gpu = [k for k, v in scalars.items() if v.device != "cpu"]
    if len(on_gpu) > 1:
        from rskeras import ops

        stacked = ops.stack([ops.cast(ops.reshape(scalars[k], ()), "float32") for k in on_gpu])
        out.update(zip(on_gpu, (float(v) for v in stacked.numpy())))
        scalars = {k: v for k, v in scalars.items() if k not in on_gpu}
    out.update({k: float(v) for k, v in scalars.items()})
    # Vector results (F1Score(average=None), Precision(thresholds=[...])) as NumPy arrays,
    # which History, CSVLogger and the progress bar (their mean, as Keras shows) can use.
    out.update({k: v.numpy() for k, v in out.items() if isinstance(v, _core.Tensor)})
    return out

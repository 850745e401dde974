"""`TerminateOnNaN`: stop training at the first NaN or infinite loss."""

from __future__ import annotations

import math

from rskeras.callbacks.callback import Callback


class TerminateOnNaN(Callback):
    """Stop `fit` when a training batch's `loss` is NaN or ±inf (Keras 3's
    `keras.callbacks.TerminateOnNaN`).

    Args:
        raise_error: False (default): print "Batch N: Invalid loss, terminating training" and
            set `model.stop_training`, so `fit` ends after this batch and every callback's
            `on_train_end` still runs. True: raise at once, skipping `on_train_end`.

    Raises:
        RuntimeError: with `raise_error=True`, on the first NaN or infinite loss.
    """

    def __init__(self, raise_error: bool = False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(loss)
        if math.isnan(loss) or math.isinf(loss):
            if self.raise_error:
                raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. "
                                   f"Loss value: {loss}. Terminating training immediately.")
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True

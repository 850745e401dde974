"""`EarlyStopping`: stop training when a monitored metric stops improving."""


from rskeras.callbacks.callback import Callback


class EarlyStopping(Callback):
    """Stop `fit` once `monitor` has not improved by more than `min_delta` for `patience`
    epochs (Keras 3 arguments and defaults).

    Args:
        monitor: default "val_loss". mode: "auto" (max for accuracy-like names), "min" or "max".
        restore_best_weights: put back the weights of the best epoch when stopping.
        baseline: a value the metric must beat. start_from_epoch: epochs to wait first.
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        import numpy as np
        super().__init__()
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'auto', 'min' or 'max', got {mode!r}")
        if mode == "auto":
            mode = "max" if ("acc" in monitor or "auc" in monitor) else "min"
        self.monitor, self.patience, self.verbose = monitor, patience, verbose
        self.baseline, self.restore_best_weights = baseline, restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.min_delta = abs(min_delta) * (1 if mode == "max" else -1)
        self._better = np.greater if mode == "max" else np.less
        self.stopped_epoch = 0

    def on_train_begin(self, logs=None):
        import numpy as np
        self.wait, self.stopped_epoch, self.best_weights, self.best_epoch = 0, 0, None, 0
        self.best = -np.inf if self._better is np.greater else np.inf

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if self._better(current - self.min_delta, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._better(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.restore_best_weights and self.best_weights is not None:
                self.model.set_weights(self.best_weights)

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")

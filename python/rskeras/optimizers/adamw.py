"""AdamW (Loshchilov & Hutter, 2019, "Decoupled Weight Decay Regularization")."""

from rskeras.optimizers.adam import Adam


class AdamW(Adam):
    """AdamW, as `keras.optimizers.AdamW`: Adam with decoupled weight decay. Each step first
    does `w -= w * weight_decay * lr` (skipping variables excluded with
    `exclude_from_weight_decay`), then Adam's update; both run in the same fused kernel call
    (`_core.adam_update(..., weight_decay=...)`).

    Args:
        learning_rate: default 0.001. weight_decay: default 0.004. beta_1: default 0.9.
        beta_2: default 0.999. epsilon: default 1e-7. amsgrad: default False. Other
        arguments: the `Optimizer` base's. name: default "adam_w" (Keras's auto name).

    Raises:
        ValueError: when `weight_decay` is None.
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, amsgrad=amsgrad, name=name or "adam_w",
                         weight_decay=weight_decay, **kwargs)
        if self.weight_decay is None:
            raise ValueError("AdamW: argument `weight_decay` must be a float. Received: "
                             "weight_decay=None")

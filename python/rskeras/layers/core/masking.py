"""`Masking`: zero (and mask) the timesteps whose features all equal `mask_value`."""

from __future__ import annotations

from rskeras import backend, ops
from rskeras.layers.layer import Layer


class Masking(Layer):
    """Mask timesteps that are padding (Keras `keras.layers.Masking`): a timestep is masked
    when every feature equals `mask_value`; its outputs are set to 0, and `compute_mask`
    returns `any(inputs != mask_value, axis=-1)` (True for the timesteps to keep).

    The output carries the mask (`output._keras_mask`, `(batch, steps)`), so the layers
    after it that support masking use or pass it on (e.g. `GlobalAveragePooling1D` averages
    over the kept steps only, and a model's loss ignores the masked steps).

    Args:
        mask_value: float, the padding value (default 0.0).

    Shapes: input `(batch, steps, features)` (any rank >= 1) -> output of the same shape;
    mask `(batch, steps)`.

    Raises:
        ValueError: when `mask_value` is not a number.
    """

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(mask_value, (int, float)) or isinstance(mask_value, bool):
            raise ValueError(f"Masking: `mask_value` must be a number, got {mask_value!r}")  # noqa: TRY004
        self.mask_value = mask_value
        self.supports_masking = True
        self.built = True

    def compute_mask(self, inputs, mask=None):
        return ops.any(ops.not_equal(inputs, self.mask_value), axis=-1)

    def call(self, inputs):
        keep = ops.any(ops.not_equal(inputs, self.mask_value), axis=-1, keepdims=True)
        outputs = ops.where(keep, inputs, ops.zeros((), inputs.dtype))
        # The output and its mask at once, as Keras does (compute_mask is not run again).
        backend.set_keras_mask(outputs, ops.squeeze(keep, axis=-1))
        return outputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}

"""`Rescaling`: `inputs * scale + offset`."""

from __future__ import annotations

from rskeras import ops
from rskeras.backend.config import image_data_format
from rskeras.layers.layer import Layer


def _check_number_or_list(name, value):
    import numpy as np

    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        arr = None
    if arr is None or isinstance(value, (bool, str)) or not np.all(np.isfinite(arr)):
        raise ValueError(f"Rescaling: `{name}` must be a finite float or a list of floats, got {value!r}")
    return arr


class Rescaling(Layer):
    """Rescale values: `output = inputs * scale + offset` (Keras `keras.layers.Rescaling`).
    Inputs of any dtype (e.g. uint8 images) are cast to the layer dtype first. To map
    `[0, 255]` to `[0, 1]` use `scale=1/255`; to `[-1, 1]` use `scale=1/127.5, offset=-1`.

    Args:
        scale: float, or a list of floats (one per channel, broadcast against the last axis;
            with `image_data_format() == "channels_first"` against axis 1, as Keras).
        offset: float or list of floats, as `scale` (default 0.0).

    Shapes: any input `(batch, ...)` -> output of the same shape, in the layer dtype.

    Raises:
        ValueError: when `scale` or `offset` is not a finite number or list of numbers.
    """

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self._scale = _check_number_or_list("scale", scale)
        self._offset = _check_number_or_list("offset", offset)
        self.scale, self.offset = scale, offset
        self.supports_masking = True
        self.built = True

    def _as_tensor(self, arr, ndim):
        value = ops.convert_to_tensor(arr.astype(self.dtype if self.dtype != "bfloat16" else "float32"))
        if arr.ndim > 0 and image_data_format() == "channels_first" and ndim > arr.ndim + 1:
            value = ops.reshape(value, arr.shape + (1,) * (ndim - arr.ndim - 1))
        return value if value.dtype == self.dtype else ops.cast(value, self.dtype)

    def call(self, inputs):
        if inputs.dtype != self.dtype:
            inputs = ops.cast(inputs, self.dtype)
        scale = self._as_tensor(self._scale, inputs.ndim)
        offset = self._as_tensor(self._offset, inputs.ndim)
        return inputs * scale + offset

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        import numpy as np

        def plain(value):
            return np.asarray(value).tolist() if not isinstance(value, (int, float)) else value

        return {**super().get_config(), "scale": plain(self.scale), "offset": plain(self.offset)}

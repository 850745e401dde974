"""`Normalization`: standardize features with a mean and variance given or learned by
`adapt`."""

from __future__ import annotations

from rskeras import ops
from rskeras.backend.config import epsilon
from rskeras.layers._layer_args import is_int
from rskeras.layers.layer import Layer


class Normalization(Layer):
    """Shift and scale inputs to zero mean and unit variance per feature (Keras
    `keras.layers.Normalization`):

        output = (inputs - mean) / max(sqrt(variance), epsilon)      (invert=False)
        output = mean + inputs * max(sqrt(variance), epsilon)        (invert=True)

    with `epsilon = keras.config.epsilon()` (1e-7). The mean and variance are given, or
    computed by `adapt(data)` over every axis except `axis` (population variance).

    Args:
        axis: int, tuple of ints or None: the axes that keep their own mean and variance
            (default -1, one per feature of the last axis; None: one scalar for everything).
        mean, variance: optional floats or arrays, broadcast to the kept axes (aligned from
            the right); both or neither.
        invert: apply the inverse transformation (default False).

    Weights (when `mean`/`variance` are not given, as Keras): non-trainable `mean` and
    `variance` of the kept axes' shape (zeros and ones until `adapt`), and `count` (int64
    scalar, kept for file compatibility).

    Shapes: any input `(batch, ...)` -> output of the same shape, in the layer dtype.

    Raises:
        ValueError: when only one of `mean`/`variance` is given, their shapes differ or have
            more axes than `axis`, an axis is out of range for the input, a kept axis has an
            unknown size, or `adapt` data does not match the build shape on the kept axes.
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        import numpy as np

        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif is_int(axis):
            axis = (int(axis),)
        else:
            try:
                axis = tuple(axis)
            except TypeError:
                raise ValueError(
                    f"Normalization: `axis` must be an int, a tuple or None, got {axis!r}") from None
            if not all(is_int(a) for a in axis):
                raise ValueError(f"Normalization: `axis` must hold ints, got {axis!r}")
            axis = tuple(int(a) for a in axis)
        self.axis = axis
        if (mean is None) != (variance is None):
            raise ValueError(
                "Normalization: when setting values directly, both `mean` and `variance` must "
                f"be set. Received: mean={mean!r} and variance={variance!r}")
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ValueError(
                    "Normalization: `mean` and `variance` must have the same shape, got "
                    f"{np.shape(mean)} and {np.shape(variance)}")
            if len(np.shape(mean)) > len(self.axis):
                raise ValueError(
                    f"Normalization: the rank of `mean` (shape {np.shape(mean)}) must be at most "
                    f"the number of kept axes ({len(self.axis)}, axis={self.axis})")
        self.input_mean, self.input_variance = mean, variance
        self.invert = bool(invert)
        self.supports_masking = True
        self._build_input_shape = None

    def build(self, input_shape):
        import numpy as np

        input_shape = tuple(input_shape)
        ndim = len(input_shape)
        if any(not -ndim <= a < ndim for a in self.axis):
            raise ValueError(
                f'Layer "{self.name}" (Normalization): all `axis` values must be in [-ndim, ndim); '
                f"got axis={self.axis} for an input of shape {input_shape}")
        self._build_input_shape = input_shape
        self._keep_axis = tuple(sorted(a % ndim for a in self.axis))
        for d in self._keep_axis:
            if input_shape[d] is None:
                raise ValueError(
                    f'Layer "{self.name}" (Normalization): the kept axes must have a known size; '
                    f"axis={self.axis}, input shape {input_shape} (axis {d} is unknown)")
        self._reduce_axis = tuple(d for d in range(ndim) if d not in self._keep_axis)
        self._broadcast_shape = tuple(input_shape[d] if d in self._keep_axis else 1
                                      for d in range(ndim))
        kept_shape = tuple(input_shape[d] for d in self._keep_axis)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(shape=kept_shape, initializer="zeros",
                                              trainable=False, name="mean")
            self.adapt_variance = self.add_weight(shape=kept_shape, initializer="ones",
                                                  trainable=False, name="variance")
            self.count = self.add_weight(shape=(), dtype="int64", initializer="zeros",
                                         trainable=False, name="count")
            self._fixed = None
        else:
            # Given values: align their axes with the kept axes from the right, then broadcast.
            def expand(value):
                arr = np.asarray(value, dtype=np.float64)
                shape = [1] * ndim
                for i in range(1, arr.ndim + 1):
                    shape[self._keep_axis[-i]] = arr.shape[-i]
                try:
                    arr = np.broadcast_to(arr.reshape(shape), self._broadcast_shape)
                except ValueError:
                    raise ValueError(
                        f'Layer "{self.name}" (Normalization): mean/variance of shape '
                        f"{np.shape(value)} do not broadcast to the kept axes "
                        f"{kept_shape} of input shape {input_shape}") from None
                return ops.convert_to_tensor(np.ascontiguousarray(arr), dtype=self.dtype)

            self._fixed = (expand(self.input_mean), expand(self.input_variance))
        self.built = True

    def _mean_variance(self):
        if self._fixed is not None:
            return self._fixed
        return (ops.reshape(self.adapt_mean, self._broadcast_shape),
                ops.reshape(self.adapt_variance, self._broadcast_shape))

    def adapt(self, data) -> None:
        """Set `mean` and `variance` from `data`: a NumPy array or tensor of the input shape
        (batch axis included), or an iterable of such batches. Statistics are taken over all
        axes except `axis` (population variance, as `np.var`); batches are combined exactly
        (pairwise update of mean and sum of squares).

        Raises:
            ValueError: when the layer was built for other sizes on the kept axes, the
                iterable is empty, or mean/variance were given at construction.
            TypeError: for data that is neither an array nor an iterable of arrays.
        """
        import numpy as np

        if self.input_mean is not None:
            raise ValueError(
                f'Layer "{self.name}" (Normalization): adapt() cannot be used when `mean` and '
                "`variance` were given at construction")
        if isinstance(data, np.ndarray) or ops.is_tensor(data) or np.isscalar(data):
            batches = [np.asarray(data, dtype=np.float64)]
        elif hasattr(data, "__iter__"):
            batches = (np.asarray(b[0] if isinstance(b, tuple) else b, dtype=np.float64) for b in data)
        else:
            raise TypeError(f"Normalization.adapt: unsupported data of type {type(data).__name__}")
        total_mean = total_m2 = None
        total_count = 0
        for batch in batches:
            if not self.built:
                self.build_from_shape(batch.shape)
            else:
                for d in self._keep_axis:
                    if d >= batch.ndim or batch.shape[d] != self._build_input_shape[d]:
                        raise ValueError(
                            f'Layer "{self.name}" (Normalization): the layer was built for input '
                            f"shape {self._build_input_shape}, but adapt() got data of shape "
                            f"{batch.shape}")
            n = int(np.prod([batch.shape[d] for d in self._reduce_axis], dtype=np.int64))
            if n == 0:
                continue
            centered = batch - batch.mean(axis=self._reduce_axis, keepdims=True)
            mean = batch.mean(axis=self._reduce_axis)
            m2 = (centered ** 2).sum(axis=self._reduce_axis)
            if total_mean is None:
                total_mean, total_m2, total_count = mean, m2, n
            else:  # Chan et al.'s pairwise combination of two samples' mean and sum of squares
                count = total_count + n
                delta = mean - total_mean
                total_mean = total_mean + delta * (n / count)
                total_m2 = total_m2 + m2 + delta ** 2 * (total_count * n / count)
                total_count = count
        if total_mean is None:
            raise ValueError(f'Layer "{self.name}" (Normalization): adapt() received no data')
        self.adapt_mean.assign(np.asarray(total_mean, dtype=self.dtype))
        self.adapt_variance.assign(np.asarray(total_m2 / total_count, dtype=self.dtype))
        self.count.assign(np.asarray(total_count, dtype=np.int64))

    def call(self, inputs):
        if inputs.dtype != self.dtype:
            inputs = ops.cast(inputs, self.dtype)
        mean, variance = self._mean_variance()
        scale = ops.maximum(ops.sqrt(variance), epsilon())
        if self.invert:
            return mean + inputs * scale
        return (inputs - mean) / scale

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        import numpy as np

        return {
            **super().get_config(),
            "axis": self.axis,
            "invert": self.invert,
            "mean": np.array(self.input_mean).tolist(),
            "variance": np.array(self.input_variance).tolist(),
        }

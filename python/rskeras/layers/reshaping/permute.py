"""`Permute`: reorder the non-batch axes."""

from __future__ import annotations

from rskeras import ops
from rskeras.layers._layer_args import is_int
from rskeras.layers.input_spec import InputSpec
from rskeras.layers.layer import Layer


class Permute(Layer):
    """Permute the axes of each sample (Keras `keras.layers.Permute`); the batch axis stays.

    Args:
        dims: tuple of ints, a permutation of `1..n` (axes are counted from 1, the batch axis
            is 0). `Permute((2, 1))` swaps the two axes of `(batch, a, b)` inputs.

    Shapes: input `(batch, d1, ..., dn)` -> output `(batch, d_dims[0], ..., d_dims[n-1])`.

    Raises:
        ValueError: when `dims` is not a permutation of `1..n`, or the input rank is not
            `n + 1`.
    """

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        try:
            dims = tuple(dims)
        except TypeError:
            raise ValueError(f"Permute: `dims` must be a tuple of ints, got {dims!r}") from None
        if not all(is_int(d) for d in dims) or sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(
                "Permute: `dims` must be a permutation of 1..n (the batch axis 0 is not "
                f"permuted), got dims={dims!r}")
        self.dims = tuple(int(d) for d in dims)
        self.input_spec = InputSpec(ndim=len(self.dims) + 1)
        self.built = True

    def call(self, inputs):
        return ops.transpose(inputs, (0,) + self.dims)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def get_config(self):
        return {**super().get_config(), "dims": self.dims}

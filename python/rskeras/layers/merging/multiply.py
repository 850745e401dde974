"""`Multiply` and `multiply`: element-wise product of a list of tensors."""

from __future__ import annotations

from rskeras import backend, ops
from rskeras.layers.merging.base_merge import Merge


class Multiply(Merge):
    """The element-wise product of a list of tensors (Keras `keras.layers.Multiply`), with
    Keras's merge broadcasting (see `Merge`). With masks on the inputs (attached by e.g.
    `Masking`), a masked entry counts as 1 in the product; when every input has a mask, the
    entries masked in all of them are 0 and the output gets the OR of the masks (Keras).

    Shapes: inputs `[(batch, *d), ...]` -> output `(batch, *d)`.

    Raises:
        ValueError: as `Merge`.
    """

    _fold = ops.multiply

    def _merge_function(self, inputs):
        masks = [backend.get_keras_mask(x) for x in inputs]
        if all(m is None for m in masks):
            return super()._merge_function(inputs)
        has_output_mask = all(m is not None for m in masks)
        output = output_mask = None
        for x, mask in zip(inputs, masks):
            if mask is not None:
                mask = ops.broadcast_to(ops.expand_dims(mask, -1), tuple(x.shape))
                x = ops.where(mask, x, ops.ones((), x.dtype))  # masked entries count as 1
                if has_output_mask:
                    output_mask = mask if output_mask is None else ops.logical_or(output_mask, mask)
            output = x if output is None else ops.multiply(output, x)
        if has_output_mask:
            output = ops.where(output_mask, output, ops.zeros((), output.dtype))
            backend.set_keras_mask(output, ops.any(output_mask, axis=-1))
        return output


def multiply(inputs, **kwargs):
    """Functional form of `Multiply`."""
    return Multiply(**kwargs)(inputs)

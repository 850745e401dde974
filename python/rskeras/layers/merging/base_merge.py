"""`Merge`: the base of the layers that combine a list of tensors element-wise."""

from __future__ import annotations

import functools

from rskeras import backend, ops
from rskeras.layers.layer import Layer


class Merge(Layer):
    """Base class of `Add`, `Subtract`, `Multiply`, `Average`, `Maximum`, `Minimum`,
    `Concatenate` and `Dot` (Keras `keras.src.layers.merging.base_merge.Merge`).

    Call it on a list of tensors. The per-sample shapes (batch axis excluded) are broadcast
    as NumPy does, aligned from the right; an input of lower rank gets new axes after the
    batch axis (Keras's rule), so `(batch, 3)` merges with `(batch, 4, 3)`. All inputs must
    have the same batch size. Subclasses implement `_merge_function(inputs)`.

    Shapes: inputs `[(batch, *d_1), (batch, *d_2), ...]` -> output
    `(batch, *broadcast(d_1, d_2, ...))`.

    Raises:
        ValueError: when called on something other than a list, on fewer inputs than the
            layer needs, on inputs whose batch sizes differ or whose shapes do not broadcast
            (the message names the layer and all the shapes).
    """

    _min_inputs = 1
    _max_inputs = None
    _mask_only_from_masks = True

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    # ----------------------------------------------------------------------------------------
    def _error(self, message, shapes):
        return ValueError(f'Layer "{self.name}" ({type(self).__name__}): {message}. '
                          f"Received input shapes: {[tuple(s) for s in shapes]}")

    def _check_list(self, shapes, check_batch=True):
        if not isinstance(shapes, (list, tuple)) or not all(isinstance(s, (list, tuple)) for s in shapes):
            raise ValueError(
                f'Layer "{self.name}" ({type(self).__name__}): a merge layer must be called on a '
                f"list of tensors, got input shape {shapes!r}")
        n = len(shapes)
        if n < self._min_inputs or (self._max_inputs is not None and n > self._max_inputs):
            want = (f"exactly {self._min_inputs}" if self._max_inputs == self._min_inputs
                    else f"at least {self._min_inputs}")
            raise self._error(f"expected {want} inputs, got {n}", shapes)
        if any(len(s) == 0 for s in shapes):
            raise self._error("inputs need a batch axis (rank >= 1)", shapes)
        batch_sizes = {s[0] for s in shapes} - {None}
        if check_batch and len(batch_sizes) > 1:
            raise self._error("cannot merge tensors with different batch sizes", shapes)

    def _broadcast(self, shape1, shape2, shapes):
        """The broadcast of two per-sample shapes (aligned from the right; None is unknown)."""
        if len(shape1) < len(shape2):
            shape1, shape2 = shape2, shape1
        out = list(shape1[:len(shape1) - len(shape2)])
        for i, j in zip(shape1[len(shape1) - len(shape2):], shape2):
            if i is None or j is None:
                out.append(j if i == 1 else i if j == 1 else None)
            elif i == 1 or j == 1 or i == j:
                out.append(j if i == 1 else i)
            else:
                raise self._error("inputs have incompatible shapes", shapes)
        return tuple(out)

    def _output_shape(self, shapes):
        self._check_list(shapes)
        sample = tuple(shapes[0][1:])
        for s in shapes[1:]:
            sample = self._broadcast(sample, tuple(s[1:]), shapes)
        batch_sizes = {s[0] for s in shapes} - {None}
        return (batch_sizes.pop() if batch_sizes else None,) + sample

    # ----------------------------------------------------------------------------------------
    def __call__(self, inputs, *args, **kwargs):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(  # noqa: TRY004 (Keras: ValueError)
                f'Layer "{self.name}" ({type(self).__name__}): a merge layer must be called on a '
                f"list of tensors, got {type(inputs).__name__}")
        return super().__call__(list(inputs), *args, **kwargs)

    def build(self, input_shape):
        self._output_shape(input_shape)  # validation only: merge layers have no weights
        self.built = True

    def call(self, inputs):
        shapes = [tuple(x.shape) for x in inputs]
        self._output_shape(shapes)
        ranks = [len(s) for s in shapes]
        top = max(ranks)
        if min(ranks) != top:
            # Keras's rule: lower-rank inputs get new axes right after the batch axis.
            inputs = [ops.reshape(x, (s[0],) + (1,) * (top - len(s)) + s[1:])
                      for x, s in zip(inputs, shapes)]
        return self._merge_function(inputs)

    # A binary op folded over the inputs (Add, Multiply, Maximum, Minimum); other merges
    # override `_merge_function` instead.
    _fold = None

    def _merge_function(self, inputs):
        if self._fold is None:
            raise NotImplementedError(f"{type(self).__name__}._merge_function")
        return functools.reduce(type(self)._fold, inputs)

    def _apply_merge_op_and_or_mask(self, op_fn, inputs):
        """Fold `op_fn` over the inputs where masked entries do not take part (Keras 3, for
        `Maximum` and `Minimum`, which have no identity element): a masked entry of an input
        takes the running result's value, and a masked entry of the running result takes the
        input's. When every input has a mask, the output gets their OR (reduced with `any`
        over the last axis, like the masks themselves)."""
        output = output_mask = None
        for x in inputs:
            mask = backend.get_keras_mask(x)
            if mask is not None:
                mask = ops.broadcast_to(ops.expand_dims(mask, -1), tuple(x.shape))
            if output is None:
                output, output_mask = x, mask
                continue
            if mask is not None:
                x = ops.where(mask, x, output)
            if output_mask is not None:
                output = ops.where(output_mask, output, x)
            if mask is not None and output_mask is not None:
                output_mask = ops.logical_or(output_mask, mask)
            else:
                output_mask = None
            output = op_fn(output, x)
        if output_mask is not None:
            backend.set_keras_mask(output, ops.any(output_mask, axis=-1))
        return output

    def compute_output_shape(self, input_shape):
        return self._output_shape(input_shape)

    def compute_mask(self, inputs, mask=None):
        """The OR of the input masks, or None when any input has no mask (Keras); masks are
        combined automatically when the inputs carry them."""
        if mask is None:
            return None
        if not isinstance(mask, (list, tuple)) or len(mask) != len(inputs):
            raise ValueError(
                f'Layer "{self.name}" ({type(self).__name__}): `mask` must be a list with one '
                f"entry per input ({len(inputs)}), got {mask!r}")
        if any(m is None for m in mask):
            return None
        out = mask[0]
        for m in mask[1:]:
            out = ops.logical_or(out, m)
        return out

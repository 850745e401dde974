"""`Embedding`: turn integer indices into dense vectors."""

from __future__ import annotations

import warnings

from rskeras import initializers, ops
from rskeras.layers._layer_args import is_int, set_weight_options, weight_options_config
from rskeras.layers.layer import Layer

_INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")


def _initializer(identifier):
    # Keras accepts the short names "uniform" and "normal" (RandomUniform/RandomNormal).
    if identifier == "uniform":
        return initializers.RandomUniform()
    if identifier == "normal":
        return initializers.RandomNormal()
    return initializers.get(identifier)


class Embedding(Layer):
    """Map each integer index in `[0, input_dim)` to a row of the `embeddings` matrix (Keras
    `keras.layers.Embedding`); the lookup is `ops.take(embeddings, indices, axis=0)`.

    Args:
        input_dim: positive int, the vocabulary size (largest index + 1).
        output_dim: positive int, the size of each embedding vector.
        embeddings_initializer: default "uniform" (`RandomUniform(-0.05, 0.05)`).
        embeddings_regularizer: a `keras.regularizers` identifier ("l2", `L1(0.1)`, a config
            dict) or callable whose penalty on `embeddings` is in `losses` (default None).
        embeddings_constraint: a `keras.constraints` identifier or callable applied to
            `embeddings` after each optimizer update (default None).
        activity_regularizer: (keyword) a regularizer of the output, as in Dense.
        mask_zero: whether index 0 is padding: `compute_mask` then returns `indices != 0`
            (and `input_dim` should count the padding index), and the output carries that
            mask (`output._keras_mask`, `(batch, ...)`), so the layers after it that support
            masking pass it on or use it (`GlobalAveragePooling1D` averages the unmasked
            steps only) and a model's loss and metrics ignore the padded steps.
        weights: optional list `[embeddings]` to start from.

    Weights: `embeddings` of shape `(input_dim, output_dim)` (Keras layout).

    Shapes: input `(batch, ...)` of integer (or integral float) indices -> output
    `(batch, ..., output_dim)` in the layer dtype.

    Raises:
        ValueError: when `input_dim` or `output_dim` is not a positive int, or an index is
            outside `[0, input_dim)` (the message names the layer, the index and the range).
    """

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False,
                 weights=None, lora_rank=None, lora_alpha=None, **kwargs):
        if kwargs.pop("input_length", None) is not None:
            warnings.warn("Embedding: argument `input_length` is deprecated; just remove it.",
                          stacklevel=2)
        super().__init__(**kwargs)
        for name, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if not is_int(value) or value <= 0:
                raise ValueError(f"Embedding: `{name}` must be a positive int, got {value!r}")
        if lora_rank:
            raise ValueError("Embedding: LoRA (`lora_rank`) is not supported by rskeras")
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        self.embeddings_initializer = _initializer(embeddings_initializer)
        set_weight_options(self, embeddings_regularizer=embeddings_regularizer,
                           embeddings_constraint=embeddings_constraint)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        if weights is not None:
            self.build(None)
            self.set_weights(weights)

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(
            shape=(self.input_dim, self.output_dim), initializer=self.embeddings_initializer,
            regularizer=self.embeddings_regularizer, constraint=self.embeddings_constraint,
            name="embeddings")
        self.built = True

    def call(self, inputs):
        if inputs.dtype not in ("int32", "int64"):
            inputs = ops.cast(inputs, "int32")
        if inputs.size:
            low, high = int(ops.min(inputs)), int(ops.max(inputs))
            if low < 0 or high >= self.input_dim:
                bad = low if low < 0 else high
                raise ValueError(
                    f'Layer "{self.name}" (Embedding): index {bad} is out of range; indices must '
                    f"be in [0, {self.input_dim}) (input_dim={self.input_dim})")
        return ops.take(self.embeddings, inputs, axis=0)

    def compute_mask(self, inputs, mask=None):
        """`inputs != 0` when `mask_zero`, else None."""
        if not self.mask_zero:
            return None
        return ops.not_equal(inputs, 0)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def get_config(self):
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
            # Keras 3's Embedding config always lists "activity_regularizer".
            **weight_options_config(self, "embeddings_regularizer", "activity_regularizer",
                                    "embeddings_constraint"),
            "mask_zero": self.mask_zero,
        }

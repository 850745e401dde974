"""Backend plumbing: configuration, variables and the tensor type of the Rust core."""

from rskeras._core import GradientTape, Tensor
from rskeras.backend.config import epsilon, floatx, image_data_format, set_epsilon, set_floatx
from rskeras.backend.masking import get_keras_mask, set_keras_mask
from rskeras.backend.variables import Variable, is_tensor, standardize_shape

__all__ = [
    "GradientTape", "Tensor", "Variable", "epsilon", "floatx", "get_keras_mask", "image_data_format",
    "is_tensor", "set_epsilon", "set_floatx", "set_keras_mask", "standardize_shape",
]


def result_type(*dtypes) -> str:
    """The dtype an op on operands of `dtypes` returns (the keras.ops promotion lattice)."""
    from rskeras import _core

    if not dtypes:
        return "float32"
    out = str(dtypes[0])
    for d in dtypes[1:]:
        out = _core.result_type(out, str(d))
    return out

"""`KerasTensor`: a symbolic tensor (shape and dtype, no data)."""


class KerasTensor:
    """A symbolic tensor: a shape (batch axis first, None when unknown) and a dtype, used to
    declare model inputs and infer output shapes without data."""

    def __init__(self, shape, dtype="float32", name=None):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.name = name
        self.ndim = len(self.shape)

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

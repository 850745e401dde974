"""Kernel launchers, one module per family; importing this package registers them all."""

from rskeras.backend.webgpu.kernels import (  # noqa: F401
    conv,
    elementwise,  # noqa: F401
    gather,  # noqa: F401
    layout,  # noqa: F401
    matmul,  # noqa: F401
    nn,  # noqa: F401
    norm,
    optimizer,  # noqa: F401
    pool,
    random,  # noqa: F401
    reduce,  # noqa: F401
    sort,
)

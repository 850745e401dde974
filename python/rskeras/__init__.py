"""rskeras: the Keras 3 API on a tensor core written in Rust.

`import rskeras as keras` and write ordinary Keras code. Heavy submodules (datasets) load on
first use so that `import rskeras` stays fast."""

from rskeras._core import GradientTape, Tensor, __version__
from rskeras import backend, ops, random
from rskeras.backend import Variable

__all__ = ["GradientTape", "Tensor", "Variable", "__version__", "backend", "ops", "random"]

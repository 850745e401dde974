"""`rskeras.models`: `Model` (Functional or subclassed), `Sequential` and `clone_model`."""

from rskeras.models.cloning import clone_model
from rskeras.models.functional import Functional
from rskeras.models.model import Model
from rskeras.models.sequential import Sequential

__all__ = ["Functional", "Model", "Sequential", "clone_model"]

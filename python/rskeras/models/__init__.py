"""`rskeras.models`: `Model` and `Sequential`."""

from rskeras.models.model import Model
from rskeras.models.sequential import Sequential

__all__ = ["Model", "Sequential"]

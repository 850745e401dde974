"""`np`: NumPy, imported on first attribute use, so `import rskeras` does not import it
(NumPy's import is about 40-60 ms, more than the rest of `import rskeras`). Modules that use
NumPy outside the hot paths write `from rskeras.backend.lazy_numpy import np`; after the
first use each attribute is cached on the proxy, so a lookup costs what a module's does."""

from __future__ import annotations

import importlib


class _LazyNumPy:
    def __getattr__(self, name):
        value = getattr(importlib.import_module("numpy"), name)
        setattr(self, name, value)  # next time an instance attribute: no __getattr__
        return value

    def __repr__(self) -> str:
        return "<NumPy, imported on first use>"


np = _LazyNumPy()

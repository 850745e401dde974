"""`rskeras.callbacks`: hooks into `fit`, `evaluate` and `predict`."""

from rskeras.callbacks.callback import Callback, CallbackList
from rskeras.callbacks.early_stopping import EarlyStopping
from rskeras.callbacks.history import History
from rskeras.callbacks.lambda_callback import LambdaCallback
from rskeras.callbacks.progbar_logger import ProgbarLogger

__all__ = ["Callback", "CallbackList", "EarlyStopping", "History", "LambdaCallback", "ProgbarLogger"]

"""`rskeras.callbacks`: hooks into `fit`, `evaluate` and `predict`."""

from rskeras.callbacks.backup_and_restore import BackupAndRestore
from rskeras.callbacks.callback import Callback, CallbackList
from rskeras.callbacks.early_stopping import EarlyStopping
from rskeras.callbacks.history import History
from rskeras.callbacks.lambda_callback import LambdaCallback
from rskeras.callbacks.model_checkpoint import ModelCheckpoint
from rskeras.callbacks.progbar_logger import ProgbarLogger

__all__ = ["BackupAndRestore", "Callback", "CallbackList", "EarlyStopping", "History",
           "LambdaCallback", "ModelCheckpoint", "ProgbarLogger"]

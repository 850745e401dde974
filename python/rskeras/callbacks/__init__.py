"""`rskeras.callbacks`: hooks into `fit`, `evaluate` and `predict`."""

from rskeras.callbacks.backup_and_restore import BackupAndRestore
from rskeras.callbacks.callback import Callback, CallbackList
from rskeras.callbacks.csv_logger import CSVLogger
from rskeras.callbacks.early_stopping import EarlyStopping
from rskeras.callbacks.history import History
from rskeras.callbacks.lambda_callback import LambdaCallback
from rskeras.callbacks.learning_rate_scheduler import LearningRateScheduler
from rskeras.callbacks.model_checkpoint import ModelCheckpoint
from rskeras.callbacks.progbar_logger import ProgbarLogger
from rskeras.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from rskeras.callbacks.remote_monitor import RemoteMonitor
from rskeras.callbacks.swap_ema_weights import SwapEMAWeights
from rskeras.callbacks.tensorboard import TensorBoard  # tensorboardX is imported only when one is made
from rskeras.callbacks.terminate_on_nan import TerminateOnNaN

__all__ = ["BackupAndRestore", "CSVLogger", "Callback", "CallbackList", "EarlyStopping", "History",
           "LambdaCallback", "LearningRateScheduler", "ModelCheckpoint", "ProgbarLogger",
           "ReduceLROnPlateau", "RemoteMonitor", "SwapEMAWeights", "TensorBoard", "TerminateOnNaN"]

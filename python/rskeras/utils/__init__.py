"""`rskeras.utils`: seeding, progress bar, file download and label helpers."""

from rskeras.utils.file_utils import get_file
from rskeras.utils.numerical_utils import normalize, to_categorical
from rskeras.utils.progbar import Progbar
from rskeras.utils.rng_utils import set_random_seed


def clear_session() -> None:
    """Reset the automatic layer-name counters ("dense", "dense_1", ...)."""
    from rskeras.backend import naming

    naming.reset()


__all__ = ["Progbar", "clear_session", "get_file", "normalize", "set_random_seed", "to_categorical"]

"""`set_random_seed`, as `keras.utils.set_random_seed`."""

import random


from rskeras.random.seed_generator import set_global_seed


def set_random_seed(seed: int) -> None:
    """Seed Python's `random`, NumPy's global generator and rskeras's global seed, so that
    weight initialisation, shuffling and dropout repeat exactly from run to run.

    Raises:
        ValueError: when `seed` is not an int.
    """
    import numpy as np
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"set_random_seed: expected an int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % (2**32))
    set_global_seed(seed)

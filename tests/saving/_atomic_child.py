"""The child process of test_atomic_save.py: build the big model with seed B and save it over
PATH again and again, until killed. Prints "ready" just before the first save starts and
"saved" after each one.

    python tests/saving/_atomic_child.py PATH SEED
"""

from __future__ import annotations

import sys
import warnings

IN, HIDDEN, OUT = 256, 2048, 512  # 1.57 M float32 weights: about 6.3 MB a file


def build(seed: int):
    import rskeras as keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((IN,)), keras.layers.Dense(HIDDEN, activation="tanh"),
                             keras.layers.Dense(OUT)])


def save(model, path: str) -> None:
    if path.endswith(".weights.h5"):
        model.save_weights(path)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the legacy-.h5 warning
            model.save(path)


def main(path: str, seed: int) -> None:
    model = build(seed)
    print("ready", flush=True)
    while True:
        save(model, path)
        print("saved", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))

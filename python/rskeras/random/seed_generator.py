"""`SeedGenerator`: the state behind every random op, as `keras.random.SeedGenerator`."""

from __future__ import annotations

import os
import threading

_GLOBAL_SEED: int | None = None
_GLOBAL_GENERATOR: "SeedGenerator | None" = None
# Per thread: while a step is traced, `{id(generator): [generator, first counter, draws]}`.
_TRACE = threading.local()


def start_draw_log() -> dict:
    """Log this thread's draws (the trainer's step tracer: a replayed step moves each
    generator's stream on by the draws the traced step made)."""
    _TRACE.draws = {}
    return _TRACE.draws


def stop_draw_log() -> None:
    _TRACE.draws = None


class SeedGenerator:
    """A seed and a draw counter. Each call to `next()` yields a fresh `(seed, counter)` stream
    for the Philox generator, so successive draws differ while the whole sequence is
    reproducible from `seed`.

    Args:
        seed: an int; None draws one from the global seed (`utils.set_random_seed`) or, if that
            was never set, from the OS.
    """

    def __init__(self, seed: int | None = None, name: str | None = None, **kwargs):
        if seed is None:
            seed = _next_global_seed()
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ValueError(f"SeedGenerator: seed must be an int or None, got {seed!r}")
        self.seed = seed & 0xFFFFFFFFFFFFFFFF
        self.counter = 0
        self.name = name or "seed_generator"

    def next(self) -> tuple[int, int]:
        """The `(seed, counter)` pair for one draw; advances the counter."""
        state = (self.seed, self.counter)
        draws = getattr(_TRACE, "draws", None)
        if draws is not None:
            entry = draws.get(id(self))
            if entry is None:
                draws[id(self)] = [self, self.counter, 1]
            else:
                entry[2] += 1
        self.counter += 1
        return state


def _next_global_seed() -> int:
    # Derive a distinct seed per new generator from the global stream (reproducible after
    # set_random_seed, random otherwise).
    seed, counter = global_seed_generator().next()
    return (seed * 0x9E3779B97F4A7C15 + counter + 1) & 0xFFFFFFFFFFFFFFFF


def global_seed_generator() -> SeedGenerator:
    """The generator used by unseeded random ops and initializers."""
    global _GLOBAL_GENERATOR
    if _GLOBAL_GENERATOR is None:
        seed = _GLOBAL_SEED if _GLOBAL_SEED is not None else int.from_bytes(os.urandom(8), "little")
        _GLOBAL_GENERATOR = SeedGenerator.__new__(SeedGenerator)
        _GLOBAL_GENERATOR.seed, _GLOBAL_GENERATOR.counter = seed, 0
        _GLOBAL_GENERATOR.name = "global_seed_generator"
    return _GLOBAL_GENERATOR


def set_global_seed(seed: int) -> None:
    global _GLOBAL_SEED, _GLOBAL_GENERATOR
    _GLOBAL_SEED = int(seed)
    _GLOBAL_GENERATOR = None


def draw_stream(seed) -> tuple[int, int]:
    """Resolve a `seed` argument of a random op to a `(seed, counter)` stream.

    An int gives the same numbers on every call (as in Keras); a SeedGenerator advances;
    None uses the global generator.
    """
    if seed is None:
        return global_seed_generator().next()
    if isinstance(seed, SeedGenerator):
        return seed.next()
    if isinstance(seed, int) and not isinstance(seed, bool):
        return seed & 0xFFFFFFFFFFFFFFFF, 0
    raise ValueError(f"seed must be an int, a SeedGenerator or None, got {seed!r}")

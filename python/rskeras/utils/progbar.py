"""`Progbar`: the Keras-style progress bar.

On a terminal the line is redrawn in place (`\\r`) at most every `interval` seconds; when
stdout is not a terminal (logs, CI) one plain line is printed when the bar completes."""

from __future__ import annotations

import sys
import time


def _mean(value) -> float:
    """A number, or the mean of a vector result (NumPy only then: `import rskeras` stays
    NumPy-free)."""
    if isinstance(value, (int, float)):
        return float(value)
    import numpy as np

    return float(np.mean(value))


def _format_time(seconds: float) -> str:
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{int(seconds)}s"


def _format_per_unit(seconds: float, unit: str) -> str:
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/{unit}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit}"
    return f"{seconds * 1e6:.0f}us/{unit}"


class Progbar:
    """A progress bar over `target` steps.

    Args:
        target: total number of steps, or None if unknown.
        width: bar width in characters (default 20).
        verbose: 1 = bar, 2 = one line at the end, 0 = silent.
        interval: minimum seconds between redraws (default 0.05).
        stateful_metrics: names whose values are shown as given instead of averaged.
        unit_name: "step" by default.
    """

    def __init__(self, target, width=20, verbose=1, interval=0.05, stateful_metrics=None,
                 unit_name="step"):
        self.target, self.width, self.verbose = target, width, verbose
        self.interval, self.unit_name = interval, unit_name
        self.stateful_metrics = set(stateful_metrics or ())
        self._values: dict[str, list] = {}
        self._start = time.time()
        self._last_update = 0.0
        self._dynamic = self.redraws()
        self._seen = 0

    @staticmethod
    def redraws() -> bool:
        """Whether stdout is a terminal, where the bar is redrawn in place between steps."""
        return hasattr(sys.stdout, "isatty") and sys.stdout.isatty()

    def update(self, current, values=None, finalize=None) -> None:
        """Move to step `current`; `values` is a list of `(name, value)` pairs."""
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        for name, value in values or []:
            if name in self.stateful_metrics:
                self._values[name] = [value, 1]
            else:
                steps = max(current - self._seen, 1)
                acc = self._values.setdefault(name, [0.0, 0])
                acc[0] += value * steps
                acc[1] += steps
        self._seen = current
        if self.verbose == 0:
            return
        now = time.time()
        if not finalize and (now - self._last_update < self.interval or not self._dynamic or self.verbose == 2):
            return
        self._last_update = now
        line = self._render(current, now, finalize)
        if self._dynamic and self.verbose == 1:
            sys.stdout.write("\r" + line + ("\n" if finalize else ""))
        elif finalize:
            sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def _render(self, current, now, finalize) -> str:
        elapsed = now - self._start
        per_unit = elapsed / current if current else 0.0
        bold = "\x1b[1m" if self._dynamic else ""
        reset = "\x1b[0m" if self._dynamic else ""
        green = "\x1b[32m" if self._dynamic else ""
        if self.target is not None:
            num = f"{current}/{self.target}"
        else:  # a generator of unknown length (Keras prints "5/Unknown" too)
            num = f"{current}/Unknown"
        if self.verbose == 2:
            parts = [num, _format_time(elapsed), _format_per_unit(per_unit, self.unit_name)]
            head = " - ".join(parts)
        else:
            if self.target:
                done = int(self.width * min(current, self.target) / self.target)
                bar = f"{green}{'━' * done}{reset}{'━' * (self.width - done)}"
            else:
                bar = ""
            if finalize or self.target is None:
                t = _format_time(elapsed)
            else:
                t = _format_time(per_unit * (self.target - current))
            head = f"{bold}{num}{reset} {bar} {bold}{t}{reset} {_format_per_unit(per_unit, self.unit_name)}"
        metrics = "".join(
            f" - {name}: {_mean(total) / max(count, 1):.4f}"  # a vector: its mean, as Keras
            for name, (total, count) in self._values.items()
        )
        return head + metrics

    def add(self, n, values=None) -> None:
        self.update(self._seen + n, values)

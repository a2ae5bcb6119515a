"""A progress bar for long commands (snapshot, restore, verify), drawn only on a terminal.

On anything else (a pipe, a log file) it draws nothing: the commands log structured events at the
start and end instead, so pipelines get JSON lines and people get a bar.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["ProgressBar"]

WIDTH = 30
REDRAW_INTERVAL = 0.1  # seconds


class ProgressBar:
    """``with ProgressBar("snapshot", total) as bar: bar.advance(n)``. ``total`` may be an estimate."""

    def __init__(self, label: str, total: int, *, unit: str = "bytes", stream: TextIO | None = None) -> None:
        self.label = label
        self.total = max(total, 1)
        self.unit = unit
        self.done = 0
        self._stream = stream or sys.stderr
        self.enabled = self._stream.isatty()
        self._started = time.monotonic()
        self._drawn_at = 0.0

    def advance(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if self.enabled and now - self._drawn_at >= REDRAW_INTERVAL:
            self._drawn_at = now
            self._draw()

    def _draw(self, end: str = "") -> None:
        fraction = min(self.done / self.total, 1.0)
        filled = round(fraction * WIDTH)
        bar = "#" * filled + "-" * (WIDTH - filled)
        elapsed = time.monotonic() - self._started
        self._stream.write(
            f"\r{self.label:<10} [{bar}] {fraction:4.0%}  {self._amount()}  {elapsed:.1f}s\x1b[K{end}"
        )
        self._stream.flush()

    def _amount(self) -> str:
        if self.unit != "bytes":
            return f"{self.done:,}/{self.total:,} {self.unit}"
        return f"{self.done / 2**20:.1f}/{self.total / 2**20:.1f} MiB"

    def close(self, *, completed: bool = True) -> None:
        """Draw the last state of the bar (full if ``completed``: the total was an estimate) and end its line."""
        if self.enabled:
            if completed:
                self.total = max(self.done, 1)
            self._draw(end="\n")

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self.close(completed=exc_type is None)

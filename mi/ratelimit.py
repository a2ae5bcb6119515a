"""Rate limits per user and per namespace: GCRA (a token bucket kept as one timestamp).

A limit is ``rate`` operations per second with room for a ``burst`` above it. Each key (a user,
or a namespace) keeps its theoretical arrival time; a command is admitted if that time is no more
than the burst ahead of now, and moves it one interval on. A refused command costs nothing and
answers how long until one would be admitted.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from attrs import define, field

from protocol.errors import CommandError

__all__ = ["RateLimits", "rate_limited"]


def rate_limited(retry_ms: int) -> CommandError:
    return CommandError("ERR", f"rate limit exceeded (retry in {retry_ms} ms)")


@define
class _Cell:
    rate: float
    burst: int
    tat: float = 0.0  # theoretical arrival time (monotonic seconds)

    def admit(self, now: float) -> float:
        """0 if admitted (and counted), else the seconds until a command would be."""
        interval = 1.0 / self.rate
        tat = max(self.tat, now)
        ahead = tat + interval - now  # how far ahead of now admitting this one would put us
        allowed = interval * (self.burst + 1)
        if ahead > allowed:
            return ahead - allowed
        self.tat = tat + interval
        return 0.0


@define(eq=False)
class RateLimits:
    clock: Callable[[], float] = time.monotonic
    rejected: int = 0
    _cells: dict[tuple[str, str], _Cell] = field(factory=dict)

    def check(self, kind: str, name: str, rate: float, burst: int | None) -> CommandError | None:
        """Count one operation of ``kind`` ("user", "ns") ``name``; the error if over its rate.
        ``burst`` None: one second's worth."""
        if burst is None:
            burst = max(1, int(rate))
        cell = self._cells.get((kind, name))
        if cell is None or (cell.rate, cell.burst) != (rate, burst):  # new, or its limit changed
            cell = self._cells[(kind, name)] = _Cell(rate, burst)
        wait = cell.admit(self.clock())
        if not wait:
            return None
        self.rejected += 1
        return rate_limited(max(1, math.ceil(wait * 1000)))

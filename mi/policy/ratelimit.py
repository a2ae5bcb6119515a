"""Rate limits per user and per namespace: GCRA (a token bucket kept as one timestamp).

A limit is ``rate`` operations per second with room for a ``burst`` above it. Each key (a user,
or a namespace) keeps its theoretical arrival time; a command is admitted if that time is no more
than the burst ahead of now, and moves it one interval on. A refused command costs nothing (under
none of its limits) and answers how long until one would be admitted.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

from attrs import define, field

from protocol.errors import CommandError

__all__ = ["Limit", "RateLimits", "rate_limited"]

Limit = tuple[str, str, float, "int | None"]  # kind ("user", "ns"), name, rate, burst


def rate_limited(retry_ms: int) -> CommandError:
    return CommandError("ERR", f"rate limit exceeded (retry in {retry_ms} ms)")


@define
class _Cell:
    rate: float
    burst: int
    tat: float = 0.0  # theoretical arrival time (monotonic seconds)

    def wait(self, now: float) -> float:
        """0 if a command would be admitted now, else the seconds until one would be."""
        interval = 1.0 / self.rate
        ahead = max(self.tat, now) + interval - now  # how far ahead of now admitting one would put us
        return max(0.0, ahead - interval * (self.burst + 1))

    def take(self, now: float) -> None:
        """Count one admitted command."""
        self.tat = max(self.tat, now) + 1.0 / self.rate


@define(eq=False)
class RateLimits:
    clock: Callable[[], float] = time.monotonic
    rejected: int = 0
    _cells: dict[tuple[str, str], _Cell] = field(factory=dict)

    def check(self, kind: str, name: str, rate: float, burst: int | None) -> CommandError | None:
        """Count one operation of ``kind`` ("user", "ns") ``name``; the error if over its rate.
        ``burst`` None: one second's worth."""
        return self.check_all([(kind, name, rate, burst)])

    def check_all(self, limits: Sequence[Limit]) -> CommandError | None:
        """One operation under several limits (its user's, its namespaces'): counted by all of
        them if every one admits it, by none if one refuses (the error says the longest wait)."""
        now = self.clock()
        cells = [self._cell(*limit) for limit in limits]
        wait = max((cell.wait(now) for cell in cells), default=0.0)
        if wait:
            self.rejected += 1
            return rate_limited(max(1, math.ceil(wait * 1000)))
        for cell in cells:
            cell.take(now)
        return None

    def _cell(self, kind: str, name: str, rate: float, burst: int | None) -> _Cell:
        if burst is None:
            burst = max(1, int(rate))
        cell = self._cells.get((kind, name))
        if cell is None or (cell.rate, cell.burst) != (rate, burst):  # new, or its limit changed
            cell = self._cells[(kind, name)] = _Cell(rate, burst)
        return cell

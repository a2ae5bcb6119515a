"""The latency monitor behind LATENCY LATEST, HISTORY and RESET, as Redis's.

Off until ``latency-monitor-threshold`` (milliseconds, CONFIG SET) is above 0; then every event
that takes at least that long is kept: a sample a second (the worst of that second), the last
``HISTORY_LEN`` of them, and the worst ever. mi's events: ``command``, a command's own work (as
the slow log judges it), and ``commit``, a write's wait for its durable commit (Redis's
``aof-fsync-always``).
"""

from __future__ import annotations

import time
from collections import deque

from attrs import define, field

__all__ = ["HISTORY_LEN", "LatencyMonitor"]

HISTORY_LEN = 160  # samples kept an event, as Redis keeps


@define(eq=False)
class _Event:
    samples: deque[tuple[int, int]] = field(factory=lambda: deque(maxlen=HISTORY_LEN))  # (unix s, ms)
    worst_ms: int = 0


@define(eq=False)
class LatencyMonitor:
    threshold_ms: int = 0  # 0: off
    _events: dict[str, _Event] = field(factory=dict)

    def add(self, event: str, usec: int) -> None:
        """Keep ``usec`` if it reaches the threshold (the caller checks that it is on)."""
        ms = usec // 1000
        if ms < self.threshold_ms:
            return
        now = int(time.time())
        kept = self._events.get(event)
        if kept is None:
            kept = self._events[event] = _Event()
        if kept.samples and kept.samples[-1][0] == now:
            ms = max(ms, kept.samples[-1][1])
            kept.samples.pop()
        kept.samples.append((now, ms))
        kept.worst_ms = max(kept.worst_ms, ms)

    def latest(self) -> list[list[str | int]]:
        """LATENCY LATEST: [event, when, latest ms, worst ms] for each event."""
        return [[name, *kept.samples[-1], kept.worst_ms] for name, kept in self._events.items()]

    def history(self, event: str) -> list[list[int]]:
        kept = self._events.get(event)
        return [] if kept is None else [list(sample) for sample in kept.samples]

    def reset(self, events: tuple[str, ...] = ()) -> int:
        """Forget ``events`` (all when none are named); how many there were."""
        names = [name for name in dict.fromkeys(events or self._events) if name in self._events]
        for name in names:
            del self._events[name]
        return len(names)

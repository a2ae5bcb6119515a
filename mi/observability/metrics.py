"""What the server counts about the commands it runs: calls, time, failures, latency, slow ones.

Sessions call ``record`` once per command with its start and end (a write's end is its commit),
so INFO commandstats, latencystats and errorstats, and SLOWLOG read from here. Latency is kept in
a histogram per command (buckets a quarter of a power of two wide, so percentiles are within
about 19%), which costs a few hundred integers per command name, whatever the traffic.
"""

from __future__ import annotations

import math
import time
from collections import Counter, deque
from typing import Any

from attrs import define, field

from protocol.commands import ALL_DECLARATIONS
from protocol.display import redacted
from protocol.errors import CommandError

__all__ = ["HISTOGRAM_BOUNDS_US", "Metrics", "SlowEntry"]

_STEPS_PER_DOUBLING = 4
_BUCKETS = 4 * 40  # up to 2**40 µs (12 days): nothing is slower
SLOWLOG_ARGS = 32  # arguments kept per slow log entry (the rest summarised)
SLOWLOG_ARG_BYTES = 128
HISTOGRAM_BOUNDS_US = tuple(2**k for k in range(4, 25))  # 16 µs to 16.8 s, doubling: Prometheus buckets
KNOWN_NAMES = frozenset(ALL_DECLARATIONS)


def _cut(arg: bytes) -> bytes:
    if len(arg) <= SLOWLOG_ARG_BYTES:
        return arg
    return arg[:SLOWLOG_ARG_BYTES] + b"... (%d more bytes)" % (len(arg) - SLOWLOG_ARG_BYTES)


def _bucket(usec: float) -> int:
    """Bucket i holds latencies in (2**((i-1)/4), 2**(i/4)] µs; bucket 0 up to 1 µs."""
    if usec <= 1:
        return 0
    return min(math.ceil(math.log2(usec) * _STEPS_PER_DOUBLING), _BUCKETS - 1)


def _bucket_top(index: int) -> float:
    """The upper bound (µs) of a bucket."""
    return 2 ** (index / _STEPS_PER_DOUBLING)


@define
class CommandStats:
    calls: int = 0
    usec: int = 0
    failed: int = 0
    histogram: list[int] = field(factory=lambda: [0] * _BUCKETS)

    def cumulative(self, bounds: tuple[int, ...]) -> list[tuple[int, int]]:
        """For each bound (a power of two, in µs): how many calls took at most that long."""
        result = []
        for bound in bounds:
            last = int(math.log2(bound) * _STEPS_PER_DOUBLING)  # the bucket that ends at the bound
            result.append((bound, sum(self.histogram[: last + 1])))
        return result

    def percentile(self, fraction: float) -> float:
        """The latency (µs) under which ``fraction`` of the calls finished."""
        wanted = fraction * self.calls
        seen = 0
        for index, count in enumerate(self.histogram):
            seen += count
            if count and seen >= wanted:
                return _bucket_top(index)
        return 0.0


@define
class SlowEntry:
    id: int
    timestamp: int  # unix seconds
    usec: int
    args: list[bytes]
    peer: str
    client_name: str

    def as_reply(self) -> list[Any]:
        """As Redis's SLOWLOG GET gives an entry."""
        return [self.id, self.timestamp, self.usec, self.args, self.peer, self.client_name]


@define(eq=False)
class Metrics:
    slowlog_threshold_us: int = 10_000
    slowlog_max_len: int = 128
    commands: dict[str, CommandStats] = field(factory=dict)
    errors: Counter[str] = field(factory=Counter)
    total: int = 0
    slowlog: deque[SlowEntry] = field(factory=deque)
    slow_total: int = 0  # ids of slow entries, never reused
    _ops_samples: deque[tuple[float, int]] = field(factory=deque)

    def reset(self) -> None:
        """CONFIG RESETSTAT: commands, errors and their latencies from zero (the slow log stays)."""
        self.commands.clear()
        self.errors.clear()
        self.total = 0
        self._ops_samples.clear()

    def record(self, name: str, usec: int, reply: Any, work_usec: int | None = None) -> bool:
        """Count one command that took ``usec``; True if its own work (``work_usec``, by default
        all of it) was slow: the caller logs it and adds the entry.

        Only known command names get statistics of their own (a client cannot grow this table);
        unknown ones count in the total and, as errors, in errorstats.
        """
        self.total += 1
        if name not in KNOWN_NAMES:
            if isinstance(reply, CommandError):
                self.errors[reply.prefix] += 1
            return False
        stats = self.commands.get(name)
        if stats is None:
            stats = self.commands[name] = CommandStats()
        stats.calls += 1
        stats.usec += usec
        stats.histogram[_bucket(usec)] += 1
        if isinstance(reply, CommandError):
            stats.failed += 1
            self.errors[reply.prefix] += 1
        return 0 <= self.slowlog_threshold_us <= (usec if work_usec is None else work_usec)

    def add_slow(self, usec: int, args: tuple[bytes, ...], peer: str, client_name: str) -> None:
        """Keep a slow command: its arguments cut, and its secrets hidden (a webhook URL; AUTH is
        never counted slow, but SLOWLOG GET must not show a password whatever comes here)."""
        args = redacted(args)
        kept = [_cut(arg) for arg in args[:SLOWLOG_ARGS]]
        if len(args) > SLOWLOG_ARGS:
            kept[-1] = b"... (%d more arguments)" % (len(args) - SLOWLOG_ARGS + 1)
        self.slow_total += 1
        self.slowlog.appendleft(SlowEntry(self.slow_total - 1, int(time.time()), usec, kept, peer, client_name))
        while len(self.slowlog) > self.slowlog_max_len:
            self.slowlog.pop()

    def ops_per_sec(self) -> float:
        """Commands per second over the last few seconds (sampled when asked)."""
        now = time.monotonic()
        samples = self._ops_samples
        samples.append((now, self.total))
        while len(samples) > 2 and now - samples[0][0] > 5:
            samples.popleft()
        (then, before), (_, latest) = samples[0], samples[-1]
        return 0.0 if now - then <= 0 else (latest - before) / (now - then)

    def commandstats(self) -> list[str]:
        return [
            f"cmdstat_{name}:calls={s.calls},usec={s.usec},usec_per_call={s.usec / s.calls:.2f},"
            f"rejected_calls=0,failed_calls={s.failed}"
            for name, s in sorted(self.commands.items())
        ]

    def latencystats(self) -> list[str]:
        return [
            f"latency_percentiles_usec_{name}:p50={s.percentile(0.5):.3f},p99={s.percentile(0.99):.3f},"
            f"p99.9={s.percentile(0.999):.3f}"
            for name, s in sorted(self.commands.items())
        ]

    def latencyhistogram(self) -> list[str]:
        """Each command's calls per latency bucket (the bucket's upper bound in µs, buckets with
        none left out), so a tool that samples twice gets percentiles over its interval (mi top)."""
        lines = []
        for name, s in sorted(self.commands.items()):
            buckets = "".join(f",{_bucket_top(i):.1f}={count}" for i, count in enumerate(s.histogram) if count)
            lines.append(f"latency_histogram_usec_{name}:calls={s.calls}{buckets}")
        return lines

    def errorstats(self) -> list[str]:
        return [f"errorstat_{prefix}:count={count}" for prefix, count in sorted(self.errors.items())]

"""``mi top``: a live view of a server (ops/s, latency, clients, namespaces, queues), from ``INFO all``.

Every figure is over the last interval: rates and p50/p99 are the differences of two samples (the
latencies from INFO's ``latencyhistogram`` section, calls per latency bucket). The queue table
(INFO's ``queues`` section) shows each queue's gauges as they are now and its counters as rates
over the interval.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TextIO

from mi.tools.wire_client import WireClient, add_connection_options, connect
from protocol.errors import CommandError

__all__ = ["add_parser", "frame", "parse_info", "run"]

CLEAR = "\x1b[H\x1b[2J"
TOP_COMMANDS = 12


def add_parser(commands: argparse._SubParsersAction) -> None:
    top = commands.add_parser("top", help="a live view of a running server")
    add_connection_options(top)
    top.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes")
    top.add_argument("--once", action="store_true", help="print one view (over one interval) and exit")


def parse_info(text: str) -> dict[str, str]:
    """``INFO``'s ``field:value`` lines as a dict."""
    fields = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        name, _, value = line.partition(":")
        fields[name] = value
    return fields


def _pairs(text: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in text.split(",") if "=" in part)


def frame(address: str, before: dict[str, str], after: dict[str, str], seconds: float) -> str:
    """One screen: the header, the busiest commands over the interval, the namespaces."""
    uptime = int(after.get("uptime_in_seconds", "0"))
    lines = [
        f"mi {address}  up {uptime // 3600}h{uptime % 3600 // 60:02d}m  "
        f"clients {after.get('connected_clients', '?')} (blocked {after.get('blocked_clients', '0')})  "
        f"ops/s {_rate(before, after, 'total_commands_processed', seconds):,.0f}  "
        f"RSS {int(after.get('used_memory_rss', '0')) / 2**20:.0f} MB  durability {after.get('durability', '?')}",
        "",
        f"{'command':<20}{'calls/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'failed':>10}",
    ]
    rows = []
    for name, value in after.items():
        if not name.startswith("cmdstat_"):
            continue
        command = name.removeprefix("cmdstat_")
        now, then = _pairs(value), _pairs(before.get(name, ""))
        histogram = f"latency_histogram_usec_{command}"
        earlier = before.get(histogram, "")
        if int(now["calls"]) < int(then.get("calls", "0")):  # CONFIG RESETSTAT between the samples
            then, earlier = {}, ""
        rate = (int(now["calls"]) - int(then.get("calls", "0"))) / seconds
        interval = _interval_histogram(earlier, after.get(histogram, ""))
        p50, p99 = _percentile(interval, 0.5), _percentile(interval, 0.99)
        rows.append((rate, command, p50 / 1000, p99 / 1000, int(now.get("failed_calls", "0"))))
    for rate, command, p50, p99, failed in sorted(rows, reverse=True)[:TOP_COMMANDS]:
        lines.append(f"{command:<20}{rate:>10,.0f}{p50:>10.2f}{p99:>10.2f}{failed:>10,}")
    lines += ["", f"{'namespace':<30}{'keys':>12}{'with TTL':>12}"]
    for name, value in after.items():
        if name.startswith("db") and name[2:].isdigit():  # Redis's keyspace line; ns= names it
            keyspace = _pairs(value)
            lines.append(f"{keyspace['ns']:<30}{int(keyspace['keys']):>12,}{int(keyspace['expires']):>12,}")
    lines += _queue_table(before, after, seconds)
    return "\n".join(lines)


# (heading, INFO queues field): the gauges as they are, then the counters as rates
_QUEUE_GAUGES = (("scheduled", "scheduled"), ("due", "due"), ("in flight", "in_flight"), ("dead", "dead"))
_QUEUE_RATES = (
    ("deliv/s", "delivered"), ("ack/s", "acked"), ("nack/s", "nacked"), ("lease/s", "lease_expired"),
    ("expire/s", "expired"), ("dlq/s", "dead_lettered"), ("drop/s", "dropped"), ("kick/s", "kicked"),
)  # fmt: skip


def _queue_table(before: dict[str, str], after: dict[str, str], seconds: float) -> list[str]:
    """The queues (INFO queues' lines), empty if there is none."""
    rows = []
    for name, value in after.items():
        if not name.startswith("queue_"):
            continue
        now, then = _pairs(value), _pairs(before.get(name, ""))
        ns = name.removeprefix("queue_").replace("%3A", ":") + (" (paused)" if now.get("paused") == "1" else "")
        row = f"{ns:<24}" + "".join(f"{int(now.get(field, '0')):>11,}" for _, field in _QUEUE_GAUGES)
        row += f"{int(now.get('oldest_due_lag_ms', '0')) / 1000:>11,.1f}"
        row += "".join(f"{_rate(then, now, field, seconds):>9,.0f}" for _, field in _QUEUE_RATES)
        rows.append(row)
    if not rows:
        return []
    heading = f"{'queue':<24}" + "".join(f"{title:>11}" for title, _ in _QUEUE_GAUGES) + f"{'oldest s':>11}"
    return ["", heading + "".join(f"{title:>9}" for title, _ in _QUEUE_RATES), *rows]


def _interval_histogram(before: str, after: str) -> list[tuple[float, int]]:
    """The calls of the interval per latency bucket (upper bound in µs), from two samples of INFO's
    ``latency_histogram_usec_*`` line."""
    then = {bound: int(count) for bound, count in _pairs(before).items() if bound != "calls"}
    return sorted(
        (float(bound), int(count) - then.get(bound, 0))
        for bound, count in _pairs(after).items()
        if bound != "calls" and int(count) > then.get(bound, 0)
    )


def _percentile(buckets: list[tuple[float, int]], fraction: float) -> float:
    """The latency (µs) under which ``fraction`` of the interval's calls finished (0: none ran)."""
    wanted = fraction * sum(count for _, count in buckets)
    seen = 0
    for bound, count in buckets:
        seen += count
        if seen >= wanted:
            return bound
    return 0.0


def _rate(before: dict[str, str], after: dict[str, str], field: str, seconds: float) -> float:
    return max(0, int(after.get(field, "0")) - int(before.get(field, "0"))) / seconds  # 0 across a RESETSTAT


def run(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    address = f"{args.host}:{args.port}"
    try:
        with connect(args) as client:
            before, taken = _info(client), time.monotonic()
            while True:
                time.sleep(args.interval)
                after, now = _info(client), time.monotonic()
                view = frame(address, before, after, now - taken)
                out.write((CLEAR if out.isatty() else "") + view + "\n")
                out.flush()
                if args.once:
                    return 0
                before, taken = after, now
    except (OSError, CommandError) as error:
        print(f"mi: {address}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


def _info(client: WireClient) -> dict[str, str]:
    reply = client.call("INFO", "all")
    return parse_info(reply.decode() if isinstance(reply, bytes) else reply.text)

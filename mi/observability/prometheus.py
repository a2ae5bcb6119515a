"""The metrics endpoint: INFO's figures in the Prometheus text format, on ``--metrics-port``.

prometheus-client serves it from a thread of its own and asks this collector for the figures at
each scrape, so nothing is counted twice and the event loop does no work between scrapes. The
registry also has the standard process and platform metrics.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from mi.observability.metrics import HISTOGRAM_BOUNDS_US
from mi.observability.queues import COUNTERS, QUEUE_FIELDS, queues

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from mi.core.state import ServerState

__all__ = ["MetricsEndpoint"]


class _Collector(Collector):
    def __init__(self, state: ServerState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        state = self.state
        metrics = state.metrics
        commands = list(metrics.commands.items())  # a copy: the event loop goes on counting

        calls = CounterMetricFamily("mi_commands", "Commands run", labels=["command"])
        failed = CounterMetricFamily("mi_command_failures", "Commands that answered an error", labels=["command"])
        latency = HistogramMetricFamily(
            "mi_command_duration_seconds", "Time from a command's arrival to its reply (a write: its commit)",
            labels=["command"],
        )
        for name, stats in commands:
            calls.add_metric([name], stats.calls)
            failed.add_metric([name], stats.failed)
            buckets = [(f"{bound / 1e6:g}", count) for bound, count in stats.cumulative(HISTOGRAM_BOUNDS_US)]
            latency.add_metric([name], [*buckets, ("+Inf", stats.calls)], stats.usec / 1e6)
        yield from (calls, failed, latency)

        errors = CounterMetricFamily("mi_errors", "Error replies, by prefix", labels=["prefix"])
        for prefix, count in list(metrics.errors.items()):
            errors.add_metric([prefix], count)
        yield errors

        yield GaugeMetricFamily("mi_connected_clients", "Open client connections", value=len(state.sessions))
        yield GaugeMetricFamily("mi_blocked_clients", "Clients waiting in TAKE ... BLOCK", value=state.blocked_clients)
        yield CounterMetricFamily("mi_connections_received", "Connections accepted", value=state.connections_received)
        yield CounterMetricFamily("mi_connections_rejected", "Connections refused (max clients)", value=state.connections_rejected)
        yield CounterMetricFamily("mi_expired_keys", "Messages removed at their deadline", value=state.reaper.reaped)
        yield CounterMetricFamily("mi_expired_leases", "Deliveries whose lease ran out", value=state.reaper.returned)
        yield CounterMetricFamily("mi_rate_limited", "Commands refused by a rate limit", value=state.rate_limits.rejected)
        yield CounterMetricFamily("mi_auth_failures", "Failed authentications", value=state.auth.failures_total)
        yield CounterMetricFamily("mi_snapshots", "Snapshots taken", value=state.snapshotter.taken)

        commits = CounterMetricFamily("mi_commits", "Write transactions committed", labels=["shard"])
        writes = CounterMetricFamily("mi_writes", "Writes committed (a commit carries many)", labels=["shard"])
        journal = GaugeMetricFamily("mi_journal_sequence", "The newest journal entry's number", labels=["shard"])
        for writer in state.writers:
            shard = str(writer.shard.index)
            commits.add_metric([shard], writer.commits)
            writes.add_metric([shard], writer.writes)
            journal.add_metric([shard], writer.shard.journal_last)
        yield from (commits, writes, journal)

        quarantined = GaugeMetricFamily("mi_quarantined", "Damaged items set aside (mi verify lists them)", labels=["shard"])
        for shard in state.store.shards:
            with shard.read() as txn:
                quarantined.add_metric([str(shard.index)], txn.delivery.count_quarantined())
        yield quarantined

        keys = GaugeMetricFamily("mi_namespace_keys", "Messages held, by namespace", labels=["namespace"])
        for ns in state.store.namespaces():
            total = 0
            for shard in state.store.shards:
                with shard.read() as txn:
                    total += txn.count(ns)
            keys.add_metric([ns], total)
        yield keys
        yield from _queue_metrics(state)


_QUEUE_HELP = {
    "scheduled": "Messages scheduled: keys with a TTL not reached, and messages waiting for a retry",
    "due": "Messages due, waiting for a consumer",
    "in_flight": "Messages held by a consumer under a lease",
    "dead": "Dead letters kept with their history, by the namespace they died in",
    "paused": "1 while the namespace is paused (NAMESPACE PAUSE)",
    "delivered": "Messages handed out (TAKE, webhooks)",
    "acked": "Messages acknowledged (ACK, a webhook's 2xx)",
    "nacked": "Deliveries given back (NACK, a webhook's failed POST)",
    "lease_expired": "Deliveries whose consumer's lease ran out",
    "expired": "Messages dropped at their deadline (a namespace that does not deliver)",
    "dead_lettered": "Messages moved to the dead-letter namespace",
    "dropped": "Messages given up on with no dead-letter namespace",
    "kicked": "Dead letters brought back by KICK",
}


def _queue_metrics(state: ServerState) -> Iterator[Metric]:
    """Each queue's figures (``mi.observability.queues``), from counts the commits keep: no scan."""
    by_ns = queues(state)
    families: list[GaugeMetricFamily | CounterMetricFamily] = []
    for name in QUEUE_FIELDS:
        if name == "oldest_due_lag_ms":
            family = GaugeMetricFamily(
                "mi_queue_oldest_due_lag_seconds", "How long the oldest due message has waited", labels=["namespace"]
            )
            for ns, figures in by_ns.items():
                family.add_metric([ns], figures[name] / 1000)
        else:
            kind = CounterMetricFamily if name in COUNTERS else GaugeMetricFamily
            family = kind(f"mi_queue_{name}", _QUEUE_HELP[name], labels=["namespace"])
            for ns, figures in by_ns.items():
                family.add_metric([ns], figures[name])
        families.append(family)
    yield from families


class MetricsEndpoint:
    """The HTTP server of the metrics; ``port`` is where it listens (0 in config: any free port)."""

    def __init__(self, state: ServerState, host: str, port: int) -> None:
        registry = CollectorRegistry()
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        registry.register(_Collector(state))
        self._server: WSGIServer
        try:
            self._server, _thread = start_http_server(port, addr=host, registry=registry)
        except OSError as error:  # say where, not only why
            msg = f"cannot serve metrics on {host}:{port}: {error.strerror}"
            raise OSError(error.errno, msg) from None
        self.port = self._server.server_port

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

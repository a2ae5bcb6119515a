"""Command statistics: percentiles and Prometheus buckets from the latency histogram."""

from __future__ import annotations

from mi.observability.metrics import HISTOGRAM_BOUNDS_US, Metrics
from protocol.errors import CommandError


def test_latency_buckets_and_percentiles():
    metrics = Metrics(slowlog_threshold_us=-1)
    for usec in (16, 20, 100, 1000, 5000):
        metrics.record("set", usec, None)
    stats = metrics.commands["set"]
    cumulative = dict(stats.cumulative(HISTOGRAM_BOUNDS_US))
    assert (cumulative[16], cumulative[32], cumulative[128], cumulative[1024], cumulative[8192]) == (1, 2, 3, 4, 5)
    assert 100 <= stats.percentile(0.5) < 100 * 1.19 + 1  # within a bucket's width above the true p50
    assert 5000 <= stats.percentile(0.99) < 5000 * 1.19 + 1


def test_unknown_names_get_no_table_and_errors_are_counted_by_prefix():
    metrics = Metrics(slowlog_threshold_us=-1)
    metrics.record("nosuchcommand", 5, CommandError("ERR", "unknown command"))
    metrics.record("get", 5, CommandError("WRONGTYPE", "Operation against a key"))
    assert set(metrics.commands) == {"get"}
    assert metrics.errors == {"ERR": 1, "WRONGTYPE": 1}
    assert metrics.total == 2
    assert metrics.commandstats() == ["cmdstat_get:calls=1,usec=5,usec_per_call=5.00,rejected_calls=0,failed_calls=1"]

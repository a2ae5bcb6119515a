"""What each section of ``INFO`` says (the handler, in ``mi.commands.server``, joins them).

Field names follow Redis where Redis has the figure, so that ``redis-cli --stat``, redis-py's
``info()`` and dashboards read them: ``used_memory`` and ``used_memory_human``, the Redis 7
keyspace lines ``dbN:keys=...,expires=...,avg_ttl=...``, ``connected_clients``... docs/operations.md
says what each measures in mi.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mi import VERSION
from mi.observability.queues import info_name, queues
from protocol.grammar_names import database_number

if TYPE_CHECKING:
    from mi.core.state import Connection, ServerState

__all__ = [
    "DEFAULT_SECTIONS",
    "REDIS_COMPATIBLE_VERSION",
    "SECTIONS",
    "VERSION",
    "database_numbers",
    "human_bytes",
    "last_save",
    "readable_namespaces",
]

# Clients and tools read redis_version to decide which commands they may send; mi speaks the
# Redis 7 protocol (RESP3, HELLO, CLIENT SETINFO), so it says so.
REDIS_COMPATIBLE_VERSION = "7.2.0"

_ADMIN_ONLY_SERVER_FIELDS = ("process_id", "config_file", "data_dir")


def _info_server(session: Connection) -> dict[str, Any]:
    server = session.server
    uptime = int(time.time() - server.started_at)
    figures: dict[str, Any] = {
        "redis_version": REDIS_COMPATIBLE_VERSION,
        "mi_version": VERSION,
        "redis_mode": "standalone",
        "os": f"{platform.system()} {platform.release()} {platform.machine()}",
        "arch_bits": 64 if platform.architecture()[0] == "64bit" else 32,
        "process_id": os.getpid(),
        "tcp_port": server.port,
        "uptime_in_seconds": uptime,
        "uptime_in_days": uptime // 86400,
        "config_file": server.config_file or "",
        "data_dir": str(server.data_dir),
        "shards": len(server.store.shards),
        "durability": server.config.storage.durability,
    }
    if not session.user.admin:  # where the server's files are, and its pid, are for operators
        for private in _ADMIN_ONLY_SERVER_FIELDS:
            figures.pop(private)
    return figures


def _info_clients(session: Connection) -> dict[str, Any]:
    return {
        "connected_clients": len(session.server.sessions),
        "blocked_clients": session.server.blocked_clients,
        "maxclients": session.server.config.server.max_clients,
    }


def _info_memory(session: Connection) -> dict[str, Any]:
    """The process's memory (heap; resident) and the stores' data size, which are different things:
    mi's data lives in LMDB files, mapped in as they are read, not on its heap."""
    status = dict(
        line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line
    )
    heap, resident = _kib(status.get("RssAnon")), _kib(status.get("VmRSS"))
    shards = session.server.store.stats()
    dataset = sum(stats.used_pages * stats.page_size for stats in shards)
    figures: dict[str, Any] = {
        # First: redis-cli --stat takes the first "used_memory" it finds in the text.
        "used_memory": heap,
        "used_memory_human": human_bytes(heap),
        "used_memory_rss": resident,
        "used_memory_rss_human": human_bytes(resident),
        "used_memory_rss_anon": heap,
        "used_memory_dataset": dataset,
        "used_memory_dataset_human": human_bytes(dataset),
        "maxmemory": 0,  # no memory limit: the data's ceiling is max_db_size, on disk
        "maxmemory_human": human_bytes(0),
        "maxmemory_policy": "noeviction",
    }
    for stats in shards:
        figures[f"shard{stats.index}_map_size"] = stats.map_size
        figures[f"shard{stats.index}_used_bytes"] = stats.used_pages * stats.page_size
        figures[f"shard{stats.index}_file_bytes"] = stats.high_water_pages * stats.page_size
    return figures


def _kib(field: str | None) -> int:
    """A /proc/self/status figure ("1234 kB") in bytes; 0 if the system has none."""
    return int(field.split()[0]) * 1024 if field else 0


def human_bytes(count: int) -> str:
    """Bytes as Redis's ``*_human`` fields write them: ``512B``, ``1.50K``, ``2.00M``..."""
    if count < 1024:
        return f"{count}B"
    for unit in "KMGTP":
        count /= 1024
        if count < 1024 or unit == "P":
            break
    return f"{count:.2f}{unit}"


def last_save(server: ServerState) -> int:
    """LASTSAVE: when the last snapshot that succeeded finished (unix s), a failed one since or
    not; the server's start if none has (as Redis counts its start as a save: every write is
    durable here anyway)."""
    last = server.snapshotter.last_ok
    if last is not None and last.finished is not None:
        return int(last.finished)
    return int(server.started_at)


def _info_persistence(session: Connection) -> dict[str, Any]:
    server = session.server
    snapshots = server.snapshotter
    last = snapshots.last
    in_progress = int(snapshots.running is not None)
    figures: dict[str, Any] = {
        "loading": 0,  # the log is replayed before the server listens
        "durability": server.config.storage.durability,
        "snapshot_in_progress": in_progress,
        "snapshots_taken": snapshots.taken,
        "last_snapshot_time": int(last.finished or 0) if last else 0,
        "last_snapshot_status": last.status if last else "none",
        # Redis's names for the same, which redis-cli --stat and dashboards read
        "rdb_bgsave_in_progress": in_progress,
        "rdb_last_save_time": last_save(server),
        "aof_rewrite_in_progress": 0,
    }
    for writer in server.writers:
        index = writer.shard.index
        figures[f"shard{index}_journal_seq"] = writer.shard.journal_last
        figures[f"shard{index}_log_lsn"] = writer.shard.applied_lsn
        figures[f"shard{index}_log_bytes"] = writer.shard.log.size()
        figures[f"shard{index}_log_bytes_since_checkpoint"] = writer.shard.log_bytes
        figures[f"shard{index}_commits"] = writer.commits
        figures[f"shard{index}_writes"] = writer.writes
        figures[f"shard{index}_avg_batch"] = round(writer.writes / writer.commits, 2) if writer.commits else 0
    return figures


def readable_namespaces(session: Connection) -> list[str]:
    """The namespaces that hold or held data, of those the connection's user may read."""
    user = session.user
    return [ns for ns in session.server.store.namespaces() if user.unrestricted or user.may(ns, write=False)]


def database_numbers(namespaces: list[str]) -> dict[str, int]:
    """The Redis database number each namespace is shown as: ``default`` is 0 and ``dbN`` is N
    (what ``SELECT N`` reaches); any other namespace takes the lowest number left, in name order."""
    numbers = {ns: number for ns in namespaces if (number := database_number(ns)) is not None}
    taken, free = {0, *numbers.values()}, 1
    for ns in sorted(set(namespaces) - set(numbers)):
        while free in taken:
            free += 1
        numbers[ns] = free
        taken.add(free)
    return numbers


def _info_keyspace(session: Connection) -> list[str]:
    """One Redis keyspace line per namespace the user may read, its name in ``ns=``."""
    namespaces = readable_namespaces(session)
    now = session.server.now_ms()
    keys = dict.fromkeys(namespaces, 0)
    expiring = dict.fromkeys(namespaces, 0)
    ttl_total = dict.fromkeys(namespaces, 0)
    for shard in session.server.store.shards:
        with shard.read() as txn:
            for ns in namespaces:
                keys[ns] += txn.count(ns)
            for deadline, ns, _key in txn.deadlines():  # one pass over the expiry index a shard
                if ns in expiring:
                    expiring[ns] += 1
                    ttl_total[ns] += max(0, deadline - now)
    numbers = database_numbers(namespaces)
    return [
        f"db{numbers[ns]}:keys={keys[ns]},expires={expiring[ns]},"
        f"avg_ttl={ttl_total[ns] // expiring[ns] if expiring[ns] else 0},ns={ns}"
        for ns in sorted(namespaces, key=numbers.__getitem__)
    ]


def _info_stats(session: Connection) -> dict[str, Any]:
    server = session.server
    pubsub = server.pubsub.statistics()
    return {
        "total_commands_processed": server.metrics.total,
        "instantaneous_ops_per_sec": round(server.metrics.ops_per_sec()),
        "total_connections_received": server.connections_received,
        "rejected_connections": server.connections_rejected,
        "expired_keys": server.reaper.reaped,
        "expired_leases": server.reaper.returned,
        "pubsub_channels": pubsub["channels"],  # with at least one subscriber, as Redis 7 counts
        "pubsub_patterns": pubsub["patterns"],
        "pubsubshard_channels": 0,  # no SSUBSCRIBE
        "rejected_rate_limit": server.rate_limits.rejected,
        "auth_failures": server.auth.failures_total,
        "slowlog_len": len(server.metrics.slowlog),
        "quarantined": _quarantined(session),
    }


def _info_queues(session: Connection) -> list[str]:
    """One line per queue the user may read, Redis style:
    ``queue_<ns>:scheduled=..,due=..,in_flight=..,dead=..,paused=0,oldest_due_lag_ms=..,delivered=..``
    (``mi.observability.queues``; a ``:`` in the name is written ``%3A``)."""
    user = session.user
    shown = (lambda ns: True) if user.unrestricted else (lambda ns: user.may(ns, write=False))
    return [
        f"queue_{info_name(ns)}:" + ",".join(f"{name}={value}" for name, value in figures.items())
        for ns, figures in queues(session.server, shown).items()
    ]


def _quarantined(session: Connection) -> int:
    """Damaged items set aside, on every shard (docs/reliability.md: Quarantine)."""
    total = 0
    for shard in session.server.store.shards:
        with shard.read() as txn:
            total += txn.delivery.count_quarantined()
    return total


SECTIONS: dict[str, Callable[[Connection], dict[str, Any] | list[str]]] = {
    "server": _info_server,
    "clients": _info_clients,
    "memory": _info_memory,
    "persistence": _info_persistence,
    "stats": _info_stats,
    "commandstats": lambda session: session.server.metrics.commandstats(),
    "latencystats": lambda session: session.server.metrics.latencystats(),
    "latencyhistogram": lambda session: session.server.metrics.latencyhistogram(),  # for mi top
    "errorstats": lambda session: session.server.metrics.errorstats(),
    # Not a cluster: clients read cluster_enabled before choosing a client class (redis-py's tests).
    "cluster": lambda session: {"cluster_enabled": 0},
    "keyspace": _info_keyspace,
    "queues": _info_queues,  # per namespace, from counts kept by the commits: no scan
}
# As Redis: INFO alone leaves out the per-command sections; INFO all (or everything) has them all.
DEFAULT_SECTIONS = ("server", "clients", "memory", "persistence", "stats", "errorstats", "cluster", "keyspace")

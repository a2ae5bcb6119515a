"""Namespaces: SELECT, NAMESPACES, FLUSHNS and FLUSHDB to empty one, FLUSHALL to empty all,
NAMESPACE INFO, NAMESPACE CONFIG, and NAMESPACE PAUSE and RESUME (delivery waits meanwhile)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mi.commands.base import REGISTRY
from mi.commands.server import readable_namespaces
from mi.core.keyspace import Keyspace
from mi.observability.queues import queue_figures
from mi.settings.namespace_settings import check_option, parse_option, render
from protocol.commands import (
    Flushall,
    Flushdb,
    Flushns,
    NamespaceConfigGet,
    NamespaceConfigSet,
    NamespaceInfo,
    NamespacePause,
    NamespaceResume,
    Namespaces,
    Select,
)
from protocol.errors import CommandError
from protocol.replies import SimpleString

if TYPE_CHECKING:
    from mi.core.state import Connection


@REGISTRY.connection(Select)
def select(session: Connection, command: Select) -> SimpleString:
    session.current_namespace = command.ns
    return SimpleString("OK")


@REGISTRY.connection(Namespaces)
def namespaces(session: Connection, command: Namespaces) -> list[str]:
    """Namespaces that hold or held data (one is created by its first write), of those the user
    may read."""
    return readable_namespaces(session)


@REGISTRY.write(Flushns)
def flushns(keyspace: Keyspace, command: Flushns) -> SimpleString:
    """Every key of the namespace goes, on every shard at once (one transaction)."""
    keyspace.drop(command.ns)
    return SimpleString("OK")


@REGISTRY.write(Flushdb)
def flushdb(keyspace: Keyspace, command: Flushdb) -> SimpleString:
    """FLUSHNS of the connection's namespace (or FROM's)."""
    keyspace.drop(keyspace.ns(command.ns))
    return SimpleString("OK")


@REGISTRY.write(Flushall)
def flushall(keyspace: Keyspace, command: Flushall) -> SimpleString:
    """Every namespace of every shard at once (one transaction). Only a user who may write every
    namespace may send it (``mi.policy.auth``)."""
    keyspace.drop_all()
    return SimpleString("OK")


@REGISTRY.task(NamespaceInfo)
async def namespace_info(session: Connection, command: NamespaceInfo) -> dict[str, Any]:
    """Messages held (expired, unreaped ones included, as DBSIZE); the queue's figures (scheduled,
    due, in flight, dead, how long the oldest due one has waited, what happened since the start:
    ``mi.observability.queues``), the damaged ones set aside (quarantined, see
    docs/reliability.md), whether it is paused, and the settings. The queue's figures are counts
    kept by the commits, not scans."""
    await session.server.units.gate.wait_open()  # every shard at one instant: no await below
    keys = quarantined = 0
    for shard in session.server.store.shards:
        with shard.read() as txn:
            keys += txn.count(command.ns)
            quarantined += txn.delivery.count_quarantined(command.ns)  # a scan of the quarantine (near empty)
    figures = queue_figures(session.server, command.ns)
    lag = figures.pop("oldest_due_lag_ms")
    counts = {"keys": keys, **{name: figures.pop(name) for name in ("scheduled", "due", "in_flight")}}
    counts |= {"oldest_due_ms": lag, "quarantined": quarantined, **figures}
    return {**counts, **_settings(session, command.ns)}


@REGISTRY.connection(NamespaceConfigGet)
def namespace_config_get(session: Connection, command: NamespaceConfigGet) -> dict[str, Any]:
    return _settings(session, command.ns)


@REGISTRY.task(NamespaceConfigSet)
async def namespace_config_set(session: Connection, command: NamespaceConfigSet) -> SimpleString:
    """Store the change in the data dir (shard 0), then let it take effect. RESET (no value)
    drops the override: the file's value, or the default, holds again."""
    table = session.server.namespace_settings
    check_option(command.option)
    value = None if command.value is None else parse_option(command.option, command.value)
    async with table.lock:  # one change at a time: each builds on the last
        name, stored = table.change(command.ns, command.option, value, reset=command.value is None)
        outcome = await session.server.writers[0].write(
            lambda txn: txn.put_setting(name, stored), "NAMESPACE CONFIG"
        )
        if isinstance(outcome, Exception):
            raise CommandError("ERR", f"cannot store the setting: {outcome}")
        table.apply(command.ns, stored)
    session.server.webhooks.ensure(command.ns)  # a webhook set (or on_expire changed) starts now
    return SimpleString("OK")


@REGISTRY.task(NamespacePause)
async def namespace_pause(session: Connection, command: NamespacePause) -> SimpleString:
    """Kept in the data dir (shard 0) before it takes effect, so it survives a restart."""
    await _set_paused(session, command.ns, paused=True)
    return SimpleString("OK")


@REGISTRY.task(NamespaceResume)
async def namespace_resume(session: Connection, command: NamespaceResume) -> SimpleString:
    """Consumers blocked in TAKE are woken: what fell due meanwhile is theirs."""
    await _set_paused(session, command.ns, paused=False)
    session.server.due_signals.notify({command.ns})
    return SimpleString("OK")


async def _set_paused(session: Connection, ns: str, *, paused: bool) -> None:
    table = session.server.namespace_settings
    async with table.lock:
        name, stored = table.pause_setting(ns, paused)
        outcome = await session.server.writers[0].write(lambda txn: txn.put_setting(name, stored), "NAMESPACE PAUSE")
        if isinstance(outcome, Exception):
            raise CommandError("ERR", f"cannot store the pause: {outcome}")
        table.apply_pause(ns, paused)


def _settings(session: Connection, ns: str) -> dict[str, Any]:
    return render(session.server.namespace_settings.of(ns))

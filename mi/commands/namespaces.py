"""Namespaces: SELECT, NAMESPACES, FLUSHNS and FLUSHDB to empty one, FLUSHALL to empty all,
NAMESPACE INFO, NAMESPACE CONFIG, and NAMESPACE PAUSE and RESUME (delivery waits meanwhile)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mi.commands.base import REGISTRY
from mi.commands.server import readable_namespaces
from mi.core.keyspace import Keyspace
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
    """Messages held (expired, unreaped ones included, as DBSIZE), scheduled (with a TTL), due
    and in flight, how long the oldest due one has waited, the damaged ones set aside
    (quarantined, see docs/reliability.md), whether it is paused, and the settings."""
    await session.server.units.gate.wait_open()  # every shard at one instant: no await below
    keys = scheduled = due = in_flight = quarantined = 0
    oldest: int | None = None
    for shard in session.server.store.shards:
        with shard.read() as txn:
            keys += txn.count(command.ns)
            scheduled += txn.count_expiring(command.ns)
            shard_due, shard_in_flight, shard_oldest = txn.delivery.counts(command.ns)
            quarantined += txn.delivery.count_quarantined(command.ns)
        due += shard_due
        in_flight += shard_in_flight
        if shard_oldest is not None:
            oldest = shard_oldest if oldest is None else min(oldest, shard_oldest)
    oldest_due_ms = 0 if oldest is None else max(session.server.now_ms() - oldest, 0)
    counts = {"keys": keys, "scheduled": scheduled, "due": due, "in_flight": in_flight, "oldest_due_ms": oldest_due_ms}
    counts["quarantined"] = quarantined
    counts["paused"] = session.server.namespace_settings.is_paused(command.ns)
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

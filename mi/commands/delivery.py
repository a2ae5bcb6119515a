"""TAKE, ACK, NACK and EXTEND: consumers of a delivering namespace; PEEK, SCHEDULED, INFLIGHT,
DEAD and KICK: its operator's look at one message, at its lists and at the dead letters (see
mi.delivery.pull, mi.delivery.listing, storage.delivery)."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import trio

from mi.commands.base import REGISTRY
from mi.delivery.listing import in_flight_page, scheduled_page
from mi.delivery.pull import kick, retry_delay_ms, settle, take_available, take_from, wait_any, wait_seconds
from protocol.commands import Ack, Dead, Extend, Inflight, Kick, Nack, Peek, Scheduled, Take
from protocol.errors import CommandError
from protocol.replies import Stored
from storage import WriteTxn
from storage.delivery import DEFAULT_PRIORITY, DeadLetter, Delivery
from storage.errors import CorruptRecord

if TYPE_CHECKING:
    from mi.core.state import Connection, ServerState
    from storage.records import Record

KICK_BATCH = 1000  # dead letters brought back per commit
NACKED = "nacked"  # the reason of a NACK without REASON


def _shown(shard: int, delivery: Delivery) -> dict[str, Any]:
    record = delivery.record
    return {
        "id": f"{shard}-{delivery.id}",
        "key": delivery.key,
        "value": Stored(record.value),
        "type": record.kind.type_name,
        "deadline": record.expires_at,
        "priority": delivery.priority,
        "attempts": delivery.attempts,
    }


def _holder(session: Connection) -> str:
    """Who takes a message, as PEEK shows it (CLIENT LIST's words)."""
    return f"id={session.client_id} addr={session.peer}"


@REGISTRY.task(Take)
async def take(session: Connection, command: Take) -> list[dict[str, Any]]:
    """The due messages (at most COUNT), or with BLOCK, the first to fall due within it; from
    several namespaces, the most urgent of all. A paused namespace hands out none: TAKE answers
    empty, or with BLOCK waits for RESUME."""
    state = session.server
    namespaces = [session.namespace(command.ns), *command.more_namespaces]
    leases = {}
    for ns in namespaces:
        settings = state.namespace_settings.of(ns)
        if settings.on_expire != "deliver":
            raise CommandError("ERR", f"namespace '{ns}' does not deliver (set its on_expire to deliver)")
        leases[ns] = command.lease_ms or round(settings.lease * 1000)
    give_up_ms = math.inf if command.block_ms == 0 else state.now_ms() + (command.block_ms or 0)
    while True:
        woken = [state.due_signals.event(ns) for ns in namespaces]  # before looking: see DueSignals
        now = state.now_ms()
        await _reap_what_is_due(state, now)
        taken = await _take_now(session, leases, command.count, now)
        if taken:
            state.reaper.note_deadline(now + min(leases.values()))  # the lease's end is the reaper's business
            return [_shown(shard, delivery) for shard, delivery in taken]
        if command.block_ms is None or state.terminating:
            return []
        async with session.blocking() as wait:  # CLIENT KILL, UNBLOCK or a hang-up may end it
            with trio.move_on_after(wait_seconds(give_up_ms, state.now_ms())) as waiting:
                await wait_any(woken)
        if waiting.cancelled_caught or wait.interrupted:
            return []


async def _take_now(session: Connection, leases: dict[str, int], count: int, now: int) -> list[tuple[int, Delivery]]:
    """What the namespaces not paused have due, at most ``count``, now leased to this consumer."""
    state = session.server
    active = {ns: lease for ns, lease in leases.items() if not state.namespace_settings.is_paused(ns)}
    if not active:
        return []
    if len(active) == 1:
        ((ns, lease_ms),) = active.items()
        return await take_available(state.store, state.writers, ns, count, now, lease_ms, _holder(session))
    return await take_from(state.store, state.writers, active, count, now, _holder(session))


async def _reap_what_is_due(state: ServerState, now: int) -> None:
    """Move what fell due by ``now`` (a message set to fall due now, ``TTL now`` or a deadline in
    the past, a moment ago) into the due queue before TAKE looks, rather than wait for the reaper."""
    deadline = state.store.next_deadline()
    if deadline is not None and deadline <= now:
        await state.reaper.reap_due()


@REGISTRY.task(Ack)
async def ack(session: Connection, command: Ack) -> int:
    """How many of the deliveries were in flight (and are now done with)."""
    by_shard: dict[int, list[int]] = defaultdict(list)
    for shard, number in command.ids:
        by_shard[shard].append(number)
    done = 0
    for shard, numbers in by_shard.items():
        done += await _on_shard(
            session.server, shard, lambda txn, numbers=numbers: sum(txn.delivery.ack(command.ns, n) for n in numbers), 0
        )
    return done


@REGISTRY.task(Nack)
async def nack(session: Connection, command: Nack) -> int:
    """1 if the delivery was in flight: it is due again after DELAY (``now``: at once), or after
    the namespace's retry backoff; past its attempts it goes to the dead letters at once."""
    state = session.server
    ns, (shard, number) = command.ns, command.id
    now = state.now_ms()
    settings = state.namespace_settings.of(ns)

    def give_back(txn: WriteTxn) -> tuple[str, int] | None:
        delivery = txn.delivery.give_back(ns, number)
        if delivery is None:
            return None
        delay = retry_delay_ms(settings, delivery.attempts) if command.delay_ms is None else command.delay_ms
        reason = NACKED if command.reason is None else command.reason
        outcome = settle(txn, delivery, settings, now_ms=now, delay_ms=delay, reason=reason, priority=command.priority)
        return outcome, now + delay

    settled = await _on_shard(state, shard, give_back, None)
    if settled is None:
        return 0
    outcome, retry_at = settled
    if outcome == "requeued":
        state.due_signals.notify({ns})
    elif outcome == "waiting":
        state.reaper.note_deadline(retry_at)  # once committed: the reaper reads it from disk
    return 1


@REGISTRY.task(Extend)
async def extend(session: Connection, command: Extend) -> int:
    """The new end of the lease (unix ms): now + LEASE, or the namespace's lease."""
    state = session.server
    ns, (shard, number) = command.ns, command.id
    lease_ms = command.lease_ms or round(state.namespace_settings.of(ns).lease * 1000)
    lease_until = state.now_ms() + lease_ms
    renewed = await _on_shard(state, shard, lambda txn: txn.delivery.renew(ns, number, lease_until), None)
    if renewed is None:
        raise CommandError("ERR", f"no message {shard}-{number} is held in '{ns}' (not taken, ACKed, or its lease ran out)")
    return lease_until


@REGISTRY.task(Peek)
async def peek(session: Connection, command: Peek) -> dict[str, Any] | None:
    """The message's state (scheduled, due, in flight, dead) and what it went through; nil if
    there is none. Reads one shard: the id's, or the key's."""
    state = session.server
    now = state.now_ms()
    if command.id is not None:
        index, number = command.id
        if index >= len(state.store.shards):
            return None
        with state.store.shards[index].read() as txn:
            found = txn.delivery.find(command.ns, number)
            return None if found is None else _peeked(txn, index, found, now)
    shard = state.store.shard_for(command.key)
    with shard.read() as txn:
        record = txn.get(command.ns, command.key, now)
        if record is not None and record.expires_at > now:
            return _scheduled(command.key, record)
        found = txn.delivery.find_key(command.ns, command.key)
        return None if found is None else _peeked(txn, shard.index, found, now)


def _priority(record: Record) -> int:
    return DEFAULT_PRIORITY if record.priority is None else record.priority


def _scheduled(key: bytes, record: Record) -> dict[str, Any]:
    """A key with a TTL not yet reached: a message with no id until it falls due."""
    priority = _priority(record)
    return {
        "state": "scheduled", "id": None, "key": key, "value": Stored(record.value), "type": record.kind.type_name,
        "priority": priority, "attempts": 0, "deadline": record.expires_at, "first_deadline": record.expires_at,
        "lease_holder": None, "lease_until": None, "reason": None,
    }  # fmt: skip


def _peeked(txn: Any, shard: int, found: tuple[str, Delivery | DeadLetter], now: int) -> dict[str, Any] | None:
    state, message = found
    if isinstance(message, DeadLetter):
        return _dead_entry(txn, shard, message, now)
    held = state == "in flight" and not message.waiting
    shown = "scheduled" if state == "in flight" and message.waiting else state  # waiting for its retry
    return {
        "state": shown,
        "id": None if message.id < 0 else f"{shard}-{message.id}",
        "key": message.key,
        "value": Stored(message.record.value),
        "type": message.record.kind.type_name,
        "priority": message.priority,
        "attempts": message.attempts,
        "deadline": message.lease_until if shown == "scheduled" else message.due_at,
        "first_deadline": message.record.expires_at,
        "lease_holder": message.holder if held else None,
        "lease_until": message.lease_until if held else None,
        "reason": message.reason or None,
    }


def _dead_entry(txn: Any, shard: int, dead: DeadLetter, now: int) -> dict[str, Any] | None:
    """A dead letter with its history, None if its record was deleted or replaced since."""
    try:
        record = txn.get(dead.dead_letter, dead.key, now)
    except CorruptRecord:  # damaged: listed by mi verify, not here
        return None
    if record is None or record.revision != dead.revision:
        return None
    return {
        "state": "dead", "id": f"{shard}-{dead.id}", "key": dead.key, "value": Stored(record.value),
        "type": record.kind.type_name, "priority": _priority(record),
        "attempts": dead.attempts, "deadline": dead.last_deadline, "first_deadline": dead.first_deadline,
        "lease_holder": None, "lease_until": None, "reason": dead.reason or None,
        "dead_letter": dead.dead_letter, "died_at": dead.died_at,
    }  # fmt: skip


@REGISTRY.task(Dead)
async def dead(session: Connection, command: Dead) -> list[dict[str, Any]]:
    """Up to COUNT dead letters of ``ns`` after the id AFTER, in id order (shard, then number):
    the next page starts AFTER the last id of this one. One short read per shard."""
    state = session.server
    now = state.now_ms()
    first_shard, after = command.after if command.after is not None else (0, -1)
    listed: list[dict[str, Any]] = []
    for shard in state.store.shards[first_shard:]:
        with shard.read() as txn:
            for history in txn.delivery.dead_letters(command.ns, after if shard.index == first_shard else -1):
                entry = _dead_entry(txn, shard.index, history, now)
                if entry is not None:
                    listed.append(entry)
                    if len(listed) == command.count:
                        return listed
    return listed


@REGISTRY.task(Scheduled)
async def scheduled(session: Connection, command: Scheduled) -> list[Any]:
    """``[next cursor, entries]``, as SCAN: each entry a map of ``key``, ``deadline``,
    ``priority``, ``type``; the cursor is ``0`` once there is no more."""
    page, next_after = await scheduled_page(session.server.store, command.ns, command.count, command.after)
    entries = [
        {"key": entry.key, "deadline": entry.record.expires_at, "type": entry.record.kind.type_name,
         "priority": _priority(entry.record)}
        for entry in page
    ]  # fmt: skip
    return ["0" if next_after is None else next_after.hex(), entries]


@REGISTRY.task(Inflight)
async def inflight(session: Connection, command: Inflight) -> list[Any]:
    """``[next cursor, entries]``: each entry PEEK's map of a message in flight (or waiting for
    its retry: ``scheduled``); the cursor, an id, is ``0`` once there is no more."""
    state = session.server
    page, next_after = in_flight_page(state.store, command.ns, command.count, command.after)
    entries = [_peeked(None, shard, ("in flight", delivery), 0) for shard, delivery in page]
    return ["0" if next_after is None else f"{next_after[0]}-{next_after[1]}", entries]


@REGISTRY.task(Kick)
async def kick_dead(session: Connection, command: Kick) -> int:
    """How many dead letters of ``ns`` came back, due now there, with no attempts counted."""
    state = session.server
    ns = command.ns
    if state.namespace_settings.of(ns).on_expire != "deliver":
        raise CommandError("ERR", f"namespace '{ns}' does not deliver (set its on_expire to deliver)")
    now = state.now_ms()
    if command.id is not None:
        shard, number = command.id
        kicked, _examined = await _on_shard(state, shard, lambda txn: kick(txn, ns, now, 1, number), (0, 0))
    else:
        kicked = 0
        wanted = math.inf if command.count is None else command.count
        for shard in range(len(state.writers)):
            while kicked < wanted:
                batch = int(min(wanted - kicked, KICK_BATCH))
                done, examined = await _on_shard(state, shard, lambda txn, batch=batch: kick(txn, ns, now, batch), (0, 0))
                kicked += done
                if examined < batch:
                    break
    if kicked:
        state.due_signals.notify({ns})
    return kicked


async def _on_shard(state: ServerState, shard: int, op: Any, missing: Any) -> Any:
    """Run ``op`` in a commit of ``shard``; ``missing`` for a shard that does not exist."""
    if shard >= len(state.writers):  # an id no TAKE gave: nothing of it is in flight
        return missing
    outcome = await state.writers[shard].write(op, "DELIVERY")
    if isinstance(outcome, Exception):
        raise outcome
    return outcome

"""TAKE, ACK and NACK: consumers of a delivering namespace (see mi.delivery.pull, storage.delivery)."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import trio

from mi.commands.base import REGISTRY
from mi.delivery.pull import settle, take_available, wait_seconds
from protocol.commands import Ack, Nack, Take
from protocol.errors import CommandError
from protocol.replies import Stored
from storage import WriteTxn
from storage.delivery import Delivery

if TYPE_CHECKING:
    from mi.core.state import Connection, ServerState


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


@REGISTRY.task(Take)
async def take(session: Connection, command: Take) -> list[dict[str, Any]]:
    """The due messages (at most COUNT), or with BLOCK, the first to fall due within it."""
    state = session.server
    ns = session.namespace(command.ns)
    settings = state.namespace_settings.of(ns)
    if settings.on_expire != "deliver":
        raise CommandError("ERR", f"namespace '{ns}' does not deliver (set its on_expire to deliver)")
    lease_ms = command.lease_ms or round(settings.lease * 1000)
    give_up_ms = math.inf if command.block_ms == 0 else state.now_ms() + (command.block_ms or 0)
    while True:
        woken = state.due_signals.event(ns)  # before looking: what falls due meanwhile wakes us
        now = state.now_ms()
        await _reap_what_is_due(state, now)
        taken = await take_available(state.store, state.writers, ns, command.count, now, lease_ms)
        if taken:
            state.reaper.note_deadline(now + lease_ms)  # the lease's end is the reaper's business
            return [_shown(shard, delivery) for shard, delivery in taken]
        if command.block_ms is None or state.terminating:
            return []
        state.blocked_clients += 1
        session.waiting_in_take = True  # CLIENT KILL may end the connection now: nothing is taken
        try:
            with trio.move_on_after(wait_seconds(give_up_ms, state.now_ms())) as waiting:
                await woken.wait()
        finally:
            state.blocked_clients -= 1
            session.waiting_in_take = False
        if waiting.cancelled_caught:
            return []


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
    """1 if the delivery was in flight: it is due again now, or when DELAY has passed."""
    state = session.server
    ns, (shard, number) = command.ns, command.id
    now = state.now_ms()
    if command.delay_ms:
        lease_until = now + command.delay_ms
        extended = await _on_shard(state, shard, lambda txn: txn.delivery.extend(ns, number, lease_until), None)
        if extended is None:
            return 0
        state.reaper.note_deadline(lease_until)
        return 1
    settings = state.namespace_settings.of(ns)

    def give_back(txn: WriteTxn) -> str | None:
        delivery = txn.delivery.give_back(ns, number)
        return None if delivery is None else settle(txn, delivery, settings)

    outcome = await _on_shard(state, shard, give_back, None)
    if outcome == "requeued":
        state.due_signals.notify({ns})
    return 0 if outcome is None else 1


async def _on_shard(state: ServerState, shard: int, op: Any, missing: Any) -> Any:
    """Run ``op`` in a commit of ``shard``; ``missing`` for a shard that does not exist."""
    if shard >= len(state.writers):  # an id no TAKE gave: nothing of it is in flight
        return missing
    outcome = await state.writers[shard].write(op, "DELIVERY")
    if isinstance(outcome, Exception):
        raise outcome
    return outcome

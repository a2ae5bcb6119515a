"""Storing and reading whole messages: SET, HSET {json}, LSET [list], GET."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mi.commands.base import REGISTRY, Write, read_record
from protocol.commands import Get, Hset, Lset, Set
from protocol.replies import SimpleString, Stored
from storage import CorruptRecord, WriteTxn

if TYPE_CHECKING:
    from mi.session import Session

OK = SimpleString("OK")


def store_message(
    session: Session,
    key: bytes,
    value: Any,
    namespace: str | None,
    ttl_ms: int | None,
    *,
    keep_ttl: bool = False,
    condition: str | None = None,
) -> Write:
    """Write ``value`` at ``key``; a write without a TTL clears any old one, as in Redis."""
    ns = session.namespace(namespace)
    server = session.server
    now = server.now_ms()
    expires_at = now + ttl_ms if ttl_ms else 0

    def op(txn: WriteTxn) -> bool:
        try:
            old = txn.get(ns, key, now)
            exists = old is not None
        except CorruptRecord:  # a damaged record still occupies the key; overwriting repairs it
            old, exists = None, True
        if (condition == "NX" and exists) or (condition == "XX" and not exists):
            return False
        txn.put(ns, key, value, old.expires_at if keep_ttl and old else expires_at)
        return True

    def reply(outcomes: list[bool]) -> SimpleString | None:
        if not outcomes[0]:
            return None
        if expires_at:  # only now is the deadline in the index for the reaper to find
            server.reaper.note_deadline(expires_at)
        return OK

    return Write([(server.shard_index(key), op)], reply)


@REGISTRY.write(Set)
def set_(session: Session, command: Set) -> Write:
    return store_message(
        session,
        command.key,
        command.value,
        command.ns,
        command.ttl_ms,
        keep_ttl=command.keep_ttl,
        condition=command.condition,
    )


@REGISTRY.write(Hset)
def hset(session: Session, command: Hset) -> Write:
    return store_message(session, command.key, command.value, command.ns, command.ttl_ms)


@REGISTRY.write(Lset)
def lset(session: Session, command: Lset) -> Write:
    return store_message(session, command.key, command.value, command.ns, command.ttl_ms)


@REGISTRY.read(Get)
def get(session: Session, command: Get) -> Stored | None:
    record = read_record(session, session.namespace(command.ns), command.key)
    return None if record is None else Stored(record.value)

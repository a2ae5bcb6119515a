"""Delivery: messages whose time has come, handed to consumers under a lease (at least once).

In a namespace that delivers, the reaper does not delete a message at its deadline: in the same
write transaction it moves the record into the shard's due queue, and the message gets its id.
A consumer's TAKE moves it from there to in-flight under a lease; ACK deletes it; NACK, or a lease
that runs out, returns it to the due queue (after a wait for its retry, ``waiting``), or past its
attempts to a dead-letter namespace (``storage.dead_letters`` keeps its history). Each move is one
transaction, so a message is always in exactly one place, whatever crashes.

Three internal databases per shard (big-endian numbers; the values' formats, the one before
message ids included, are in ``storage.delivery_entries``)::

    mi/due       ns length u8 | ns | priority u32 | deadline u64 | key  -> id, attempts, reason, record
    mi/inflight  message id u64  -> attempts, lease_until, ns, key, due_at, waiting, holder, reason, record
    mi/leases    lease_until u64 | message id u64 -> (empty)

The due queue is ordered by namespace, then priority (0 first), then deadline (when it fell due),
so TAKE pops the first entries under the namespace's prefix (two messages of one key due at the
same millisecond and priority are both kept: the second a millisecond later). ``storage.due_keys``
finds a key's due messages (DEL) and a due message by id (PEEK). ``record`` is the message's record as it was
stored (its own CRC, type, deadline and priority); a CRC over the database key and value guards
the rest. Message ids come from the shard's revision counter when a message falls due: unique per
shard, never reused, the same across the redeliveries of that scheduling (a key scheduled again
gets a new one, as does a message KICKed back from the dead letters).

A message that fails its check is set aside in ``mi/quarantine`` (``storage.quarantine``) by the
move that meets it, and the move goes on with the next one: a damaged message never blocks its
queue, and a lease that ends on a damaged one never stops the reaper.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import attrs
import lmdb
from attrs import frozen

from storage.dead_letters import DeadLetter, DeadLetters
from storage.delivery_entries import (
    DEFAULT_PRIORITY,
    INFLIGHT_HEAD_SIZE,
    Delivery,
    DueEntry,
    decode_due_value,
    decode_inflight_value,
    encode_due_value,
    encode_inflight_value,
    inflight_lease,
)
from storage.delivery_entries import check as _check
from storage.delivery_quarantine import QuarantineMoves
from storage.due_keys import DueIds, DueKeys
from storage.errors import CorruptRecord, KeyTooLarge, StorageError
from storage.names import LMDB_MAX_KEY_SIZE
from storage.queue_counts import (
    ACKED,
    DEAD,
    DEAD_LETTERED,
    DELIVERED,
    DROPPED,
    DUE,
    KICKED,
    LEASE_EXPIRED,
    NACKED,
    inflight_place,
    scheduled_or_in_flight,
)
from storage.records import (
    Record,
    decode_header,
    decode_record,
    encode_payload,
    pack_record,
    payload_offset,
    record_priority,
)

if TYPE_CHECKING:
    from storage.txn import RevisionCounter, TxnState

__all__ = [
    "DEFAULT_PRIORITY",
    "DUE_KEY_OVERHEAD",
    "DeadLetter",
    "Delivery",
    "DeliveryDbs",
    "DeliveryTxn",
    "check_due_entry",
    "decode_inflight",
    "encode_due_key",
    "reprioritised",
    "undeliverable",
]

_U64 = struct.Struct(">Q")
_PRIORITY_DEADLINE = struct.Struct(">IQ")
_LEASE = struct.Struct(">QQ")  # lease_until, delivery id
_MAX_PRIORITY = 2**32 - 1
DUE_KEY_OVERHEAD = 1 + _PRIORITY_DEADLINE.size  # beside the namespace name and the key

decode_inflight = decode_inflight_value  # for mi verify


@frozen
class DeliveryDbs:
    due: Any
    inflight: Any
    leases: Any
    quarantine: Any = None  # None: opened read-only before it existed (so empty)
    by_key: Any = None  # where storage.due_keys and storage.dead_letters keep their entries (mi/meta)


def _namespace_prefix(namespace: str) -> bytes:
    name = namespace.encode("ascii")
    return bytes((len(name),)) + name


def encode_due_key(namespace: str, priority: int, deadline: int, key: bytes) -> bytes:
    return _namespace_prefix(namespace) + _PRIORITY_DEADLINE.pack(priority, deadline) + key


def _place(namespace: str, due_key: bytes) -> bytes:
    """The priority and deadline in a due-queue key (what ``storage.due_keys`` keeps)."""
    start = len(_namespace_prefix(namespace))
    return due_key[start : start + _PRIORITY_DEADLINE.size]


def _due_key_parts(due_key: bytes) -> tuple[str, int, int, bytes]:
    """``(namespace, priority, deadline, key)`` of a due-queue key."""
    length = due_key[0]
    priority, deadline = _PRIORITY_DEADLINE.unpack_from(due_key, 1 + length)
    return due_key[1 : 1 + length].decode("ascii"), priority, deadline, due_key[1 + length + _PRIORITY_DEADLINE.size :]


def undeliverable(namespace: str, key: bytes, data: bytes | memoryview) -> str | None:
    """Why record ``data`` cannot join the due queue (damaged, or a key too long), or None."""
    try:
        decode_record(key, data, namespace=namespace)
    except CorruptRecord as error:
        return error.reason
    size = len(_namespace_prefix(namespace)) + _PRIORITY_DEADLINE.size + len(key)
    if size > LMDB_MAX_KEY_SIZE:
        return f"its due-queue key would be {size} bytes, over LMDB's {LMDB_MAX_KEY_SIZE}"
    return None


def reprioritised(delivery: Delivery, priority: int) -> Delivery:
    """``delivery`` with its record's priority changed (NACK ... PRIORITY n)."""
    record = delivery.record
    payload = delivery.data[payload_offset(delivery.data) :]
    data = pack_record(delivery.key, record.kind, payload, record.expires_at, record.revision, priority)
    return attrs.evolve(delivery, data=data, record=attrs.evolve(record, priority=priority))


def check_due_entry(due_key: bytes, value: bytes | memoryview) -> None:
    """``CorruptRecord`` unless a due-queue entry is intact (for ``mi verify``)."""
    _check(due_key, value, "a due message")
    namespace, _priority, _deadline, key = _due_key_parts(due_key)
    try:
        data = decode_due_value(value).data
    except (struct.error, IndexError) as error:
        raise CorruptRecord(namespace, key, f"a due message is cut short: {error}") from None
    decode_record(key, data, namespace=namespace)


class DeliveryTxn(QuarantineMoves):
    """The delivery databases of one shard, inside one transaction (read-only or writable)."""

    def __init__(
        self,
        txn: lmdb.Transaction,
        dbs: DeliveryDbs,
        revisions: RevisionCounter | None,
        state: TxnState | None,
        failure: Callable[[lmdb.Error], StorageError],
    ) -> None:
        self._txn = txn
        self._dbs = dbs
        self._revisions = revisions
        self._state = state
        self._failure = failure
        meta = dbs.by_key
        self._by_key = DueKeys(txn, meta, self._write, failure) if meta is not None else None
        self._by_id = DueIds(txn, meta, self._write, failure) if meta is not None else None
        self._dead = DeadLetters(txn, meta, self._write, failure) if meta is not None else None

    # -- reads -----------------------------------------------------------------------------------

    def peek(self, namespace: str, limit: int) -> list[tuple[int, int]]:
        """``(priority, deadline)`` of the first ``limit`` messages TAKE would hand out here."""
        offset = len(_namespace_prefix(namespace))
        return [_PRIORITY_DEADLINE.unpack_from(due_key, offset) for due_key, _ in self._due_entries(namespace, limit)]

    def counts(self, namespace: str) -> tuple[int, int, int | None]:
        """``(due, in flight or waiting, oldest due deadline)`` for ``namespace``, by a scan (for
        tests and tools: the server keeps ``storage.queue_counts`` instead)."""
        offset = len(_namespace_prefix(namespace))
        due, oldest = 0, None
        for due_key, _value in self._due_entries(namespace):
            due += 1
            deadline = _PRIORITY_DEADLINE.unpack_from(due_key, offset)[1]
            oldest = deadline if oldest is None else min(oldest, deadline)
        in_flight = sum(1 for delivery in self._inflight_entries() if delivery[1] == namespace)
        return due, in_flight, oldest

    def oldest_due(self, namespace: str) -> int | None:
        """When the message of ``namespace`` that has waited longest fell due (unix ms), or None.

        The queue is ordered by priority first, so this is the earliest of the first entries of
        each priority present: one probe per priority, not a scan.
        """
        prefix = _namespace_prefix(namespace)
        oldest = None
        try:
            with self._txn.cursor(db=self._dbs.due) as cursor:
                found = cursor.set_range(prefix)
                while found:
                    due_key = cursor.key()
                    if bytes(due_key[: len(prefix)]) != prefix:
                        break
                    priority, deadline = _PRIORITY_DEADLINE.unpack_from(due_key, len(prefix))
                    oldest = deadline if oldest is None else min(oldest, deadline)
                    if priority == _MAX_PRIORITY:
                        break
                    found = cursor.set_range(prefix + _PRIORITY_DEADLINE.pack(priority + 1, 0))
        except lmdb.Error as error:
            raise self._failure(error) from error
        return oldest

    def next_lease_expiry(self) -> int | None:
        try:
            with self._txn.cursor(db=self._dbs.leases) as cursor:
                return _LEASE.unpack(cursor.key())[0] if cursor.first() else None
        except lmdb.Error as error:
            raise self._failure(error) from error

    def find(self, namespace: str, message_id: int) -> tuple[str, Delivery | DeadLetter] | None:
        """The message ``message_id`` of ``namespace`` (PEEK): ``("in flight", delivery)`` (its
        ``waiting`` says whether a consumer holds it), ``("due", delivery)`` (no lease) or
        ``("dead", history)``; None if it is in none of these places. O(log n)."""
        flying = self._readable_inflight(message_id)
        if flying is not None and flying.namespace == namespace:
            return "in flight", flying
        due_key = None if self._by_id is None else self._by_id.due_key(message_id)
        if due_key is not None:
            due = self._due_message(due_key)
            if due is not None and due.namespace == namespace and due.id == message_id:
                return "due", due
        dead = None if self._dead is None else self._dead.get(namespace, message_id)
        return None if dead is None else ("dead", dead)

    def find_key(self, namespace: str, key: bytes) -> tuple[str, Delivery | DeadLetter] | None:
        """The message of ``key`` due, else in flight, else dead (PEEK ... KEY). The due one is
        found at once; in flight and dead ones by a scan of this shard's (an operator's look)."""
        for place in [] if self._by_key is None else self._by_key.places(namespace, key):
            due = self._due_message(_namespace_prefix(namespace) + place + key)
            if due is not None:
                return "due", due
        for delivery_id, ns in self._inflight_entries():
            if ns == namespace:
                flying = self._readable_inflight(delivery_id)
                if flying is not None and flying.key == key:
                    return "in flight", flying
        for dead in self.dead_letters(namespace):
            if dead.key == key:
                return "dead", dead
        return None

    def in_flight(self, namespace: str, after: int, limit: int, examine: int) -> tuple[list[Delivery], int | None]:
        """Up to ``limit`` deliveries of ``namespace`` in flight with ids above ``after``, in id
        order, examining at most ``examine`` entries (those of every namespace are together);
        and the last id examined, None if the end was reached (INFLIGHT resumes after it)."""
        found: list[Delivery] = []
        examined = 0
        try:
            with self._txn.cursor(db=self._dbs.inflight) as cursor:
                more = cursor.set_range(_U64.pack(after + 1)) if after >= 0 else cursor.first()
                while more:
                    raw_id, value = bytes(cursor.key()), cursor.value()
                    examined += 1
                    start = INFLIGHT_HEAD_SIZE + 1
                    if bytes(value[start : start + value[start - 1]]) == namespace.encode("ascii"):
                        try:
                            found.append(decode_inflight_value(raw_id, value))
                        except CorruptRecord:
                            pass  # the reaper sets it aside when its lease ends
                    if len(found) == limit or examined == examine:
                        return found, _U64.unpack(raw_id)[0]
                    more = cursor.next()
        except lmdb.Error as error:
            raise self._failure(error) from error
        return found, None

    def dead_letters(self, namespace: str, after: int = -1) -> Iterator[DeadLetter]:
        """The histories of the messages given up on in ``namespace``, by id, above ``after``."""
        if self._dead is not None:
            yield from self._dead.listed(namespace, after)

    # -- writes ----------------------------------------------------------------------------------

    def enqueue(
        self,
        namespace: str,
        key: bytes,
        data: bytes,
        attempts: int = 0,
        *,
        message_id: int | None = None,
        due_at: int | None = None,
        reason: str = "",
    ) -> int:
        """Put a message (record bytes ``data``) in the due queue of ``namespace``, due since
        ``due_at`` (default: its deadline); its id, a new one unless ``message_id`` is given."""
        _kind, deadline, _revision = decode_header(key, data, namespace=namespace)
        priority = record_priority(data)
        due_at = deadline if due_at is None else due_at
        priority = DEFAULT_PRIORITY if priority is None else priority
        if message_id is None:
            message_id = self._revisions.allocate()
        while True:
            due_key = encode_due_key(namespace, priority, due_at, key)
            if len(due_key) > LMDB_MAX_KEY_SIZE:  # refused before LMDB sees it (see storage.limits)
                raise KeyTooLarge(len(key), LMDB_MAX_KEY_SIZE - (len(due_key) - len(key)))
            value = encode_due_value(due_key, message_id, attempts, reason, data)
            if self._put(due_key, value, self._dbs.due, overwrite=False):
                break
            # Another message of this key is due at this moment and priority (one handed back
            # beside a newer one, say): both are kept, this one a millisecond later.
            due_at += 1
        if self._by_key is not None:
            self._by_key.add(namespace, key, _place(namespace, due_key))
            self._by_id.add(message_id, due_key)
        self._state.queue.add(namespace, DUE)
        return message_id

    def take(self, namespace: str, now_ms: int, lease_ms: int, limit: int, holder: str = "") -> list[Delivery]:
        """Hand out up to ``limit`` due messages of ``namespace``, each leased until now + lease
        to ``holder`` (who took it: shown by PEEK).

        A damaged message met on the way is quarantined and the next one taken instead.
        """
        taken: list[Delivery] = []
        while len(taken) < limit:
            entries = list(self._due_entries(namespace, limit - len(taken)))
            if not entries:
                break
            for due_key, value in entries:  # each leaves the due queue, taken or set aside
                _ns, _priority, due_at, key = _due_key_parts(due_key)
                try:
                    _check(due_key, value, "a due message")
                    entry = decode_due_value(value)
                    record = decode_record(key, entry.data, namespace=namespace)
                except (CorruptRecord, struct.error, IndexError) as error:
                    self._remove_due(namespace, key, due_key, None)
                    why = error.reason if isinstance(error, CorruptRecord) else f"a due message is cut short: {error}"
                    self.quarantine("due", namespace, key, value, why, now_ms)
                    continue
                self._remove_due(namespace, key, due_key, entry.id)
                message_id = self._revisions.allocate() if entry.id is None else entry.id
                delivery = Delivery(
                    message_id, namespace, key, record, entry.data, entry.attempts + 1, now_ms + lease_ms,
                    due_at, holder, False, entry.reason,
                )  # fmt: skip
                self._hold(delivery)
                taken.append(delivery)
        if taken:
            self._state.queue.add(namespace, DELIVERED, len(taken))
        return taken

    def ack(self, namespace: str, delivery_id: int) -> bool:
        """Done with: the message goes for good. False if no such delivery is in flight."""
        raw_id = _U64.pack(delivery_id)
        try:
            value = self._txn.get(raw_id, db=self._dbs.inflight)
            if value is None:
                return False
            held_in, lease_until, waiting = inflight_lease(raw_id, value)
        except CorruptRecord:  # left for its lease's end, when the reaper quarantines it
            return False
        except lmdb.Error as error:
            raise self._failure(error) from error
        if held_in != namespace:
            return False
        self._release_entry(namespace, delivery_id, lease_until, waiting)
        self._state.queue.add(namespace, ACKED)
        return True

    def extend(self, namespace: str, delivery_id: int, lease_until: int) -> Delivery | None:
        """Make a delivery wait until ``lease_until`` for its next try (a webhook's backoff): no
        longer held by anyone, it is settled then (``mi.delivery.pull.settle``)."""
        delivery = self._inflight(delivery_id)
        if delivery is None or delivery.namespace != namespace:
            return None
        self._release(delivery)
        self._hold(attrs.evolve(delivery, lease_until=lease_until, waiting=True, holder=""))
        self._state.queue.add(namespace, NACKED)  # a failed POST
        return delivery

    def renew(self, namespace: str, delivery_id: int, lease_until: int) -> Delivery | None:
        """Move the lease of a delivery a consumer holds to ``lease_until`` (EXTEND); the delivery
        as it is now, or None if none is held under that id."""
        delivery = self._inflight(delivery_id)
        if delivery is None or delivery.namespace != namespace or delivery.waiting:
            return None
        self._release(delivery)
        renewed = attrs.evolve(delivery, lease_until=lease_until)
        self._hold(renewed)
        return renewed

    def give_back(self, namespace: str, delivery_id: int) -> Delivery | None:
        """Take a delivery out of flight (NACK); the caller requeues or buries it (``settle``)."""
        delivery = self._inflight(delivery_id)
        if delivery is None or delivery.namespace != namespace:
            return None
        self._release(delivery)
        self._state.queue.add(namespace, NACKED)
        return delivery

    def wait(self, delivery: Delivery, until: int, reason: str) -> None:
        """Keep a delivery taken out of flight aside until ``until``, for its retry (a NACK, a
        backoff): it is in flight again, held by no one, and the reaper settles it then."""
        self._hold(attrs.evolve(delivery, lease_until=until, waiting=True, holder="", reason=reason))

    def requeue(self, delivery: Delivery, *, due_at: int | None = None, reason: str | None = None) -> None:
        """Return a delivery taken out of flight to the due queue, due since ``due_at``, with its
        id and its attempts counted."""
        why = delivery.reason if reason is None else reason
        self.enqueue(
            delivery.namespace, delivery.key, delivery.data, delivery.attempts,
            message_id=delivery.id, due_at=due_at, reason=why,
        )  # fmt: skip

    def bury(self, delivery: Delivery, dead_letter: str, revision: int, now_ms: int, reason: str) -> None:
        """Keep the history of a delivery given up on (its record is now in ``dead_letter``,
        at ``revision``)."""
        if self._dead is None:
            return
        record = delivery.record
        self._dead.add(DeadLetter(
            delivery.id, delivery.namespace, delivery.key, dead_letter, revision, delivery.attempts,
            record.expires_at, delivery.due_at, now_ms, reason,
        ))  # fmt: skip
        self._state.queue.add(delivery.namespace, DEAD)
        self._state.queue.add(delivery.namespace, DEAD_LETTERED)

    def drop_given_up(self, delivery: Delivery) -> None:
        """Count a delivery given up on with no dead-letter namespace to keep it (it is gone)."""
        self._state.queue.add(delivery.namespace, DROPPED)

    def forget_dead(self, namespace: str, message_id: int) -> None:
        if self._dead is not None and self._dead.remove(namespace, message_id):
            self._state.queue.add(namespace, DEAD, -1)

    def reschedule(self, namespace: str, key: bytes, record: Record, now_ms: int) -> int:
        """Make ``record`` a new message of ``namespace``, due now with no attempts (KICK); its id."""
        _kind, payload = encode_payload(record.value)
        data = pack_record(key, record.kind, payload, now_ms, self._revisions.allocate(), record.priority)
        message_id = self.enqueue(namespace, key, data)
        self._state.queue.add(namespace, KICKED)
        return message_id

    def cancel(self, namespace: str, key: bytes, now_ms: int) -> list[Record]:
        """Take back the messages of ``key`` that are due and not yet taken (DEL); the records
        removed. One in flight is not touched: it is ACK's and NACK's. A damaged one is
        quarantined, not counted."""
        if self._by_key is None:
            return []
        cancelled = []
        prefix = _namespace_prefix(namespace)
        for place in self._by_key.places(namespace, key):
            due_key = prefix + place + key
            try:
                value = self._txn.get(due_key, db=self._dbs.due)
                value = None if value is None else bytes(value)
            except lmdb.Error as error:
                raise self._failure(error) from error
            if value is None:
                continue
            self._write(lambda due_key=due_key: self._txn.delete(due_key, db=self._dbs.due))
            self._state.queue.add(namespace, DUE, -1)
            try:
                _check(due_key, value, "a due message")
                entry = decode_due_value(value)
                cancelled.append(decode_record(key, entry.data, namespace=namespace))
            except (CorruptRecord, struct.error, IndexError) as error:
                why = error.reason if isinstance(error, CorruptRecord) else f"a due message is cut short: {error}"
                self.quarantine("due", namespace, key, value, why, now_ms)
                continue
            if entry.id is not None:
                self._by_id.remove(entry.id)
        self._by_key.forget(namespace, key)
        return cancelled

    def drop(self, namespace: str) -> int:
        """Forget every message of ``namespace`` due or in flight (FLUSHNS); how many."""
        due = list(self._due_entries(namespace))
        for due_key, value in due:
            self._write(lambda due_key=due_key: self._txn.delete(due_key, db=self._dbs.due))
            message_id = self._due_id(due_key, value)
            if message_id is not None:
                self._by_id.remove(message_id)
        if due:
            self._state.queue.add(namespace, DUE, -len(due))
        if self._by_key is not None:
            self._by_key.drop(namespace)
        flying = [delivery_id for delivery_id, ns in self._inflight_entries() if ns == namespace]
        for delivery_id in flying:
            delivery = self._inflight(delivery_id)
            if delivery is not None:
                self._release(delivery)
        return len(due) + len(flying)

    def expired_leases(self, now_ms: int, limit: int) -> list[Delivery]:
        """Deliveries whose lease ended at or before ``now_ms``, taken out of flight (earliest first).

        A damaged one is quarantined instead; a lease whose delivery is gone is dropped.
        """
        expired = []
        for lease in self._ended_leases(now_ms, limit):
            delivery_id = _LEASE.unpack(lease)[1]
            try:
                delivery = self._inflight(delivery_id)
            except CorruptRecord as error:
                self._set_aside_inflight(lease, error.reason, now_ms)
                continue
            if delivery is None or _LEASE.pack(delivery.lease_until, delivery.id) != lease:
                self._write(lambda lease=lease: self._txn.delete(lease, db=self._dbs.leases))
                continue
            self._release(delivery)
            if not delivery.waiting:  # a consumer's lease, not the end of a wait for a retry
                self._state.queue.add(delivery.namespace, LEASE_EXPIRED)
            expired.append(delivery)
        return expired

    # -- internals -------------------------------------------------------------------------------

    def _ended_leases(self, now_ms: int, limit: int) -> list[bytes]:
        """The keys of the first ``limit`` leases that ended at or before ``now_ms``."""
        leases: list[bytes] = []
        try:
            with self._txn.cursor(db=self._dbs.leases) as cursor:
                found = cursor.first()
                while found and len(leases) < limit:
                    lease = bytes(cursor.key())
                    if _LEASE.unpack(lease)[0] > now_ms:
                        break
                    leases.append(lease)
                    found = cursor.next()
        except lmdb.Error as error:
            raise self._failure(error) from error
        return leases

    def _due_entries(self, namespace: str, limit: int | None = None) -> Iterator[tuple[bytes, bytes]]:
        prefix = _namespace_prefix(namespace)
        try:
            with self._txn.cursor(db=self._dbs.due) as cursor:
                found = cursor.set_range(prefix)
                count = 0
                while found and (limit is None or count < limit):
                    due_key = bytes(cursor.key())
                    if not due_key.startswith(prefix):
                        return
                    yield due_key, bytes(cursor.value())
                    count += 1
                    found = cursor.next()
        except lmdb.Error as error:
            raise self._failure(error) from error

    def _inflight_entries(self) -> Iterator[tuple[int, str]]:
        try:
            with self._txn.cursor(db=self._dbs.inflight) as cursor:
                for raw_id, value in cursor:
                    length = value[INFLIGHT_HEAD_SIZE]
                    start = INFLIGHT_HEAD_SIZE + 1
                    yield _U64.unpack(raw_id)[0], bytes(value[start : start + length]).decode("ascii", "replace")
        except lmdb.Error as error:
            raise self._failure(error) from error

    def _inflight(self, delivery_id: int) -> Delivery | None:
        raw_id = _U64.pack(delivery_id)
        try:
            value = self._txn.get(raw_id, db=self._dbs.inflight)
        except lmdb.Error as error:
            raise self._failure(error) from error
        return None if value is None else decode_inflight_value(raw_id, value)

    def _readable_inflight(self, delivery_id: int) -> Delivery | None:
        """The delivery in flight under ``delivery_id``, None if there is none or it is damaged
        (the reaper sets it aside when its lease ends)."""
        try:
            return self._inflight(delivery_id)
        except CorruptRecord:
            return None

    def _due_message(self, due_key: bytes) -> Delivery | None:
        """The due message under ``due_key`` as a delivery not yet leased, None if none is there
        (or it is damaged: TAKE will set it aside)."""
        try:
            value = self._txn.get(due_key, db=self._dbs.due)
        except lmdb.Error as error:
            raise self._failure(error) from error
        if value is None:
            return None
        namespace, _priority, due_at, key = _due_key_parts(due_key)
        try:
            _check(due_key, value, "a due message")
            entry = decode_due_value(value)
            record = decode_record(key, entry.data, namespace=namespace)
        except (CorruptRecord, struct.error, IndexError):
            return None
        message_id = -1 if entry.id is None else entry.id  # a format 1 entry: none until taken
        return Delivery(message_id, namespace, key, record, entry.data, entry.attempts, 0, due_at, "", False, entry.reason)

    def _due_id(self, due_key: bytes, value: bytes) -> int | None:
        """The id of a due-queue entry, if it has one and is intact enough to tell."""
        if self._by_id is None:
            return None
        try:
            _check(due_key, value, "a due message")
            return decode_due_value(value).id
        except (CorruptRecord, struct.error, IndexError):
            return None

    def _hold(self, delivery: Delivery) -> None:
        raw_id, value = encode_inflight_value(delivery)
        lease = _LEASE.pack(delivery.lease_until, delivery.id)
        self._put(raw_id, value, self._dbs.inflight)
        self._put(lease, b"", self._dbs.leases)
        self._state.queue.add(delivery.namespace, scheduled_or_in_flight(delivery.waiting))

    def _remove_due(self, namespace: str, key: bytes, due_key: bytes, message_id: int | None) -> None:
        self._delete(due_key, self._dbs.due)
        self._state.queue.add(namespace, DUE, -1)
        if self._by_key is not None:
            self._by_key.remove(namespace, key, _place(namespace, due_key))
            if message_id is not None:
                self._by_id.remove(message_id)

    def _release(self, delivery: Delivery) -> None:
        self._release_entry(delivery.namespace, delivery.id, delivery.lease_until, delivery.waiting)

    def _release_entry(self, namespace: str, delivery_id: int, lease_until: int, waiting: bool) -> None:
        self._delete(_U64.pack(delivery_id), self._dbs.inflight)
        self._delete(_LEASE.pack(lease_until, delivery_id), self._dbs.leases)
        self._state.queue.add(namespace, scheduled_or_in_flight(waiting), -1)

    def _forget_inflight(self, value: bytes | memoryview) -> None:
        """Count an in-flight entry removed without being decoded (a damaged one set aside)."""
        namespace, waiting = inflight_place(value)
        self._state.queue.add(namespace, scheduled_or_in_flight(waiting), -1)

    def _count_change(self) -> None:
        if self._state is None:
            msg = "a read-only transaction cannot change deliveries"
            raise TypeError(msg)
        self._state.changes += 1

    def _put(self, key: bytes, value: bytes, db: Any, *, overwrite: bool = True) -> bool:
        """``_write`` of one put, without a closure (the hot paths make several a message);
        without ``overwrite``, False if ``key`` was there (nothing written)."""
        self._count_change()
        try:
            return self._txn.put(key, value, db=db, overwrite=overwrite)
        except lmdb.Error as error:
            raise self._failure(error) from error

    def _delete(self, key: bytes, db: Any) -> None:
        """``_write`` of one delete, without a closure."""
        self._count_change()
        try:
            self._txn.delete(key, db=db)
        except lmdb.Error as error:
            raise self._failure(error) from error

    def _write(self, change: Callable[[], Any]) -> Any:
        """Run ``change`` (counted as a change of the transaction); what it answered."""
        self._count_change()
        try:
            return change()
        except lmdb.Error as error:
            raise self._failure(error) from error



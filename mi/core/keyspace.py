"""What a data command sees: the keys of every shard it touches, at one moment in time.

Handlers of data commands take a ``Keyspace`` and never a shard or a transaction, so the same
handler runs alone (a read on the event loop, or a write inside a shard's group commit) and inside
a MULTI/EXEC (every command of the transaction in the same write transactions, each seeing the
effects of the ones before it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

from protocol.event_classes import NEW
from mi.core.notifications import Event, Published
from mi.settings.config import NamespaceSettings
from protocol import errors
from storage import CorruptRecord, ReadTxn, Record, Shard, Value, WriteTxn, shard_index
from storage.txn import KEEP, Keep

NO_SETTINGS = NamespaceSettings()
CountElsewhere = Callable[[str, set[int]], int]  # (namespace, shards to skip) -> records

__all__ = ["Deadlines", "Keyspace"]


class Deadlines(list[int]):
    """The deadlines a unit wrote, and what else its commit must announce: ``filled_lists``, the
    (namespace, key) of each list it stored (a push, LINSERT, LMOVE's destination...), whose
    clients blocked in BLPOP are woken once the commit is done (``mi.core.list_waiters``), and
    ``events``, its keyspace notifications and queued PUBLISHes in order, published then
    (``mi.core.notifications``).

    It travels as the outcome's deadlines (``mi.core.execution`` returns ``keyspace.deadlines``),
    so every unit carries it, EXEC's and a script's too, with no change to the outcome's shape.
    """

    __slots__ = ("events", "filled_lists")

    def __init__(self) -> None:
        super().__init__()
        self.filled_lists: set[tuple[str, bytes]] | None = None
        self.events: list[Event | Published] | None = None


class Keyspace:
    """Records by namespace and key, through one transaction per shard.

    ``now_ms`` is fixed for the whole command (or transaction): an op re-run by the group commit
    computes the same result. Deadlines written are collected in ``deadlines`` so the caller can
    wake the reaper once they are committed. ``notify_flags``: the keyspace notification classes
    on (``mi.core.notifications``; 0, the usual case, records nothing).
    """

    __slots__ = (
        "_count_elsewhere", "_settings", "_shard_count", "_shards", "_txns", "deadlines", "default_ns",
        "notify_flags", "now_ms",
    )  # fmt: skip

    def __init__(
        self,
        txns: dict[int, ReadTxn],
        shards: Sequence[Shard] | None,
        shard_count: int,
        now_ms: int,
        default_ns: str,
        settings: Callable[[str], NamespaceSettings] | None = None,
        count_elsewhere: CountElsewhere | None = None,
        notify_flags: int = 0,
    ) -> None:
        self._txns = txns
        self._settings = settings or (lambda ns: NO_SETTINGS)
        self._count_elsewhere = count_elsewhere
        self._shards = shards  # where to open read transactions as needed; None: all are given
        self._shard_count = shard_count
        self.now_ms = now_ms
        self.default_ns = default_ns
        self.deadlines = Deadlines()
        self.notify_flags = notify_flags

    @classmethod
    def writing(
        cls,
        txns: Mapping[int, WriteTxn],
        shard_count: int,
        now_ms: int,
        default_ns: str,
        settings: Callable[[str], NamespaceSettings] | None = None,
        count_elsewhere: CountElsewhere | None = None,
        notify_flags: int = 0,
    ) -> Keyspace:
        """Over write transactions already open on the shards the command may touch;
        ``settings`` gives each namespace's own rules (``mi.settings.namespace_settings``),
        ``count_elsewhere`` counts a namespace's records on the other shards (for ``max_keys``),
        and ``notify_flags`` are the keyspace notification classes on."""
        return cls(dict(txns), None, shard_count, now_ms, default_ns, settings, count_elsewhere, notify_flags)

    @classmethod
    def reading(cls, shards: Sequence[Shard], now_ms: int, default_ns: str) -> Keyspace:
        """Over read transactions opened as needed; ``close()`` ends them. Stay on one thread."""
        return cls({}, shards, len(shards), now_ms, default_ns)

    def close(self) -> None:
        """End the read transactions this keyspace opened."""
        if self._shards is not None:
            for txn in self._txns.values():
                txn.close()
            self._txns.clear()

    def ns(self, explicit: str | None) -> str:
        """The namespace a command means: its FROM clause, else the connection's current one."""
        return explicit if explicit is not None else self.default_ns

    # -- reads ---------------------------------------------------------------------------------

    def get(self, ns: str, key: bytes) -> Record | None:
        """The live record at ``key`` (None if missing or expired); ``CorruptRecord`` if damaged."""
        return self._txn(key).get(ns, key, self.now_ms)

    def revision(self, ns: str, key: bytes) -> int | None:
        """What WATCH compares: the live record's revision, None if absent (or unreadable)."""
        try:
            record = self.get(ns, key)
        except Exception:  # noqa: BLE001 - a damaged record is "changed", never "the same"
            return -1
        return None if record is None else record.revision

    def shards(self) -> Iterator[ReadTxn]:
        """Every shard's transaction, for commands on a whole namespace."""
        return (self._txn_at(index) for index in range(self._shard_count))

    # -- what the commit announces ---------------------------------------------------------------

    def notify(self, kind: int, event: bytes, ns: str, key: bytes) -> None:
        """Record keyspace event ``event`` of class ``kind`` on ``key`` if that class is on
        (Redis's ``notifyKeyspaceEvent``): published once the unit has committed, never if it
        fails. Handlers call it after the change it reports, in the order Redis does."""
        if self.notify_flags & kind:
            self._announce((event, ns, key))

    def publish_later(self, channel: bytes, message: bytes) -> Published:
        """A PUBLISH queued in a MULTI: sent once the EXEC has committed, in order with the
        keyspace events; its ``received`` is known then."""
        published = Published(channel, message)
        self._announce(published)
        return published

    def _announce(self, item: Event | Published) -> None:
        events = self.deadlines.events
        if events is None:
            events = self.deadlines.events = []
        events.append(item)

    # -- writes --------------------------------------------------------------------------------

    def delivers(self, ns: str) -> bool:
        """Whether messages of ``ns`` are handed to consumers at their deadline (``on_expire``)."""
        return self._settings(ns).on_expire == "deliver"

    def default_ttl_ms(self, ns: str) -> int | None:
        """The TTL a message stored in ``ns`` without one gets (its ``default_ttl``)."""
        ttl = self._settings(ns).default_ttl
        return None if ttl is None else round(ttl * 1000)

    def max_value_size(self, ns: str, key: bytes) -> int:
        """The largest value a write of ``key`` in ``ns`` may store (the namespace's own limit, at
        most the store's): SETRANGE checks it before building a value that large."""
        shard_limit = self._write_txn(key).max_value_size
        own = self._settings(ns).max_value_size
        return shard_limit if own is None else min(int(own), shard_limit)

    def put(
        self, ns: str, key: bytes, value: Value, expires_at: int = 0, priority: int | None | Keep = KEEP
    ) -> Record:
        """Store ``value`` (replacing any record) with deadline ``expires_at`` (0 = none) and
        delivery ``priority`` (None: the default; ``KEEP``: the replaced record's).

        In a delivering namespace the key is its message's handle until a consumer takes it: a
        write replaces a message of the key that is due and not yet taken.
        """
        settings = self._settings(ns)
        txn = self._write_txn(key)
        if settings.on_expire == "deliver":
            txn.delivery.cancel(ns, key, self.now_ms)
        if settings.max_keys is not None and not txn.holds(ns, key):
            self._check_room(ns, settings.max_keys)
        new = self.notify_flags & NEW and not self._occupied(txn, ns, key)  # read only for "n"
        record = txn.put(ns, key, value, expires_at, priority=priority, max_value_size=settings.max_value_size)
        if new:  # before the command's own event, as Redis's dbAdd
            self._announce((b"new", ns, key))
        if expires_at:
            self.deadlines.append(expires_at)
        if type(value) is list and value:  # a list with elements: its blocked poppers may take one
            filled = self.deadlines.filled_lists
            if filled is None:
                filled = self.deadlines.filled_lists = set()
            filled.add((ns, key))
        return record

    def _occupied(self, txn: WriteTxn, ns: str, key: bytes) -> bool:
        """Whether ``key`` holds a live record (a damaged one occupies it too)."""
        try:
            return txn.get(ns, key, self.now_ms) is not None
        except CorruptRecord:  # a record that cannot be read still occupies its key
            return True

    def _check_room(self, ns: str, max_keys: int) -> None:
        """``max_keys``: a new key needs room. Other shards are counted as last committed, so
        writes racing on several shards may pass the limit by a few."""
        held = sum(txn.count(ns) for txn in self._txns.values())
        if self._count_elsewhere is not None:
            held += self._count_elsewhere(ns, set(self._txns))
        if held >= max_keys:
            raise errors.namespace_full(ns, max_keys)

    def delete(self, ns: str, key: bytes) -> bool:
        """Remove ``key``; True if a live record was there (an expired one is removed too)."""
        return self._write_txn(key).delete(ns, key, now_ms=self.now_ms)

    def cancel(self, ns: str, key: bytes) -> bool:
        """DEL: remove ``key``, and with it a message of the key that is due and not yet taken
        (past its deadline but not reaped yet, or in the due queue); True if either was there.
        A message in flight (taken, under a lease) is not touched: it is ACK's and NACK's."""
        txn = self._write_txn(key)
        overdue_counts = self.delivers(ns)  # there a record past its deadline is a due message
        removed = txn.delete(ns, key, now_ms=None if overdue_counts else self.now_ms)
        return bool(txn.delivery.cancel(ns, key, self.now_ms)) or removed

    def take_back(self, ns: str, key: bytes) -> Record | None:
        """GETDEL: as ``cancel``, answering the record removed (None if none was)."""
        txn = self._write_txn(key)
        record = txn.get(ns, key, 0 if self.delivers(ns) else self.now_ms)  # 0: overdue ones too
        txn.delete(ns, key)
        due = txn.delivery.cancel(ns, key, self.now_ms)
        return record or (due[0] if due else None)

    def expire_now(self, ns: str, key: bytes) -> bool:
        """A deadline already past for a live ``key``: its message falls due now in a delivering
        namespace (the reaper hands it over at once); elsewhere the key goes, as in Redis. True
        if it went (Redis's ``del`` event; else an ``expire``)."""
        if self.delivers(ns):
            self.set_expiry(ns, key, self.now_ms)
            return False
        self.delete(ns, key)
        return True

    def set_expiry(self, ns: str, key: bytes, expires_at: int) -> bool:
        """Give a live record a new deadline (0 = none); False if there is no live record."""
        if self._write_txn(key).set_expiry(ns, key, expires_at, now_ms=self.now_ms) is None:
            return False
        if expires_at:
            self.deadlines.append(expires_at)
        return True

    def drop(self, ns: str) -> int:
        """Empty ``ns`` on every shard; how many records it held."""
        return sum(_writable(txn).drop_namespace(ns) for txn in self.shards())

    def drop_all(self) -> int:
        """Empty every namespace on every shard (FLUSHALL); how many records they held."""
        total = 0
        for txn in self.shards():
            writable = _writable(txn)
            total += sum(writable.drop_namespace(ns) for ns in writable.namespaces())
        return total

    def _txn(self, key: bytes) -> ReadTxn:
        return self._txn_at(shard_index(key, self._shard_count))

    def _txn_at(self, index: int) -> ReadTxn:
        txn = self._txns.get(index)
        if txn is None:
            if self._shards is None:  # a write unit that did not declare this shard: our bug
                msg = f"shard {index} is not part of this transaction"
                raise LookupError(msg)
            txn = self._txns[index] = self._shards[index].begin_read()
        return txn

    def _write_txn(self, key: bytes) -> WriteTxn:
        return _writable(self._txn(key))


def _writable(txn: ReadTxn) -> WriteTxn:
    if not isinstance(txn, WriteTxn):  # a handler registered as a read tried to write: our bug
        msg = "a read-only command tried to write"
        raise TypeError(msg)
    return txn

"""What ``mi verify`` checks in one shard, and the report it fills.

Each database is walked in key order with structure checks (``_walk``): keys strictly increasing,
each key found again by a lookup from the root (a damaged branch page misroutes lookups while a
scan still sees every leaf), and as many entries as the database counts. On the way, each kind of
entry is checked for its own damage: records (CRC, payload, their expiry index entry), the expiry
index (each entry names a record with that deadline), the journal, the intents, the messages due
or in flight; quarantined items are listed, not counted as damage. The journal is the shard's
write-ahead log, checked by ``storage.verify_log``; the ``mi/journal`` database here is that of an
older mi's data dir (or snapshot) not opened by this one yet. ``storage.verify`` opens the shards
and runs these.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import lmdb
from attrs import Factory, define, field, frozen

from storage.changes import decode_intent
from storage.delivery import check_due_entry, decode_inflight
from storage.errors import CorruptRecord
from storage.expiry import decode_index_key, encode_index_key
from storage.journal import JournalDamaged, decode_entry, entry_seq
from storage.quarantine import Quarantined, decode_quarantined
from storage.records import decode_record

__all__ = ["PROGRESS_STEP", "Damage", "Databases", "Progress", "Scan", "VerifyReport", "shard_checks"]

PROGRESS_STEP = 1000  # entries scanned between progress calls
Progress = Callable[[int], None]
_KEY_LABELS = {"journal": "seq", "intent": "intent"}
_JOURNAL_PREFIX_RE = re.compile(r"^journal entry (?:\d+ )?")


@frozen
class Damage:
    """One damaged item. ``key``: the record key, or a journal/intent number as ASCII, or None."""

    shard: int
    area: str  # "record" | "expiry" | "journal" | "intent" | "delivery" | "shard"
    namespace: str | None
    key: bytes | None
    problem: str

    def describe(self) -> str:
        """One line for a person, e.g. ``shard 1, namespace 'orders', key 'k1': record CRC mismatch``."""
        parts = [f"shard {self.shard}"]
        if self.namespace is not None:
            parts.append(f"namespace {self.namespace!r}")
        if self.key is not None:
            label = _KEY_LABELS.get(self.area, "key")
            text = self.key.decode("utf-8", "backslashreplace")
            parts.append(f"{label} {text}" if text.isdigit() and label != "key" else f"{label} {text!r}")
        return f"{', '.join(parts)}: {self.problem}"


@define
class VerifyReport:
    """What a scan found. ``damaged`` counts every problem; ``damage`` keeps the first ones."""

    shards: int = 0
    namespaces: int = 0
    records: int = 0
    expiring: int = 0  # intact records with a deadline
    journal_entries: int = 0
    log_records: int = 0  # intact records of the write-ahead logs (storage.wal)
    pending_intents: int = 0  # intact cross-shard intents, finished at the next server start
    delivery_entries: int = 0  # messages due or in flight (storage.delivery)
    quarantined: int = 0  # items set aside by the server (storage.quarantine): not damage
    damaged: int = 0
    damage: list[Damage] = Factory(list)
    quarantine: list[tuple[int, Quarantined]] = Factory(list)  # (shard, item): the first ones
    # (shard, what): the end of a shard's log is not a whole record, as a crash leaves it (the
    # server cuts it at its next start), or a record was being written: not damage.
    torn_tails: list[tuple[int, str]] = Factory(list)

    @property
    def ok(self) -> bool:
        return self.damaged == 0

    @property
    def truncated(self) -> bool:
        """True if more damage was found than ``damage`` holds."""
        return self.damaged > len(self.damage)

    def summary(self) -> dict[str, Any]:
        """The counts, JSON-ready."""
        return {
            "shards": self.shards,
            "namespaces": self.namespaces,
            "records": self.records,
            "expiring": self.expiring,
            "journal_entries": self.journal_entries,
            "log_records": self.log_records,
            "pending_intents": self.pending_intents,
            "delivery_entries": self.delivery_entries,
            "quarantined": self.quarantined,
            "damaged": self.damaged,
        }


@define
class Databases:
    """The handles of one shard's scanned databases (None: not there, so empty)."""

    namespaces: dict[str, Any]
    expiry: Any
    journal: Any  # an older mi's journal database, not yet moved into the log
    intents: Any
    due: Any
    inflight: Any
    quarantine: Any
    strays: list[bytes]  # main-DB keys that are neither a namespace nor an internal database
    meta: Any = None  # mi/meta, for the log's applied counter (not scanned)

    def all(self) -> list[Any]:
        """The scanned databases."""
        handles = [
            *self.namespaces.values(), self.expiry, self.journal, self.intents, self.due, self.inflight,
            self.quarantine,
        ]
        return [db for db in handles if db is not None]


@define
class Scan:
    """The state of one verify run: the report being filled and the progress not yet reported."""

    report: VerifyReport
    progress: Progress | None
    max_damage: int
    namespaces: set[str] = field(factory=set)
    pending: int = 0

    def add(self, damage: Damage) -> None:
        self.report.damaged += 1
        if len(self.report.damage) < self.max_damage:
            self.report.damage.append(damage)

    def tick(self) -> None:
        self.pending += 1
        if self.pending >= PROGRESS_STEP:
            self.flush()

    def flush(self) -> None:
        if self.pending and self.progress is not None:
            self.progress(self.pending)
        self.pending = 0


def shard_checks(index: int, dbs: Databases, scan: Scan) -> list[tuple[str, Callable[[lmdb.Transaction], None]]]:
    """What to check in one shard: (what, check), each check run in a read transaction of its own."""
    steps: list[tuple[str, Callable[[lmdb.Transaction], None]]] = [
        (f"namespace {ns!r}", _record_checker(index, ns, dbs, scan)) for ns in dbs.namespaces
    ]
    if dbs.expiry is not None:
        steps.append(("the expiry index", _expiry_checker(index, dbs, scan)))
    if dbs.journal is not None:
        steps.append(("the journal database", _journal_checker(index, dbs, scan)))
    if dbs.intents is not None:
        steps.append(("the intents", _intent_checker(index, dbs, scan)))
    if dbs.due is not None:
        steps.append(("the due queue", _delivery_checker(index, dbs.due, "due", check_due_entry, scan)))
    if dbs.inflight is not None:
        steps.append(("the messages in flight", _delivery_checker(index, dbs.inflight, "in flight", decode_inflight, scan)))
    if dbs.quarantine is not None:
        steps.append(("the quarantine", _quarantine_lister(index, dbs, scan)))
    return steps


def _walk(txn: lmdb.Transaction, db: Any, what: str, index: int, scan: Scan) -> Iterator[tuple[bytes, Any]]:
    """Every entry of ``db`` in key order, its tree's structure checked on the way: keys strictly
    increasing, each found again by a lookup from the root, as many as the database counts."""
    previous: bytes | None = None
    walked = 0
    with txn.cursor(db=db) as cursor:
        for view, value in cursor:
            key = bytes(view)
            walked += 1
            if previous is not None and key <= previous:
                problem = f"{what}: key out of order after {previous!r} (a damaged page)"
                scan.add(Damage(index, "shard", None, key, problem))
            elif txn.get(key, db=db) is None:
                problem = f"{what}: a scan finds this key but a lookup does not (a damaged branch page)"
                scan.add(Damage(index, "shard", None, key, problem))
            previous = key
            yield key, value
    counted = txn.stat(db)["entries"]
    if walked != counted:
        problem = f"{what}: a scan finds {walked} entries but the database counts {counted} (a damaged page)"
        scan.add(Damage(index, "shard", None, None, problem))


def _record_checker(index: int, ns: str, dbs: Databases, scan: Scan) -> Callable[[lmdb.Transaction], None]:
    """Every record's CRC and payload, and the index entry of every record with a deadline."""
    report = scan.report

    def check(txn: lmdb.Transaction) -> None:
        for view, data in _walk(txn, dbs.namespaces[ns], f"namespace {ns!r}", index, scan):
            scan.tick()
            report.records += 1
            key = bytes(view)
            try:
                record = decode_record(key, data, namespace=ns)
            except CorruptRecord as error:
                scan.add(Damage(index, "record", ns, key, f"record {error.reason}"))
                continue
            if record.expires_at == 0:
                continue
            report.expiring += 1
            index_key = encode_index_key(record.expires_at, ns, key)
            if dbs.expiry is None or txn.get(index_key, db=dbs.expiry) is None:
                problem = f"record expiring at {record.expires_at} has no expiry index entry"
                scan.add(Damage(index, "expiry", ns, key, problem))

    return check


def _expiry_checker(index: int, dbs: Databases, scan: Scan) -> Callable[[lmdb.Transaction], None]:
    """Every index entry names an existing record of its namespace with the same deadline."""

    def check(txn: lmdb.Transaction) -> None:
        for view, _value in _walk(txn, dbs.expiry, "the expiry index", index, scan):
            scan.tick()
            try:
                deadline, ns, key = decode_index_key(view)
            except ValueError as error:  # UnicodeDecodeError included
                problem = f"malformed expiry index key: {error}"
                scan.add(Damage(index, "expiry", None, bytes(view), problem))
                continue
            db = dbs.namespaces.get(ns)
            data = None if db is None else txn.get(key, db=db)
            if data is None:
                scan.add(Damage(index, "expiry", ns, key, "expiry index entry without a record"))
                continue
            try:
                record = decode_record(key, data, namespace=ns)
            except CorruptRecord:
                continue  # reported with the record
            if record.expires_at != deadline:
                problem = (
                    f"expiry index entry for deadline {deadline}, but the record expires at"
                    f" {record.expires_at or 'never'}"
                )
                scan.add(Damage(index, "expiry", ns, key, problem))

    return check


def _journal_checker(index: int, dbs: Databases, scan: Scan) -> Callable[[lmdb.Transaction], None]:
    """An older mi's journal database: every entry's CRC and layout (LMDB keeps them in sequence
    order: the key is the number). The next server start moves it into the log."""
    report = scan.report

    def check(txn: lmdb.Transaction) -> None:
        for view, value in _walk(txn, dbs.journal, "the journal", index, scan):
            scan.tick()
            report.journal_entries += 1
            try:
                decode_entry(view, value)
            except JournalDamaged as error:
                problem = "journal entry " + _JOURNAL_PREFIX_RE.sub("", str(error))
                scan.add(Damage(index, "journal", None, _number(view), problem))

    return check


def _intent_checker(index: int, dbs: Databases, scan: Scan) -> Callable[[lmdb.Transaction], None]:
    """Every intent decodes; intact ones are pending work, not damage."""
    report = scan.report

    def check(txn: lmdb.Transaction) -> None:
        for view, value in _walk(txn, dbs.intents, "the intents", index, scan):
            scan.tick()
            try:
                decode_intent(bytes(value))
            except ValueError as error:
                scan.add(Damage(index, "intent", None, _number(view), str(error)))
                continue
            report.pending_intents += 1

    return check


def _delivery_checker(
    index: int, db: Any, where: str, check: Callable[[bytes, bytes], Any], scan: Scan
) -> Callable[[lmdb.Transaction], None]:
    """Every message in the due queue or in flight is intact (CRC and record)."""
    report = scan.report

    def check_all(txn: lmdb.Transaction) -> None:
        for view, value in _walk(txn, db, f"the messages {where}", index, scan):
            scan.tick()
            report.delivery_entries += 1
            try:
                check(bytes(view), bytes(value))
            except (CorruptRecord, ValueError, IndexError) as error:
                reason = error.reason if isinstance(error, CorruptRecord) else str(error)
                scan.add(Damage(index, "delivery", None, bytes(view), f"message {where}: {reason}"))

    return check_all


def _quarantine_lister(index: int, dbs: Databases, scan: Scan) -> Callable[[lmdb.Transaction], None]:
    """Every item the server set aside, listed (an undecodable one is damage)."""
    report = scan.report

    def check(txn: lmdb.Transaction) -> None:
        for view, value in _walk(txn, dbs.quarantine, "the quarantine", index, scan):
            scan.tick()
            try:
                item = decode_quarantined(view, value)
            except ValueError as error:
                scan.add(Damage(index, "quarantine", None, _number(view), str(error)))
                continue
            report.quarantined += 1
            if len(report.quarantine) < scan.max_damage:
                report.quarantine.append((index, item))

    return check


def _number(view: bytes | memoryview) -> bytes:
    """A u64 key as ASCII digits; any other key as its bytes."""
    key = bytes(view)
    return str(entry_seq(key)).encode("ascii") if len(key) == 8 else key

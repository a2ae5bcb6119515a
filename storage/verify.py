"""Check a data dir (or a snapshot of one) for damage: what ``mi verify`` runs.

Every shard's environment is opened read-only and each of its databases scanned in one read
transaction: every record's CRC and payload, the expiry index against the records (both ways),
the journal's CRCs, the cross-shard intents, and the messages due or in flight. Each problem found
becomes a ``Damage`` naming the shard, namespace and key; nothing is repaired. Items the server set
aside (``storage.quarantine``) are listed apart: they are damage already dealt with, not damage.

Each database is walked with structure checks too: keys strictly increasing, each key found again
by a lookup from the root (a damaged branch page misroutes lookups while a scan still sees every
leaf: GET would answer nil for a key that exists), and as many entries as the database counts. Each
shard is scanned in a child process (``storage.verify_child``), so an LMDB assertion that aborts on
a damaged tree is reported as damage to that shard instead of killing the caller.

A live data dir (with ``lock.mdb``) is read beside its server through LMDB's lock file; a snapshot
has no lock file and is opened without one. Each cross-check (record -> index entry, index entry ->
record) is made inside one transaction, so a server writing meanwhile causes no false reports.
Do not call this in a process that has the same data dir open as a ``Store``: LMDB allows one
environment per path per process.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lmdb
from attrs import Factory, define, field, frozen

from storage.changes import decode_intent
from storage.errors import CorruptRecord, DataDirError
from storage.expiry import decode_index_key, encode_index_key
from storage.journal import JournalDamaged, decode_entry, entry_seq
from storage.manifest import read_manifest
from storage.delivery import check_due_entry, decode_inflight
from storage.quarantine import Quarantined, decode_quarantined
from storage.names import (
    DUE_DB,
    EXPIRY_DB,
    INFLIGHT_DB,
    INTENT_DB,
    INTERNAL_DB_COUNT,
    INTERNAL_DBS,
    JOURNAL_DB,
    QUARANTINE_DB,
    db_name,
    namespace_of,
)
from storage.records import decode_record
from storage.shard import DEFAULT_MAX_NAMESPACES, DEFAULT_MAX_READERS
from storage.store import shard_dir_name
from storage.verify_child import run_shard_scan

__all__ = [
    "COUNTS",
    "DEFAULT_MAX_DAMAGE",
    "PROGRESS_STEP",
    "Damage",
    "VerifyReport",
    "count_items",
    "shard_result",
    "verify_data_dir",
]

DEFAULT_MAX_DAMAGE = 1000  # Damage items kept in a report; more are counted, not kept
PROGRESS_STEP = 1000  # entries scanned between progress calls

Progress = Callable[[int], None]

_KEY_LABELS = {"journal": "seq", "intent": "intent"}
# The counts of a report that a shard's scan adds to.
COUNTS = ("records", "expiring", "journal_entries", "pending_intents", "delivery_entries", "quarantined")
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
    pending_intents: int = 0  # intact cross-shard intents, finished at the next server start
    delivery_entries: int = 0  # messages due or in flight (storage.delivery)
    quarantined: int = 0  # items set aside by the server (storage.quarantine): not damage
    damaged: int = 0
    damage: list[Damage] = Factory(list)
    quarantine: list[tuple[int, Quarantined]] = Factory(list)  # (shard, item): the first ones

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
            "pending_intents": self.pending_intents,
            "delivery_entries": self.delivery_entries,
            "quarantined": self.quarantined,
            "damaged": self.damaged,
        }


@define
class _Databases:
    """The handles of one shard's scanned databases (None: not there, so empty)."""

    namespaces: dict[str, Any]
    expiry: Any
    journal: Any
    intents: Any
    due: Any
    inflight: Any
    quarantine: Any
    strays: list[bytes]  # main-DB keys that are neither a namespace nor an internal database

    def all(self) -> list[Any]:
        handles = [
            *self.namespaces.values(), self.expiry, self.journal, self.intents, self.due, self.inflight,
            self.quarantine,
        ]
        return [db for db in handles if db is not None]


@define
class _Scan:
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


def verify_data_dir(
    path: Path, progress: Progress | None = None, max_damage: int = DEFAULT_MAX_DAMAGE, *, isolated: bool = True
) -> VerifyReport:
    """Scan the data dir (or snapshot) at ``path``; ``DataDirError`` if it has no usable manifest.

    ``isolated``: each shard in a child process (an LMDB abort becomes damage); False, here.

    ``progress(n)`` is called with the entries scanned since its last call (every
    ``PROGRESS_STEP`` entries and at the end of each database); over a whole run of an undamaged
    dir the calls add up to ``count_items(path)``.
    """
    path = Path(path)
    manifest = _manifest(path)
    scan = _Scan(VerifyReport(), progress, max_damage)
    for index in range(manifest.shards):
        scan.report.shards += 1
        if isolated:
            _verify_shard_in_child(path / shard_dir_name(index), index, scan)
        else:
            _verify_shard(path / shard_dir_name(index), index, scan)
    for extra in _extra_shard_indexes(path, manifest.shards):
        problem = f"{shard_dir_name(extra)} is not in the manifest, which counts {manifest.shards} shards"
        scan.add(Damage(extra, "shard", None, None, problem))
    scan.report.namespaces = len(scan.namespaces)
    return scan.report


def shard_result(shard_dir: Path, index: int, max_damage: int, progress: Progress | None) -> dict[str, Any]:
    """One shard's scan, JSON-ready (what ``storage.verify_child`` sends back)."""
    scan = _Scan(VerifyReport(), progress, max_damage)
    _verify_shard(shard_dir, index, scan)
    report = scan.report
    return {
        "counts": {name: getattr(report, name) for name in COUNTS},
        "namespaces": sorted(scan.namespaces),
        "damaged": report.damaged,
        "damage": [[d.area, d.namespace, _hex(d.key), d.problem] for d in report.damage],
        "quarantine": [
            [item.id, item.at_ms, item.area, item.namespace, item.key.hex(), item.reason] for _shard, item in report.quarantine
        ],
    }


def _verify_shard_in_child(shard_dir: Path, index: int, scan: _Scan) -> None:
    outcome = run_shard_scan(shard_dir, index, scan.max_damage, scan.progress)
    if outcome.result is not None:
        result, report = outcome.result, scan.report
        for name in COUNTS:
            setattr(report, name, getattr(report, name) + result["counts"][name])
        scan.namespaces.update(result["namespaces"])
        for area, ns, key, problem in result["damage"]:
            scan.add(Damage(index, area, ns, None if key is None else bytes.fromhex(key), problem))
        report.damaged += result["damaged"] - len(result["damage"])  # counted, not kept, in the child
        for item_id, at_ms, area, ns, key, reason in result["quarantine"]:
            if len(report.quarantine) < scan.max_damage:
                report.quarantine.append((index, Quarantined(item_id, at_ms, area, ns, bytes.fromhex(key), reason, b"")))
    if outcome.signal_name is not None:
        problem = (
            f"reading its B-tree made LMDB abort ({outcome.signal_name}, an assertion on a damaged page):"
            " the shard's structure is damaged"
        )
        scan.add(Damage(index, "shard", None, None, problem))
    elif outcome.failure is not None:
        scan.add(Damage(index, "shard", None, None, f"the scan failed: {outcome.failure}"))


def _hex(key: bytes | None) -> str | None:
    return None if key is None else key.hex()


def _extra_shard_indexes(path: Path, shards: int) -> list[int]:
    """Shard directories beyond the manifest's count: left over, or a manifest that lost count."""
    found = (child.name.removeprefix("shard-") for child in path.glob("shard-*") if child.is_dir())
    return sorted(int(number) for number in found if number.isdigit() and int(number) >= shards)


def count_items(path: Path) -> int:
    """How many entries ``verify_data_dir`` will scan (a progress bar's total).

    Shards that cannot be opened count nothing (``verify_data_dir`` reports them).
    """
    path = Path(path)
    manifest = _manifest(path)
    total = 0
    for index in range(manifest.shards):
        try:
            with _opened(path / shard_dir_name(index)) as (env, dbs), env.begin() as txn:
                total += sum(txn.stat(db)["entries"] for db in dbs.all())
        except (lmdb.Error, OSError, _Unopenable):
            continue
    return total


def _manifest(path: Path) -> Any:
    manifest = read_manifest(path)
    if manifest is None:
        msg = f"{path} is not an mi data dir or snapshot (no manifest.json)"
        raise DataDirError(msg)
    return manifest


class _Unopenable(Exception):
    """A shard directory that cannot be opened; the message says why."""


@contextmanager
def _opened(shard_dir: Path) -> Iterator[tuple[lmdb.Environment, _Databases]]:
    """The shard's environment, read-only, with its databases open; closed on exit."""
    if not (shard_dir / "data.mdb").is_file():
        what = "is missing" if not shard_dir.exists() else "has no data.mdb"
        msg = f"shard directory {shard_dir} {what}"
        raise _Unopenable(msg)
    try:
        env, names = _open_env(shard_dir)
    except (lmdb.Error, OSError) as error:
        msg = f"cannot open {shard_dir}: {error}"
        raise _Unopenable(msg) from None
    try:
        try:
            dbs = _open_databases(env, names)
        except lmdb.Error as error:
            msg = f"cannot open the databases of {shard_dir}: {error}"
            raise _Unopenable(msg) from None
        yield env, dbs
    finally:
        env.close()


def _open_env(shard_dir: Path) -> tuple[lmdb.Environment, list[bytes]]:
    """Open read-only with room for every database named in the main DB; and those names."""
    max_dbs = DEFAULT_MAX_NAMESPACES + INTERNAL_DB_COUNT
    while True:
        env = lmdb.open(
            str(shard_dir),
            subdir=True,
            readonly=True,
            create=False,
            lock=(shard_dir / "lock.mdb").exists(),  # a snapshot has no lock file
            max_dbs=max_dbs,
            max_readers=DEFAULT_MAX_READERS,
        )
        try:
            with env.begin() as txn, txn.cursor() as cursor:
                names = [bytes(name) for name in cursor.iternext(values=False)]
        except BaseException:
            env.close()
            raise
        if len(names) + INTERNAL_DB_COUNT <= max_dbs:
            return env, names
        env.close()
        max_dbs = len(names) + INTERNAL_DB_COUNT


def _open_databases(env: lmdb.Environment, names: list[bytes]) -> _Databases:
    # Read-only: each handle is opened on its own, outside any transaction we hold.
    namespaces = sorted({ns for ns in map(namespace_of, names) if ns is not None})
    return _Databases(
        {ns: env.open_db(db_name(ns), create=False) for ns in namespaces},
        *(_optional_db(env, name) for name in (EXPIRY_DB, JOURNAL_DB, INTENT_DB, DUE_DB, INFLIGHT_DB, QUARANTINE_DB)),
        [name for name in names if namespace_of(name) is None and name.removesuffix(b"\0") not in INTERNAL_DBS],
    )


def _optional_db(env: lmdb.Environment, name: bytes) -> Any:
    try:
        return env.open_db(name, create=False)
    except lmdb.NotFoundError:
        return None


def _verify_shard(shard_dir: Path, index: int, scan: _Scan) -> None:
    try:
        with _opened(shard_dir) as (env, dbs):
            scan.namespaces.update(dbs.namespaces)
            for name in dbs.strays:  # mi never writes there: another program did, or damage
                scan.add(Damage(index, "shard", None, name, "unexpected entry in the main database"))
            steps: list[tuple[str, Callable[[lmdb.Transaction], None]]] = [
                (f"namespace {ns!r}", _record_checker(index, ns, dbs, scan)) for ns in dbs.namespaces
            ]
            if dbs.expiry is not None:
                steps.append(("the expiry index", _expiry_checker(index, dbs, scan)))
            if dbs.journal is not None:
                steps.append(("the journal", _journal_checker(index, dbs, scan)))
            if dbs.intents is not None:
                steps.append(("the intents", _intent_checker(index, dbs, scan)))
            if dbs.due is not None:
                steps.append(("the due queue", _delivery_checker(index, dbs.due, "due", check_due_entry, scan)))
            if dbs.inflight is not None:
                steps.append(("the messages in flight", _delivery_checker(index, dbs.inflight, "in flight", decode_inflight, scan)))
            if dbs.quarantine is not None:
                steps.append(("the quarantine", _quarantine_lister(index, dbs, scan)))
            for what, check in steps:
                try:
                    with env.begin(buffers=True) as txn:
                        check(txn)
                except lmdb.Error as error:  # a damaged page, a truncated file...
                    scan.add(Damage(index, "shard", None, None, f"cannot read {what}: {error}"))
                finally:
                    scan.flush()
    except _Unopenable as error:
        scan.add(Damage(index, "shard", None, None, str(error)))
    except (lmdb.Error, OSError) as error:  # closing failed
        scan.add(Damage(index, "shard", None, None, f"cannot read {shard_dir}: {error}"))


def _walk(txn: lmdb.Transaction, db: Any, what: str, index: int, scan: _Scan) -> Iterator[tuple[bytes, Any]]:
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


def _record_checker(index: int, ns: str, dbs: _Databases, scan: _Scan) -> Callable[[lmdb.Transaction], None]:
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


def _expiry_checker(index: int, dbs: _Databases, scan: _Scan) -> Callable[[lmdb.Transaction], None]:
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


def _journal_checker(index: int, dbs: _Databases, scan: _Scan) -> Callable[[lmdb.Transaction], None]:
    """Every entry's CRC and layout (LMDB keeps them in sequence order: the key is the number)."""
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


def _intent_checker(index: int, dbs: _Databases, scan: _Scan) -> Callable[[lmdb.Transaction], None]:
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
    index: int, db: Any, where: str, check: Callable[[bytes, bytes], Any], scan: _Scan
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


def _quarantine_lister(index: int, dbs: _Databases, scan: _Scan) -> Callable[[lmdb.Transaction], None]:
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

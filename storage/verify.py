"""Check a data dir (or a snapshot of one) for damage: what ``mi verify`` runs.

Every shard's environment is opened read-only and each of its databases scanned in one read
transaction: every record's CRC and payload, the expiry index against the records (both ways),
the cross-shard intents, and the messages due or in flight; then its write-ahead log, which is
its journal (``storage.verify_log``: headers, CRCs, numbering, and that it reaches what the
environment holds; a torn tail is listed apart, not as damage). Each problem found
becomes a ``Damage`` naming the shard, namespace and key; nothing is repaired. Items the server set
aside (``storage.quarantine``) are listed apart: they are damage already dealt with, not damage.

Each database is walked with structure checks too (``storage.verify_checks`` holds the checks and
the report). Each shard is scanned in a child process (``storage.verify_child``), so an LMDB
assertion that aborts on a damaged tree is reported as damage to that shard instead of killing
the caller.

A live data dir (with ``lock.mdb``) is read beside its server through LMDB's lock file; a snapshot
has no lock file and is opened without one. Each cross-check (record -> index entry, index entry ->
record) is made inside one transaction, so a server writing meanwhile causes no false reports.
Do not call this in a process that has the same data dir open as a ``Store``: LMDB allows one
environment per path per process.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lmdb

from storage.counters import APPLIED_KEY, U64
from storage.errors import DataDirError
from storage.manifest import read_manifest
from storage.names import (
    DUE_DB,
    EXPIRY_DB,
    INFLIGHT_DB,
    INTENT_DB,
    INTERNAL_DB_COUNT,
    INTERNAL_DBS,
    JOURNAL_DB,
    META_DB,
    QUARANTINE_DB,
    db_name,
    namespace_of,
)
from storage.quarantine import Quarantined
from storage.shard import DEFAULT_MAX_NAMESPACES, DEFAULT_MAX_READERS
from storage.store import shard_dir_name
from storage.verify_checks import PROGRESS_STEP, Damage, Databases, Progress, Scan, VerifyReport, shard_checks
from storage.verify_child import run_shard_scan
from storage.verify_log import check_log, count_log_records
from storage.wal import LOG_DIR_NAME

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
# The counts of a report that a shard's scan adds to.
COUNTS = (
    "records", "expiring", "journal_entries", "log_records", "pending_intents", "delivery_entries", "quarantined",
)


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
    scan = Scan(VerifyReport(), progress, max_damage)
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
    scan = Scan(VerifyReport(), progress, max_damage)
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
        "torn_tails": [what for _shard, what in report.torn_tails],
    }


def _verify_shard_in_child(shard_dir: Path, index: int, scan: Scan) -> None:
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
        report.torn_tails.extend((index, what) for what in result["torn_tails"])
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
            total += count_log_records(path / shard_dir_name(index) / LOG_DIR_NAME)
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
def _opened(shard_dir: Path) -> Iterator[tuple[lmdb.Environment, Databases]]:
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


def _open_databases(env: lmdb.Environment, names: list[bytes]) -> Databases:
    # Read-only: each handle is opened on its own, outside any transaction we hold.
    namespaces = sorted({ns for ns in map(namespace_of, names) if ns is not None})
    return Databases(
        {ns: env.open_db(db_name(ns), create=False) for ns in namespaces},
        *(_optional_db(env, name) for name in (EXPIRY_DB, JOURNAL_DB, INTENT_DB, DUE_DB, INFLIGHT_DB, QUARANTINE_DB)),
        [name for name in names if namespace_of(name) is None and name.removesuffix(b"\0") not in INTERNAL_DBS],
        meta=_optional_db(env, META_DB),
    )


def _optional_db(env: lmdb.Environment, name: bytes) -> Any:
    try:
        return env.open_db(name, create=False)
    except lmdb.NotFoundError:
        return None


def _verify_shard(shard_dir: Path, index: int, scan: Scan) -> None:
    try:
        with _opened(shard_dir) as (env, dbs):
            scan.namespaces.update(dbs.namespaces)
            for name in dbs.strays:  # mi never writes there: another program did, or damage
                scan.add(Damage(index, "shard", None, name, "unexpected entry in the main database"))
            for what, check in shard_checks(index, dbs, scan):
                try:
                    with env.begin(buffers=True) as txn:
                        check(txn)
                except lmdb.Error as error:  # a damaged page, a truncated file...
                    scan.add(Damage(index, "shard", None, None, f"cannot read {what}: {error}"))
                finally:
                    scan.flush()
            _check_log(shard_dir, index, env, dbs, scan)
    except _Unopenable as error:
        scan.add(Damage(index, "shard", None, None, str(error)))
    except (lmdb.Error, OSError) as error:  # closing failed
        scan.add(Damage(index, "shard", None, None, f"cannot read {shard_dir}: {error}"))


def _check_log(shard_dir: Path, index: int, env: lmdb.Environment, dbs: Databases, scan: Scan) -> None:
    """The shard's write-ahead log (its journal) against itself and the environment's counter."""

    def applied() -> int:
        if dbs.meta is None:
            return 0
        with env.begin() as txn:
            raw = txn.get(APPLIED_KEY, db=dbs.meta)
        return 0 if raw is None else U64.unpack(raw)[0]

    report = scan.report
    try:
        findings = check_log(shard_dir / LOG_DIR_NAME, applied, index, scan.tick)
    except lmdb.Error as error:
        scan.add(Damage(index, "shard", None, None, f"cannot read the log's applied counter: {error}"))
        return
    except (OSError, struct.error) as error:
        scan.add(Damage(index, "journal", None, None, f"cannot read the log: {error}"))
        return
    finally:
        scan.flush()
    report.log_records += findings.records
    report.journal_entries += findings.entries
    for problem in findings.damage:
        scan.add(Damage(index, "journal", None, None, problem))
    for what in findings.torn_tails:
        if len(report.torn_tails) < scan.max_damage:
            report.torn_tails.append((index, what))

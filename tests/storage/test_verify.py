"""mi verify's scan: a clean dir passes; damaged records, index entries, intents and shards are
each named by shard, namespace and key; damage to the write-ahead log (the journal) by segment and
byte, and a torn tail at its end is listed apart, not as damage."""

from __future__ import annotations

import shutil
from pathlib import Path

import lmdb
import pytest
from shard_helpers import raw_update, write

import storage.wal
from storage import DataDirError, Store, shard_index
from storage.changes import Change, ChangeOp, encode_intent
from storage.counters import APPLIED_KEY, U64
from storage.expiry import encode_index_key
from storage.log_format import HEADER_SIZE
from storage.names import EXPIRY_DB, INTENT_DB, META_DB
from storage.store import shard_dir_name
from storage.verify import Damage, count_items, verify_data_dir

SHARDS = 2
FAR = 4_000_000_000_000  # a deadline in 2096
CANARY_KEY = b"canary"
CANARY = b"canary-value-123456"
PLAIN = [f"k{i}".encode() for i in range(12)]
EXPIRING = [f"s{i}".encode() for i in range(5)]
RECORDS = len(PLAIN) + len(EXPIRING) + 1  # one log record with one journal entry each, too


def put(store: Store, ns: str, key: bytes, value: bytes, expires_at: int = 0) -> None:
    write(store.shard_for(key), lambda txn: txn.put(ns, key, value, expires_at))


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A closed 2-shard data dir; the canary is written last, so the file holds no stale copy."""
    path = tmp_path_factory.mktemp("verify") / "data"
    with Store.open(path, shards=SHARDS, max_db_size=64 * 1024**2, durable=False) as store:
        for key in PLAIN:
            put(store, "orders", key, b"value-" + key)
        for offset, key in enumerate(EXPIRING):
            put(store, "sessions", key, b"session-" + key, expires_at=FAR + offset)
        put(store, "orders", CANARY_KEY, CANARY)
    return path


@pytest.fixture
def data_dir(pristine: Path, tmp_path: Path) -> Path:
    """A private copy of the pristine dir, free to damage."""
    return Path(shutil.copytree(pristine, tmp_path / "data"))


def shard_dir(path: Path, key: bytes) -> Path:
    return path / shard_dir_name(shard_index(key, SHARDS))


def flip_occurrence(file: Path, needle: bytes, occurrence: int) -> None:
    """Flip one bit inside the ``occurrence``-th copy of ``needle`` in ``file``."""
    data = bytearray(file.read_bytes())
    at = -1
    for _ in range(occurrence + 1):
        at = data.find(needle, at + 1)
        assert at >= 0
    data[at + 3] ^= 0x01
    file.write_bytes(bytes(data))


def test_clean_data_dir_is_ok_with_its_counts(data_dir):
    """An undamaged dir passes, with every record, deadline and journal entry counted."""
    calls = []
    report = verify_data_dir(data_dir, progress=calls.append)
    assert report.ok
    assert report.damage == [] and report.torn_tails == []
    assert report.summary() == {
        "shards": SHARDS,
        "namespaces": 2,
        "records": RECORDS,
        "expiring": len(EXPIRING),
        "journal_entries": RECORDS,
        "log_records": RECORDS,
        "pending_intents": 0,
        "delivery_entries": 0,
        "quarantined": 0,
        "damaged": 0,
    }
    assert all(n > 0 for n in calls)
    assert sum(calls) == count_items(data_dir) == RECORDS + len(EXPIRING) + RECORDS


def log_segments(shard: Path) -> list[Path]:
    return sorted((shard / "log").glob("*.log"))


def test_flipped_byte_is_record_damage_in_lmdb_and_journal_damage_in_the_log(data_dir, tmp_path):
    """A PUT's value is in its record (data.mdb) and in its log record (the journal): a flipped
    byte in either is named, the record by namespace and key, the log by segment and byte."""
    found = {}
    for name in ("data.mdb", "log"):
        copy = Path(shutil.copytree(data_dir, tmp_path / name))
        shard = shard_dir(copy, CANARY_KEY)
        files = [shard / "data.mdb"] if name == "data.mdb" else log_segments(shard)
        (file,) = [file for file in files if CANARY in file.read_bytes()]
        flip_occurrence(file, CANARY, 0)
        report = verify_data_dir(copy)
        assert not report.ok
        (damage,) = report.damage
        found[damage.area] = damage
    index = shard_index(CANARY_KEY, SHARDS)
    assert found["record"] == Damage(index, "record", "orders", CANARY_KEY, "record CRC mismatch")
    assert found["record"].describe() == (
        f"shard {index}, namespace 'orders', key 'canary': record CRC mismatch"
    )
    journal = found["journal"]
    assert (journal.shard, journal.area, journal.namespace, journal.key) == (index, "journal", None, None)
    # The canary was written last: its record ends the log, yet LMDB holds it, so not a torn tail.
    assert "a damaged record at byte" in journal.problem
    assert "but the shard holds records up to" in journal.problem
    assert journal.describe() == f"shard {index}: {journal.problem}"


def test_torn_tail_of_the_newest_segment_is_listed_not_damage(data_dir):
    """Half a record at the end of the log, as a crash mid-append leaves it, is a torn tail: the
    dir is ok, and the tail is listed for its shard."""
    (segment,) = log_segments(data_dir / shard_dir_name(0))
    with segment.open("ab") as file:
        file.write(b"\x00\x00\x01\x00half a record")
    report = verify_data_dir(data_dir)
    assert report.ok and report.log_records == RECORDS
    ((shard, what),) = report.torn_tails
    assert shard == 0 and "torn tail" in what and segment.name in what


@pytest.fixture
def segmented(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A closed 1-shard dir whose log has a segment per record: records 1..6, in files 1..6."""
    monkeypatch.setattr(storage.wal, "SEGMENT_BYTES", HEADER_SIZE + 1)
    path = tmp_path / "segmented"
    with Store.open(path, shards=1, max_db_size=64 * 1024**2, durable=False) as store:
        for i in range(6):
            write(store.shards[0], lambda txn, i=i: txn.put("orders", b"k%d" % i, b"v", 0))
    assert len(log_segments(path / "shard-000")) == 6
    return path


def journal_problems(path: Path) -> list[str]:
    report = verify_data_dir(path)
    assert {damage.area for damage in report.damage} <= {"journal"}
    return [damage.problem for damage in report.damage]


def test_damaged_record_in_an_older_segment(segmented):
    """A flipped byte in a segment that is not the newest cannot be a crash's torn tail: damage."""
    segment = log_segments(segmented / "shard-000")[2]
    data = bytearray(segment.read_bytes())
    data[-1] ^= 0x01
    segment.write_bytes(bytes(data))
    problem = f"log segment {segment.name}: a damaged record at byte {HEADER_SIZE} of {len(data)}"
    assert journal_problems(segmented) == [problem]


def test_damaged_segment_header(segmented):
    """A segment whose header fails its CRC is named; the records after it are not called missing."""
    segment = log_segments(segmented / "shard-000")[3]
    flip_occurrence(segment, b"MI-LOG", 0)
    assert journal_problems(segmented) == [f"log segment {segment.name}: log segment header is damaged"]


def test_missing_segment_is_a_gap_in_the_records(segmented):
    """A segment gone from the middle of the log: its records are named missing."""
    segments = log_segments(segmented / "shard-000")
    segments[2].unlink()
    assert journal_problems(segmented) == [f"log records 3..3 are missing (before segment {segments[3].name})"]


def test_log_ending_before_what_lmdb_holds(segmented):
    """Without its newest segment the log ends at record 5, but the environment holds 6."""
    log_segments(segmented / "shard-000")[-1].unlink()
    assert journal_problems(segmented) == ["the log ends at record 5 but the shard holds records up to 6"]


def test_log_starting_after_what_lmdb_holds(segmented):
    """A log whose oldest records are gone beyond the environment's applied record cannot be
    replayed onto it."""
    log_segments(segmented / "shard-000")[0].unlink()
    raw_update(segmented / "shard-000", META_DB, lambda txn, db: txn.put(APPLIED_KEY, U64.pack(0), db=db))
    assert journal_problems(segmented) == ["the log starts at record 2 but the shard holds records only up to 0"]


def test_no_log_at_all_is_fine(segmented):
    """A restored dir or an old snapshot has no log: the server starts one; nothing is damaged."""
    shutil.rmtree(segmented / "shard-000" / "log")
    report = verify_data_dir(segmented)
    assert report.ok and report.log_records == 0 and report.records == 6


def test_expiry_index_entry_without_a_record(data_dir):
    """An index entry naming a key that does not exist is reported under that namespace and key."""
    raw_update(data_dir / shard_dir_name(0), EXPIRY_DB, lambda txn, db: txn.put(
        encode_index_key(FAR, "sessions", b"ghost"), b"", db=db))
    report = verify_data_dir(data_dir)
    assert report.damage == [Damage(0, "expiry", "sessions", b"ghost", "expiry index entry without a record")]


def test_record_with_a_deadline_but_no_index_entry(data_dir):
    """A record whose index entry is gone would never be reaped: reported."""
    key = EXPIRING[2]
    raw_update(shard_dir(data_dir, key), EXPIRY_DB, lambda txn, db: txn.delete(
        encode_index_key(FAR + 2, "sessions", key), db=db))
    report = verify_data_dir(data_dir)
    problem = f"record expiring at {FAR + 2} has no expiry index entry"
    assert report.damage == [Damage(shard_index(key, SHARDS), "expiry", "sessions", key, problem)]


def test_index_entry_with_another_deadline_than_its_record(data_dir):
    """An extra index entry for an existing record, at a deadline the record does not have."""
    key = EXPIRING[0]
    raw_update(shard_dir(data_dir, key), EXPIRY_DB, lambda txn, db: txn.put(
        encode_index_key(FAR + 99, "sessions", key), b"", db=db))
    (damage,) = verify_data_dir(data_dir).damage
    assert (damage.area, damage.namespace, damage.key) == ("expiry", "sessions", key)
    assert f"deadline {FAR + 99}" in damage.problem


def test_damaged_intent_is_reported_and_intact_one_is_pending(data_dir):
    """An intent that fails its CRC is damage; an intact one is counted as pending work."""
    good = encode_intent([(1, Change(ChangeOp.DELETE, "orders", b"k1"))])

    def update(txn, db):
        txn.put((1).to_bytes(8, "big"), good, db=db)
        txn.put((2).to_bytes(8, "big"), good[:-1] + b"X", db=db)

    raw_update(data_dir / shard_dir_name(0), INTENT_DB, update)
    report = verify_data_dir(data_dir)
    assert report.pending_intents == 1
    assert report.damage == [Damage(0, "intent", None, b"2", "intent record fails its CRC check")]


def test_missing_shard_dir_is_shard_damage_and_the_rest_is_scanned(data_dir):
    """A shard directory that is gone is reported; the other shard is still verified."""
    shutil.rmtree(data_dir / shard_dir_name(1))
    report = verify_data_dir(data_dir)
    (damage,) = report.damage
    assert (damage.shard, damage.area, damage.namespace, damage.key) == (1, "shard", None, None)
    assert "missing" in damage.problem
    assert report.shards == SHARDS
    assert 0 < report.records < RECORDS
    assert count_items(data_dir) == report.records + report.expiring + report.log_records


def test_shard_dir_beyond_the_manifest_is_reported(data_dir):
    """A leftover shard-002 beside a 2-shard manifest is named, and the two real shards pass."""
    shutil.copytree(data_dir / shard_dir_name(0), data_dir / shard_dir_name(SHARDS))
    report = verify_data_dir(data_dir)
    (damage,) = report.damage
    assert (damage.shard, damage.area) == (SHARDS, "shard")
    assert "not in the manifest, which counts 2 shards" in damage.problem
    assert report.records == RECORDS


def test_stray_key_in_the_main_database_is_reported(data_dir):
    """mi keeps nothing but its databases in the main DB: anything else is named, key and all."""
    env = lmdb.open(str(data_dir / shard_dir_name(1)), max_dbs=16, map_size=64 * 1024**2)
    try:
        with env.begin(write=True) as txn:
            txn.put(b"stray", b"value")
    finally:
        env.close()
    (damage,) = verify_data_dir(data_dir).damage
    assert (damage.shard, damage.area, damage.key) == (1, "shard", b"stray")
    assert damage.problem == "unexpected entry in the main database"


def test_snapshot_without_lock_files_is_verifiable(data_dir):
    """A snapshot has no lock.mdb: it is opened without one, and none is created."""
    for lock in data_dir.glob("shard-*/lock.mdb"):
        lock.unlink()
    assert not list(data_dir.glob("shard-*/lock.mdb"))
    report = verify_data_dir(data_dir)
    assert report.ok
    assert report.records == RECORDS
    assert not list(data_dir.glob("shard-*/lock.mdb"))


def test_damage_beyond_max_damage_is_counted_not_kept(data_dir):
    """With max_damage=2, five problems give two Damage items and a count of five."""
    raw_update(data_dir / shard_dir_name(0), EXPIRY_DB, lambda txn, db: [
        txn.put(encode_index_key(FAR, "sessions", b"ghost%d" % i), b"", db=db) for i in range(5)])
    report = verify_data_dir(data_dir, max_damage=2)
    assert len(report.damage) == 2
    assert report.damaged == report.summary()["damaged"] == 5
    assert report.truncated
    assert not report.ok


def test_dir_without_manifest_raises(tmp_path):
    """Nothing to verify without a manifest: DataDirError, for both entry points."""
    with pytest.raises(DataDirError, match="no manifest.json"):
        verify_data_dir(tmp_path)
    with pytest.raises(DataDirError, match="no manifest.json"):
        count_items(tmp_path)


def test_damaged_due_and_in_flight_messages_are_named(tmp_path: Path) -> None:
    from storage.names import DUE_DB, INFLIGHT_DB

    data = tmp_path / "d"
    with Store.open(data, shards=1, max_db_size=64 * 1024**2) as store:
        shard = store.shards[0]
        for key in (b"first", b"second"):
            shard.write_batch([lambda txn, key=key: txn.put("jobs", key, b"payload-" + key, 1000)])
        shard.write_batch([lambda txn: txn.reap_due(2000, 10, lambda ns: True)])
        shard.write_batch([lambda txn: txn.delivery.take("jobs", 2000, 30_000, 1)])
    report = verify_data_dir(data)
    assert report.ok and report.delivery_entries == 2
    def damage_first(txn, db) -> None:
        key, value = next(iter(txn.cursor(db=db)))
        damaged = bytearray(value)
        damaged[-2] ^= 0x01
        txn.put(key, bytes(damaged), db=db)

    for name in (DUE_DB, INFLIGHT_DB):
        raw_update(data / "shard-000", name, damage_first)
    report = verify_data_dir(data)
    assert sorted(d.problem.split(":")[0] for d in report.damage) == ["message due", "message in flight"]
    assert {d.area for d in report.damage} == {"delivery"}

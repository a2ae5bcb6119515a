"""Due and in-flight entries written before message ids (format 1) are still delivered after an
upgrade, and what is written now (format 2) is told apart from them (storage.delivery_entries)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from shard_helpers import open_shard, raw_update, write

from storage.delivery import DEFAULT_PRIORITY, check_due_entry, decode_inflight, encode_due_key
from storage.names import DUE_DB, INFLIGHT_DB, LEASES_DB
from storage.records import Kind, pack_record

LEASE = 30_000


def _format_1(db_key: bytes, body: bytes) -> bytes:
    """A value as the previous version sealed it: a CRC over the key and the rest first."""
    return struct.pack(">I", zlib.crc32(body, zlib.crc32(db_key))) + body


def _old_due(key: bytes, attempts: int) -> tuple[bytes, bytes]:
    due_key = encode_due_key("jobs", DEFAULT_PRIORITY, 1000, key)
    record = pack_record(key, Kind.STRING, b"old " + key, 1000, 5)
    return due_key, _format_1(due_key, struct.pack(">I", attempts) + record)


def _old_inflight(delivery_id: int, key: bytes, attempts: int, lease_until: int) -> tuple[bytes, bytes]:
    raw_id = struct.pack(">Q", delivery_id)
    record = pack_record(key, Kind.STRING, b"old " + key, 1000, 6)
    body = struct.pack(">IQ", attempts, lease_until) + b"\x04jobs" + struct.pack(">H", len(key)) + key + record
    return raw_id, _format_1(raw_id, body)


def _write_old_entries(path: Path) -> None:
    due_key, due_value = _old_due(b"queued", attempts=2)
    raw_id, inflight_value = _old_inflight(777, b"taken", attempts=1, lease_until=5000)
    raw_update(path, DUE_DB, lambda txn, db: txn.put(due_key, due_value, db=db))
    raw_update(path, INFLIGHT_DB, lambda txn, db: txn.put(raw_id, inflight_value, db=db))
    raw_update(path, LEASES_DB, lambda txn, db: txn.put(struct.pack(">QQ", 5000, 777), b"", db=db))


def test_a_format_1_due_message_is_taken_after_an_upgrade_and_gets_an_id(shard_path: Path):
    open_shard(shard_path).close()  # a shard with its databases, as the previous version left it
    _write_old_entries(shard_path)
    shard = open_shard(shard_path)
    try:
        (taken,) = write(shard, lambda txn: txn.delivery.take("jobs", 2000, LEASE, 10))
        assert (taken.key, taken.record.value, taken.attempts) == (b"queued", b"old queued", 3)
        assert taken.due_at == 1000 and taken.id > 0
        assert write(shard, lambda txn: txn.delivery.ack("jobs", taken.id)) is True
    finally:
        shard.close()


def test_a_format_1_delivery_in_flight_comes_back_with_its_id_when_its_lease_ends(shard_path: Path):
    open_shard(shard_path).close()
    _write_old_entries(shard_path)
    shard = open_shard(shard_path)
    try:
        with shard.read() as txn:
            state, flying = txn.delivery.find("jobs", 777)
        assert (state, flying.key, flying.attempts, flying.holder, flying.waiting) == ("in flight", b"taken", 1, "", False)
        (ended,) = write(shard, lambda txn: txn.delivery.expired_leases(5000, 10))
        assert (ended.id, ended.due_at) == (777, 1000), "its deadline stands for when it fell due"
        write(shard, lambda txn: txn.delivery.requeue(ended, due_at=5000))
        taken = write(shard, lambda txn: txn.delivery.take("jobs", 6000, LEASE, 10))
        assert sorted((d.key, d.id == 777, d.attempts) for d in taken) == [(b"queued", False, 3), (b"taken", True, 2)]
    finally:
        shard.close()


def test_verify_reads_both_formats(shard_path: Path):
    due_key, old_value = _old_due(b"queued", attempts=2)
    check_due_entry(due_key, old_value)
    raw_id, old_inflight = _old_inflight(777, b"taken", attempts=1, lease_until=5000)
    assert decode_inflight(raw_id, old_inflight).attempts == 1
    shard = open_shard(shard_path)
    try:
        write(shard, lambda txn: txn.put("jobs", b"new", b"x", 1000))
        write(shard, lambda txn: txn.reap_due(1000, 10, {"jobs"}.__contains__))
        with shard.read() as txn:
            with txn._txn.cursor(db=txn._deliveries().due) as cursor:  # noqa: SLF001 - the raw entry
                (entry,) = [(bytes(k), bytes(v)) for k, v in cursor]
        check_due_entry(*entry)
        assert struct.unpack_from(">I", entry[1], 4)[0] & 0x8000_0000, "format 2 is flagged"
    finally:
        shard.close()

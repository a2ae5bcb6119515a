"""Helpers for storage tests: open a shard, write and read in one call, damage a file on disk.

(A uniquely named module rather than conftest.py, which tests cannot import reliably.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lmdb

from storage import Record, Shard, Value

SHARD_MAP_SIZE = 8 * 1024**2


def open_shard(path: Path, **options: Any) -> Shard:
    options.setdefault("map_size", SHARD_MAP_SIZE)
    return Shard.open(path, 0, **options)


def write(shard: Shard, op: Any) -> Any:
    """Run one op in its own batch; raise what it raised."""
    (outcome,) = shard.write_batch([op])
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def put(shard: Shard, ns: str, key: bytes, value: Value, expires_at: int = 0) -> Record:
    return write(shard, lambda txn: txn.put(ns, key, value, expires_at))


def get(shard: Shard, ns: str, key: bytes, now_ms: int = 0) -> Record | None:
    with shard.read() as txn:
        return txn.get(ns, key, now_ms)


def raw_update(path: Path, db_name: bytes, update: Any) -> None:
    """Change a closed shard's LMDB file directly: ``update(txn, db)``, bypassing the codec."""
    env = lmdb.open(str(path), max_dbs=16, map_size=SHARD_MAP_SIZE)
    try:
        with env.begin(write=True) as txn:
            update(txn, env.open_db(db_name, txn=txn, create=False))
    finally:
        env.close()

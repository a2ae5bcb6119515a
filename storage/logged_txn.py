"""A write transaction that remembers its writes to mi's internal databases, for the log.

The log record of a transaction (``storage.log_format``) must let replay rebuild everything the
transaction changed. Writes to namespace databases are already listed as the journal's changes
(final record states); every other write (expiry index, due queue, leases, settings, intents...)
goes through here and is listed as a raw op. Reads go straight to LMDB.
"""

from __future__ import annotations

from typing import Any

import lmdb

from storage.log_format import OpKind

__all__ = ["LoggedTxn"]


class LoggedTxn:
    """Wraps an ``lmdb.Transaction``; ``ops`` lists ``(kind, db name, key, value)`` in order."""

    __slots__ = ("_internal", "cursor", "get", "ops", "raw", "stat")

    def __init__(self, txn: lmdb.Transaction, internal: dict[int, bytes]) -> None:
        self.raw = txn  # for what needs the real transaction (open_db); its writes are not logged
        self._internal = internal  # id(handle) -> name, for the internal databases
        self.ops: list[tuple[OpKind, bytes, bytes, bytes]] = []
        self.get, self.cursor, self.stat = txn.get, txn.cursor, txn.stat

    def put(self, key: Any, value: Any, *, db: Any, append: bool = False, overwrite: bool = True) -> bool:
        done = self.raw.put(key, value, db=db, append=append, overwrite=overwrite)
        name = self._internal.get(id(db))
        if done and name is not None:
            self.ops.append((OpKind.PUT, name, bytes(key), bytes(value)))
        return done

    def delete(self, key: Any, *, db: Any) -> bool:
        done = self.raw.delete(key, db=db)
        name = self._internal.get(id(db))
        if done and name is not None:
            self.ops.append((OpKind.DELETE, name, bytes(key), b""))
        return done

    def drop(self, db: Any, delete: bool = True) -> None:
        if delete:
            msg = "mi never deletes a database inside a transaction"
            raise ValueError(msg)
        self.raw.drop(db, delete=False)
        name = self._internal.get(id(db))
        if name is not None:
            self.ops.append((OpKind.EMPTY, name, b"", b""))

    def created(self, name: bytes) -> None:
        """A database was created in this transaction (``env.open_db(..., txn=self.raw)``)."""
        self.ops.append((OpKind.CREATE, name, b"", b""))

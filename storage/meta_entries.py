"""The base of the views onto ``mi/meta`` that delivery keeps (``storage.due_keys``,
``storage.dead_letters``): one shard's entries, in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lmdb

from storage.errors import StorageError

__all__ = ["MetaEntries"]


class MetaEntries:
    """``write`` runs each change (counted, and refused in a read-only transaction) and answers
    what it answered; ``failure``
    turns an LMDB error met reading into a storage error."""

    def __init__(
        self,
        txn: lmdb.Transaction,
        db: Any,
        write: Callable[[Callable[[], Any]], Any],
        failure: Callable[[lmdb.Error], StorageError],
    ) -> None:
        self._txn = txn
        self._db = db
        self._write = write
        self._failure = failure

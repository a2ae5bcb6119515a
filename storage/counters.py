"""The shard's counters, kept in mi/meta as u64 big-endian and written by each commit.

``revision``: the highest record revision handed out. ``journal/last``: the newest journal entry's
sequence number. ``log/applied``: the last log record this LMDB environment holds, so startup
replays only the records after it (``storage.wal``).
"""

from __future__ import annotations

import struct

__all__ = ["APPLIED_KEY", "JOURNAL_LAST_KEY", "REVISION_KEY", "U64"]

U64 = struct.Struct(">Q")
REVISION_KEY = b"revision"
JOURNAL_LAST_KEY = b"journal/last"
APPLIED_KEY = b"log/applied"

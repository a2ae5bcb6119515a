"""Key size limits: every index key built from a user key fits LMDB's key limit.

A user key is stored as it is in its namespace's database, and again inside the index keys that
point at it: the expiry index (``storage.expiry``) and the due queue (``storage.delivery``).
Deliveries in flight, leases, intents, journal entries and quarantined items are keyed by numbers.
The longest key a write accepts is LMDB's limit less the largest of those overheads in the longest
namespace, so no acknowledged write can make an index key LMDB refuses (a reaper would then fail
on it at every pass).

Lookups accept any key LMDB can hold: records written when the limit was higher (438 bytes, before
the due queue counted) stay readable and deletable.
"""

from __future__ import annotations

from storage.delivery import DUE_KEY_OVERHEAD
from storage.expiry import EXPIRY_KEY_OVERHEAD
from storage.names import LMDB_MAX_KEY_SIZE, MAX_NAMESPACE_LENGTH

__all__ = ["INDEX_KEY_OVERHEADS", "LMDB_MAX_KEY_SIZE", "MAX_KEY_SIZE"]

# Bytes an index key adds to the user key and the namespace name, by index.
INDEX_KEY_OVERHEADS = {"expiry index": EXPIRY_KEY_OVERHEAD, "due queue": DUE_KEY_OVERHEAD}
MAX_KEY_SIZE = LMDB_MAX_KEY_SIZE - MAX_NAMESPACE_LENGTH - max(INDEX_KEY_OVERHEADS.values())

"""Names of LMDB sub-databases: user namespaces and our internal ones.

A user namespace NAME lives in the named database ``b"ns/" + NAME``; internal databases start with
``b"mi/"``. A namespace name cannot contain ``/``, so a user can never reach an internal database,
and the main (unnamed) database holds nothing but these names.
"""

from __future__ import annotations

import re

from storage.errors import InvalidNamespace

__all__ = [
    "DUE_DB",
    "EXPIRY_DB",
    "INFLIGHT_DB",
    "LEASES_DB",
    "INTENT_DB",
    "INTERNAL_DBS",
    "INTERNAL_DB_COUNT",
    "JOURNAL_DB",
    "LMDB_MAX_KEY_SIZE",
    "MAX_NAMESPACE_LENGTH",
    "META_DB",
    "NAMESPACE_PREFIX",
    "QUARANTINE_DB",
    "db_name",
    "namespace_of",
    "validate_namespace",
]

MAX_NAMESPACE_LENGTH = 64
LMDB_MAX_KEY_SIZE = 511  # py-lmdb's bundled LMDB (MDB_MAXKEYSIZE); checked at open
NAMESPACE_PREFIX = b"ns/"
EXPIRY_DB = b"mi/expiry"
META_DB = b"mi/meta"
INTENT_DB = b"mi/intents"  # cross-shard transactions in flight (see storage.multishard)
JOURNAL_DB = b"mi/journal"  # an older mi's journal, moved into the log at open (storage.journal_migration)
DUE_DB = b"mi/due"  # messages due for delivery (see storage.delivery)
INFLIGHT_DB = b"mi/inflight"  # ... handed out under a lease
LEASES_DB = b"mi/leases"  # ... their leases, by end time
QUARANTINE_DB = b"mi/quarantine"  # damaged items set aside (see storage.quarantine)
INTERNAL_DBS = frozenset({EXPIRY_DB, META_DB, INTENT_DB, JOURNAL_DB, DUE_DB, INFLIGHT_DB, LEASES_DB, QUARANTINE_DB})
# Internal databases, with room for the ones still to come: part of max_dbs.
INTERNAL_DB_COUNT = 16

_NAMESPACE_RE = re.compile(rf"[A-Za-z0-9_.:\-]{{1,{MAX_NAMESPACE_LENGTH}}}")


def validate_namespace(name: str) -> str:
    """Return ``name`` if it is a valid namespace name, else raise ``InvalidNamespace``."""
    if not isinstance(name, str) or _NAMESPACE_RE.fullmatch(name) is None:
        raise InvalidNamespace(name)
    return name


def db_name(namespace: str) -> bytes:
    """The LMDB database name of a (valid) namespace."""
    return NAMESPACE_PREFIX + namespace.encode("ascii")


def namespace_of(name: bytes) -> str | None:
    """The namespace stored in database ``name``, or None for any other main-DB key."""
    # The LMDB 1.0 engine stores database names with a trailing NUL; 0.9 does not.
    name = name.removesuffix(b"\0")
    if not name.startswith(NAMESPACE_PREFIX):
        return None
    try:
        return validate_namespace(name[len(NAMESPACE_PREFIX) :].decode("ascii"))
    except (UnicodeDecodeError, InvalidNamespace):
        return None

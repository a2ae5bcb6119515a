"""Storage errors: the only exceptions that leave the ``storage`` package.

Every ``lmdb.*`` exception is caught at the package boundary and re-raised as one of these, so the
server maps storage failures to replies without knowing LMDB. Each error carries its facts as
attributes (sizes, limits, names) and a message that says what is wrong and, where a person can act,
how to fix it.
"""

from __future__ import annotations

import errno
import os

__all__ = [
    "WouldWait",
    "CorruptRecord",
    "DataDirError",
    "DiskFull",
    "InvalidKey",
    "InvalidNamespace",
    "InvalidValue",
    "KeyTooLarge",
    "StorageConfigError",
    "StorageCorrupted",
    "StorageError",
    "StorageFull",
    "TooManyNamespaces",
    "ValueTooLarge",
]


class StorageError(Exception):
    """Base class of every storage failure."""


class InvalidKey(StorageError, ValueError):
    """The key cannot be stored (it is empty)."""

    def __init__(self, reason: str = "empty key") -> None:
        self.reason = reason
        super().__init__(f"invalid key: {reason}")


class KeyTooLarge(StorageError, ValueError):
    """The key is longer than the storage can index."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"key is {size} bytes; the limit is {limit} bytes")


class ValueTooLarge(StorageError, ValueError):
    """The encoded value is larger than the configured ``max_value_size``."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"value is {size} bytes encoded; the limit (max_value_size) is {limit} bytes")


class InvalidValue(StorageError, TypeError):
    """The value is not one of the storable types, or not representable (NaN, int out of range)."""


class InvalidNamespace(StorageError, ValueError):
    """The namespace name breaks the naming rule (1-64 of ``A-Za-z0-9_.:-``)."""

    def __init__(self, name: object) -> None:
        self.name = name
        super().__init__(f"invalid namespace name {name!r}: use 1-64 characters of A-Za-z0-9_.:-")


class TooManyNamespaces(StorageError):
    """Creating another namespace would exceed ``max_namespaces``."""

    def __init__(self, namespace: str, limit: int) -> None:
        self.namespace = namespace
        self.limit = limit
        super().__init__(
            f"cannot create namespace {namespace!r}: the limit is {limit} namespaces"
            " (raise max_namespaces and restart)"
        )


class StorageFull(StorageError):
    """The shard's map reached its ceiling; reads and deletes keep working."""

    def __init__(self, shard: int, map_size: int) -> None:
        self.shard = shard
        self.map_size = map_size
        super().__init__(
            f"shard {shard} is full ({map_size} bytes, its share of max_db_size);"
            " delete data or raise max_db_size and restart"
        )


class WouldWait(Exception):  # noqa: N818 - it is not a failure
    """A commit asked not to wait for the disk would have to (a full map's checkpoint, a new log
    segment): nothing was applied; run the batch again where waiting is fine."""


class DiskFull(StorageError):
    """The disk (or a file size limit) refused a write: nothing of the write was applied."""

    # LMDB reports a short write (the disk filled, or a file size limit, halfway) as EIO.
    ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EIO})

    def __init__(self, what: str, reason: str) -> None:
        self.what = what
        super().__init__(
            f"could not write {what} ({reason}); is the disk full? Nothing of this write was"
            " applied; acknowledged writes are safe"
        )

    @classmethod
    def means(cls, error: BaseException) -> bool:
        """Whether ``error`` (an OSError, or LMDB's text of one) says the disk is full."""
        if isinstance(error, OSError):
            return error.errno in cls.ERRNOS
        return any(os.strerror(code) in str(error) for code in cls.ERRNOS)


class CorruptRecord(StorageError):
    """A stored record failed its CRC check or could not be decoded."""

    def __init__(self, namespace: str | None, key: bytes, reason: str) -> None:
        self.namespace = namespace
        self.key = key
        self.reason = reason
        where = f"{namespace}/{key!r}" if namespace is not None else repr(key)
        super().__init__(f"corrupt record {where}: {reason}")


class StorageCorrupted(StorageError):
    """LMDB found its own structure damaged (MDB_CORRUPTED, a page not found, an aborted scan)."""

    def __init__(self, where: str, detail: str, data_dir: object = "DIR") -> None:
        self.where = where
        self.detail = detail
        super().__init__(
            f"{where} is damaged ({detail}): run `mi verify --data-dir {data_dir}` to see what, then"
            f" `mi restore SNAPSHOT --data-dir {data_dir} --force` to restore the last good snapshot"
        )


class DataDirError(StorageError):
    """The data directory cannot be used as it is; the message says why and how to fix it."""


class StorageConfigError(StorageError, ValueError):
    """A storage option is unusable (for example a map too small to hold anything)."""

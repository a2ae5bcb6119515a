"""Storage: LMDB shards holding typed records with deadlines, an expiry index and per-record CRCs.

Synchronous; no trio, no RESP, no logging. No ``lmdb`` exception leaves this package: failures are
``StorageError`` subclasses. See ``store.py`` for the data dir layout and ``shard.py`` for threading.
"""

from storage.errors import (
    CorruptRecord,
    DataDirError,
    DiskFull,
    InvalidKey,
    InvalidNamespace,
    InvalidValue,
    KeyTooLarge,
    StorageConfigError,
    StorageCorrupted,
    StorageError,
    StorageFull,
    TooManyNamespaces,
    ValueTooLarge,
    WouldWait,
)
from storage.limits import MAX_KEY_SIZE
from storage.manifest import FORMAT_VERSION, Manifest
from storage.names import MAX_NAMESPACE_LENGTH, validate_namespace
from storage.records import Kind, Record, Value, decode_record, encode_record
from storage.routing import hash_slot_key, shard_index
from storage.shard import (
    DEFAULT_MAX_NAMESPACES,
    DEFAULT_MAX_READERS,
    DEFAULT_MAX_VALUE_SIZE,
    Shard,
    ShardStats,
    WriteOp,
)
from storage.store import DEFAULT_MAX_DB_SIZE, DEFAULT_SHARDS, MAX_SHARDS, Store
from storage.read_txn import ReadTxn
from storage.txn import WriteTxn

__all__ = [
    "WouldWait",
    "DEFAULT_MAX_DB_SIZE",
    "DEFAULT_MAX_NAMESPACES",
    "DEFAULT_MAX_READERS",
    "DEFAULT_MAX_VALUE_SIZE",
    "DEFAULT_SHARDS",
    "FORMAT_VERSION",
    "MAX_KEY_SIZE",
    "MAX_NAMESPACE_LENGTH",
    "MAX_SHARDS",
    "CorruptRecord",
    "DataDirError",
    "DiskFull",
    "InvalidKey",
    "InvalidNamespace",
    "InvalidValue",
    "KeyTooLarge",
    "Kind",
    "Manifest",
    "ReadTxn",
    "Record",
    "Shard",
    "ShardStats",
    "StorageConfigError",
    "StorageCorrupted",
    "StorageError",
    "StorageFull",
    "Store",
    "TooManyNamespaces",
    "Value",
    "ValueTooLarge",
    "WriteOp",
    "WriteTxn",
    "decode_record",
    "encode_record",
    "hash_slot_key",
    "shard_index",
    "validate_namespace",
]

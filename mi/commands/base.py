"""How commands are registered and what a handler returns.

A *read* handler runs on the event loop and returns the reply (LMDB reads are short and never
block on a lock). A *write* handler returns a ``Write``: ops for the shard writers plus a function
that turns their outcomes into the reply. The session submits the ops without waiting, so a
pipeline of writes lands in a few group commits, and replies once they are on disk.
A *task* handler is async (for work that must leave the event loop, such as a full key scan).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from attrs import frozen

from mi.logs import get_logger
from protocol import errors
from protocol.commands import Command
from protocol.errors import CommandError
from storage import (
    CorruptRecord,
    InvalidKey,
    KeyTooLarge,
    Record,
    StorageError,
    StorageFull,
    TooManyNamespaces,
    ValueTooLarge,
)

if TYPE_CHECKING:
    from mi.session import Session
    from mi.writer import WriteOp

__all__ = ["Kind", "REGISTRY", "Write", "as_command_error", "read_record"]

log = get_logger("mi.commands")


@frozen
class Write:
    """The effect of a write command: ``ops`` as (shard index, op), and how to reply."""

    ops: Sequence[tuple[int, WriteOp]]
    reply: Callable[[list[Any]], Any]


class Kind(enum.Enum):
    READ = "read"
    WRITE = "write"
    TASK = "task"


@frozen
class Entry:
    kind: Kind
    handler: Callable[..., Any]


class Registry:
    def __init__(self) -> None:
        self._entries: dict[type[Command], Entry] = {}

    def _register(self, kind: Kind, command: type[Command]) -> Callable[[Callable], Callable]:
        def decorate(handler: Callable) -> Callable:
            if command in self._entries:
                msg = f"{command.__name__} registered twice"
                raise RuntimeError(msg)
            self._entries[command] = Entry(kind, handler)
            return handler

        return decorate

    def read(self, command: type[Command]) -> Callable[[Callable], Callable]:
        return self._register(Kind.READ, command)

    def write(self, command: type[Command]) -> Callable[[Callable], Callable]:
        return self._register(Kind.WRITE, command)

    def task(self, command: type[Command]) -> Callable[[Callable], Callable]:
        return self._register(Kind.TASK, command)

    def lookup(self, command: type[Command]) -> Entry:
        return self._entries[command]

    def commands(self) -> set[type[Command]]:
        return set(self._entries)


REGISTRY = Registry()


def as_command_error(error: Exception) -> CommandError:
    """The wire error for a failed op; unexpected errors are logged with their traceback."""
    match error:
        case CommandError():
            return error
        case InvalidKey():
            return errors.empty_key()
        case KeyTooLarge(size=size, limit=limit):
            return errors.key_too_large(size, limit)
        case ValueTooLarge(size=size, limit=limit):
            return errors.value_too_large(size, limit)
        case StorageFull():
            return errors.storage_full()
        case TooManyNamespaces(limit=limit):
            return errors.too_many_namespaces(limit)
        case CorruptRecord(namespace=namespace, key=key, reason=reason):
            shown = key.decode("utf-8", "backslashreplace")
            log.error("record.corrupt", ns=namespace, key=shown, reason=reason)
            return errors.corrupt_record(namespace or "?", key)
        case StorageError():
            log.error("storage.error", error=str(error))
            return errors.storage_error(str(error))
    log.error("command.failed", exc_info=error)
    return errors.storage_error("internal error (logged)")


def read_record(session: Session, namespace: str, key: bytes) -> Record | None:
    """The live record at ``key``, read on the event loop; damage raises a CommandError."""
    shard = session.server.store.shard_for(key)
    try:
        with shard.read() as txn:
            return txn.get(namespace, key, session.server.now_ms())
    except StorageError as error:
        raise as_command_error(error) from None

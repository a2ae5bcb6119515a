"""How commands are registered and what their handlers take.

Data commands (``read`` and ``write``) take a ``Keyspace`` and the command: they never see a
shard or a session, so the same handler runs alone or inside a MULTI/EXEC (``mi.core.execution``
decides where). ``connection`` handlers take the session (SELECT, CLIENT, INFO...); ``task``
handlers are async and take the session (work that waits: a full key scan, EXEC).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from attrs import frozen

from mi.core.list_waiters import list_topic
from mi.observability.logs import get_logger
from protocol import errors
from protocol.commands import Command
from protocol.errors import CommandError
from storage import (
    CorruptRecord,
    InvalidKey,
    KeyTooLarge,
    StorageError,
    StorageFull,
    TooManyNamespaces,
    ValueTooLarge,
)

if TYPE_CHECKING:
    from mi.delivery.reaper import Reaper

__all__ = ["REGISTRY", "Kind", "StepFailed", "as_command_error", "reply_of"]

log = get_logger("mi.commands")


class Kind(enum.Enum):
    READ = "read"  # (keyspace, command) -> reply; reads only
    WRITE = "write"  # (keyspace, command) -> reply; may write
    CONNECTION = "connection"  # (session, command) -> reply
    TASK = "task"  # async (session, command) -> reply


class StepFailed(Exception):
    """Command ``index`` (1-based) of a transaction of ``total`` raised ``cause``: roll back all."""

    def __init__(self, index: int, total: int, name: str, cause: Exception) -> None:
        super().__init__(f"command {index} of {total} ({name}) failed: {cause}")
        self.index = index
        self.total = total
        self.name = name
        self.cause = cause


@frozen
class Entry:
    kind: Kind
    handler: Callable[..., Any]
    # A task that runs as a data command inside MULTI (BLPOP as LPOP, where nothing blocks; EVAL's
    # script inside the EXEC's transaction): given the connection and the command as it is queued,
    # the (keyspace, command) handler EXEC runs, which may write. A CommandError refuses it.
    in_multi: Callable[[Any, Any], Callable[..., Any]] | None = None


class Registry:
    def __init__(self) -> None:
        self._entries: dict[type[Command], Entry] = {}

    def _register(
        self, kind: Kind, command: type[Command], in_multi: Callable | None = None
    ) -> Callable[[Callable], Callable]:
        def decorate(handler: Callable) -> Callable:
            if command in self._entries:
                msg = f"{command.__name__} registered twice"
                raise RuntimeError(msg)
            self._entries[command] = Entry(kind, handler, in_multi)
            return handler

        return decorate

    def read(self, command: type[Command]) -> Callable[[Callable], Callable]:
        return self._register(Kind.READ, command)

    def write(self, command: type[Command]) -> Callable[[Callable], Callable]:
        return self._register(Kind.WRITE, command)

    def connection(self, command: type[Command]) -> Callable[[Callable], Callable]:
        return self._register(Kind.CONNECTION, command)

    def task(self, command: type[Command], in_multi: Callable | None = None) -> Callable[[Callable], Callable]:
        """An async handler; ``in_multi``: what gives the data handler it runs as inside MULTI
        (see ``Entry``; without one it is refused there)."""
        return self._register(Kind.TASK, command, in_multi)

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
        case StepFailed(index=index, total=total, name=name, cause=cause):
            return errors.transaction_failed(index, total, name, as_command_error(cause))
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


def reply_of(outcome: Any, reaper: Reaper) -> Any:
    """The reply for a unit's outcome: ``(reply, deadlines)``, or the exception it raised.

    Deadlines are handed to the reaper only now, once they are committed and it can find them;
    the lists the unit filled (``Keyspace.deadlines.filled_lists``) wake their blocked poppers
    now too, once the elements are on disk (``mi.core.list_waiters``).
    """
    if isinstance(outcome, Exception):
        return as_command_error(outcome)
    reply, deadlines = outcome
    if deadlines:
        reaper.note_deadline(min(deadlines))
    filled = getattr(deadlines, "filled_lists", None)
    if filled:
        reaper.signals.notify({list_topic(ns, key) for ns, key in filled})
    return reply

"""Commands for operators: JOURNAL, SNAPSHOT, MONITOR."""

from __future__ import annotations

from typing import ClassVar

from attrs import frozen

from protocol import errors
from protocol.commands.base import Command
from protocol.commands.declaration import NO_KEYS, declare
from protocol.errors import CommandError
from protocol.request import Request
from protocol.values import keyword, parse_uint

__all__ = ["MAX_JOURNAL_COUNT", "Bgsave", "Journal", "Monitor", "Save", "Snapshot", "SnapshotStatus"]

MAX_JOURNAL_COUNT = 10_000  # entries one JOURNAL call may return


@frozen
class Journal(Command):
    """``JOURNAL shard [SINCE seq] [COUNT count]``: journal entries after ``since``, oldest first."""

    name: ClassVar[str] = "journal"
    shard: int
    since: int = 0
    count: int = 100


@frozen
class Snapshot(Command):
    """``SNAPSHOT [TO dir]``: a consistent copy of every shard into ``dir`` (a path on the server's
    machine), or into the configured snapshot dir; replies with the snapshot's path."""

    name: ClassVar[str] = "snapshot"
    out: str | None = None


@frozen
class SnapshotStatus(Command):
    """``SNAPSHOT STATUS``: the snapshot in progress (bytes done of total) and the last one's outcome."""

    name: ClassVar[str] = "snapshot"


@frozen
class Save(Command):
    """``SAVE``: Redis's name for a snapshot into the snapshot dir, answered once it is complete."""

    name: ClassVar[str] = "save"


@frozen
class Bgsave(Command):
    """``BGSAVE [SCHEDULE]``: the same snapshot, taken in the background (answered at once)."""

    name: ClassVar[str] = "bgsave"


@frozen
class Monitor(Command):
    """``MONITOR``: from now on, this connection receives every command the server runs."""

    name: ClassVar[str] = "monitor"


@declare("journal", -2, ("admin", "readonly", "loading", "stale"), NO_KEYS, "server",
         "Returns operation journal entries of one shard as JSON texts, oldest first.",
         "JOURNAL shard [SINCE seq] [COUNT count]",
         forms=(Journal,))  # fmt: skip
def _journal(name: str, request: Request) -> Journal:
    args = request.args
    shard = parse_uint(args[1])
    if shard is None:
        raise errors.not_integer()
    found: dict[str, int] = {}
    i = 2
    while i < len(args):
        word = keyword(args[i])
        if word not in ("since", "count") or word in found or i + 1 >= len(args):
            raise errors.syntax_error()
        value = parse_uint(args[i + 1])
        if value is None or (word == "count" and not 1 <= value <= MAX_JOURNAL_COUNT):
            raise errors.not_integer()
        found[word] = value
        i += 2
    return Journal(shard, found.get("since", 0), found.get("count", 100))


@declare("snapshot", -1, ("admin", "noscript"), NO_KEYS, "server",
         "Copies every shard, consistently, into a new directory on the server; or reports progress.",
         "SNAPSHOT [TO dir] | SNAPSHOT STATUS",
         forms=(Snapshot, SnapshotStatus))  # fmt: skip
def _snapshot(name: str, request: Request) -> Snapshot | SnapshotStatus:
    args = request.args
    if len(args) == 1:
        return Snapshot()
    word = keyword(args[1])
    if word == "status" and len(args) == 2:
        return SnapshotStatus()
    if word == "to" and len(args) == 3:
        try:
            return Snapshot(args[2].decode("utf-8"))
        except UnicodeDecodeError:
            raise CommandError("ERR", "the snapshot directory is not valid UTF-8") from None
    raise errors.syntax_error()


@declare("save", 1, ("admin", "noscript"), NO_KEYS, "server",
         "Takes a snapshot into the snapshot dir (as SNAPSHOT does) and answers once it is complete.",
         "SAVE",
         forms=(Save,))  # fmt: skip
def _save(name: str, request: Request) -> Save:
    return Save()


@declare("bgsave", -1, ("admin", "noscript"), NO_KEYS, "server",
         "Starts a snapshot into the snapshot dir in the background.",
         "BGSAVE [SCHEDULE]",
         forms=(Bgsave,))  # fmt: skip
def _bgsave(name: str, request: Request) -> Bgsave:
    if len(request.args) > 2 or (len(request.args) == 2 and keyword(request.args[1]) != "schedule"):
        raise errors.syntax_error()
    return Bgsave()


@declare("monitor", 1, ("admin", "noscript", "loading", "stale"), NO_KEYS, "server",
         "Streams every command the server runs to this connection.",
         "MONITOR",
         forms=(Monitor,))  # fmt: skip
def _monitor(name: str, request: Request) -> Monitor:
    return Monitor()

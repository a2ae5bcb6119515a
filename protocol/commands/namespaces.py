"""Namespaces: SELECT one, list them (NAMESPACES), empty one (FLUSHNS, FLUSHDB) or all (FLUSHALL),
NAMESPACE INFO, CONFIG, PAUSE and RESUME.

Every namespace argument reads as ``protocol.grammar_names.namespace`` does: a name, or a
Redis database number (``SELECT 3`` is ``db3``).
"""

from __future__ import annotations

from typing import ClassVar

from attrs import frozen

from protocol import errors
from protocol.commands.base import Command
from protocol.commands.declaration import CONNECTION_FLAGS, NO_KEYS, declare, declare_container
from protocol.commands.options import from_only
from protocol.grammar_names import namespace
from protocol.request import Request
from protocol.values import keyword

__all__ = [
    "Flushall", "Flushdb", "Flushns", "NamespaceConfigGet", "NamespaceConfigSet", "NamespaceInfo", "NamespacePause",
    "NamespaceResume", "Namespaces", "Select",
]  # fmt: skip


@frozen
class Select(Command):
    """``SELECT ns``: the namespace later commands use when they have no ``FROM`` (``SELECT 0`` is
    ``default``, ``SELECT n`` is ``dbn``: see ``protocol.grammar_names``)."""

    name: ClassVar[str] = "select"
    ns: str


@frozen
class Namespaces(Command):
    """``NAMESPACES``: list the namespaces that hold keys."""

    name: ClassVar[str] = "namespaces"


@frozen
class Flushns(Command):
    """``FLUSHNS ns``: delete every key of one namespace."""

    name: ClassVar[str] = "flushns"
    ns: str


@frozen
class Flushdb(Command):
    """``FLUSHDB [ASYNC | SYNC] [FROM ns]``: delete every key of the connection's namespace."""

    name: ClassVar[str] = "flushdb"
    ns: str | None = None


@frozen
class Flushall(Command):
    """``FLUSHALL [ASYNC | SYNC]``: delete every key of every namespace."""

    name: ClassVar[str] = "flushall"

    @property
    def ns(self) -> None:
        """No namespace of its own: all of them (WATCH and the rate limits read ``ns``)."""
        return None


@frozen
class NamespaceInfo(Command):
    """``NAMESPACE INFO ns``: what the namespace holds, and its settings."""

    name: ClassVar[str] = "namespace|info"
    ns: str


@frozen
class NamespaceConfigGet(Command):
    """``NAMESPACE CONFIG ns GET``: the namespace's effective settings."""

    name: ClassVar[str] = "namespace|config"
    ns: str


@frozen
class NamespaceConfigSet(Command):
    """``NAMESPACE CONFIG ns SET option value`` (``value`` None: ``RESET option``, back to the file)."""

    name: ClassVar[str] = "namespace|config"
    ns: str
    option: str
    value: str | None


@frozen
class NamespacePause(Command):
    """``NAMESPACE PAUSE ns``: its due messages wait (TAKE hands out none) until RESUME."""

    name: ClassVar[str] = "namespace|pause"
    ns: str


@frozen
class NamespaceResume(Command):
    """``NAMESPACE RESUME ns``: TAKE hands out its due messages again."""

    name: ClassVar[str] = "namespace|resume"
    ns: str


@declare("select", 2, (*CONNECTION_FLAGS, "fast"), NO_KEYS, "connection",
         "Changes the namespace commands without FROM use on this connection (0 is default, n is dbn).",
         "SELECT ns | SELECT db-number",
         forms=(Select,))  # fmt: skip
def _select(name: str, request: Request) -> Select:
    return Select(namespace(request.args[1]))


@declare("namespaces", 1, ("readonly", "loading", "stale"), NO_KEYS, "server",
         "Lists the namespaces that hold keys.",
         "NAMESPACES",
         forms=(Namespaces,))  # fmt: skip
def _namespaces(name: str, request: Request) -> Namespaces:
    return Namespaces()


@declare("flushns", 2, ("write",), NO_KEYS, "server",
         "Deletes every key of a namespace.",
         "FLUSHNS ns",
         forms=(Flushns,))  # fmt: skip
def _flushns(name: str, request: Request) -> Flushns:
    return Flushns(namespace(request.args[1]))


@declare("flushdb", -1, ("write",), NO_KEYS, "server",
         "Deletes every key of the connection's namespace (ASYNC and SYNC are the same in mi).",
         "FLUSHDB [ASYNC | SYNC] [FROM ns]",
         forms=(Flushdb,))  # fmt: skip
def _flushdb(name: str, request: Request) -> Flushdb:
    return Flushdb(ns=from_only(_without_mode(request.args[1:])))


@declare("flushall", -1, ("write",), NO_KEYS, "server",
         "Deletes every key of every namespace (ASYNC and SYNC are the same in mi).",
         "FLUSHALL [ASYNC | SYNC]",
         forms=(Flushall,))  # fmt: skip
def _flushall(name: str, request: Request) -> Flushall:
    if _without_mode(request.args[1:]):
        raise errors.syntax_error()
    return Flushall()


def _without_mode(args: tuple[bytes, ...]) -> tuple[bytes, ...]:
    """The arguments after an optional ASYNC or SYNC: mi's deletes are one transaction either way,
    and the reply comes once it is durable."""
    return args[1:] if args and keyword(args[0]) in ("async", "sync") else args


@declare("namespace|info", 3, ("readonly",), NO_KEYS, "server",
         "Returns what a namespace holds and its settings.",
         "NAMESPACE INFO ns",
         forms=(NamespaceInfo,))  # fmt: skip
def _namespace_info(name: str, request: Request) -> NamespaceInfo:
    return NamespaceInfo(namespace(request.args[2]))


@declare("namespace|config", -4, ("admin",), NO_KEYS, "server",
         "Gets, sets or resets a namespace's settings (default_ttl, max_value_size).",
         "NAMESPACE CONFIG ns GET | SET option value | RESET option",
         forms=(NamespaceConfigGet, NamespaceConfigSet))  # fmt: skip
def _namespace_config(name: str, request: Request) -> NamespaceConfigGet | NamespaceConfigSet:
    args = request.args
    ns = namespace(args[2])
    action = keyword(args[3])
    if action == "get" and len(args) == 4:
        return NamespaceConfigGet(ns)
    if action == "set" and len(args) == 6:
        return NamespaceConfigSet(ns, keyword(args[4]), args[5].decode("utf-8", "replace"))
    if action == "reset" and len(args) == 5:
        return NamespaceConfigSet(ns, keyword(args[4]), None)
    raise errors.syntax_error()


@declare("namespace|pause", 3, ("admin",), NO_KEYS, "server",
         "Pauses a delivering namespace: its due messages wait, none is handed out or dropped, until RESUME.",
         "NAMESPACE PAUSE ns",
         forms=(NamespacePause,))  # fmt: skip
def _namespace_pause(name: str, request: Request) -> NamespacePause:
    return NamespacePause(namespace(request.args[2]))


@declare("namespace|resume", 3, ("admin",), NO_KEYS, "server",
         "Resumes a paused namespace: TAKE hands out its due messages again.",
         "NAMESPACE RESUME ns",
         forms=(NamespaceResume,))  # fmt: skip
def _namespace_resume(name: str, request: Request) -> NamespaceResume:
    return NamespaceResume(namespace(request.args[2]))


declare_container("namespace", (), "server",
                  "A container for namespace commands.",
                  "NAMESPACE subcommand [argument ...]")  # fmt: skip

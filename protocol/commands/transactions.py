"""Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH."""

from __future__ import annotations

from typing import ClassVar

from attrs import frozen

from protocol.commands.base import Command, Keyed
from protocol.commands.declaration import KEYS_ALL, NO_KEYS, declare
from protocol.commands.options import keys_and_ns
from protocol.request import Request

__all__ = ["Discard", "Exec", "Multi", "Unwatch", "Watch"]


@frozen
class Multi(Command):
    """``MULTI``: queue the following commands until EXEC."""

    name: ClassVar[str] = "multi"


@frozen
class Exec(Command):
    """``EXEC``: run the queued commands as one transaction."""

    name: ClassVar[str] = "exec"


@frozen
class Discard(Command):
    """``DISCARD``: drop the queued commands."""

    name: ClassVar[str] = "discard"


@frozen
class Watch(Keyed):
    """``WATCH key [key ...] [FROM ns]``: EXEC applies nothing if one of them changes first."""

    name: ClassVar[str] = "watch"
    keys: tuple[bytes, ...]
    ns: str | None = None


@frozen
class Unwatch(Command):
    """``UNWATCH``: forget every watched key."""

    name: ClassVar[str] = "unwatch"


_CONTROL = ("noscript", "loading", "stale", "fast", "allow_busy")
_FORMS: dict[str, type[Command]] = {"multi": Multi, "exec": Exec, "discard": Discard, "unwatch": Unwatch}


@declare("multi", 1, _CONTROL, NO_KEYS, "transactions",
         "Starts a transaction: the following commands are queued until EXEC.",
         "MULTI",
         forms=(Multi,))  # fmt: skip
@declare("exec", 1, ("noscript", "loading", "stale", "skip_slowlog"), NO_KEYS, "transactions",
         "Runs the queued commands as one transaction: all of them are applied, or none.",
         "EXEC",
         forms=(Exec,))  # fmt: skip
@declare("discard", 1, _CONTROL, NO_KEYS, "transactions",
         "Drops the queued commands of a transaction.",
         "DISCARD",
         forms=(Discard,))  # fmt: skip
@declare("unwatch", 1, _CONTROL, NO_KEYS, "transactions",
         "Forgets every watched key.",
         "UNWATCH",
         forms=(Unwatch,))  # fmt: skip
def _control(name: str, request: Request) -> Command:
    return _FORMS[name]()


@declare("watch", -2, _CONTROL, KEYS_ALL, "transactions",
         "Makes the next EXEC apply nothing if one of these keys changes before it.",
         "WATCH key [key ...] [FROM ns]",
         forms=(Watch,))  # fmt: skip
def _watch(name: str, request: Request) -> Watch:
    keys, ns = keys_and_ns(request.args[1:])
    return Watch(keys, ns=ns)

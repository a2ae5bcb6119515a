"""Scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT LOAD|EXISTS|FLUSH|KILL.

A script names the keys it touches (``numkeys`` of them, its ``KEYS``); the rest of its arguments
are ``ARGV``. Scripts run in the connection's namespace (a ``FROM`` inside a ``redis.call`` names
another): EVAL takes no ``FROM`` of its own, since its trailing arguments are values.
"""

from __future__ import annotations

import re
from typing import ClassVar

from attrs import frozen

from protocol import errors
from protocol.commands.base import Command, Keyed
from protocol.commands.declaration import NO_KEYS, declare, declare_container
from protocol.request import Request
from protocol.values import keyword, parse_int

__all__ = ["Eval", "Evalsha", "ScriptExists", "ScriptFlush", "ScriptKill", "ScriptLoad"]

_SHA1 = re.compile(rb"[0-9a-fA-F]{40}")


@frozen
class Eval(Keyed):
    """``EVAL script numkeys [key ...] [arg ...]`` (``EVAL_RO``: ``readonly``)."""

    name: ClassVar[str] = "eval"
    script: bytes
    keys: tuple[bytes, ...]
    args: tuple[bytes, ...]
    readonly: bool = False


@frozen
class Evalsha(Keyed):
    """``EVALSHA sha1 numkeys [key ...] [arg ...]``: a script already cached (``EVALSHA_RO``)."""

    name: ClassVar[str] = "evalsha"
    sha: str  # lower case hex
    keys: tuple[bytes, ...]
    args: tuple[bytes, ...]
    readonly: bool = False


@frozen
class ScriptLoad(Command):
    """``SCRIPT LOAD script``: cache a script, answer its SHA1."""

    name: ClassVar[str] = "script|load"
    script: bytes


@frozen
class ScriptExists(Command):
    """``SCRIPT EXISTS sha1 [sha1 ...]``: 1 or 0 for each."""

    name: ClassVar[str] = "script|exists"
    shas: tuple[str, ...]


@frozen
class ScriptFlush(Command):
    """``SCRIPT FLUSH [ASYNC|SYNC]``: empty the script cache (both modes do it at once)."""

    name: ClassVar[str] = "script|flush"


@frozen
class ScriptKill(Command):
    """``SCRIPT KILL``: stop the running script that has not written."""

    name: ClassVar[str] = "script|kill"


def _keys_and_args(request: Request) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
    try:
        numkeys = parse_int(request.args[2])
    except errors.CommandError:
        raise errors.numkeys_not_integer() from None
    if numkeys < 0:
        raise errors.numkeys_negative()
    rest = request.args[3:]
    if numkeys > len(rest):
        raise errors.numkeys_too_large()
    return tuple(rest[:numkeys]), tuple(rest[numkeys:])


_SCRIPT_FLAGS = ("noscript", "skip_monitor", "may_replicate", "no_mandatory_keys", "stale", "movablekeys")
_SCRIPT_RO_FLAGS = ("noscript", "skip_monitor", "no_mandatory_keys", "stale", "readonly", "movablekeys")


@declare("eval", -3, _SCRIPT_FLAGS, NO_KEYS, "scripting",
         "Runs a Lua script atomically, in one write transaction over its keys' shards.",
         "EVAL script numkeys [key ...] [arg ...]",
         forms=(Eval,))  # fmt: skip
@declare("eval_ro", -3, _SCRIPT_RO_FLAGS, NO_KEYS, "scripting",
         "Runs a read-only Lua script.",
         "EVAL_RO script numkeys [key ...] [arg ...]",
         forms=(Eval,))  # fmt: skip
def _eval(name: str, request: Request) -> Eval:
    keys, args = _keys_and_args(request)
    return Eval(request.args[1], keys, args, readonly=name == "eval_ro")


@declare("evalsha", -3, _SCRIPT_FLAGS, NO_KEYS, "scripting",
         "Runs a cached Lua script by its SHA1.",
         "EVALSHA sha1 numkeys [key ...] [arg ...]",
         forms=(Evalsha,))  # fmt: skip
@declare("evalsha_ro", -3, _SCRIPT_RO_FLAGS, NO_KEYS, "scripting",
         "Runs a cached read-only Lua script by its SHA1.",
         "EVALSHA_RO sha1 numkeys [key ...] [arg ...]",
         forms=(Evalsha,))  # fmt: skip
def _evalsha(name: str, request: Request) -> Evalsha:
    keys, args = _keys_and_args(request)
    return Evalsha(_sha(request.args[1]), keys, args, readonly=name == "evalsha_ro")


def _sha(token: bytes) -> str:
    """A SHA1 as the cache keys it; anything else is a SHA no script has."""
    return token.decode().lower() if _SHA1.fullmatch(token) else token.decode("latin-1")


_SCRIPT_SUB = ("noscript", "stale")


@declare("script|load", 3, _SCRIPT_SUB, NO_KEYS, "scripting",
         "Caches a script without running it; answers its SHA1.",
         "SCRIPT LOAD script",
         forms=(ScriptLoad,))  # fmt: skip
def _script_load(name: str, request: Request) -> ScriptLoad:
    return ScriptLoad(request.args[2])


@declare("script|exists", -3, _SCRIPT_SUB, NO_KEYS, "scripting",
         "Tells, for each SHA1, whether the script cache holds it.",
         "SCRIPT EXISTS sha1 [sha1 ...]",
         forms=(ScriptExists,))  # fmt: skip
def _script_exists(name: str, request: Request) -> ScriptExists:
    return ScriptExists(tuple(_sha(token) for token in request.args[2:]))


@declare("script|flush", -2, _SCRIPT_SUB, NO_KEYS, "scripting",
         "Empties the script cache.",
         "SCRIPT FLUSH [ASYNC|SYNC]",
         forms=(ScriptFlush,))  # fmt: skip
def _script_flush(name: str, request: Request) -> ScriptFlush:
    if len(request.args) > 3 or (len(request.args) == 3 and keyword(request.args[2]) not in ("async", "sync")):
        raise errors.script_flush_syntax()
    return ScriptFlush()


@declare("script|kill", 2, ("noscript", "allow_busy"), NO_KEYS, "scripting",
         "Stops the running script, if it has not written yet.",
         "SCRIPT KILL",
         forms=(ScriptKill,))  # fmt: skip
def _script_kill(name: str, request: Request) -> ScriptKill:
    return ScriptKill()


declare_container("script", (), "scripting",
                  "A container for Lua scripts management commands.",
                  "SCRIPT subcommand [argument ...]")  # fmt: skip

"""Commands about the server: COMMAND ..., CONFIG ..., INFO, SLOWLOG ..., LATENCY ..., TIME, LASTSAVE,
MEMORY USAGE, SHUTDOWN.

COMMAND answers from the declarations themselves (``protocol.commands.declaration``), and
COMMAND GETKEYS parses the command it is given with that command's own parser, so the keys it
answers are the keys the command would touch. Their handlers are in ``mi.commands.server``.
"""

from __future__ import annotations

from typing import ClassVar

from attrs import frozen

from protocol import errors
from protocol.commands.base import Command, Keyed
from protocol.commands.declaration import CONNECTION_FLAGS, DECLARATIONS, NO_KEYS, declare, declare_container
from protocol.errors import CommandError
from protocol.grammar_names import namespace
from protocol.request import Request
from protocol.values import keyword, parse_int

__all__ = [
    "CommandCount",
    "CommandDocs",
    "CommandGetkeys",
    "CommandInfo",
    "CommandList",
    "ConfigGet",
    "ConfigResetstat",
    "ConfigSet",
    "Info",
    "Lastsave",
    "LatencyHistory",
    "LatencyLatest",
    "LatencyReset",
    "MemoryUsage",
    "Shutdown",
    "SlowlogGet",
    "SlowlogLen",
    "SlowlogReset",
    "Time",
    "Wait",
]


@frozen
class CommandList(Command):
    """``COMMAND`` with no subcommand: details of every command."""

    name: ClassVar[str] = "command"


@frozen
class CommandCount(Command):
    """``COMMAND COUNT``."""

    name: ClassVar[str] = "command|count"


@frozen
class CommandDocs(Command):
    """``COMMAND DOCS [name ...]``; no names means every command."""

    name: ClassVar[str] = "command|docs"
    names: tuple[str, ...] = ()


@frozen
class CommandInfo(Command):
    """``COMMAND INFO [name ...]``; no names means every command."""

    name: ClassVar[str] = "command|info"
    names: tuple[str, ...] = ()


@frozen
class CommandGetkeys(Command):
    """``COMMAND GETKEYS command [arg ...]``: ``target`` is that command, parsed; its keys answer."""

    name: ClassVar[str] = "command|getkeys"
    target: Keyed


@frozen
class ConfigGet(Command):
    """``CONFIG GET pattern [pattern ...]``."""

    name: ClassVar[str] = "config|get"
    patterns: tuple[bytes, ...]


@frozen
class ConfigSet(Command):
    """``CONFIG SET parameter value [parameter value ...]``: all applied, or none; names lowercased."""

    name: ClassVar[str] = "config|set"
    pairs: tuple[tuple[str, bytes], ...]


@frozen
class ConfigResetstat(Command):
    """``CONFIG RESETSTAT``: the statistics INFO shows start again from zero."""

    name: ClassVar[str] = "config|resetstat"


@frozen
class Info(Command):
    """``INFO [section ...]``; sections lowercased, none means the default set."""

    name: ClassVar[str] = "info"
    sections: tuple[str, ...] = ()


@frozen
class SlowlogGet(Command):
    """``SLOWLOG GET [count]``: the newest slow commands (default 10; -1: all kept)."""

    name: ClassVar[str] = "slowlog|get"
    count: int = 10


@frozen
class SlowlogLen(Command):
    """``SLOWLOG LEN``."""

    name: ClassVar[str] = "slowlog|len"


@frozen
class SlowlogReset(Command):
    """``SLOWLOG RESET``."""

    name: ClassVar[str] = "slowlog|reset"


@frozen
class LatencyLatest(Command):
    """``LATENCY LATEST``: each event's latest and worst spike."""

    name: ClassVar[str] = "latency|latest"


@frozen
class LatencyHistory(Command):
    """``LATENCY HISTORY event``: the event's spikes, a sample a second."""

    name: ClassVar[str] = "latency|history"
    event: str


@frozen
class LatencyReset(Command):
    """``LATENCY RESET [event ...]``; no events means all of them."""

    name: ClassVar[str] = "latency|reset"
    events: tuple[str, ...] = ()


@frozen
class Shutdown(Command):
    """``SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]``: ``save`` None when neither is given.
    NOW has nothing to skip (mi waits for no replica) and is accepted."""

    name: ClassVar[str] = "shutdown"
    save: bool | None = None
    force: bool = False
    abort: bool = False


@frozen
class Time(Command):
    """``TIME``: the server's clock, as unix seconds and the microseconds within the second."""

    name: ClassVar[str] = "time"


@frozen
class Wait(Command):
    """``WAIT numreplicas timeout``: mi has no replicas yet, so it answers 0 at once."""

    name: ClassVar[str] = "wait"


@frozen
class Lastsave(Command):
    """``LASTSAVE``: when the last snapshot finished (unix seconds), or the server started."""

    name: ClassVar[str] = "lastsave"


@frozen
class MemoryUsage(Keyed):
    """``MEMORY USAGE key [SAMPLES count] [FROM ns]``: the bytes the key's record takes in its
    store. ``SAMPLES`` is read and needs no use: a record is measured whole."""

    name: ClassVar[str] = "memory|usage"
    key: bytes
    ns: str | None = None


# --- COMMAND ----------------------------------------------------------------------------------

_SERVING = ("loading", "stale")


@declare("command|count", 2, _SERVING, NO_KEYS, "server",
         "Returns the number of commands.",
         "COMMAND COUNT",
         forms=(CommandCount,))  # fmt: skip
def _command_count(name: str, request: Request) -> CommandCount:
    return CommandCount()


@declare("command|docs", -2, _SERVING, NO_KEYS, "server",
         "Returns documentary information about one, several or all commands.",
         "COMMAND DOCS [command-name ...]",
         forms=(CommandDocs,))  # fmt: skip
def _command_docs(name: str, request: Request) -> CommandDocs:
    return CommandDocs(tuple(keyword(arg) for arg in request.args[2:]))


@declare("command|info", -2, _SERVING, NO_KEYS, "server",
         "Returns information about one, several or all commands.",
         "COMMAND INFO [command-name ...]",
         forms=(CommandInfo,))  # fmt: skip
def _command_info(name: str, request: Request) -> CommandInfo:
    return CommandInfo(tuple(keyword(arg) for arg in request.args[2:]))


@declare("command|getkeys", -3, _SERVING, NO_KEYS, "server",
         "Extracts the key names from an arbitrary command.",
         "COMMAND GETKEYS command [arg ...]",
         forms=(CommandGetkeys,))  # fmt: skip
def _command_getkeys(name: str, request: Request) -> CommandGetkeys:
    # Redis's checks, in its order: a known command (a container's subcommand included), one
    # with keys, the arity. Then the command's own grammar, whose errors answer as they would.
    args = request.args[2:]
    target = DECLARATIONS.get(keyword(args[0]))
    if target is not None and target.subcommands and len(args) > 1:
        full = f"{target.name}|{keyword(args[1])}"
        target = next((sub for sub in target.subcommands if sub.name == full), None)
    if target is None:
        raise errors.getkeys_unknown_command()
    if not target.first_key and "movablekeys" not in target.flags:  # EVAL's keys follow numkeys
        raise errors.getkeys_no_keys()
    if not target.accepts(len(args)):
        raise errors.getkeys_wrong_arity()
    quoted = frozenset(i - 2 for i in request.quoted if i >= 2)
    command = target.parse(target.name, Request(args, quoted))
    if not isinstance(command, Keyed):  # a declaration with key positions parses to Keyed forms
        raise errors.getkeys_no_keys()
    return CommandGetkeys(command)


declare_container("command", _SERVING, "server",
                  "Returns details about every command.",
                  "COMMAND",
                  alone=CommandList)  # fmt: skip


# --- CONFIG, INFO, SLOWLOG --------------------------------------------------------------------


@declare("config|get", -3, ("admin", *CONNECTION_FLAGS), NO_KEYS, "server",
         "Returns the effective values of configuration parameters.",
         "CONFIG GET parameter [parameter ...]",
         forms=(ConfigGet,))  # fmt: skip
def _config_get(name: str, request: Request) -> ConfigGet:
    return ConfigGet(request.args[2:])


@declare("config|set", -4, ("admin", *CONNECTION_FLAGS), NO_KEYS, "server",
         "Sets configuration parameters at run time (until the server restarts).",
         "CONFIG SET parameter value [parameter value ...]",
         forms=(ConfigSet,))  # fmt: skip
def _config_set(name: str, request: Request) -> ConfigSet:
    args = request.args[2:]
    if len(args) % 2:
        raise errors.wrong_arity(name)
    pairs = tuple((keyword(args[i]), args[i + 1]) for i in range(0, len(args), 2))
    seen: set[str] = set()
    for parameter, _value in pairs:
        if parameter in seen:
            raise errors.config_set_failed(parameter, "duplicate parameter")
        seen.add(parameter)
    return ConfigSet(pairs)


@declare("config|resetstat", 2, ("admin", *CONNECTION_FLAGS), NO_KEYS, "server",
         "Resets the server's statistics (commands, errors, connections, keyspace hits).",
         "CONFIG RESETSTAT",
         forms=(ConfigResetstat,))  # fmt: skip
def _config_resetstat(name: str, request: Request) -> ConfigResetstat:
    return ConfigResetstat()


declare_container("config", (), "server",
                  "A container for server configuration commands.",
                  "CONFIG subcommand [argument ...]")  # fmt: skip


@declare("info", -1, _SERVING, NO_KEYS, "server",
         "Returns information and statistics about the server.",
         "INFO [section ...]",
         forms=(Info,))  # fmt: skip
def _info(name: str, request: Request) -> Info:
    return Info(tuple(keyword(arg) for arg in request.args[1:]))


_ADMIN = ("admin", *_SERVING)


@declare("slowlog|get", -2, _ADMIN, NO_KEYS, "server",
         "Returns the newest entries of the slow log.",
         "SLOWLOG GET [count]",
         forms=(SlowlogGet,))  # fmt: skip
def _slowlog_get(name: str, request: Request) -> SlowlogGet:
    if len(request.args) == 2:
        return SlowlogGet()
    count = parse_int(request.args[2])
    if count < -1:
        raise CommandError("ERR", "count should be greater than or equal to -1")
    return SlowlogGet(count)


@declare("slowlog|len", 2, _ADMIN, NO_KEYS, "server",
         "Returns how many entries the slow log holds.",
         "SLOWLOG LEN",
         forms=(SlowlogLen,))  # fmt: skip
def _slowlog_len(name: str, request: Request) -> SlowlogLen:
    return SlowlogLen()


@declare("slowlog|reset", 2, _ADMIN, NO_KEYS, "server",
         "Empties the slow log.",
         "SLOWLOG RESET",
         forms=(SlowlogReset,))  # fmt: skip
def _slowlog_reset(name: str, request: Request) -> SlowlogReset:
    return SlowlogReset()


declare_container("slowlog", (), "server",
                  "A container for slow log commands.",
                  "SLOWLOG subcommand [argument ...]")  # fmt: skip


@declare("latency|latest", 2, _ADMIN, NO_KEYS, "server",
         "Returns the latest and the worst latency spike of each event.",
         "LATENCY LATEST",
         forms=(LatencyLatest,))  # fmt: skip
def _latency_latest(name: str, request: Request) -> LatencyLatest:
    return LatencyLatest()


@declare("latency|history", 3, _ADMIN, NO_KEYS, "server",
         "Returns an event's latency spikes, a sample a second.",
         "LATENCY HISTORY event",
         forms=(LatencyHistory,))  # fmt: skip
def _latency_history(name: str, request: Request) -> LatencyHistory:
    return LatencyHistory(keyword(request.args[2]))


@declare("latency|reset", -2, _ADMIN, NO_KEYS, "server",
         "Forgets the latency spikes of some events, or of all of them.",
         "LATENCY RESET [event ...]",
         forms=(LatencyReset,))  # fmt: skip
def _latency_reset(name: str, request: Request) -> LatencyReset:
    return LatencyReset(tuple(keyword(arg) for arg in request.args[2:]))


declare_container("latency", (), "server",
                  "A container for latency diagnostics commands.",
                  "LATENCY subcommand [argument ...]")  # fmt: skip


# --- TIME, LASTSAVE, MEMORY, SHUTDOWN ---------------------------------------------------------------------


@declare("time", 1, ("loading", "stale", "fast"), NO_KEYS, "server",
         "Returns the server time.",
         "TIME",
         forms=(Time,))  # fmt: skip
def _time(name: str, request: Request) -> Time:
    return Time()


@declare("wait", 3, ("noscript",), NO_KEYS, "generic",
         "Waits for writes to reach replicas; mi has none yet, so it answers 0 at once.",
         "WAIT numreplicas timeout",
         forms=(Wait,))  # fmt: skip
def _wait(name: str, request: Request) -> Wait:
    parse_int(request.args[1])  # Redis's "not an integer" errors
    if parse_int(request.args[2]) < 0:
        raise errors.negative_timeout()
    return Wait()


@declare("lastsave", 1, ("loading", "stale", "fast"), NO_KEYS, "server",
         "Returns the Unix time of the last completed snapshot (the server's start if none since).",
         "LASTSAVE",
         forms=(Lastsave,))  # fmt: skip
def _lastsave(name: str, request: Request) -> Lastsave:
    return Lastsave()


@declare("memory|usage", -3, ("readonly",), (2, 2, 1), "server",
         "Returns the bytes a key and its record take in the store.",
         "MEMORY USAGE key [SAMPLES count] [FROM ns]",
         forms=(MemoryUsage,))  # fmt: skip
def _memory_usage(name: str, request: Request) -> MemoryUsage:
    args, ns, seen = request.args, None, set()
    i = 3
    while i < len(args):
        word = keyword(args[i])
        if word not in ("samples", "from") or word in seen or i + 1 >= len(args):
            raise errors.syntax_error()
        seen.add(word)
        if word == "samples" and parse_int(args[i + 1]) < 0:
            raise errors.syntax_error()
        if word == "from":
            ns = namespace(args[i + 1])
        i += 2
    return MemoryUsage(args[2], ns=ns)


declare_container("memory", (), "server",
                  "A container for memory diagnostics commands.",
                  "MEMORY subcommand [argument ...]")  # fmt: skip


@declare("shutdown", -1, ("admin", "noscript", "loading", "stale", "no_multi", "allow_busy"), NO_KEYS, "server",
         "Stops the server after its connections are answered; SAVE takes a snapshot first.",
         "SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]",
         forms=(Shutdown,))  # fmt: skip
def _shutdown(name: str, request: Request) -> Shutdown:
    words = [keyword(arg) for arg in request.args[1:]]
    if any(word not in ("nosave", "save", "now", "force", "abort") for word in words):
        raise errors.syntax_error()
    if ("nosave" in words and "save" in words) or ("abort" in words and len(words) > 1):
        raise errors.syntax_error()
    save = True if "save" in words else False if "nosave" in words else None
    return Shutdown(save, force="force" in words, abort="abort" in words)

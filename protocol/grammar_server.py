"""Grammar of the connection and server commands: HELLO, CLIENT, COMMAND, CONFIG, INFO, PING...

These are the handshakes stock clients send (redis-py, redis-cli, redis-benchmark), so they
follow Redis 7 closely, error texts included. ``protocol.grammar`` merges ``SERVER_PARSERS`` into
its table; arity of the top-level name is checked there, arity of a subcommand
(``CLIENT SETNAME``) here, against the ``subcommands`` of its ``CommandSpec``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from protocol import errors
from protocol.commands import (
    Auth,
    ClientKill,
    ClientList,
    ClientNoEvict,
    ClientTyped,
    COMMAND_SPECS,
    ClientGetname,
    ClientId,
    ClientInfo,
    ClientSetinfo,
    ClientSetname,
    Command,
    CommandCount,
    CommandDocs,
    CommandInfo,
    CommandList,
    CommandSpec,
    ConfigGet,
    Echo,
    Hello,
    Info,
    Journal,
    Monitor,
    NamespaceConfigGet,
    NamespaceConfigSet,
    NamespaceInfo,
    SlowlogGet,
    SlowlogLen,
    SlowlogReset,
    Snapshot,
    SnapshotStatus,
    Ping,
    Quit,
)
from protocol.errors import CommandError
from protocol.request import Request
from protocol.grammar_names import namespace
from protocol.values import keyword, parse_int, parse_uint

__all__ = ["SERVER_PARSERS", "SUBCOMMAND_PARSERS", "Parser"]

Parser = Callable[[str, Request], Command]
"""A parse function: (lowercase command name, request) -> command. Arity is already checked."""

_CLIENT_ATTRIBUTES = frozenset({"lib-name", "lib-ver"})

_SERVER: dict[str, Parser] = {}
_SUB: dict[str, Parser] = {}


def _parser(table: dict[str, Parser], name: str) -> Callable[[Parser], Parser]:
    def register(parse: Parser) -> Parser:
        table[name] = parse
        return parse

    return register


def _printable(token: bytes) -> bool:
    """Redis's rule for client names and library info: only '!'..'~', so CLIENT LIST stays
    splittable on spaces. Empty is allowed (it clears the name)."""
    return all(0x21 <= byte <= 0x7E for byte in token)


def _client_name(token: bytes) -> bytes:
    if not _printable(token):
        raise errors.invalid_client_name()
    return token


# --- containers -------------------------------------------------------------------------------


def _subcommand_specs() -> dict[str, CommandSpec]:
    return {sub.name: sub for spec in COMMAND_SPECS.values() for sub in spec.subcommands}


_SUB_SPECS = _subcommand_specs()


def _dispatch(name: str, request: Request) -> Command:
    """``CONTAINER sub ...``: find the subcommand, check its arity, parse it."""
    full = f"{name}|{keyword(request.args[1])}"
    spec = _SUB_SPECS.get(full)
    parse = _SUB.get(full)
    if spec is None or parse is None:
        known = [sub.split("|", 1)[1] for sub in _SUB_SPECS if sub.startswith(f"{name}|")]
        raise errors.unknown_subcommand(name, request.args[1], known)
    if not spec.accepts(len(request.args)):
        raise errors.wrong_arity(spec.name)
    return parse(full, request)


_SERVER["client"] = _dispatch
_SERVER["config"] = _dispatch
_SERVER["namespace"] = _dispatch
_SERVER["slowlog"] = _dispatch


@_parser(_SERVER, "command")
def _command(name: str, request: Request) -> Command:
    if len(request.args) == 1:
        return CommandList()
    return _dispatch(name, request)


# --- HELLO ------------------------------------------------------------------------------------


@_parser(_SERVER, "hello")
def _hello(name: str, request: Request) -> Command:
    args = request.args
    if len(args) == 1:
        return Hello()
    try:
        protover = parse_int(args[1])
    except CommandError:
        raise errors.invalid_protocol_version() from None
    username = password = client_name = None
    i = 2
    while i < len(args):
        word = keyword(args[i])
        remaining = len(args) - 1 - i
        if word == "auth" and remaining >= 2:
            username, password = args[i + 1], args[i + 2]
            i += 3
        elif word == "setname" and remaining >= 1:
            client_name = _client_name(args[i + 1])
            i += 2
        else:
            raise errors.hello_syntax_error(args[i])
    return Hello(protover, username=username, password=password, client_name=client_name)


# --- subcommands ------------------------------------------------------------------------------


@_parser(_SUB, "client|setinfo")
def _client_setinfo(name: str, request: Request) -> Command:
    attribute, value = request.args[2], request.args[3]
    lowered = keyword(attribute)
    if lowered not in _CLIENT_ATTRIBUTES:
        raise errors.unrecognized_option(attribute)
    if not _printable(value):
        raise errors.invalid_client_attribute(attribute)
    return ClientSetinfo(lowered, value)


@_parser(_SUB, "client|setname")
def _client_setname(name: str, request: Request) -> Command:
    return ClientSetname(_client_name(request.args[2]))


@_parser(_SUB, "client|getname")
def _client_getname(name: str, request: Request) -> Command:
    return ClientGetname()


@_parser(_SUB, "client|id")
def _client_id(name: str, request: Request) -> Command:
    return ClientId()


@_parser(_SUB, "client|info")
def _client_info(name: str, request: Request) -> Command:
    return ClientInfo()


@_parser(_SUB, "client|list")
def _client_list(name: str, request: Request) -> Command:
    return ClientList()


MAX_ADDRESS = 128  # longer than any ip:port; a longer argument is cut (one byte over) before decoding


def _address(token: bytes) -> str:
    """CLIENT KILL's ip:port; a longer token still matches no connection, decoded cheaply."""
    return token[: MAX_ADDRESS + 1].decode("utf-8", "replace")


@_parser(_SUB, "client|kill")
def _client_kill(name: str, request: Request) -> Command:
    args = request.args
    if len(args) == 3:
        return ClientKill(addr=_address(args[2]), old_form=True)
    if len(args) == 4:
        word = keyword(args[2])
        if word == "id":
            client_id = parse_uint(args[3])
            if client_id is None:
                raise errors.not_integer()
            return ClientKill(client_id=client_id)
        if word == "addr":
            return ClientKill(addr=_address(args[3]))
    raise errors.syntax_error()


@_parser(_SUB, "client|no-evict")
def _client_no_evict(name: str, request: Request) -> Command:
    word = keyword(request.args[2])
    if word not in ("on", "off"):
        raise errors.syntax_error()
    return ClientNoEvict(word == "on")


@_parser(_SUB, "client|typed")
def _client_typed(name: str, request: Request) -> Command:
    word = keyword(request.args[2])
    if word not in ("on", "off"):
        raise errors.syntax_error()
    return ClientTyped(word == "on")


@_parser(_SUB, "command|count")
def _command_count(name: str, request: Request) -> Command:
    return CommandCount()


@_parser(_SUB, "command|docs")
def _command_docs(name: str, request: Request) -> Command:
    return CommandDocs(tuple(keyword(arg) for arg in request.args[2:]))


@_parser(_SUB, "command|info")
def _command_info(name: str, request: Request) -> Command:
    return CommandInfo(tuple(keyword(arg) for arg in request.args[2:]))


@_parser(_SUB, "config|get")
def _config_get(name: str, request: Request) -> Command:
    return ConfigGet(request.args[2:])


# --- simple commands --------------------------------------------------------------------------


@_parser(_SERVER, "info")
def _info(name: str, request: Request) -> Command:
    return Info(tuple(keyword(arg) for arg in request.args[1:]))


@_parser(_SERVER, "auth")
def _auth(name: str, request: Request) -> Command:
    args = request.args
    if len(args) > 3:
        raise errors.syntax_error()
    return Auth(args[1], args[2]) if len(args) == 3 else Auth(None, args[1])


@_parser(_SERVER, "ping")
def _ping(name: str, request: Request) -> Command:
    args = request.args
    if len(args) > 2:
        raise errors.wrong_arity(name)
    return Ping(args[1] if len(args) == 2 else None)


@_parser(_SERVER, "echo")
def _echo(name: str, request: Request) -> Command:
    return Echo(request.args[1])


MAX_JOURNAL_COUNT = 10_000  # entries one JOURNAL call may return


@_parser(_SERVER, "journal")
def _journal(name: str, request: Request) -> Command:
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


@_parser(_SERVER, "snapshot")
def _snapshot(name: str, request: Request) -> Command:
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


@_parser(_SUB, "slowlog|get")
def _slowlog_get(name: str, request: Request) -> Command:
    if len(request.args) == 2:
        return SlowlogGet()
    count = parse_int(request.args[2])
    if count < -1:
        raise CommandError("ERR", "count should be greater than or equal to -1")
    return SlowlogGet(count)


@_parser(_SUB, "slowlog|len")
def _slowlog_len(name: str, request: Request) -> Command:
    return SlowlogLen()


@_parser(_SUB, "slowlog|reset")
def _slowlog_reset(name: str, request: Request) -> Command:
    return SlowlogReset()


@_parser(_SUB, "namespace|info")
def _namespace_info(name: str, request: Request) -> Command:
    return NamespaceInfo(namespace(request.args[2]))


@_parser(_SUB, "namespace|config")
def _namespace_config(name: str, request: Request) -> Command:
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


@_parser(_SERVER, "monitor")
def _monitor(name: str, request: Request) -> Command:
    return Monitor()


@_parser(_SERVER, "quit")
def _quit(name: str, request: Request) -> Command:
    # Redis 7 declares QUIT with arity -1 and ignores any arguments.
    return Quit()


SERVER_PARSERS: Mapping[str, Parser] = MappingProxyType(_SERVER)
"""Top-level connection and server commands, by name."""

SUBCOMMAND_PARSERS: Mapping[str, Parser] = MappingProxyType(_SUB)
"""Subcommands of CLIENT, COMMAND and CONFIG, by Redis full name (``client|setname``)."""

"""The connection's own commands: HELLO, AUTH, CLIENT ..., PING, ECHO, QUIT, RESET.

These are the handshakes stock clients send (redis-py, redis-cli, redis-benchmark), so they
follow Redis 7 closely, error texts included. Their handlers are in ``mi.commands.server``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from attrs import field, frozen

from protocol import errors
from protocol.commands.base import Command
from protocol.commands.declaration import ALWAYS_FLAGS, CONNECTION_FLAGS, NO_KEYS, declare, declare_container
from protocol.errors import CommandError
from protocol.request import Request
from protocol.values import keyword, parse_int, parse_uint

__all__ = [
    "Auth",
    "ClientGetname",
    "ClientId",
    "ClientInfo",
    "ClientKill",
    "ClientList",
    "ClientNoEvict",
    "ClientNoTouch",
    "ClientPause",
    "ClientSetinfo",
    "ClientSetname",
    "ClientTyped",
    "ClientUnblock",
    "ClientUnpause",
    "Echo",
    "Hello",
    "Ping",
    "Quit",
    "Reset",
]


@frozen
class Hello(Command):
    """``HELLO [protover [AUTH username password] [SETNAME clientname]]``.

    Any integer ``protover`` parses; the server answers ``NOPROTO`` for versions other than 2, 3.
    """

    name: ClassVar[str] = "hello"
    protover: int | None = None
    username: bytes | None = None
    password: bytes | None = field(default=None, repr=False)
    client_name: bytes | None = None


@frozen
class Auth(Command):
    """``AUTH [username] password`` (no username: the default user)."""

    name: ClassVar[str] = "auth"
    username: bytes | None
    password: bytes = field(repr=False)


@frozen
class ClientSetinfo(Command):
    """``CLIENT SETINFO LIB-NAME|LIB-VER value``; ``attribute`` is ``lib-name`` or ``lib-ver``."""

    name: ClassVar[str] = "client|setinfo"
    attribute: str
    value: bytes


@frozen
class ClientSetname(Command):
    """``CLIENT SETNAME name`` (an empty name clears it)."""

    name: ClassVar[str] = "client|setname"
    client_name: bytes


@frozen
class ClientGetname(Command):
    """``CLIENT GETNAME``."""

    name: ClassVar[str] = "client|getname"


@frozen
class ClientId(Command):
    """``CLIENT ID``."""

    name: ClassVar[str] = "client|id"


@frozen
class ClientInfo(Command):
    """``CLIENT INFO``."""

    name: ClassVar[str] = "client|info"


CLIENT_TYPES = frozenset({"normal", "master", "replica", "slave", "pubsub"})  # Redis's; mi has no replicas yet


@frozen
class ClientList(Command):
    """``CLIENT LIST [TYPE type] [ID id [id ...]]``: one line per connection, those given only."""

    name: ClassVar[str] = "client|list"
    type: str | None = None
    ids: tuple[int, ...] = ()


@frozen
class ClientKill(Command):
    """``CLIENT KILL ip:port`` (Redis's old form, answers OK), or any of the filters ``ID n``,
    ``ADDR ip:port``, ``LADDR ip:port``, ``TYPE type``, ``USER name``, ``MAXAGE s``,
    ``SKIPME yes|no`` (default yes: never the connection that asks), all of which must match."""

    name: ClassVar[str] = "client|kill"
    client_id: int | None = None
    addr: str | None = None
    laddr: str | None = None
    type: str | None = None
    user: str | None = None
    max_age: int | None = None
    skip_me: bool = True
    old_form: bool = False


@frozen
class ClientNoEvict(Command):
    """``CLIENT NO-EVICT on|off``: accepted (mi evicts no clients)."""

    name: ClassVar[str] = "client|no-evict"
    on: bool


@frozen
class ClientNoTouch(Command):
    """``CLIENT NO-TOUCH on|off``: accepted (mi keeps no access times to leave alone)."""

    name: ClassVar[str] = "client|no-touch"
    on: bool


@frozen
class ClientUnblock(Command):
    """``CLIENT UNBLOCK client-id [TIMEOUT | ERROR]``: end that connection's blocking wait."""

    name: ClassVar[str] = "client|unblock"
    client_id: int
    with_error: bool = False


@frozen
class ClientTyped(Command):
    """``CLIENT TYPED on|off``: RESP2 reads of stored values keep their types (integers,
    ``:1``/``:0`` booleans) instead of answering bulk strings, on this connection."""

    name: ClassVar[str] = "client|typed"
    on: bool


@frozen
class ClientPause(Command):
    """``CLIENT PAUSE timeout [WRITE | ALL]``: hold clients' commands (only writes, with WRITE)
    for ``timeout_ms``."""

    name: ClassVar[str] = "client|pause"
    timeout_ms: int
    writes_only: bool = False


@frozen
class ClientUnpause(Command):
    """``CLIENT UNPAUSE``: end a pause now."""

    name: ClassVar[str] = "client|unpause"


@frozen
class Reset(Command):
    """``RESET``: the connection as new (no transaction, watches, subscriptions or monitor,
    RESP2, the default namespace, the default user); answers ``+RESET``."""

    name: ClassVar[str] = "reset"


@frozen
class Ping(Command):
    """``PING [message]``."""

    name: ClassVar[str] = "ping"
    message: bytes | None = None


@frozen
class Echo(Command):
    """``ECHO message``."""

    name: ClassVar[str] = "echo"
    message: bytes


@frozen
class Quit(Command):
    """``QUIT``: reply ``+OK``, then close."""

    name: ClassVar[str] = "quit"


def _printable(token: bytes) -> bool:
    """Redis's rule for client names and library info: only '!'..'~', so CLIENT LIST stays
    splittable on spaces. Empty is allowed (it clears the name)."""
    return all(0x21 <= byte <= 0x7E for byte in token)


def _client_name(token: bytes) -> bytes:
    if not _printable(token):
        raise errors.invalid_client_name()
    return token


@declare("hello", -1, ALWAYS_FLAGS, NO_KEYS, "connection",
         "Handshakes with the server: protocol version, authentication, client name.",
         "HELLO [protover [AUTH username password] [SETNAME clientname]]",
         forms=(Hello,))  # fmt: skip
def _hello(name: str, request: Request) -> Hello:
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


@declare("auth", -2, ("noscript", "loading", "stale", "fast", "no_auth", "allow_busy"), NO_KEYS, "connection",
         "Authenticates the connection.",
         "AUTH [username] password",
         forms=(Auth,))  # fmt: skip
def _auth(name: str, request: Request) -> Auth:
    args = request.args
    if len(args) > 3:
        raise errors.syntax_error()
    return Auth(args[1], args[2]) if len(args) == 3 else Auth(None, args[1])


@declare("ping", -1, ("fast",), NO_KEYS, "connection",
         "Returns PONG, or the message given.",
         "PING [message]",
         forms=(Ping,))  # fmt: skip
def _ping(name: str, request: Request) -> Ping:
    args = request.args
    if len(args) > 2:
        raise errors.wrong_arity(name)
    return Ping(args[1] if len(args) == 2 else None)


@declare("echo", 2, ("fast",), NO_KEYS, "connection",
         "Returns the message given.",
         "ECHO message",
         forms=(Echo,))  # fmt: skip
def _echo(name: str, request: Request) -> Echo:
    return Echo(request.args[1])


@declare("quit", -1, ALWAYS_FLAGS, NO_KEYS, "connection",
         "Closes the connection after replying OK.",
         "QUIT",
         forms=(Quit,))  # fmt: skip
def _quit(name: str, request: Request) -> Quit:
    # Redis 7 declares QUIT with arity -1 and ignores any arguments.
    return Quit()


@declare("reset", 1, ALWAYS_FLAGS, NO_KEYS, "connection",
         "Resets the connection: no transaction, watches, subscriptions, monitor; RESP2, the "
         "default namespace and user.",
         "RESET",
         forms=(Reset,))  # fmt: skip
def _reset(name: str, request: Request) -> Reset:
    return Reset()


# --- CLIENT -----------------------------------------------------------------------------------

_CLIENT_ATTRIBUTES = frozenset({"lib-name", "lib-ver"})
MAX_ADDRESS = 128  # longer than any ip:port; a longer argument is cut (one byte over) before decoding


@declare("client|setinfo", 4, CONNECTION_FLAGS, NO_KEYS, "connection",
         "Records the client library's name or version.",
         "CLIENT SETINFO LIB-NAME libname | LIB-VER libver",
         forms=(ClientSetinfo,))  # fmt: skip
def _client_setinfo(name: str, request: Request) -> ClientSetinfo:
    attribute, value = request.args[2], request.args[3]
    lowered = keyword(attribute)
    if lowered not in _CLIENT_ATTRIBUTES:
        raise errors.unrecognized_option(attribute)
    if not _printable(value):
        raise errors.invalid_client_attribute(attribute)
    return ClientSetinfo(lowered, value)


@declare("client|setname", 3, CONNECTION_FLAGS, NO_KEYS, "connection",
         "Sets the connection's name.",
         "CLIENT SETNAME connection-name",
         forms=(ClientSetname,))  # fmt: skip
def _client_setname(name: str, request: Request) -> ClientSetname:
    return ClientSetname(_client_name(request.args[2]))


_BARE: dict[str, type[Command]] = {
    "client|getname": ClientGetname,
    "client|id": ClientId,
    "client|info": ClientInfo,
}


@declare("client|getname", 2, CONNECTION_FLAGS, NO_KEYS, "connection",
         "Returns the connection's name.",
         "CLIENT GETNAME",
         forms=(ClientGetname,))  # fmt: skip
@declare("client|id", 2, CONNECTION_FLAGS, NO_KEYS, "connection",
         "Returns the connection's unique id.",
         "CLIENT ID",
         forms=(ClientId,))  # fmt: skip
@declare("client|info", 2, CONNECTION_FLAGS, NO_KEYS, "connection",
         "Returns information about the connection.",
         "CLIENT INFO",
         forms=(ClientInfo,))  # fmt: skip
def _client_bare(name: str, request: Request) -> Command:
    return _BARE[name]()


def _client_type(token: bytes) -> str:
    word = keyword(token)
    if word not in CLIENT_TYPES:
        raise CommandError("ERR", f"Unknown client type '{token[:64].decode('utf-8', 'replace')}'")
    return "replica" if word == "slave" else word


def _client_id(token: bytes) -> int:
    client_id = parse_uint(token)
    if client_id is None or client_id == 0:
        raise CommandError("ERR", "Invalid client ID")
    return client_id


@declare("client|list", -2, ("admin", *CONNECTION_FLAGS), NO_KEYS, "connection",
         "Lists the open connections, or those of a type or with the ids given.",
         "CLIENT LIST [TYPE NORMAL | MASTER | REPLICA | PUBSUB] [ID client-id [client-id ...]]",
         forms=(ClientList,))  # fmt: skip
def _client_list(name: str, request: Request) -> ClientList:
    args, kind, ids = request.args, None, ()
    i = 2
    while i < len(args):
        word = keyword(args[i])
        if word == "type" and i + 1 < len(args) and kind is None:
            kind, i = _client_type(args[i + 1]), i + 2
        elif word == "id" and i + 1 < len(args) and not ids:
            ids, i = tuple(_client_id(token) for token in args[i + 1 :]), len(args)
        else:
            raise errors.syntax_error()
    return ClientList(kind, ids)


def _address(token: bytes) -> str:
    """CLIENT KILL's ip:port; a longer token still matches no connection, decoded cheaply."""
    return token[: MAX_ADDRESS + 1].decode("utf-8", "replace")


@declare("client|kill", -3, ("admin", *CONNECTION_FLAGS), NO_KEYS, "connection",
         "Closes the connections that match every filter given (never this one, unless SKIPME no).",
         "CLIENT KILL ip:port | [ID client-id] [TYPE type] [USER username] [ADDR ip:port] "
         "[LADDR ip:port] [SKIPME yes|no] [MAXAGE seconds]",
         forms=(ClientKill,))  # fmt: skip
def _client_kill(name: str, request: Request) -> ClientKill:
    args = request.args
    if len(args) == 3:
        return ClientKill(addr=_address(args[2]), old_form=True)
    if len(args) % 2:
        raise errors.syntax_error()
    found: dict[str, Any] = {}
    for i in range(2, len(args), 2):
        word, value = keyword(args[i]), args[i + 1]
        if word == "id":
            found["client_id"] = _client_id(value)
        elif word in ("addr", "laddr"):
            found[word] = _address(value)
        elif word == "type":
            found["type"] = _client_type(value)
        elif word == "user":
            found["user"] = value[:MAX_ADDRESS].decode("utf-8", "replace")
        elif word == "maxage":
            found["max_age"] = parse_int(value)
        elif word == "skipme" and keyword(value) in ("yes", "no"):
            found["skip_me"] = keyword(value) == "yes"
        else:
            raise errors.syntax_error()
    return ClientKill(**found)


def _on_off(token: bytes) -> bool:
    word = keyword(token)
    if word not in ("on", "off"):
        raise errors.syntax_error()
    return word == "on"


@declare("client|no-evict", 3, CONNECTION_FLAGS, NO_KEYS, "connection",
         "Accepted for compatibility: mi evicts no clients.",
         "CLIENT NO-EVICT on|off",
         forms=(ClientNoEvict,))  # fmt: skip
def _client_no_evict(name: str, request: Request) -> ClientNoEvict:
    return ClientNoEvict(_on_off(request.args[2]))


@declare("client|no-touch", 3, CONNECTION_FLAGS, NO_KEYS, "connection",
         "Accepted for compatibility: mi keeps no access times for commands to touch.",
         "CLIENT NO-TOUCH on|off",
         forms=(ClientNoTouch,))  # fmt: skip
def _client_no_touch(name: str, request: Request) -> ClientNoTouch:
    return ClientNoTouch(_on_off(request.args[2]))


@declare("client|unblock", -3, ("admin", *CONNECTION_FLAGS), NO_KEYS, "connection",
         "Ends a connection's blocking wait (BLPOP, TAKE ... BLOCK...) as a timeout, or as an error.",
         "CLIENT UNBLOCK client-id [TIMEOUT | ERROR]",
         forms=(ClientUnblock,))  # fmt: skip
def _client_unblock(name: str, request: Request) -> ClientUnblock:
    args = request.args
    client_id = parse_uint(args[2])
    if client_id is None:
        raise errors.not_integer()
    if len(args) > 4 or (len(args) == 4 and keyword(args[3]) not in ("timeout", "error")):
        raise CommandError("ERR", "CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    return ClientUnblock(client_id, with_error=len(args) == 4 and keyword(args[3]) == "error")


@declare("client|typed", 3, CONNECTION_FLAGS, NO_KEYS, "connection",
         "RESP2 reads of stored values keep their types (integers, booleans as 1/0) "
         "instead of answering bulk strings, on this connection.",
         "CLIENT TYPED on|off",
         forms=(ClientTyped,))  # fmt: skip
def _client_typed(name: str, request: Request) -> ClientTyped:
    return ClientTyped(_on_off(request.args[2]))


@declare("client|pause", -3, ("admin", *CONNECTION_FLAGS), NO_KEYS, "connection",
         "Holds every client's commands (only writes, with WRITE) for some milliseconds.",
         "CLIENT PAUSE timeout [WRITE | ALL]",
         forms=(ClientPause,))  # fmt: skip
def _client_pause(name: str, request: Request) -> ClientPause:
    args = request.args
    if len(args) > 4:
        raise errors.syntax_error()
    try:
        timeout = parse_int(args[2])
    except CommandError:
        raise errors.invalid_timeout() from None
    if timeout < 0:
        raise errors.negative_timeout()
    mode = keyword(args[3]) if len(args) == 4 else "all"
    if mode not in ("write", "all"):
        raise errors.syntax_error()
    return ClientPause(timeout, writes_only=mode == "write")


@declare("client|unpause", 2, ("admin", *CONNECTION_FLAGS), NO_KEYS, "connection",
         "Ends a CLIENT PAUSE now.",
         "CLIENT UNPAUSE",
         forms=(ClientUnpause,))  # fmt: skip
def _client_unpause(name: str, request: Request) -> ClientUnpause:
    return ClientUnpause()


declare_container("client", (), "connection",
                  "A container for client connection commands.",
                  "CLIENT subcommand [argument ...]")  # fmt: skip

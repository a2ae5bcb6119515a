"""Connection and server commands stock clients send: HELLO, CLIENT, COMMAND, INFO, LATENCY, TIME,
LASTSAVE, MEMORY USAGE, SHUTDOWN, PING, ECHO, QUIT, RESET (declared in ``protocol.commands.connection``
and ``protocol.commands.server``; INFO's sections are in ``mi.commands.info_sections``, CONFIG is
in ``mi.commands.config``)."""

from __future__ import annotations

import time
from functools import cache
from typing import TYPE_CHECKING, Any

from mi.commands.base import REGISTRY
from mi.observability.logs import get_logger
from mi.commands.info_sections import (
    DEFAULT_SECTIONS,
    SECTIONS,
    VERSION,
    last_save,
    readable_namespaces,
)
from protocol import errors
from protocol.commands import (
    DECLARATIONS,
    Auth,
    ClientGetname,
    ClientId,
    ClientInfo,
    ClientKill,
    ClientList,
    ClientNoEvict,
    ClientNoTouch,
    ClientPause,
    ClientTyped,
    ClientSetinfo,
    ClientSetname,
    ClientUnblock,
    ClientUnpause,
    CommandCount,
    CommandDocs,
    CommandGetkeys,
    CommandInfo,
    CommandList,
    Declaration,
    Echo,
    Hello,
    Info,
    Lastsave,
    LatencyHistory,
    LatencyLatest,
    LatencyReset,
    MemoryUsage,
    Ping,
    Quit,
    Reset,
    Shutdown,
    SlowlogGet,
    SlowlogLen,
    SlowlogReset,
    Time,
    Wait,
)
from protocol.errors import CommandError
from protocol.replies import Frames, SetReply, SimpleString, Verbatim
from protocol.syntax import arguments
from storage import encode_record

log = get_logger("mi.commands")

if TYPE_CHECKING:
    from mi.core.keyspace import Keyspace
    from mi.core.state import Connection

__all__ = ["VERSION", "readable_namespaces"]  # beside the handlers, what other modules import

OK = SimpleString("OK")


@REGISTRY.task(Auth)
async def auth(session: Connection, command: Auth) -> SimpleString:
    user = await session.server.auth.authenticate(command.username, command.password, session.peer)
    session.authenticated(user)
    return OK


@REGISTRY.task(Hello)
async def hello(session: Connection, command: Hello) -> dict[str, Any]:
    if command.protover is not None and command.protover not in (2, 3):
        raise errors.no_such_protocol()
    if command.password is not None:
        user = await session.server.auth.authenticate(command.username, command.password, session.peer)
        session.authenticated(user)
    elif session.user is None:
        raise errors.noauth_hello()
    if command.protover is not None:
        session.resp = command.protover
    if command.client_name is not None:
        session.client_name = command.client_name
    return {
        "server": "mi",
        "version": VERSION,
        "proto": session.resp,
        "id": session.client_id,
        "mode": "standalone",
        "role": "master",
        "modules": [],
    }


@REGISTRY.connection(ClientSetinfo)
def client_setinfo(session: Connection, command: ClientSetinfo) -> SimpleString:
    session.library[command.attribute] = command.value.decode("utf-8", "replace")
    return OK


@REGISTRY.connection(ClientSetname)
def client_setname(session: Connection, command: ClientSetname) -> SimpleString:
    session.client_name = command.client_name or None  # an empty name removes it, as in Redis
    return OK


@REGISTRY.connection(ClientGetname)
def client_getname(session: Connection, command: ClientGetname) -> bytes | None:
    return session.client_name


@REGISTRY.connection(ClientId)
def client_id(session: Connection, command: ClientId) -> int:
    return session.client_id


@REGISTRY.connection(ClientInfo)
def client_info(session: Connection, command: ClientInfo) -> str:
    return session.describe() + "\n"


def _client_type(connection: Connection) -> str:
    """Redis's client types; mi has no replicas yet, so a connection is pubsub or normal."""
    return "pubsub" if connection.subscriber is not None and connection.subscriber.count else "normal"


@REGISTRY.connection(ClientList)
def client_list(session: Connection, command: ClientList) -> str:
    shown = [
        other
        for other in session.server.sessions.values()
        if (command.type is None or _client_type(other) == command.type)
        and (not command.ids or other.client_id in command.ids)
    ]
    return "".join(other.describe() + "\n" for other in shown)


def _killed_by(command: ClientKill, other: Connection, asking: Connection) -> bool:
    """Whether ``other`` matches every filter of ``command`` (the old form: its address)."""
    if command.old_form:
        return other.peer == command.addr
    user = None if other.user is None else other.user.name
    return (
        (command.client_id is None or other.client_id == command.client_id)
        and (command.addr is None or other.peer == command.addr)
        and (command.laddr is None or other.local == command.laddr)
        and (command.type is None or _client_type(other) == command.type)
        and (command.user is None or user == command.user)
        and (command.max_age is None or time.time() - other.opened_at >= command.max_age)
        and not (command.skip_me and other is asking)
    )


@REGISTRY.connection(ClientKill)
def client_kill(session: Connection, command: ClientKill) -> int | SimpleString:
    """Close the matching connections once they have answered what they are running."""
    doomed = [other for other in session.server.sessions.values() if _killed_by(command, other, session)]
    for other in doomed:
        other.kill()
    if command.old_form:
        if not doomed:
            raise CommandError("ERR", "No such client")
        return OK
    return len(doomed)


@REGISTRY.connection(ClientNoEvict)
def client_no_evict(session: Connection, command: ClientNoEvict) -> SimpleString:
    return OK


@REGISTRY.connection(ClientPause)
def client_pause(session: Connection, command: ClientPause) -> SimpleString:
    session.server.pause.start(command.timeout_ms, command.writes_only)
    return OK


@REGISTRY.connection(ClientUnpause)
def client_unpause(session: Connection, command: ClientUnpause) -> SimpleString:
    session.server.pause.lift()
    return OK


@REGISTRY.connection(ClientNoTouch)
def client_no_touch(session: Connection, command: ClientNoTouch) -> SimpleString:
    return OK


@REGISTRY.connection(ClientUnblock)
def client_unblock(session: Connection, command: ClientUnblock) -> int:
    """1 if that connection was in a blocking wait and now is not, else 0."""
    other = session.server.sessions.get(command.client_id)
    return int(other is not None and other.unblock(command.with_error))


@REGISTRY.connection(ClientTyped)
def client_typed(session: Connection, command: ClientTyped) -> SimpleString:
    session.typed_resp2 = command.on  # RESP3 keeps the types whatever this says
    return OK


def _command_info(declaration: Declaration) -> list[Any]:
    """One entry of COMMAND's reply, in Redis 7's ten-field layout."""
    categories = {"readonly": "@read", "write": "@write", "fast": "@fast"}
    return [
        declaration.name,
        declaration.arity,
        SetReply(tuple(SimpleString(flag) for flag in declaration.flags)),
        declaration.first_key,
        declaration.last_key,
        declaration.step,
        SetReply(tuple(SimpleString(categories[f]) for f in declaration.flags if f in categories)),
        SetReply(()),
        [],
        [_command_info(sub) for sub in declaration.subcommands],
    ]


@REGISTRY.connection(CommandList)
def command_list(session: Connection, command: CommandList) -> list[Any]:
    return [_command_info(declaration) for declaration in DECLARATIONS.values()]


@REGISTRY.connection(CommandCount)
def command_count(session: Connection, command: CommandCount) -> int:
    return len(DECLARATIONS)


@REGISTRY.connection(CommandInfo)
def command_info(session: Connection, command: CommandInfo) -> list[Any]:
    names = command.names or tuple(DECLARATIONS)
    return [_command_info(DECLARATIONS[n]) if n in DECLARATIONS else None for n in names]


@cache
def _docs(declaration: Declaration) -> dict[str, Any]:
    """One entry of COMMAND DOCS, in Redis 7's layout: a container lists its subcommands, any
    other command its arguments, read from its declaration's syntax line (``protocol.syntax``)."""
    docs: dict[str, Any] = {
        "summary": declaration.summary,
        "since": VERSION,
        "group": declaration.group,
        "syntax": declaration.syntax,
    }
    if declaration.subcommands:
        docs["subcommands"] = {sub.name: _docs(sub) for sub in declaration.subcommands}
    else:
        found = arguments(declaration.name, declaration.syntax)
        if found:
            docs["arguments"] = [argument.as_doc() for argument in found]
    return docs


@REGISTRY.connection(CommandDocs)
def command_docs(session: Connection, command: CommandDocs) -> dict[str, Any]:
    names = command.names or tuple(DECLARATIONS)
    return {name: _docs(DECLARATIONS[name]) for name in names if name in DECLARATIONS}


@REGISTRY.connection(CommandGetkeys)
def command_getkeys(session: Connection, command: CommandGetkeys) -> list[bytes]:
    return list(command.target.keys)


@REGISTRY.task(Info)
async def info(session: Connection, command: Info) -> Verbatim:
    await session.server.units.gate.wait_open()  # keyspace counts of every shard at one instant
    wanted = command.sections or DEFAULT_SECTIONS
    if any(section in ("all", "everything") for section in wanted):
        wanted = tuple(SECTIONS)
    elif "default" in wanted:
        wanted = DEFAULT_SECTIONS
    blocks = []
    for name in SECTIONS:
        if name not in wanted:
            continue
        content = SECTIONS[name](session)
        lines = content if isinstance(content, list) else [f"{k}:{v}" for k, v in content.items()]
        blocks.append("\r\n".join([f"# {name.capitalize()}", *lines]))
    return Verbatim("\r\n\r\n".join(blocks) + "\r\n")


@REGISTRY.connection(Time)
def time_(session: Connection, command: Time) -> list[bytes]:
    seconds, micros = divmod(time.time_ns() // 1000, 1_000_000)
    return [str(seconds).encode(), str(micros).encode()]


@REGISTRY.connection(Wait)
def wait(session: Connection, command: Wait) -> int:
    """No replicas yet: every write is already as durable as it will be; none acknowledged it."""
    return 0


@REGISTRY.connection(Lastsave)
def lastsave(session: Connection, command: Lastsave) -> int:
    return last_save(session.server)


@REGISTRY.read(MemoryUsage)
def memory_usage(keyspace: Keyspace, command: MemoryUsage) -> int | None:
    """The bytes LMDB holds for the key: the key itself and its record (header, CRC, value)."""
    record = keyspace.get(keyspace.ns(command.ns), command.key)
    if record is None:
        return None
    stored = encode_record(command.key, record.value, record.expires_at, record.revision, record.priority)
    return len(command.key) + len(stored)


@REGISTRY.connection(SlowlogGet)
def slowlog_get(session: Connection, command: SlowlogGet) -> list[Any]:
    entries = list(session.server.metrics.slowlog)
    if command.count >= 0:
        entries = entries[: command.count]
    return [entry.as_reply() for entry in entries]


@REGISTRY.connection(SlowlogLen)
def slowlog_len(session: Connection, command: SlowlogLen) -> int:
    return len(session.server.metrics.slowlog)


@REGISTRY.connection(SlowlogReset)
def slowlog_reset(session: Connection, command: SlowlogReset) -> SimpleString:
    session.server.metrics.slowlog.clear()
    return OK


@REGISTRY.connection(LatencyLatest)
def latency_latest(session: Connection, command: LatencyLatest) -> list[list[str | int]]:
    return session.server.latency.latest()


@REGISTRY.connection(LatencyHistory)
def latency_history(session: Connection, command: LatencyHistory) -> list[list[int]]:
    return session.server.latency.history(command.event)


@REGISTRY.connection(LatencyReset)
def latency_reset(session: Connection, command: LatencyReset) -> int:
    return session.server.latency.reset(command.events)


@REGISTRY.task(Shutdown)
async def shutdown(session: Connection, command: Shutdown) -> Frames:
    """Stop as on SIGTERM: connections are answered, writes committed, the store closed cleanly.
    Every acknowledged write is already on disk, so only SAVE takes a snapshot first; if it
    fails the server stays up (FORCE: it stops anyway). Success answers nothing: the connection
    closes, as Redis's does."""
    if command.abort:
        raise errors.no_shutdown_in_progress()  # mi's shutdown waits for nothing that could be aborted
    if command.save:
        try:
            await session.server.snapshotter.take()
        except Exception as error:
            log.error("shutdown.snapshot_failed", error=str(error), force=command.force)
            if not command.force:
                raise errors.shutdown_failed() from None
    log.warning("shutdown.requested", conn_id=session.client_id, peer=session.peer, save=bool(command.save))
    session.close_after_reply()
    session.server.request_shutdown()
    return Frames(())


@REGISTRY.connection(Reset)
def reset(session: Connection, command: Reset) -> SimpleString:
    session.reset()
    return SimpleString("RESET")


@REGISTRY.connection(Ping)
def ping(session: Connection, command: Ping) -> SimpleString | bytes:
    return SimpleString("PONG") if command.message is None else command.message


@REGISTRY.connection(Echo)
def echo(session: Connection, command: Echo) -> bytes:
    return command.message


@REGISTRY.connection(Quit)
def quit_(session: Connection, command: Quit) -> SimpleString:
    session.close_after_reply()
    return OK

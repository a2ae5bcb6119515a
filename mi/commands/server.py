"""Connection and server commands stock clients send: HELLO, CLIENT, COMMAND, CONFIG GET, INFO,
PING, ECHO, QUIT (declared in ``protocol.commands.connection`` and ``protocol.commands.server``)."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mi.commands.base import REGISTRY
from mi.core.glob import compile_glob
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
    ClientTyped,
    ClientSetinfo,
    ClientSetname,
    CommandCount,
    CommandDocs,
    CommandGetkeys,
    CommandInfo,
    CommandList,
    ConfigGet,
    Declaration,
    Echo,
    Hello,
    Info,
    Ping,
    Quit,
    SlowlogGet,
    SlowlogLen,
    SlowlogReset,
)
from protocol.errors import CommandError
from protocol.replies import SetReply, SimpleString, Verbatim

if TYPE_CHECKING:
    from mi.core.state import Connection

VERSION = "0.1.0"
# Clients and tools read redis_version to decide which commands they may send; mi speaks the
# Redis 7 protocol (RESP3, HELLO, CLIENT SETINFO), so it says so.
REDIS_COMPATIBLE_VERSION = "7.2.0"
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


@REGISTRY.connection(ClientList)
def client_list(session: Connection, command: ClientList) -> str:
    return "".join(other.describe() + "\n" for other in session.server.sessions.values())


@REGISTRY.connection(ClientKill)
def client_kill(session: Connection, command: ClientKill) -> int | SimpleString:
    """Close the matching connections once they have answered what they are running."""
    doomed = [
        other
        for other in session.server.sessions.values()
        if other.client_id == command.client_id or other.peer == command.addr
    ]
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


@REGISTRY.connection(CommandDocs)
def command_docs(session: Connection, command: CommandDocs) -> dict[str, Any]:
    names = command.names or tuple(DECLARATIONS)
    return {
        name: {
            "summary": DECLARATIONS[name].summary,
            "since": VERSION,
            "group": DECLARATIONS[name].group,
            "syntax": DECLARATIONS[name].syntax,
        }
        for name in names
        if name in DECLARATIONS
    }


@REGISTRY.connection(CommandGetkeys)
def command_getkeys(session: Connection, command: CommandGetkeys) -> list[bytes]:
    return list(command.target.keys)


def _config_parameters(session: Connection) -> dict[str, str]:
    """What CONFIG GET shows: mi's options, plus the Redis names tools ask for."""
    config = session.server.config
    durability = config.storage.durability
    return {
        "bind": config.server.host,
        "port": str(session.server.port),
        "maxclients": str(config.server.max_clients),
        "databases": "0",
        "save": "",
        "appendonly": "no",
        "appendfsync": "always" if durability == "strict" else "everysec",
        "proto-max-bulk-len": str(config.limits.max_bulk_len),
        "dir": str(session.server.data_dir),
        "shards": str(len(session.server.store.shards)),
        "durability": durability,
        "max-db-size": str(config.storage.max_db_size),
        "max-value-size": str(config.storage.max_value_size),
    }


@REGISTRY.connection(ConfigGet)
def config_get(session: Connection, command: ConfigGet) -> dict[str, str]:
    parameters = _config_parameters(session)
    found: dict[str, str] = {}
    for pattern in command.patterns:
        matches = compile_glob(pattern.lower())
        found.update((name, value) for name, value in parameters.items() if matches(name.encode()))
    return found


def _info_server(session: Connection) -> dict[str, Any]:
    server = session.server
    uptime = int(time.time() - server.started_at)
    figures: dict[str, Any] = {
        "redis_version": REDIS_COMPATIBLE_VERSION,
        "mi_version": VERSION,
        "redis_mode": "standalone",
        "os": f"{platform.system()} {platform.release()} {platform.machine()}",
        "arch_bits": 64 if platform.architecture()[0] == "64bit" else 32,
        "process_id": os.getpid(),
        "tcp_port": server.port,
        "uptime_in_seconds": uptime,
        "uptime_in_days": uptime // 86400,
        "config_file": server.config_file or "",
        "data_dir": str(server.data_dir),
        "shards": len(server.store.shards),
        "durability": server.config.storage.durability,
    }
    if not session.user.admin:  # where the server's files are, and its pid, are for operators
        for private in _ADMIN_ONLY_SERVER_FIELDS:
            figures.pop(private)
    return figures


_ADMIN_ONLY_SERVER_FIELDS = ("process_id", "config_file", "data_dir")


def _info_clients(session: Connection) -> dict[str, Any]:
    return {
        "connected_clients": len(session.server.sessions),
        "blocked_clients": session.server.blocked_clients,
        "maxclients": session.server.config.server.max_clients,
    }


def _info_memory(session: Connection) -> dict[str, Any]:
    status = dict(
        line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line
    )
    figures: dict[str, Any] = {
        "used_memory_rss": _kib(status.get("VmRSS")),
        "used_memory_rss_anon": _kib(status.get("RssAnon")),
    }
    for stats in session.server.store.stats():
        figures[f"shard{stats.index}_map_size"] = stats.map_size
        figures[f"shard{stats.index}_used_bytes"] = stats.used_pages * stats.page_size
        figures[f"shard{stats.index}_file_bytes"] = stats.high_water_pages * stats.page_size
    return figures


def _kib(field: str | None) -> int:
    """A /proc/self/status figure ("1234 kB") in bytes; 0 if the system has none."""
    return int(field.split()[0]) * 1024 if field else 0


def _info_persistence(session: Connection) -> dict[str, Any]:
    server = session.server
    snapshots = server.snapshotter
    last = snapshots.last
    figures: dict[str, Any] = {
        "durability": server.config.storage.durability,
        "snapshot_in_progress": int(snapshots.running is not None),
        "snapshots_taken": snapshots.taken,
        "last_snapshot_time": int(last.finished or 0) if last else 0,
        "last_snapshot_status": last.status if last else "none",
    }
    for writer in server.writers:
        index = writer.shard.index
        figures[f"shard{index}_journal_seq"] = writer.shard.journal_last
        figures[f"shard{index}_log_lsn"] = writer.shard.applied_lsn
        figures[f"shard{index}_log_bytes"] = writer.shard.log.size()
        figures[f"shard{index}_log_bytes_since_checkpoint"] = writer.shard.log_bytes
        figures[f"shard{index}_commits"] = writer.commits
        figures[f"shard{index}_writes"] = writer.writes
        figures[f"shard{index}_avg_batch"] = round(writer.writes / writer.commits, 2) if writer.commits else 0
    return figures


def _info_keyspace(session: Connection) -> list[str]:
    """The namespaces the user may read, each with its key counts."""
    lines = []
    for ns in readable_namespaces(session):
        keys = expiring = 0
        for shard in session.server.store.shards:
            with shard.read() as txn:
                keys += txn.count(ns)
                expiring += txn.count_expiring(ns)
        lines.append(f"ns={ns},keys={keys},expires={expiring}")
    return lines


def readable_namespaces(session: Connection) -> list[str]:
    """The namespaces that hold or held data, of those the connection's user may read."""
    user = session.user
    return [ns for ns in session.server.store.namespaces() if user.unrestricted or user.may(ns, write=False)]


def _info_stats(session: Connection) -> dict[str, Any]:
    server = session.server
    return {
        "total_commands_processed": server.metrics.total,
        "instantaneous_ops_per_sec": round(server.metrics.ops_per_sec()),
        "total_connections_received": server.connections_received,
        "rejected_connections": server.connections_rejected,
        "expired_keys": server.reaper.reaped,
        "expired_leases": server.reaper.returned,
        "rejected_rate_limit": server.rate_limits.rejected,
        "auth_failures": server.auth.failures_total,
        "slowlog_len": len(server.metrics.slowlog),
        "quarantined": _quarantined(session),
    }


def _quarantined(session: Connection) -> int:
    """Damaged items set aside, on every shard (docs/reliability.md: Quarantine)."""
    total = 0
    for shard in session.server.store.shards:
        with shard.read() as txn:
            total += txn.delivery.count_quarantined()
    return total


_INFO_SECTIONS = {
    "server": _info_server,
    "clients": _info_clients,
    "memory": _info_memory,
    "persistence": _info_persistence,
    "stats": _info_stats,
    "commandstats": lambda session: session.server.metrics.commandstats(),
    "latencystats": lambda session: session.server.metrics.latencystats(),
    "latencyhistogram": lambda session: session.server.metrics.latencyhistogram(),  # for mi top
    "errorstats": lambda session: session.server.metrics.errorstats(),
    "keyspace": _info_keyspace,
}
# As Redis: INFO alone leaves out the per-command sections; INFO all (or everything) has them all.
_DEFAULT_SECTIONS = ("server", "clients", "memory", "persistence", "stats", "errorstats", "keyspace")


@REGISTRY.task(Info)
async def info(session: Connection, command: Info) -> Verbatim:
    await session.server.units.gate.wait_open()  # keyspace counts of every shard at one instant
    wanted = command.sections or _DEFAULT_SECTIONS
    if any(section in ("all", "everything") for section in wanted):
        wanted = tuple(_INFO_SECTIONS)
    elif "default" in wanted:
        wanted = _DEFAULT_SECTIONS
    blocks = []
    for name in _INFO_SECTIONS:
        if name not in wanted:
            continue
        content = _INFO_SECTIONS[name](session)
        lines = content if isinstance(content, list) else [f"{k}:{v}" for k, v in content.items()]
        blocks.append("\r\n".join([f"# {name.capitalize()}", *lines]))
    return Verbatim("\r\n\r\n".join(blocks) + "\r\n")


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

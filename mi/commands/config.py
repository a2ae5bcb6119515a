"""CONFIG GET, CONFIG SET and CONFIG RESETSTAT.

The parameters go by Redis's names where Redis has the setting (``maxclients``, ``timeout``,
``slowlog-log-slower-than``...) and by mi's option names, hyphenated, where it does not. CONFIG
SET changes the running server only: the configuration file is the truth at the next start.
Parameters that need a restart (the port, the data dir, the shards, durability) answer Redis's
"can't set immutable config".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from attrs import frozen

from mi.commands.base import REGISTRY
from mi.core.glob import compile_glob
from mi.settings.config_values import ByteSize, Seconds
from protocol import errors
from protocol.commands import ConfigGet, ConfigResetstat, ConfigSet
from protocol.errors import CommandError
from protocol.replies import SimpleString

if TYPE_CHECKING:
    from mi.core.state import Connection, ServerState

__all__ = ["PARAMETERS"]

OK = SimpleString("OK")
_INT64_MAX = 2**63 - 1


class _Refused(ValueError):
    """A value a parameter cannot take; the text is Redis's reason."""


def _integer(text: bytes, low: int, high: int = _INT64_MAX) -> int:
    try:
        number = int(text)
    except ValueError:
        raise _Refused("argument couldn't be parsed into an integer") from None
    if not low <= number <= high:
        raise _Refused(f"argument must be between {low} and {high} inclusive")
    return number


_UNITS = {b"": 1, b"b": 1, b"k": 1000, b"kb": 1024, b"m": 1000**2, b"mb": 1024**2, b"g": 1000**3, b"gb": 1024**3}


def _memory(text: bytes, low: int) -> int:
    """Bytes, as Redis reads a memory value: ``1048576``, ``512mb``, ``1gb`` (``k``: 1000)."""
    lowered = text.lower()
    digits = lowered.rstrip(b"kmgb")
    unit = _UNITS.get(lowered[len(digits) :])
    if not digits.isdigit() or unit is None:
        raise _Refused("argument must be a memory value")
    number = int(digits) * unit
    if number < low:
        raise _Refused(f"argument must be a memory value of at least {low}")
    return number


@frozen
class Parameter:
    """How CONFIG GET shows one, and how CONFIG SET changes it (None: only at the next start)."""

    show: Callable[[ServerState], str]
    change: Callable[[ServerState, bytes], None] | None = None


def _fixed(show: Callable[[ServerState], object]) -> Parameter:
    return Parameter(lambda server: str(show(server)))


def _set_maxclients(server: ServerState, value: bytes) -> None:
    server.config.server.max_clients = _integer(value, 1)


def _set_timeout(server: ServerState, value: bytes) -> None:
    seconds = _integer(value, 0)
    server.config.limits.idle_timeout = Seconds(seconds) if seconds else None


def _set_bulk_len(server: ServerState, value: bytes) -> None:
    server.config.limits.max_bulk_len = ByteSize(_memory(value, 1024 * 1024))
    for session in server.sessions.values():
        session.limits_changed()


def _set_slower_than(server: ServerState, value: bytes) -> None:
    server.metrics.slowlog_threshold_us = _integer(value, -(2**63))  # below 0: the slow log is off


def _set_slowlog_len(server: ServerState, value: bytes) -> None:
    metrics = server.metrics
    metrics.slowlog_max_len = _integer(value, 0)
    while len(metrics.slowlog) > metrics.slowlog_max_len:
        metrics.slowlog.pop()


def _set_script_limit(server: ServerState, value: bytes) -> None:
    server.config.limits.script_time_limit = Seconds(_integer(value, 1) / 1000)


def _set_latency_threshold(server: ServerState, value: bytes) -> None:
    server.latency.threshold_ms = _integer(value, 0)


def _set_reply_timeout(server: ServerState, value: bytes) -> None:
    server.config.limits.reply_timeout = Seconds(_integer(value, 1))


def _set_max_queued(server: ServerState, value: bytes) -> None:
    server.config.limits.max_queued_commands = _integer(value, 1)


def _set_keyspace_events(server: ServerState, value: bytes) -> None:
    server.pubsub.set_keyspace_events(value.decode("latin-1"))  # any other byte is a bad class letter


def _script_limit(server: ServerState) -> str:
    return str(round(server.config.limits.script_time_limit * 1000))


PARAMETERS: dict[str, Parameter] = {
    # Redis's names
    "bind": _fixed(lambda server: server.config.server.host),
    "port": _fixed(lambda server: server.port),
    "databases": _fixed(lambda server: 0),
    "save": _fixed(lambda server: ""),
    "appendonly": _fixed(lambda server: "no"),
    "appendfsync": _fixed(lambda server: "always" if server.config.storage.durability == "strict" else "everysec"),
    "dir": _fixed(lambda server: server.data_dir),
    "maxclients": Parameter(lambda server: str(server.config.server.max_clients), _set_maxclients),
    "timeout": Parameter(lambda server: str(round(server.config.limits.idle_timeout or 0)), _set_timeout),
    "proto-max-bulk-len": Parameter(lambda server: str(server.config.limits.max_bulk_len), _set_bulk_len),
    "slowlog-log-slower-than": Parameter(lambda server: str(server.metrics.slowlog_threshold_us), _set_slower_than),
    "slowlog-max-len": Parameter(lambda server: str(server.metrics.slowlog_max_len), _set_slowlog_len),
    "lua-time-limit": Parameter(_script_limit, _set_script_limit),
    "busy-reply-threshold": Parameter(_script_limit, _set_script_limit),
    "latency-monitor-threshold": Parameter(lambda server: str(server.latency.threshold_ms), _set_latency_threshold),
    "notify-keyspace-events": Parameter(lambda server: server.pubsub.keyspace_events, _set_keyspace_events),
    # mi's own
    "shards": _fixed(lambda server: len(server.store.shards)),
    "durability": _fixed(lambda server: server.config.storage.durability),
    "max-db-size": _fixed(lambda server: server.config.storage.max_db_size),
    "max-value-size": _fixed(lambda server: server.config.storage.max_value_size),
    "reply-timeout": Parameter(lambda server: str(round(server.config.limits.reply_timeout)), _set_reply_timeout),
    "max-queued-commands": Parameter(
        lambda server: str(server.config.limits.max_queued_commands), _set_max_queued
    ),
}


@REGISTRY.connection(ConfigGet)
def config_get(session: Connection, command: ConfigGet) -> dict[str, str]:
    found: dict[str, str] = {}
    for pattern in command.patterns:
        matches = compile_glob(pattern.lower())
        found.update(
            (name, parameter.show(session.server))
            for name, parameter in PARAMETERS.items()
            if matches(name.encode())
        )
    return found


@REGISTRY.connection(ConfigSet)
def config_set(session: Connection, command: ConfigSet) -> SimpleString:
    """All the parameters change, or none: one refused puts back those changed before it."""
    server = session.server
    for name, _value in command.pairs:
        parameter = PARAMETERS.get(name)
        if parameter is None:
            raise errors.config_set_unknown(name)
        if parameter.change is None:
            raise errors.config_set_failed(name, "can't set immutable config")
    changed: list[tuple[Parameter, str]] = []
    for name, value in command.pairs:
        parameter = PARAMETERS[name]
        before = parameter.show(server)
        try:
            parameter.change(server, value)  # type: ignore[misc]  # checked above
        except (_Refused, CommandError) as error:
            for undone, old in reversed(changed):
                undone.change(server, old.encode())  # type: ignore[misc]
            reason = error.message if isinstance(error, CommandError) else str(error)
            raise errors.config_set_failed(name, reason) from None
        changed.append((parameter, before))
    return OK


@REGISTRY.connection(ConfigResetstat)
def config_resetstat(session: Connection, command: ConfigResetstat) -> SimpleString:
    session.server.reset_statistics()
    return OK

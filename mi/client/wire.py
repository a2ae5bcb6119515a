"""What mi.client sends and how it reads the replies, the same for both flavours: the commands that
store each Python type, TTLs, TAKE and its messages, the pool's settings, and a transaction's
queued writes (queueing does no I/O)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import redis
from attrs import frozen
from redis.backoff import ExponentialBackoff

__all__ = ["Duration", "Message", "QueuedWrites", "Value", "backoff", "duration", "messages_of", "pool_options",
           "store_args", "take_args", "ttl_ms"]

Value = str | bytes | int | bool | dict | list
Duration = int | float | timedelta | str  # seconds, or a duration the server reads ("5m", "250ms")


def duration(value: Duration) -> str:
    """A TTL in the server's syntax: whole milliseconds ("1500ms"), or a string as given."""
    if isinstance(value, str):
        return value
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or seconds <= 0:
        raise ValueError(f"a TTL must be positive, not {value!r}")
    return f"{max(1, round(seconds * 1000))}ms"


def store_args(key: str, value: Value, ns: str, ttl: Duration | None, priority: int | None) -> list[Any]:
    """SET, HSET or LSET, whichever stores ``value`` as its own type."""
    if isinstance(value, bool):  # before int: bool is an int in Python
        args: list[Any] = ["SET", key, "true" if value else "false", "AS", "BOOL"]
    elif isinstance(value, int):
        args = ["SET", key, str(value), "AS", "INT"]
    elif isinstance(value, (str, bytes)):
        args = ["SET", key, value, "AS", "STRING"]
    elif isinstance(value, dict):
        args = ["HSET", key, json.dumps(value)]
    elif isinstance(value, list):
        args = ["LSET", key, json.dumps(value)]
    else:
        raise TypeError(f"mi stores str, bytes, int, bool, dict or list, not {type(value).__name__}")
    args += ["FROM", ns]
    if ttl is not None:
        args += ["TTL", duration(ttl)]
    if priority is not None:
        args += ["PRIORITY", priority]
    return args


def ttl_ms(value: Duration) -> int:
    if isinstance(value, str):
        raise TypeError("expire takes seconds or a timedelta")
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    return max(1, round(seconds * 1000))


@frozen
class Message:
    """A due message handed out by TAKE; ``id`` is what ACK and NACK name."""

    id: str
    key: str
    value: Any
    type: str
    deadline: int  # unix ms
    priority: int
    attempts: int


def messages_of(reply: list[Any]) -> list[Message]:
    return [
        Message(m["id"], m["key"], m["value"], m["type"], m["deadline"], m["priority"], m["attempts"])
        for m in reply
    ]


def take_args(ns: str, count: int, block_ms: int, lease: Duration | None) -> list[Any]:
    args: list[Any] = ["TAKE", "FROM", ns, "COUNT", count, "BLOCK", block_ms]
    return args if lease is None else [*args, "LEASE", duration(lease)]


def pool_options(
    host: str, port: int, username: str | None, password: str | None, max_connections: int,
    timeout: float, connect_timeout: float, pool_timeout: float, health_check_interval: float,
    ssl: bool, ssl_ca_certs: str | None,
) -> dict[str, Any]:
    """The pool's settings, the same for both flavours."""
    options: dict[str, Any] = {
        "host": host, "port": port, "username": username, "password": password,
        "max_connections": max_connections, "timeout": pool_timeout,
        "socket_timeout": timeout, "socket_connect_timeout": connect_timeout,
        "health_check_interval": health_check_interval,
        "protocol": 3, "decode_responses": True, "encoding_errors": "surrogateescape",
        "retry_on_error": [redis.ConnectionError, redis.TimeoutError],
    }
    if ssl:
        options["ssl_ca_certs"] = ssl_ca_certs
    return options


def backoff() -> ExponentialBackoff:
    return ExponentialBackoff(cap=1.0, base=0.05)  # 50 ms, doubling, at most 1 s between tries


class QueuedWrites:
    """The writes of a transaction attempt, queued until EXEC (the same in both flavours: queueing
    does no I/O)."""

    _pipe: Any
    _writing: bool
    ns: str

    def _queue(self, *args: Any) -> None:
        if not self._writing:
            self._pipe.multi()
            self._writing = True
        self._pipe.execute_command(*args)

    def set(self, key: str, value: Value, *, ttl: Duration | None = None, priority: int | None = None) -> None:
        self._queue(*store_args(key, value, self.ns, ttl, priority))

    def delete(self, *keys: str) -> None:
        self._queue("DEL", *keys, "FROM", self.ns)

    def expire(self, key: str, ttl: int | float | timedelta) -> None:
        self._queue("PEXPIRE", key, ttl_ms(ttl), "FROM", self.ns)

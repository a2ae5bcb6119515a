"""What mi.client sends and how it reads the replies, the same for both flavours: the commands that
store each Python type, TTLs, TAKE and its messages, the pool's settings, and a transaction's
queued writes (queueing does no I/O)."""

from __future__ import annotations

import json
from collections import deque
from datetime import timedelta
from typing import Any

import redis
from attrs import frozen
from redis.backoff import ExponentialBackoff

__all__ = ["AttemptBase", "ClientBase", "ConsumerBase", "Duration", "Message", "TransactionBase", "Value",
           "duration", "messages_of", "store_args", "take_args", "ttl_ms"]

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


class ClientBase:
    """What both clients are built from: the settings, the pool and redis-py's client, taken from
    ``flavour`` (``redis`` or ``redis.asyncio``, which name their classes alike)."""

    flavour: Any

    def __init__(
        self, host: str = "127.0.0.1", port: int = 7379, *, ns: str = "default",
        username: str | None = None, password: str | None = None, max_connections: int = 16,
        timeout: float = 5.0, connect_timeout: float = 5.0, pool_timeout: float = 5.0,
        health_check_interval: float = 30.0, retries: int = 3, ssl: bool = False,
        ssl_ca_certs: str | None = None,
    ) -> None:
        options: dict[str, Any] = {
            "host": host, "port": port, "username": username, "password": password,
            "max_connections": max_connections, "timeout": pool_timeout,
            "socket_timeout": timeout, "socket_connect_timeout": connect_timeout,
            "health_check_interval": health_check_interval,
            "protocol": 3, "decode_responses": True, "encoding_errors": "surrogateescape",
            "retry_on_error": [redis.ConnectionError, redis.TimeoutError],
        }
        if ssl:
            options.update(connection_class=self.flavour.SSLConnection, ssl_ca_certs=ssl_ca_certs)
        self.ns = ns
        self.timeout = timeout
        retry = self.flavour.retry.Retry(ExponentialBackoff(cap=1.0, base=0.05), retries)  # 50 ms, doubling, <= 1 s
        self.pool = self.flavour.BlockingConnectionPool(**options, retry=retry)
        self._redis = self.flavour.Redis(connection_pool=self.pool)


class TransactionBase:
    """A transaction's settings and EXEC's replies, for either flavour."""

    def __init__(self, client: ClientBase, watch: tuple[str, ...], ns: str, retries: int) -> None:
        self.client, self.watch, self.ns, self.retries = client, watch, ns, retries
        self.results: list[Any] | None = None
        self._attempt: Any = None


class AttemptBase:
    """One try at a transaction: its pipeline, and its writes queued until EXEC (the same in both
    flavours: queueing does no I/O)."""

    def __init__(self, transaction: TransactionBase, last: bool) -> None:
        self.transaction, self.last, self.done, self.ns = transaction, last, False, transaction.ns
        self._pipe = transaction.client._redis.pipeline(transaction=True)  # noqa: SLF001 - our own client
        self._writing = False

    @property
    def results(self) -> list[Any] | None:
        """EXEC's replies once the block has ended (``tx.results``, as docs/client.md spells it)."""
        return self.transaction.results

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


class ConsumerBase:
    """A consumer's settings and the messages it holds, for either flavour."""

    def __init__(self, client: ClientBase, ns: str, lease: Duration | None, count: int, block: float) -> None:
        self.client, self.ns, self.lease, self.count = client, ns, lease, count
        self.block_ms = max(1, round(min(block, client.timeout * 0.8) * 1000))  # a reply within timeout
        self._waiting: deque[Message] = deque()
        self._current: Message | None = None

    def _take_command(self) -> list[Any]:
        return take_args(self.ns, self.count, self.block_ms, self.lease)

    def _leftovers(self, failed: bool) -> list[Message]:
        """At the end of the block, what to give back: the message being handled if it failed,
        and those taken but not handed out. Forgets them all."""
        back = [self._current] if failed and self._current is not None else []
        back += self._waiting
        self._current = None
        self._waiting.clear()
        return back

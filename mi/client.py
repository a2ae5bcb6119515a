"""The Python client for mi: typed values, namespaces, TTLs, transactions and consumers.

Built on redis-py (its connection pool, retries, RESP3 parser and asyncio support), speaking RESP3
so that values come back as the types they were stored as::

    from mi.client import Client

    with Client(port=7379, password="secret", ns="shop") as client:
        client.set("order:1", {"item": "book", "qty": 2}, ttl="10m")   # HSET: a JSON object
        client.get("order:1")                                          # {'item': 'book', 'qty': 2}

``AsyncClient`` is the same over asyncio. docs/client.md has the whole story; errors are the
``MiError`` family below, mapped from the server's reply prefixes.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import redis
import redis.asyncio
import redis.asyncio.retry
import redis.retry
from attrs import frozen
from redis.backoff import ExponentialBackoff

__all__ = [
    "AsyncClient",
    "AuthenticationFailed",
    "AuthenticationRequired",
    "Client",
    "CommandFailed",
    "ConnectionLost",
    "Message",
    "MiError",
    "PermissionDenied",
    "PoolExhausted",
    "RateLimited",
    "TransactionAborted",
    "TransactionConflict",
    "WrongType",
]

Value = str | bytes | int | bool | dict | list
Duration = int | float | timedelta | str  # seconds, or a duration the server reads ("5m", "250ms")


# -- errors ---------------------------------------------------------------------------------------


class MiError(Exception):
    """Anything the client or the server refused."""


class ConnectionLost(MiError):
    """No answer from the server: it is down, unreachable, or too slow (after the retries)."""


class PoolExhausted(ConnectionLost):
    """Every pooled connection stayed busy for ``pool_timeout``."""


class AuthenticationRequired(MiError):
    """NOAUTH: the server wants a password (give ``password=``)."""


class AuthenticationFailed(MiError):
    """WRONGPASS: the user or password is wrong."""


class PermissionDenied(MiError):
    """NOPERM: this user may not run the command, or not on this namespace."""


class WrongType(MiError):
    """WRONGTYPE: the key holds another type of value."""


class RateLimited(MiError):
    """The user's or the namespace's rate limit refused the command; retry after ``retry_after`` s."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TransactionConflict(MiError):
    """A watched key changed before EXEC: nothing was applied (and the retries ran out)."""


class TransactionAborted(MiError):
    """EXEC applied nothing: a command in it failed (the message names it)."""


class CommandFailed(MiError):
    """Any other error reply (bad arguments, storage full...)."""


def _translate(error: redis.RedisError) -> MiError:
    """The MiError for a redis-py exception (redis-py strips some prefixes; its class keeps them)."""
    text = str(error)
    if isinstance(error, redis.WatchError):
        return TransactionConflict("a watched key changed: the transaction was not applied")
    if isinstance(error, redis.AuthenticationError):  # a ConnectionError in redis-py: first
        required = "NOAUTH" in text or "required" in text or "already authenticated" in text
        return (AuthenticationRequired if required else AuthenticationFailed)(text)
    if isinstance(error, redis.ConnectionError) and ("Too many connections" in text or "No connection available" in text):
        return PoolExhausted(text)
    if isinstance(error, (redis.ConnectionError, redis.TimeoutError)):
        return ConnectionLost(text)
    if isinstance(error, redis.exceptions.NoPermissionError):
        return PermissionDenied(text)
    if isinstance(error, redis.exceptions.ExecAbortError):
        return TransactionAborted(text)
    if text.startswith("NOAUTH"):
        return AuthenticationRequired(text)
    if text.startswith("WRONGPASS"):
        return AuthenticationFailed(text)
    if text.startswith("NOPERM"):
        return PermissionDenied(text)
    if text.startswith("WRONGTYPE"):
        return WrongType(text)
    if "rate limit exceeded" in text:
        return RateLimited(text, _retry_after(text))
    if "rolled back" in text:
        return TransactionAborted(text)
    return CommandFailed(text)


def _retry_after(text: str) -> float:
    """Seconds from "... (retry in 12 ms)"; 0 if the server did not say."""
    _, _, rest = text.partition("retry in ")
    number = rest.split(" ", 1)[0]
    return int(number) / 1000 if number.isdigit() else 0.0


# -- what goes on the wire, and what comes back ---------------------------------------------------


def _duration(value: Duration) -> str:
    """A TTL in the server's syntax: whole milliseconds ("1500ms"), or a string as given."""
    if isinstance(value, str):
        return value
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or seconds <= 0:
        raise ValueError(f"a TTL must be positive, not {value!r}")
    return f"{max(1, round(seconds * 1000))}ms"


def _store_args(key: str, value: Value, ns: str, ttl: Duration | None, priority: int | None) -> list[Any]:
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
        args += ["TTL", _duration(ttl)]
    if priority is not None:
        args += ["PRIORITY", priority]
    return args


def _ttl_ms(value: Duration) -> int:
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


def _messages(reply: list[Any]) -> list[Message]:
    return [
        Message(m["id"], m["key"], m["value"], m["type"], m["deadline"], m["priority"], m["attempts"])
        for m in reply
    ]


def _take_args(ns: str, count: int, block_ms: int, lease: Duration | None) -> list[Any]:
    args: list[Any] = ["TAKE", "FROM", ns, "COUNT", count, "BLOCK", block_ms]
    return args if lease is None else [*args, "LEASE", _duration(lease)]


def _pool_options(
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


def _backoff() -> ExponentialBackoff:
    return ExponentialBackoff(cap=1.0, base=0.05)  # 50 ms, doubling, at most 1 s between tries


# -- the synchronous client -----------------------------------------------------------------------


class Client:
    """A pool of connections to one mi server; safe to share between threads.

    ``ns`` is the namespace of every call that does not name one. ``max_connections`` bounds the
    pool: a call that finds every connection busy waits up to ``pool_timeout`` seconds, then
    raises ``PoolExhausted``. ``timeout`` bounds each reply; connections idle for more than
    ``health_check_interval`` seconds are checked with a PING before use, and a call that loses
    its connection is retried ``retries`` times on a new one (so a server restart costs a pause,
    not an error).
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 7379, *, ns: str = "default",
        username: str | None = None, password: str | None = None, max_connections: int = 16,
        timeout: float = 5.0, connect_timeout: float = 5.0, pool_timeout: float = 5.0,
        health_check_interval: float = 30.0, retries: int = 3, ssl: bool = False,
        ssl_ca_certs: str | None = None,
    ) -> None:
        options = _pool_options(
            host, port, username, password, max_connections, timeout, connect_timeout,
            pool_timeout, health_check_interval, ssl, ssl_ca_certs,
        )
        if ssl:
            options["connection_class"] = redis.SSLConnection
        self.ns = ns
        self.timeout = timeout
        self.pool = redis.BlockingConnectionPool(**options, retry=redis.retry.Retry(_backoff(), retries))
        self._redis = redis.Redis(connection_pool=self.pool)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.pool.disconnect()

    def execute(self, *args: Any) -> Any:
        """Any command, its RESP3 reply; errors as MiError."""
        try:
            return self._redis.execute_command(*args)
        except redis.RedisError as error:
            raise _translate(error) from error

    def ping(self) -> bool:
        return self.execute("PING") in (True, "PONG")

    def set(self, key: str, value: Value, *, ns: str | None = None, ttl: Duration | None = None,
            priority: int | None = None) -> None:
        """Store ``value`` with its type (SET, HSET for a dict, LSET for a list); ``ttl`` in
        seconds, a timedelta or a duration string; ``priority`` orders delivery (0 most urgent)."""
        self.execute(*_store_args(key, value, ns or self.ns, ttl, priority))

    def get(self, key: str, *, ns: str | None = None) -> Any:
        """The value as stored (str, int, bool, dict or list), or None if there is none."""
        return self.execute("GET", key, "FROM", ns or self.ns)

    def delete(self, *keys: str, ns: str | None = None) -> int:
        """How many of ``keys`` existed."""
        return self.execute("DEL", *keys, "FROM", ns or self.ns)

    def ttl(self, key: str, *, ns: str | None = None) -> float | None:
        """Seconds left before ``key`` expires; None if it never does or does not exist."""
        ms = self.execute("PTTL", key, "FROM", ns or self.ns)
        return None if ms < 0 else ms / 1000

    def expire(self, key: str, ttl: int | float | timedelta, *, ns: str | None = None) -> bool:
        """Give ``key`` a new TTL; False if there is no such key."""
        return bool(self.execute("PEXPIRE", key, _ttl_ms(ttl), "FROM", ns or self.ns))

    def transaction(self, *watch: str, ns: str | None = None, retries: int = 5) -> Transaction:
        """MULTI/EXEC, all or nothing; with ``watch`` keys, optimistic: see ``Transaction``."""
        return Transaction(self, watch, ns or self.ns, retries)

    def consume(self, ns: str | None = None, *, lease: Duration | None = None, count: int = 1,
                block: float = 1.0) -> Consumer:
        """Due messages of a delivering namespace, as they come: see ``Consumer``."""
        return Consumer(self, ns or self.ns, lease, count, block)


class Transaction:
    """A transaction, run once as a context manager, or retried on conflict as an iterable::

        with client.transaction() as tx:                  # once
            tx.set("a", 1); tx.delete("b")

        for attempt in client.transaction("balance"):     # WATCH balance; retried on conflict
            with attempt as tx:
                tx.set("balance", tx.get("balance") - 10)

    Inside, ``get`` reads at once (after the WATCH, before the writes); writes are queued and
    applied by EXEC when the block ends, all or nothing. ``results`` holds EXEC's replies. A
    conflict raises ``TransactionConflict`` (after ``retries`` more attempts when iterating); a
    failing command raises ``TransactionAborted`` and nothing is applied.
    """

    def __init__(self, client: Client, watch: tuple[str, ...], ns: str, retries: int) -> None:
        self.client, self.watch, self.ns, self.retries = client, watch, ns, retries
        self.results: list[Any] | None = None
        self._attempt: _Attempt | None = None

    def __enter__(self) -> _Attempt:
        self._attempt = _Attempt(self, last=True)
        return self._attempt.__enter__()

    def __exit__(self, *exc: Any) -> bool:
        assert self._attempt is not None
        return self._attempt.__exit__(*exc)

    def __iter__(self) -> Iterator[_Attempt]:
        for number in range(self.retries + 1):
            attempt = _Attempt(self, last=number == self.retries)
            yield attempt
            if attempt.done:
                return


class _Attempt:
    def __init__(self, transaction: Transaction, last: bool) -> None:
        self.transaction, self.last, self.done = transaction, last, False
        self._pipe = transaction.client._redis.pipeline(transaction=True)
        self._writing = False

    def __enter__(self) -> _Attempt:
        tx = self.transaction
        if tx.watch:
            try:  # redis-py's own watch() has no FROM clause
                self._pipe.immediate_execute_command("WATCH", *tx.watch, "FROM", tx.ns)
            except redis.RedisError as error:
                self._pipe.reset()
                raise _translate(error) from error
            self._pipe.watching = True
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: Any) -> bool:
        if kind is not None:
            self._pipe.reset()
            return False
        try:
            self.transaction.results = self._pipe.execute() if self._writing else []
        except redis.RedisError as error:
            failure = _translate(error)
            if isinstance(failure, TransactionConflict) and not self.last:
                return False  # the loop tries again
            raise failure from error
        finally:
            self._pipe.reset()
        self.done = True
        return False

    def get(self, key: str) -> Any:
        if self._writing:
            raise MiError("read before the first write: writes are queued until EXEC")
        try:
            return self._pipe.immediate_execute_command("GET", key, "FROM", self.transaction.ns)
        except redis.RedisError as error:
            raise _translate(error) from error

    def _queue(self, *args: Any) -> None:
        if not self._writing:
            self._pipe.multi()
            self._writing = True
        self._pipe.execute_command(*args)

    def set(self, key: str, value: Value, *, ttl: Duration | None = None, priority: int | None = None) -> None:
        self._queue(*_store_args(key, value, self.transaction.ns, ttl, priority))

    def delete(self, *keys: str) -> None:
        self._queue("DEL", *keys, "FROM", self.transaction.ns)

    def expire(self, key: str, ttl: int | float | timedelta) -> None:
        self._queue("PEXPIRE", key, _ttl_ms(ttl), "FROM", self.transaction.ns)


class Consumer:
    """Takes due messages and hands them out one by one::

        with client.consume("jobs", lease="30s") as messages:
            for message in messages:
                handle(message.value)

    A message is acknowledged (ACK) when the loop asks for the next one. If the block ends with
    an exception, the message being handled is given back at once (NACK), as are any taken but
    not yet handed out, and the exception goes on. Without ``with``, a message whose handling
    failed comes back when its lease runs out. ``count`` messages are taken at a time; each TAKE
    waits up to ``block`` seconds (kept under the client's timeout) and is repeated until one
    comes.
    """

    def __init__(self, client: Client, ns: str, lease: Duration | None, count: int, block: float) -> None:
        self.client, self.ns, self.lease, self.count = client, ns, lease, count
        self.block_ms = max(1, round(min(block, client.timeout * 0.8) * 1000))
        self._waiting: deque[Message] = deque()
        self._current: Message | None = None

    def __enter__(self) -> Consumer:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: Any) -> None:
        if kind is None:
            self._settle()
        self._give_back([self._current] if kind is not None and self._current else [])
        self._current = None
        self._give_back(list(self._waiting))
        self._waiting.clear()

    def __iter__(self) -> Consumer:
        return self

    def __next__(self) -> Message:
        self._settle()
        while not self._waiting:
            self._waiting.extend(_messages(self.client.execute(*_take_args(self.ns, self.count, self.block_ms, self.lease))))
        self._current = self._waiting.popleft()
        return self._current

    def _settle(self) -> None:
        if self._current is not None:
            self.client.execute("ACK", self.ns, self._current.id)
            self._current = None

    def _give_back(self, messages: list[Message]) -> None:
        for message in messages:
            self.client.execute("NACK", self.ns, message.id)


# -- the asyncio client ---------------------------------------------------------------------------


class AsyncClient:
    """``Client`` over asyncio (redis.asyncio): the same options and methods, awaited."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 7379, *, ns: str = "default",
        username: str | None = None, password: str | None = None, max_connections: int = 16,
        timeout: float = 5.0, connect_timeout: float = 5.0, pool_timeout: float = 5.0,
        health_check_interval: float = 30.0, retries: int = 3, ssl: bool = False,
        ssl_ca_certs: str | None = None,
    ) -> None:
        options = _pool_options(
            host, port, username, password, max_connections, timeout, connect_timeout,
            pool_timeout, health_check_interval, ssl, ssl_ca_certs,
        )
        if ssl:
            options["connection_class"] = redis.asyncio.SSLConnection
        self.ns = ns
        self.timeout = timeout
        retry = redis.asyncio.retry.Retry(_backoff(), retries)
        self.pool = redis.asyncio.BlockingConnectionPool(**options, retry=retry)
        self._redis = redis.asyncio.Redis(connection_pool=self.pool)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._redis.aclose()
        await self.pool.disconnect()

    async def execute(self, *args: Any) -> Any:
        try:
            return await self._redis.execute_command(*args)
        except redis.RedisError as error:
            raise _translate(error) from error

    async def ping(self) -> bool:
        return await self.execute("PING") in (True, "PONG")

    async def set(self, key: str, value: Value, *, ns: str | None = None, ttl: Duration | None = None,
                  priority: int | None = None) -> None:
        await self.execute(*_store_args(key, value, ns or self.ns, ttl, priority))

    async def get(self, key: str, *, ns: str | None = None) -> Any:
        return await self.execute("GET", key, "FROM", ns or self.ns)

    async def delete(self, *keys: str, ns: str | None = None) -> int:
        return await self.execute("DEL", *keys, "FROM", ns or self.ns)

    async def ttl(self, key: str, *, ns: str | None = None) -> float | None:
        ms = await self.execute("PTTL", key, "FROM", ns or self.ns)
        return None if ms < 0 else ms / 1000

    async def expire(self, key: str, ttl: int | float | timedelta, *, ns: str | None = None) -> bool:
        return bool(await self.execute("PEXPIRE", key, _ttl_ms(ttl), "FROM", ns or self.ns))

    def transaction(self, *watch: str, ns: str | None = None, retries: int = 5) -> AsyncTransaction:
        """``async with client.transaction() as tx``, or ``async for attempt in ...``."""
        return AsyncTransaction(self, watch, ns or self.ns, retries)

    def consume(self, ns: str | None = None, *, lease: Duration | None = None, count: int = 1,
                block: float = 1.0) -> AsyncConsumer:
        return AsyncConsumer(self, ns or self.ns, lease, count, block)


class AsyncTransaction:
    """``Transaction`` over asyncio: the same rules, with ``async with`` and ``async for``."""

    def __init__(self, client: AsyncClient, watch: tuple[str, ...], ns: str, retries: int) -> None:
        self.client, self.watch, self.ns, self.retries = client, watch, ns, retries
        self.results: list[Any] | None = None
        self._attempt: _AsyncAttempt | None = None

    async def __aenter__(self) -> _AsyncAttempt:
        self._attempt = _AsyncAttempt(self, last=True)
        return await self._attempt.__aenter__()

    async def __aexit__(self, *exc: Any) -> bool:
        assert self._attempt is not None
        return await self._attempt.__aexit__(*exc)

    async def __aiter__(self) -> AsyncIterator[_AsyncAttempt]:
        for number in range(self.retries + 1):
            attempt = _AsyncAttempt(self, last=number == self.retries)
            yield attempt
            if attempt.done:
                return


class _AsyncAttempt:
    def __init__(self, transaction: AsyncTransaction, last: bool) -> None:
        self.transaction, self.last, self.done = transaction, last, False
        self._pipe = transaction.client._redis.pipeline(transaction=True)
        self._writing = False

    async def __aenter__(self) -> _AsyncAttempt:
        tx = self.transaction
        if tx.watch:
            try:
                await self._pipe.immediate_execute_command("WATCH", *tx.watch, "FROM", tx.ns)
            except redis.RedisError as error:
                await self._pipe.reset()
                raise _translate(error) from error
            self._pipe.watching = True
        return self

    async def __aexit__(self, kind: type[BaseException] | None, *_: Any) -> bool:
        if kind is not None:
            await self._pipe.reset()
            return False
        try:
            self.transaction.results = await self._pipe.execute() if self._writing else []
        except redis.RedisError as error:
            failure = _translate(error)
            if isinstance(failure, TransactionConflict) and not self.last:
                return False
            raise failure from error
        finally:
            await self._pipe.reset()
        self.done = True
        return False

    async def get(self, key: str) -> Any:
        if self._writing:
            raise MiError("read before the first write: writes are queued until EXEC")
        try:
            return await self._pipe.immediate_execute_command("GET", key, "FROM", self.transaction.ns)
        except redis.RedisError as error:
            raise _translate(error) from error

    def _queue(self, *args: Any) -> None:
        if not self._writing:
            self._pipe.multi()
            self._writing = True
        self._pipe.execute_command(*args)

    def set(self, key: str, value: Value, *, ttl: Duration | None = None, priority: int | None = None) -> None:
        self._queue(*_store_args(key, value, self.transaction.ns, ttl, priority))

    def delete(self, *keys: str) -> None:
        self._queue("DEL", *keys, "FROM", self.transaction.ns)

    def expire(self, key: str, ttl: int | float | timedelta) -> None:
        self._queue("PEXPIRE", key, _ttl_ms(ttl), "FROM", self.transaction.ns)


class AsyncConsumer:
    """``Consumer`` over asyncio: ``async with client.consume(...) as messages: async for ...``."""

    def __init__(self, client: AsyncClient, ns: str, lease: Duration | None, count: int, block: float) -> None:
        self.client, self.ns, self.lease, self.count = client, ns, lease, count
        self.block_ms = max(1, round(min(block, client.timeout * 0.8) * 1000))
        self._waiting: deque[Message] = deque()
        self._current: Message | None = None

    async def __aenter__(self) -> AsyncConsumer:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, *_: Any) -> None:
        if kind is None:
            await self._settle()
        for message in ([self._current] if kind is not None and self._current else []) + list(self._waiting):
            await self.client.execute("NACK", self.ns, message.id)
        self._current = None
        self._waiting.clear()

    def __aiter__(self) -> AsyncIterator[Message]:
        return self

    async def __anext__(self) -> Message:
        await self._settle()
        while not self._waiting:
            reply = await self.client.execute(*_take_args(self.ns, self.count, self.block_ms, self.lease))
            self._waiting.extend(_messages(reply))
        self._current = self._waiting.popleft()
        return self._current

    async def _settle(self) -> None:
        if self._current is not None:
            await self.client.execute("ACK", self.ns, self._current.id)
            self._current = None

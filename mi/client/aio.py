"""The asyncio client: ``Client``'s options and methods, awaited (redis.asyncio underneath)."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import redis
import redis.asyncio
import redis.asyncio.retry

from mi.client.errors import MiError, TransactionConflict, translate
from mi.client.wire import (
    Duration, Message, QueuedWrites, Value, backoff, messages_of, pool_options, store_args, take_args, ttl_ms,
)

__all__ = ["AsyncClient", "AsyncConsumer", "AsyncTransaction"]


class AsyncClient:
    """``Client`` over asyncio (redis.asyncio): the same options and methods, awaited."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 7379, *, ns: str = "default",
        username: str | None = None, password: str | None = None, max_connections: int = 16,
        timeout: float = 5.0, connect_timeout: float = 5.0, pool_timeout: float = 5.0,
        health_check_interval: float = 30.0, retries: int = 3, ssl: bool = False,
        ssl_ca_certs: str | None = None,
    ) -> None:
        options = pool_options(
            host, port, username, password, max_connections, timeout, connect_timeout,
            pool_timeout, health_check_interval, ssl, ssl_ca_certs,
        )
        if ssl:
            options["connection_class"] = redis.asyncio.SSLConnection
        self.ns = ns
        self.timeout = timeout
        retry = redis.asyncio.retry.Retry(backoff(), retries)
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
            raise translate(error) from error

    async def ping(self) -> bool:
        return await self.execute("PING") in (True, "PONG")

    async def set(self, key: str, value: Value, *, ns: str | None = None, ttl: Duration | None = None,
                  priority: int | None = None) -> None:
        await self.execute(*store_args(key, value, ns or self.ns, ttl, priority))

    async def get(self, key: str, *, ns: str | None = None) -> Any:
        return await self.execute("GET", key, "FROM", ns or self.ns)

    async def delete(self, *keys: str, ns: str | None = None) -> int:
        return await self.execute("DEL", *keys, "FROM", ns or self.ns)

    async def ttl(self, key: str, *, ns: str | None = None) -> float | None:
        ms = await self.execute("PTTL", key, "FROM", ns or self.ns)
        return None if ms < 0 else ms / 1000

    async def expire(self, key: str, ttl: int | float | timedelta, *, ns: str | None = None) -> bool:
        return bool(await self.execute("PEXPIRE", key, ttl_ms(ttl), "FROM", ns or self.ns))

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


class _AsyncAttempt(QueuedWrites):
    def __init__(self, transaction: AsyncTransaction, last: bool) -> None:
        self.transaction, self.last, self.done, self.ns = transaction, last, False, transaction.ns
        self._pipe = transaction.client._redis.pipeline(transaction=True)
        self._writing = False

    async def __aenter__(self) -> _AsyncAttempt:
        tx = self.transaction
        if tx.watch:
            try:
                await self._pipe.immediate_execute_command("WATCH", *tx.watch, "FROM", tx.ns)
            except redis.RedisError as error:
                await self._pipe.reset()
                raise translate(error) from error
            self._pipe.watching = True
        return self

    async def __aexit__(self, kind: type[BaseException] | None, *_: Any) -> bool:
        if kind is not None:
            await self._pipe.reset()
            return False
        try:
            self.transaction.results = await self._pipe.execute() if self._writing else []
        except redis.RedisError as error:
            failure = translate(error)
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
            raise translate(error) from error



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
            reply = await self.client.execute(*take_args(self.ns, self.count, self.block_ms, self.lease))
            self._waiting.extend(messages_of(reply))
        self._current = self._waiting.popleft()
        return self._current

    async def _settle(self) -> None:
        if self._current is not None:
            await self.client.execute("ACK", self.ns, self._current.id)
            self._current = None

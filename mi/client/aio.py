"""The asyncio client: ``Client``'s options and methods, awaited (redis.asyncio underneath)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import redis
import redis.asyncio
import redis.asyncio.retry  # ClientBase takes flavour.retry.Retry

from mi.client.errors import MiError, TransactionConflict, translate
from mi.client.wire import (
    AttemptBase, ClientBase, ConsumerBase, Duration, Message, TransactionBase, Value, messages_of, store_args, ttl_ms,
)

__all__ = ["AsyncClient", "AsyncConsumer", "AsyncTransaction"]


class AsyncClient(ClientBase):
    """``Client`` over asyncio (redis.asyncio): the same options and methods, awaited."""

    flavour = redis.asyncio

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


class AsyncTransaction(TransactionBase):
    """``Transaction`` over asyncio: the same rules, with ``async with`` and ``async for``."""

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


class _AsyncAttempt(AttemptBase):
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



class AsyncConsumer(ConsumerBase):
    """``Consumer`` over asyncio: ``async with client.consume(...) as messages: async for ...``."""

    async def __aenter__(self) -> AsyncConsumer:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, *_: Any) -> None:
        if kind is None:
            await self._settle()
        for message in self._leftovers(failed=kind is not None):
            await self.client.execute("NACK", self.ns, message.id, "DELAY", "now")  # at once, not after the backoff

    def __aiter__(self) -> AsyncIterator[Message]:
        return self

    async def __anext__(self) -> Message:
        await self._settle()
        while not self._waiting:
            self._waiting.extend(messages_of(await self.client.execute(*self._take_command())))
        self._current = self._waiting.popleft()
        return self._current

    async def _settle(self) -> None:
        if self._current is not None:
            await self.client.execute("ACK", self.ns, self._current.id)
            self._current = None

"""The synchronous client: a pool of connections, transactions, consumers."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import redis
import redis.retry

from mi.client.errors import MiError, TransactionConflict, translate
from mi.client.wire import (
    Duration, Message, QueuedWrites, Value, backoff, messages_of, pool_options, store_args, take_args, ttl_ms,
)

__all__ = ["Client", "Consumer", "Transaction"]


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
        options = pool_options(
            host, port, username, password, max_connections, timeout, connect_timeout,
            pool_timeout, health_check_interval, ssl, ssl_ca_certs,
        )
        if ssl:
            options["connection_class"] = redis.SSLConnection
        self.ns = ns
        self.timeout = timeout
        self.pool = redis.BlockingConnectionPool(**options, retry=redis.retry.Retry(backoff(), retries))
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
            raise translate(error) from error

    def ping(self) -> bool:
        return self.execute("PING") in (True, "PONG")

    def set(self, key: str, value: Value, *, ns: str | None = None, ttl: Duration | None = None,
            priority: int | None = None) -> None:
        """Store ``value`` with its type (SET, HSET for a dict, LSET for a list); ``ttl`` in
        seconds, a timedelta or a duration string; ``priority`` orders delivery (0 most urgent)."""
        self.execute(*store_args(key, value, ns or self.ns, ttl, priority))

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
        return bool(self.execute("PEXPIRE", key, ttl_ms(ttl), "FROM", ns or self.ns))

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


class _Attempt(QueuedWrites):
    def __init__(self, transaction: Transaction, last: bool) -> None:
        self.transaction, self.last, self.done, self.ns = transaction, last, False, transaction.ns
        self._pipe = transaction.client._redis.pipeline(transaction=True)
        self._writing = False

    def __enter__(self) -> _Attempt:
        tx = self.transaction
        if tx.watch:
            try:  # redis-py's own watch() has no FROM clause
                self._pipe.immediate_execute_command("WATCH", *tx.watch, "FROM", tx.ns)
            except redis.RedisError as error:
                self._pipe.reset()
                raise translate(error) from error
            self._pipe.watching = True
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: Any) -> bool:
        if kind is not None:
            self._pipe.reset()
            return False
        try:
            self.transaction.results = self._pipe.execute() if self._writing else []
        except redis.RedisError as error:
            failure = translate(error)
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
            raise translate(error) from error



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
            self._waiting.extend(messages_of(self.client.execute(*take_args(self.ns, self.count, self.block_ms, self.lease))))
        self._current = self._waiting.popleft()
        return self._current

    def _settle(self) -> None:
        if self._current is not None:
            self.client.execute("ACK", self.ns, self._current.id)
            self._current = None

    def _give_back(self, messages: list[Message]) -> None:
        for message in messages:
            self.client.execute("NACK", self.ns, message.id)

"""The synchronous client: a pool of connections, transactions, consumers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import redis
import redis.retry  # ClientBase takes flavour.retry.Retry

from mi.client.errors import MiError, TransactionConflict, translate
from mi.client.wire import (
    AttemptBase, ClientBase, ConsumerBase, Duration, Message, TransactionBase, Value, messages_of, store_args, ttl_ms,
)

__all__ = ["Client", "Consumer", "Transaction"]


class Client(ClientBase):
    """A pool of connections to one mi server; safe to share between threads.

    ``ns`` is the namespace of every call that does not name one. ``max_connections`` bounds the
    pool: a call that finds every connection busy waits up to ``pool_timeout`` seconds, then
    raises ``PoolExhausted``. ``timeout`` bounds each reply; connections idle for more than
    ``health_check_interval`` seconds are checked with a PING before use, and a call that loses
    its connection is retried ``retries`` times on a new one (so a server restart costs a pause,
    not an error).
    """

    flavour = redis

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


class Transaction(TransactionBase):
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


class _Attempt(AttemptBase):
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



class Consumer(ConsumerBase):
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

    def __enter__(self) -> Consumer:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: Any) -> None:
        if kind is None:
            self._settle()
        for message in self._leftovers(failed=kind is not None):
            self.client.execute("NACK", self.ns, message.id, "DELAY", "now")  # at once, not after the backoff

    def __iter__(self) -> Consumer:
        return self

    def __next__(self) -> Message:
        self._settle()
        while not self._waiting:
            self._waiting.extend(messages_of(self.client.execute(*self._take_command())))
        self._current = self._waiting.popleft()
        return self._current

    def _settle(self) -> None:
        if self._current is not None:
            self.client.execute("ACK", self.ns, self._current.id)
            self._current = None

"""The errors of mi.client: one class per kind of refusal, mapped from redis-py's exceptions and
the server's reply prefixes."""

from __future__ import annotations

import redis

__all__ = [
    "AuthenticationFailed", "AuthenticationRequired", "CommandFailed", "ConnectionLost", "MiError",
    "PermissionDenied", "PoolExhausted", "RateLimited", "TransactionAborted", "TransactionConflict",
    "WrongType", "translate",
]


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


def translate(error: redis.RedisError) -> MiError:
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

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

from mi.client.aio import AsyncClient, AsyncConsumer, AsyncTransaction
from mi.client.errors import (
    AuthenticationFailed,
    AuthenticationRequired,
    CommandFailed,
    ConnectionLost,
    MiError,
    PermissionDenied,
    PoolExhausted,
    RateLimited,
    TransactionAborted,
    TransactionConflict,
    WrongType,
)
from mi.client.sync import Client, Consumer, Transaction
from mi.client.wire import Message

__all__ = [
    "AsyncClient", "AsyncConsumer", "AsyncTransaction", "AuthenticationFailed", "AuthenticationRequired", "Client",
    "CommandFailed", "ConnectionLost", "Consumer", "Message", "MiError", "PermissionDenied", "PoolExhausted",
    "RateLimited", "Transaction", "TransactionAborted", "TransactionConflict", "WrongType",
]

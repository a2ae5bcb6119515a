"""Clients blocked in BLPOP, BRPOP, BLMOVE and BRPOPLPUSH: who waits for which list, in order.

Redis's fairness rule: of the clients blocked on a list, the one that blocked first gets the first
element pushed. Here each list (namespace, key) keeps its waiters in arrival order, and a waiter
tries to take only from the lists it heads, so one push is handed out in that order, one waiter
at a time (each take is a write of its own, atomic with its check). A waiter that leaves (served,
timed out, killed) tells the lists it headed, so the next in line looks.

The wake-ups themselves travel on the server's ``DueSignals`` (``mi.delivery.pull``), under
``list_topic(ns, key)``: ``mi.commands.base.reply_of`` notifies the lists a commit filled
(``Keyspace.deadlines.filled_lists``) once that commit is done, so an element is on disk before it
is handed out, and the server's shutdown (``DueSignals.wake_all``) wakes blocked pops as it wakes
blocked TAKEs.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from attrs import define, field

__all__ = ["ListKey", "ListWaiter", "ListWaiters", "list_topic"]

ListKey = tuple[str, bytes]  # (namespace, key)


def list_topic(ns: str, key: bytes) -> tuple[str, str, bytes]:
    """The ``DueSignals`` name of a list's wake-up (never a namespace name: those are strings)."""
    return ("list", ns, key)


@define(eq=False)
class ListWaiter:
    """One blocked client; ``keys`` in the order it named them, each once."""

    keys: tuple[ListKey, ...]


@define(eq=False)
class ListWaiters:
    _queues: dict[ListKey, deque[ListWaiter]] = field(factory=dict)

    def join(self, keys: Iterable[ListKey]) -> ListWaiter:
        """A new waiter, last in line on each of ``keys``."""
        waiter = ListWaiter(tuple(dict.fromkeys(keys)))
        for key in waiter.keys:
            self._queues.setdefault(key, deque()).append(waiter)
        return waiter

    def heads(self, waiter: ListWaiter) -> list[ListKey]:
        """The lists on which ``waiter`` is first in line, in its order: those it may take from."""
        return [key for key in waiter.keys if self._queues[key][0] is waiter]

    def leave(self, waiter: ListWaiter) -> None:
        for key in waiter.keys:
            queue = self._queues[key]
            queue.remove(waiter)
            if not queue:
                del self._queues[key]

    def __len__(self) -> int:
        """How many lists have waiters."""
        return len(self._queues)

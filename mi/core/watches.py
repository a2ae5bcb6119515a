"""WATCH bookkeeping: which sessions watch which keys, and who has lost its bet.

Two checks together make EXEC's optimistic lock exact:

- ``touch``: every write command marks the sessions watching its keys as soon as it is submitted
  (a write that then fails makes an EXEC give up needlessly, never wrongly succeed);
- revisions: WATCH remembers each key's revision and EXEC compares it inside its transaction,
  which catches what no command announces: a key that expired meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from attrs import define, field

from protocol.commands import Command, Keyed

__all__ = ["WatchRegistry", "Watcher", "touched_by"]

WatchedKey = tuple[str, bytes]  # (namespace, key)


class Watcher(Protocol):
    """A connection with watched keys: told here when one of them is written."""

    watch_broken: bool


@define(eq=False)
class WatchRegistry:
    _watchers: dict[WatchedKey, set[Watcher]] = field(factory=dict)

    def watch(self, session: Watcher, watched: WatchedKey) -> None:
        self._watchers.setdefault(watched, set()).add(session)

    def unwatch(self, session: Watcher, keys: Iterable[WatchedKey]) -> None:
        for watched in keys:
            sessions = self._watchers.get(watched)
            if sessions is not None:
                sessions.discard(session)
                if not sessions:
                    del self._watchers[watched]

    def touch(self, keys: Iterable[WatchedKey] | str) -> None:
        """These keys (or this whole namespace) are being written: their watchers lose."""
        if not self._watchers:
            return
        if isinstance(keys, str):
            self._touch_namespace(keys)
            return
        for watched in keys:
            for session in self._watchers.get(watched, ()):
                session.watch_broken = True

    def _touch_namespace(self, ns: str) -> None:
        for (watched_ns, _key), sessions in self._watchers.items():
            if watched_ns == ns:
                for session in sessions:
                    session.watch_broken = True

    def __len__(self) -> int:
        return len(self._watchers)


def touched_by(command: Command, default_ns: str) -> list[WatchedKey] | str:
    """What a write command touches: its keys, or a whole namespace (named) if it has no keys."""
    ns = getattr(command, "ns", None) or default_ns  # a script's KEYS are in the default namespace
    if not isinstance(command, Keyed):
        return ns
    touched = [(ns, key) for key in command.keys]
    destination_ns = getattr(command, "destination_ns", None)  # COPY ... TO ns
    if destination_ns is not None:
        touched[-1] = (destination_ns, touched[-1][1])
    return touched

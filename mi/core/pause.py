"""CLIENT PAUSE: hold clients' commands (every command, or only writes) until a deadline.

A command is held when it is about to run, not when it arrives, as in Redis: a client that sends
nothing costs nothing. Writes, in WRITE mode, are what Redis holds there: commands flagged
``write``, every script that may write (EVAL and EVALSHA; not their _RO forms), PUBLISH, and an
EXEC whose transaction holds one of these. CLIENT PAUSE and CLIENT UNPAUSE are never held, so the operator who paused
can always end it early.
"""

from __future__ import annotations

from collections.abc import Iterable

import trio
from attrs import define, field

from protocol.commands import ALL_DECLARATIONS, ClientPause, ClientUnpause, Command, Eval, Evalsha, Exec, Publish

__all__ = ["Pause"]

_NEVER_HELD = frozenset({ClientPause, ClientUnpause})
_HELD_AS_WRITES = frozenset(
    {form for declaration in ALL_DECLARATIONS.values() if "write" in declaration.flags for form in declaration.forms}
    | {Eval, Evalsha, Publish}
)


def _writes(command: Command) -> bool:
    """Whether WRITE mode holds ``command``: EVAL_RO and EVALSHA_RO are reads, as in Redis."""
    return type(command) in _HELD_AS_WRITES and not getattr(command, "readonly", False)


@define(eq=False)
class Pause:
    """The server's pause: none (``until`` = 0) or one, that a later CLIENT PAUSE may lengthen."""

    until: float = 0.0  # trio.current_time() the pause ends at
    writes_only: bool = False
    _lifted: trio.Event = field(factory=trio.Event)

    @property
    def active(self) -> bool:
        return self.until > trio.current_time()

    def start(self, timeout_ms: int, writes_only: bool) -> None:
        """Pause for ``timeout_ms`` more. As in Redis, a pause in force keeps the later end of
        the two, and ALL wins over WRITE while both would be in force."""
        until = trio.current_time() + timeout_ms / 1000
        if not self.active:
            self._lifted = trio.Event()
            self.writes_only = writes_only
        else:
            self.writes_only = self.writes_only and writes_only
        self.until = max(self.until, until)

    def lift(self) -> None:
        """CLIENT UNPAUSE: every held command runs now."""
        self.until = 0.0
        self._lifted.set()

    def holds(self, command: Command, queued: Iterable[Command] = ()) -> bool:
        """Whether ``command`` waits; ``queued``: an EXEC's transaction, held if one of them would be."""
        kind = type(command)
        if kind in _NEVER_HELD or not self.active:
            return False
        if not self.writes_only:
            return True
        if kind is Exec:
            return any(_writes(step) for step in queued)
        return _writes(command)

    async def wait(self) -> None:
        """Until the pause ends: its deadline, or CLIENT UNPAUSE. A later CLIENT PAUSE that
        lengthens it keeps this waiting."""
        while self.active:
            with trio.move_on_at(self.until):
                await self._lifted.wait()

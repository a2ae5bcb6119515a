"""MONITOR: every command the server runs, as a line, to each connection that asked for them.

Each monitor has a backlog bounded in bytes (``limits.max_monitor_buffer``): a monitor that
falls that far behind is disconnected, as Redis drops a client past its output buffer limit, so
one that never reads cannot grow the server's memory. Its sends are under the reply timeout like
any client's. Each argument is shown at most ``MONITOR_ARG_BYTES`` long (an 8 MB value quoted
whole took seconds of the event loop), and secrets (AUTH's password...) never.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

import trio
from attrs import define, field

from protocol.display import redacted, shown
from protocol.grammar_names import database_number

__all__ = ["MONITOR_ARG_BYTES", "MONITOR_ARGS", "Monitored", "Monitors"]

MONITOR_ARG_BYTES = 1024  # of one argument shown; the rest is counted: "... (N more bytes)"
MONITOR_ARGS = 1024  # arguments shown per line; the rest are counted
SHUTDOWN_POLL = 0.5  # seconds: how soon an idle monitor notices the server stopping


def _quote(arg: bytes) -> str:
    """An argument as Redis's MONITOR shows it: in double quotes, with backslash escapes."""
    text = shown(arg, MONITOR_ARG_BYTES, counted=True).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + text.replace("\r", "\\r").replace("\n", "\\n") + '"'


def _database(ns: str) -> str | int:
    """How a line names the connection's namespace: Redis's database number where it has one
    (redis-py's Monitor reads a number there), else its name."""
    number = database_number(ns)
    return ns if number is None else number


def line_of(args: tuple[bytes, ...], show_values: bool) -> str:
    """The quoted arguments of one MONITOR line (secrets hidden, long arguments cut)."""
    args = redacted(args)
    shown_args = args if show_values or len(args) <= 2 else (*args[:2], b"...")
    text = " ".join(_quote(arg) for arg in shown_args[:MONITOR_ARGS])
    if len(shown_args) > MONITOR_ARGS:
        text += f' "... ({len(shown_args) - MONITOR_ARGS} more arguments)"'
    return text


class Monitored(Protocol):
    """A connection as MONITOR sees it: the one that ran a command, or the one streaming lines."""

    client_id: int
    peer: str
    current_namespace: str
    waited_ns: int

    def drop(self, reason: str) -> None: ...

    async def send_timed(self, data: bytes | bytearray) -> None: ...


@define(eq=False)
class _Backlog:
    """Lines waiting for one monitor, and their size in bytes."""

    session: Monitored
    limit: int
    lines: deque[bytes] = field(factory=deque)
    size: int = 0
    arrived: trio.Event = field(factory=trio.Event)

    def add(self, line: bytes) -> None:
        if self.size + len(line) > self.limit:
            self.lines.clear()
            self.size = 0
            self.session.drop(f"monitor buffer limit (over {self.limit} bytes of lines not read)")
            return
        self.lines.append(line)
        self.size += len(line)
        self.arrived.set()

    def take(self) -> bytes:
        """Every waiting line, as one write."""
        chunk = b"".join(self.lines)
        self.lines.clear()
        self.size = 0
        self.arrived = trio.Event()
        return chunk


@define(eq=False)
class Monitors:
    show_values: bool = True
    max_buffer: int = 32 * 1024 * 1024  # bytes of lines a monitor may fall behind (limits.max_monitor_buffer)
    _backlogs: dict[int, _Backlog] = field(factory=dict)

    def __bool__(self) -> bool:
        return bool(self._backlogs)

    def feed(self, session: Monitored, args: tuple[bytes, ...]) -> None:
        """Tell every monitor (but the session itself) that ``session`` ran ``args``."""
        line = (
            f"+{time.time():.6f} [{_database(session.current_namespace)} {session.peer}] "
            + line_of(args, self.show_values)
            + "\r\n"
        ).encode()
        for client_id, backlog in list(self._backlogs.items()):
            if client_id != session.client_id:
                backlog.add(line)

    async def serve(self, session: Monitored, stopping: Callable[[], bool]) -> None:
        """Stream lines to ``session`` until it goes away (``trio.BrokenResourceError``: the
        connection closes), falls too far behind, or the server is ``stopping()``."""
        backlog = self._backlogs[session.client_id] = _Backlog(session, self.max_buffer)
        started = time.perf_counter_ns()
        try:
            await session.send_timed(b"+OK\r\n")
            while not stopping():
                with trio.move_on_after(SHUTDOWN_POLL):
                    await backlog.arrived.wait()
                if backlog.lines:
                    await session.send_timed(backlog.take())
        finally:
            del self._backlogs[session.client_id]
            session.waited_ns += time.perf_counter_ns() - started  # streaming is waiting: never slow

"""MONITOR: every command the server runs, as a line, to each connection that asked for them.

Each monitor gets a bounded channel: a monitor that reads slowly loses lines (counted in its
last line when it catches up) rather than slowing the server down.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import trio
from attrs import define, field

if TYPE_CHECKING:
    from mi.session import Session

__all__ = ["Monitors"]

BACKLOG = 10_000  # lines waiting for one monitor before it loses them


def _quote(arg: bytes) -> str:
    """An argument as Redis's MONITOR shows it: in double quotes, with backslash escapes."""
    text = arg.decode("utf-8", "backslashreplace").replace("\\", "\\\\").replace('"', '\\"')
    return '"' + text.replace("\r", "\\r").replace("\n", "\\n") + '"'


@define(eq=False)
class Monitors:
    show_values: bool = True
    _channels: dict[int, trio.MemorySendChannel[bytes]] = field(factory=dict)
    _lost: dict[int, int] = field(factory=dict)

    def __bool__(self) -> bool:
        return bool(self._channels)

    def feed(self, session: Session, args: tuple[bytes, ...]) -> None:
        """Tell every monitor (but the session itself) that ``session`` ran ``args``."""
        shown = args if self.show_values or len(args) <= 2 else (*args[:2], b"...")
        line = (
            f"+{time.time():.6f} [{session.current_namespace} {session.peer}] "
            + " ".join(_quote(arg) for arg in shown)
            + "\r\n"
        ).encode()
        for client_id, channel in self._channels.items():
            if client_id == session.client_id:
                continue
            try:
                channel.send_nowait(line)
            except trio.WouldBlock:
                self._lost[client_id] = self._lost.get(client_id, 0) + 1

    async def serve(self, session: Session) -> None:
        """Stream lines to ``session`` until it goes away or the server stops."""
        send, receive = trio.open_memory_channel[bytes](BACKLOG)
        self._channels[session.client_id] = send
        try:
            await session.stream.send_all(b"+OK\r\n")
            while not session.server.terminating:
                with trio.move_on_after(0.5):  # notices shutdown
                    line = await receive.receive()
                    lost = self._lost.pop(session.client_id, 0)
                    if lost:
                        line += b"+(%d lines lost: this monitor read too slowly)\r\n" % lost
                    await session.stream.send_all(line)
        finally:
            del self._channels[session.client_id]
            self._lost.pop(session.client_id, None)

"""Publish/subscribe: who listens to which channel or pattern, and each listener's outbox.

Channels are global (not per namespace), as in Redis. A connection becomes a ``Subscriber`` on its
first SUBSCRIBE or PSUBSCRIBE and stays one until it closes (a connection that never subscribes
costs nothing). PUBLISH encodes a message once per protocol and appends it to each listener's
outbox, bounded in bytes (``limits.max_pubsub_buffer``, as Redis's client-output-buffer-limit
pubsub): a listener that falls that far behind is disconnected, so one that never reads cannot
grow the server's memory.

One task writes to a socket at a time: the subscriber's pusher (a task in the connection's
nursery) sends the outbox only while the session waits for a request, under the send lock the
session's own replies take too. A (P)SUBSCRIBE or (P)UNSUBSCRIBE takes what is queued before it
into its own reply, ahead of its confirmation, so a client reads every message in the order it
happened relative to its subscriptions: a confirmation before any message of that channel, and
no message of a channel after the confirmation that left it.

The PubSub also holds the live ``notify-keyspace-events`` setting (``mi.core.notifications``) and
publishes what a committed unit recorded: its keyspace events and the PUBLISHes of a MULTI.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

import trio
from attrs import define, field

from mi.core.glob import compile_glob
from protocol.event_classes import ALL, KEYEVENT, KEYSPACE, NEW, flags_text, parse_flags
from mi.core.notifications import Event, Published, keyevent_channel, keyspace_channel
from protocol.encoder import encode
from protocol.replies import Push

__all__ = ["PubSub", "Subscriber", "Subscribing"]


class Subscribing(Protocol):
    """A connection as pub/sub sees it."""

    client_id: int
    resp: int
    idle_since: float | None  # waiting for a request since (None: running a batch, or sending)

    def drop(self, reason: str) -> None: ...

    async def send_timed(self, data: bytes | bytearray) -> None: ...


@define(eq=False)
class Subscriber:
    """One subscribed connection: its channels and patterns, and the messages not yet sent."""

    session: Subscribing
    limit: int
    # (dicts as ordered sets: UNSUBSCRIBE with no argument leaves them in the order they came)
    channels: dict[bytes, None] = field(factory=dict)
    patterns: dict[bytes, None] = field(factory=dict)
    send_lock: trio.Lock = field(factory=trio.Lock)
    _frames: list[bytes] = field(factory=list)
    _size: int = 0
    _ready: trio.Event = field(factory=trio.Event)
    dropped: bool = False

    @property
    def count(self) -> int:
        """Subscriptions, channels and patterns together (what confirmations carry)."""
        return len(self.channels) + len(self.patterns)

    @property
    def queued_bytes(self) -> int:
        return self._size

    def deliver(self, frame: bytes) -> None:
        if self.dropped:
            return
        if self._size + len(frame) > self.limit:
            self.dropped = True
            self._frames.clear()
            self._size = 0
            self.session.drop(f"pubsub buffer limit (over {self.limit} bytes of messages not read)")
            return
        self._frames.append(frame)
        self._size += len(frame)
        if self.session.idle_since is not None:
            self._ready.set()

    def take(self) -> bytes:
        """Every queued message, as one write."""
        chunk = b"".join(self._frames)
        self._frames.clear()
        self._size = 0
        return chunk

    def session_idle(self) -> None:
        """The session has sent its replies and waits for a request: what is queued may go."""
        if self._frames:
            self._ready.set()

    async def send_reply(self, data: bytes | bytearray) -> None:
        """The session's replies, never inside a message being sent."""
        async with self.send_lock:
            await self.session.send_timed(data)

    async def push(self) -> None:
        """Send queued messages while the session is idle, until cancelled (the session ends)."""
        while True:
            await self._ready.wait()
            self._ready = trio.Event()
            async with self.send_lock:
                if self.session.idle_since is None or not self._frames:
                    continue  # the session's batch is running: session_idle() wakes this again
                await self.session.send_timed(self.take())


@define(eq=False)
class _Pattern:
    matches: Callable[[bytes], bool]
    subscribers: dict[int, Subscriber] = field(factory=dict)


@define(eq=False)
class PubSub:
    """Every channel and pattern with its subscribers (by client id)."""

    max_buffer: int = 32 * 1024 * 1024  # bytes of messages a subscriber may fall behind
    _channels: dict[bytes, dict[int, Subscriber]] = field(factory=dict)
    _patterns: dict[bytes, _Pattern] = field(factory=dict)
    _keyspace_flags: int = 0  # notify-keyspace-events as set
    # What writes read (one attribute, so writes pay next to nothing with notifications off): the
    # classes whose events can reach a channel, 0 unless K or E is on too.
    notify_flags: int = 0

    @property
    def keyspace_events(self) -> str:
        """``notify-keyspace-events`` as CONFIG GET shows it (Redis's canonical form)."""
        return flags_text(self._keyspace_flags)

    def set_keyspace_events(self, text: str) -> None:
        """CONFIG SET notify-keyspace-events; ``CommandError`` with Redis's text for a letter
        that names no class (the setting is then unchanged)."""
        flags = parse_flags(text)
        self._keyspace_flags = flags
        self.notify_flags = flags & (ALL | NEW) if flags & (KEYSPACE | KEYEVENT) else 0

    def announce(self, events: list[Event | Published]) -> None:
        """Publish what a committed unit recorded, in order: each keyspace event on the channels
        K and E turn on, each queued PUBLISH (its count of receivers kept for EXEC's reply)."""
        flags = self._keyspace_flags
        for item in events:
            if isinstance(item, Published):
                item.received = self.publish(item.channel, item.message)
                continue
            event, ns, key = item
            if flags & KEYSPACE:
                self.publish(keyspace_channel(ns, key), event)
            if flags & KEYEVENT:
                self.publish(keyevent_channel(ns, event), key)

    def subscriber(self, session: Subscribing) -> Subscriber:
        return Subscriber(session, self.max_buffer)

    def subscribe(self, subscriber: Subscriber, channel: bytes) -> None:
        subscriber.channels[channel] = None
        self._channels.setdefault(channel, {})[subscriber.session.client_id] = subscriber

    def unsubscribe(self, subscriber: Subscriber, channel: bytes) -> None:
        subscriber.channels.pop(channel, None)
        listeners = self._channels.get(channel)
        if listeners is not None:
            listeners.pop(subscriber.session.client_id, None)
            if not listeners:
                del self._channels[channel]

    def psubscribe(self, subscriber: Subscriber, pattern: bytes) -> None:
        subscriber.patterns[pattern] = None
        entry = self._patterns.get(pattern)
        if entry is None:
            entry = self._patterns[pattern] = _Pattern(compile_glob(pattern))
        entry.subscribers[subscriber.session.client_id] = subscriber

    def punsubscribe(self, subscriber: Subscriber, pattern: bytes) -> None:
        subscriber.patterns.pop(pattern, None)
        entry = self._patterns.get(pattern)
        if entry is not None:
            entry.subscribers.pop(subscriber.session.client_id, None)
            if not entry.subscribers:
                del self._patterns[pattern]

    def forget(self, subscriber: Subscriber) -> None:
        """The connection closed: it listens to nothing any more."""
        for channel in list(subscriber.channels):
            self.unsubscribe(subscriber, channel)
        for pattern in list(subscriber.patterns):
            self.punsubscribe(subscriber, pattern)
        subscriber.take()

    def publish(self, channel: bytes, message: bytes) -> int:
        """Queue ``message`` for every listener of ``channel``; how many received it (a client
        listening through a channel and a pattern counts twice, as in Redis)."""
        received = 0
        listeners = self._channels.get(channel)
        if listeners:
            frames: dict[int, bytes] = {}
            for subscriber in list(listeners.values()):
                resp = subscriber.session.resp
                frame = frames.get(resp)
                if frame is None:
                    frame = frames[resp] = encode(Push((b"message", channel, message)), resp)
                subscriber.deliver(frame)
                received += 1
        for pattern, entry in list(self._patterns.items()):
            if not entry.matches(channel):
                continue
            frames = {}
            for subscriber in list(entry.subscribers.values()):
                resp = subscriber.session.resp
                frame = frames.get(resp)
                if frame is None:
                    frame = frames[resp] = encode(Push((b"pmessage", pattern, channel, message)), resp)
                subscriber.deliver(frame)
                received += 1
        return received

    def channels(self, pattern: bytes | None = None) -> list[bytes]:
        """Channels with at least one subscriber (matching ``pattern``), sorted."""
        matches = compile_glob(pattern) if pattern is not None else None
        return sorted(name for name in self._channels if matches is None or matches(name))

    def numsub(self, channels: Iterable[bytes]) -> dict[bytes, int]:
        return {channel: len(self._channels.get(channel, ())) for channel in channels}

    def numpat(self) -> int:
        """Patterns with at least one subscriber (Redis 7 counts each pattern once)."""
        return len(self._patterns)

    def statistics(self) -> dict[str, int]:
        """Channels and patterns with at least one subscriber (INFO's pubsub_channels, _patterns)."""
        return {"channels": len(self._channels), "patterns": len(self._patterns)}

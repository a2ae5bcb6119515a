"""Publish/subscribe: (P)SUBSCRIBE, (P)UNSUBSCRIBE, PUBLISH, PUBSUB ... (``mi.core.pubsub``).

Confirmations are pushes: RESP3 ``>`` frames, RESP2 arrays, one per channel or pattern, each with
the connection's subscription count after it. Each (un)subscription's reply carries the messages
queued for the connection before it, ahead of its confirmations, so they keep their order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mi.commands.base import REGISTRY
from protocol import errors
from protocol.commands import (
    Command,
    Ping,
    Psubscribe,
    Publish,
    PubsubChannels,
    PubsubNumpat,
    PubsubNumsub,
    Punsubscribe,
    Subscribe,
    Unsubscribe,
)
from protocol.replies import Frames, Push

if TYPE_CHECKING:
    from mi.core.state import Connection

__all__ = ["in_subscribed_mode"]

# What a RESP2 connection with subscriptions may still send (Redis's list; RESET where mi has it).
_SUBSCRIBED_MODE = frozenset({"subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ping", "quit", "reset"})


def in_subscribed_mode(command: Command) -> Any:
    """For a RESP2 connection with subscriptions: the reply in place of running ``command``
    (PING's ``["pong", message]``, or Redis's error), or None to run it as usual."""
    name = command.name
    if isinstance(command, Ping):
        return [b"pong", command.message if command.message is not None else b""]
    if name in _SUBSCRIBED_MODE:
        return None
    return errors.subscribed_context(name)


@REGISTRY.connection(Subscribe)
def subscribe(session: Connection, command: Subscribe) -> Frames:
    subscriber = session.subscription()
    registry = session.server.pubsub
    confirmations = []
    for channel in command.channels:
        registry.subscribe(subscriber, channel)
        confirmations.append(Push((b"subscribe", channel, subscriber.count)))
    return Frames(tuple(confirmations), subscriber.take())


@REGISTRY.connection(Psubscribe)
def psubscribe(session: Connection, command: Psubscribe) -> Frames:
    subscriber = session.subscription()
    registry = session.server.pubsub
    confirmations = []
    for pattern in command.patterns:
        registry.psubscribe(subscriber, pattern)
        confirmations.append(Push((b"psubscribe", pattern, subscriber.count)))
    return Frames(tuple(confirmations), subscriber.take())


@REGISTRY.connection(Unsubscribe)
def unsubscribe(session: Connection, command: Unsubscribe) -> Frames:
    subscriber = session.subscriber
    if subscriber is None:  # never subscribed: Redis still confirms each (or no) channel
        return _nothing_to_leave(b"unsubscribe", command.channels)
    registry = session.server.pubsub
    channels = command.channels or tuple(subscriber.channels)
    confirmations = []
    for channel in channels:
        registry.unsubscribe(subscriber, channel)
        confirmations.append(Push((b"unsubscribe", channel, subscriber.count)))
    if not confirmations:
        confirmations.append(Push((b"unsubscribe", None, subscriber.count)))
    return Frames(tuple(confirmations), subscriber.take())


@REGISTRY.connection(Punsubscribe)
def punsubscribe(session: Connection, command: Punsubscribe) -> Frames:
    subscriber = session.subscriber
    if subscriber is None:
        return _nothing_to_leave(b"punsubscribe", command.patterns)
    registry = session.server.pubsub
    patterns = command.patterns or tuple(subscriber.patterns)
    confirmations = []
    for pattern in patterns:
        registry.punsubscribe(subscriber, pattern)
        confirmations.append(Push((b"punsubscribe", pattern, subscriber.count)))
    if not confirmations:
        confirmations.append(Push((b"punsubscribe", None, subscriber.count)))
    return Frames(tuple(confirmations), subscriber.take())


def _nothing_to_leave(kind: bytes, names: tuple[bytes, ...]) -> Frames:
    """The confirmations of a connection that never subscribed: each name with a count of 0, or
    one with a null name."""
    return Frames(tuple(Push((kind, name, 0)) for name in names) or (Push((kind, None, 0)),))


@REGISTRY.connection(Publish)
def publish(session: Connection, command: Publish) -> int:
    return session.server.pubsub.publish(command.channel, command.message)


@REGISTRY.connection(PubsubChannels)
def pubsub_channels(session: Connection, command: PubsubChannels) -> list[bytes]:
    return session.server.pubsub.channels(command.pattern)


@REGISTRY.connection(PubsubNumsub)
def pubsub_numsub(session: Connection, command: PubsubNumsub) -> list[bytes | int]:
    """A flat array, channel then count, in both protocols (as Redis answers, and redis-py reads)."""
    counts = session.server.pubsub.numsub(command.channels)
    flat: list[bytes | int] = []
    for channel in command.channels:
        flat += (channel, counts[channel])
    return flat


@REGISTRY.connection(PubsubNumpat)
def pubsub_numpat(session: Connection, command: PubsubNumpat) -> int:
    return session.server.pubsub.numpat()


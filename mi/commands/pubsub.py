"""Publish/subscribe: (P)SUBSCRIBE, (P)UNSUBSCRIBE, PUBLISH, PUBSUB ... (``mi.core.pubsub``).

Confirmations are pushes: RESP3 ``>`` frames, RESP2 arrays, one per channel or pattern, each with
the connection's subscription count after it. Each (un)subscription's reply carries the messages
queued for the connection before it, ahead of its confirmations, so they keep their order.
"""

from __future__ import annotations

from collections.abc import Callable
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
    return _confirmed(session.subscription(), b"subscribe", command.channels, session.server.pubsub.subscribe)


@REGISTRY.connection(Psubscribe)
def psubscribe(session: Connection, command: Psubscribe) -> Frames:
    return _confirmed(session.subscription(), b"psubscribe", command.patterns, session.server.pubsub.psubscribe)


@REGISTRY.connection(Unsubscribe)
def unsubscribe(session: Connection, command: Unsubscribe) -> Frames:
    subscriber = session.subscriber
    if subscriber is None:  # never subscribed: Redis still confirms each (or no) channel
        return _nothing_to_leave(b"unsubscribe", command.channels)
    channels = command.channels or tuple(subscriber.channels)
    return _confirmed(subscriber, b"unsubscribe", channels, session.server.pubsub.unsubscribe)


@REGISTRY.connection(Punsubscribe)
def punsubscribe(session: Connection, command: Punsubscribe) -> Frames:
    subscriber = session.subscriber
    if subscriber is None:
        return _nothing_to_leave(b"punsubscribe", command.patterns)
    patterns = command.patterns or tuple(subscriber.patterns)
    return _confirmed(subscriber, b"punsubscribe", patterns, session.server.pubsub.punsubscribe)


def _confirmed(subscriber: Any, kind: bytes, names: tuple[bytes, ...], change: Callable[[Any, bytes], Any]) -> Frames:
    """``change`` each name's subscription, one confirmation each with the count after it (one
    with a null name if there were none), after the messages queued before them."""
    confirmations = []
    for name in names:
        change(subscriber, name)
        confirmations.append(Push((kind, name, subscriber.count)))
    if not confirmations:
        confirmations.append(Push((kind, None, subscriber.count)))
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


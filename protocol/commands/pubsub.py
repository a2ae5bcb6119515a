"""Publish/subscribe: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, PUBSUB ...

Channels and patterns are raw bytes, global to the server (not per namespace), as in Redis.
Their handlers are in ``mi.commands.pubsub``.
"""

from __future__ import annotations

from typing import ClassVar

from attrs import frozen

from protocol import errors
from protocol.commands.base import Command
from protocol.commands.declaration import NO_KEYS, declare, declare_container
from protocol.request import Request

__all__ = [
    "Psubscribe",
    "Publish",
    "PubsubChannels",
    "PubsubNumpat",
    "PubsubNumsub",
    "Punsubscribe",
    "Subscribe",
    "Unsubscribe",
]

_LISTENING = ("pubsub", "noscript", "loading", "stale")


@frozen
class Subscribe(Command):
    """``SUBSCRIBE channel [channel ...]``."""

    name: ClassVar[str] = "subscribe"
    channels: tuple[bytes, ...]


@frozen
class Unsubscribe(Command):
    """``UNSUBSCRIBE [channel ...]``; no channel: every channel."""

    name: ClassVar[str] = "unsubscribe"
    channels: tuple[bytes, ...] = ()


@frozen
class Psubscribe(Command):
    """``PSUBSCRIBE pattern [pattern ...]`` (Redis glob patterns)."""

    name: ClassVar[str] = "psubscribe"
    patterns: tuple[bytes, ...]


@frozen
class Punsubscribe(Command):
    """``PUNSUBSCRIBE [pattern ...]``; no pattern: every pattern."""

    name: ClassVar[str] = "punsubscribe"
    patterns: tuple[bytes, ...] = ()


@frozen
class Publish(Command):
    """``PUBLISH channel message``: answers how many subscribers received it."""

    name: ClassVar[str] = "publish"
    channel: bytes
    message: bytes


@frozen
class PubsubChannels(Command):
    """``PUBSUB CHANNELS [pattern]``: channels with at least one subscriber."""

    name: ClassVar[str] = "pubsub|channels"
    pattern: bytes | None = None


@frozen
class PubsubNumsub(Command):
    """``PUBSUB NUMSUB [channel ...]``: each channel's subscriber count."""

    name: ClassVar[str] = "pubsub|numsub"
    channels: tuple[bytes, ...] = ()


@frozen
class PubsubNumpat(Command):
    """``PUBSUB NUMPAT``: how many patterns are subscribed to."""

    name: ClassVar[str] = "pubsub|numpat"


@declare("subscribe", -2, _LISTENING, NO_KEYS, "pubsub",
         "Listens for messages published to channels.",
         "SUBSCRIBE channel [channel ...]",
         forms=(Subscribe,))  # fmt: skip
def _subscribe(name: str, request: Request) -> Subscribe:
    return Subscribe(request.args[1:])


@declare("unsubscribe", -1, _LISTENING, NO_KEYS, "pubsub",
         "Stops listening to messages posted to channels (all of them, with none given).",
         "UNSUBSCRIBE [channel [channel ...]]",
         forms=(Unsubscribe,))  # fmt: skip
def _unsubscribe(name: str, request: Request) -> Unsubscribe:
    return Unsubscribe(request.args[1:])


@declare("psubscribe", -2, _LISTENING, NO_KEYS, "pubsub",
         "Listens for messages published to channels that match patterns.",
         "PSUBSCRIBE pattern [pattern ...]",
         forms=(Psubscribe,))  # fmt: skip
def _psubscribe(name: str, request: Request) -> Psubscribe:
    return Psubscribe(request.args[1:])


@declare("punsubscribe", -1, _LISTENING, NO_KEYS, "pubsub",
         "Stops listening to messages published to channels that match patterns (all, with none given).",
         "PUNSUBSCRIBE [pattern [pattern ...]]",
         forms=(Punsubscribe,))  # fmt: skip
def _punsubscribe(name: str, request: Request) -> Punsubscribe:
    return Punsubscribe(request.args[1:])


@declare("publish", 3, ("pubsub", "loading", "stale", "fast"), NO_KEYS, "pubsub",
         "Posts a message to a channel; answers how many subscribers received it.",
         "PUBLISH channel message",
         forms=(Publish,))  # fmt: skip
def _publish(name: str, request: Request) -> Publish:
    return Publish(request.args[1], request.args[2])


@declare("pubsub|channels", -2, ("pubsub", "loading", "stale"), NO_KEYS, "pubsub",
         "Returns the active channels (those with a subscriber), optionally those matching a pattern.",
         "PUBSUB CHANNELS [pattern]",
         forms=(PubsubChannels,))  # fmt: skip
def _pubsub_channels(name: str, request: Request) -> PubsubChannels:
    args = request.args
    if len(args) > 3:
        raise errors.wrong_arity(name)
    return PubsubChannels(args[2] if len(args) == 3 else None)


@declare("pubsub|numsub", -2, ("pubsub", "loading", "stale"), NO_KEYS, "pubsub",
         "Returns the number of subscribers of each channel given.",
         "PUBSUB NUMSUB [channel [channel ...]]",
         forms=(PubsubNumsub,))  # fmt: skip
def _pubsub_numsub(name: str, request: Request) -> PubsubNumsub:
    return PubsubNumsub(request.args[2:])


@declare("pubsub|numpat", 2, ("pubsub", "loading", "stale"), NO_KEYS, "pubsub",
         "Returns the number of patterns subscribed to.",
         "PUBSUB NUMPAT",
         forms=(PubsubNumpat,))  # fmt: skip
def _pubsub_numpat(name: str, request: Request) -> PubsubNumpat:
    return PubsubNumpat()


declare_container("pubsub", (), "pubsub",
                  "A container for pub/sub introspection commands.",
                  "PUBSUB subcommand [argument ...]")  # fmt: skip

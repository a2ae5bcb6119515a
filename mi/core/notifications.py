"""Keyspace notifications (Redis's ``notify-keyspace-events``; the class letters are in
``protocol.event_classes``): what a unit records while it runs, for publishing once it has committed.

A handler records each change it makes (``Keyspace.notify(kind, event, ns, key)``) as Redis's
command implementations call ``notifyKeyspaceEvent``; an event whose class is off is not even
recorded. The unit's events travel with its outcome (``Keyspace.deadlines.events``) and are
published by ``PubSub.announce`` after the commit succeeded, in the order they happened: a write
rolled back (a failing command, an EXEC that fails or is aborted) publishes nothing. Channels name
the namespace where Redis names the database number: ``__keyspace@<ns>__:<key>`` carries the event
name, ``__keyevent@<ns>__:<event>`` the key.

The same path carries the PUBLISHes queued in a MULTI (``Published``), so they reach subscribers
at EXEC, in order with the transaction's keyspace events.
"""

from __future__ import annotations

from attrs import define

__all__ = ["Event", "Published", "keyevent_channel", "keyspace_channel"]

Event = tuple[bytes, str, bytes]  # (event name, namespace, key)


def keyspace_channel(ns: str, key: bytes) -> bytes:
    return b"__keyspace@" + ns.encode() + b"__:" + key


def keyevent_channel(ns: str, event: bytes) -> bytes:
    return b"__keyevent@" + ns.encode() + b"__:" + event


@define(eq=False)
class Published:
    """A PUBLISH queued in a MULTI: published once the EXEC has committed, and then how many
    subscribers received it (EXEC's reply for it)."""

    channel: bytes
    message: bytes
    received: int = 0

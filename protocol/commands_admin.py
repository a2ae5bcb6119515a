"""Commands for delivery (TAKE, ACK, NACK) and for operators (JOURNAL, SNAPSHOT, NAMESPACE ...).

Re-exported by ``protocol.commands``, like every command class.
"""

from __future__ import annotations

from typing import ClassVar

from attrs import frozen

from protocol.command_base import Command

__all__ = [
    "Ack",
    "ClientKill",
    "ClientList",
    "ClientNoEvict",
    "ClientTyped",
    "DeliveryId",
    "Journal",
    "Monitor",
    "Nack",
    "NamespaceConfigGet",
    "NamespaceConfigSet",
    "NamespaceInfo",
    "Snapshot",
    "SlowlogGet",
    "SlowlogLen",
    "SlowlogReset",
    "SnapshotStatus",
    "Take",
]


@frozen
class Journal(Command):
    """``JOURNAL shard [SINCE seq] [COUNT count]``: journal entries after ``since``, oldest first."""

    name: ClassVar[str] = "journal"
    shard: int
    since: int = 0
    count: int = 100


@frozen
class Snapshot(Command):
    """``SNAPSHOT [TO dir]``: a consistent copy of every shard into ``dir`` (a path on the server's
    machine), or into the configured snapshot dir; replies with the snapshot's path."""

    name: ClassVar[str] = "snapshot"
    out: str | None = None


@frozen
class SnapshotStatus(Command):
    """``SNAPSHOT STATUS``: the snapshot in progress (bytes done of total) and the last one's outcome."""

    name: ClassVar[str] = "snapshot"


@frozen
class NamespaceInfo(Command):
    """``NAMESPACE INFO ns``: what the namespace holds, and its settings."""

    name: ClassVar[str] = "namespace|info"
    ns: str


@frozen
class NamespaceConfigGet(Command):
    """``NAMESPACE CONFIG ns GET``: the namespace's effective settings."""

    name: ClassVar[str] = "namespace|config"
    ns: str


@frozen
class NamespaceConfigSet(Command):
    """``NAMESPACE CONFIG ns SET option value`` (``value`` None: ``RESET option``, back to the file)."""

    name: ClassVar[str] = "namespace|config"
    ns: str
    option: str
    value: str | None


DeliveryId = tuple[int, int]  # (shard, id within the shard), written "3-1042"


@frozen
class Take(Command):
    """``TAKE [FROM ns] [COUNT n] [BLOCK ms] [LEASE d]``: due messages, each leased to this consumer."""

    name: ClassVar[str] = "take"
    ns: str | None = None
    count: int = 1
    block_ms: int | None = None  # None: answer at once; 0: wait as long as it takes
    lease_ms: int | None = None  # None: the namespace's lease


@frozen
class Ack(Command):
    """``ACK ns id [id ...]``: these deliveries are done with; the messages go."""

    name: ClassVar[str] = "ack"
    ns: str
    ids: tuple[DeliveryId, ...]


@frozen
class Nack(Command):
    """``NACK ns id [DELAY d]``: hand a delivery back, due again now (or after the delay)."""

    name: ClassVar[str] = "nack"
    ns: str
    id: DeliveryId
    delay_ms: int | None = None


@frozen
class SlowlogGet(Command):
    """``SLOWLOG GET [count]``: the newest slow commands (default 10; -1: all kept)."""

    name: ClassVar[str] = "slowlog|get"
    count: int = 10


@frozen
class SlowlogLen(Command):
    """``SLOWLOG LEN``."""

    name: ClassVar[str] = "slowlog|len"


@frozen
class SlowlogReset(Command):
    """``SLOWLOG RESET``."""

    name: ClassVar[str] = "slowlog|reset"


@frozen
class ClientList(Command):
    """``CLIENT LIST``: one line per connection."""

    name: ClassVar[str] = "client|list"


@frozen
class ClientKill(Command):
    """``CLIENT KILL ID n | ADDR host:port | host:port`` (the last, Redis's old form, answers OK)."""

    name: ClassVar[str] = "client|kill"
    client_id: int | None = None
    addr: str | None = None
    old_form: bool = False


@frozen
class ClientNoEvict(Command):
    """``CLIENT NO-EVICT on|off``: accepted (mi evicts no clients)."""

    name: ClassVar[str] = "client|no-evict"
    on: bool


@frozen
class ClientTyped(Command):
    """``CLIENT TYPED on|off``: RESP2 reads of stored values keep their types (integers,
    ``:1``/``:0`` booleans) instead of answering bulk strings, on this connection."""

    name: ClassVar[str] = "client|typed"
    on: bool


@frozen
class Monitor(Command):
    """``MONITOR``: from now on, this connection receives every command the server runs."""

    name: ClassVar[str] = "monitor"

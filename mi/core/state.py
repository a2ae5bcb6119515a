"""What every session shares (the store, its writers, the reaper, the clock and the client table),
and ``Connection``: what a command handler may see and do of the connection it runs for."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from attrs import define, field

from mi.settings.config import Config
from mi.core.cursors import ScanCursors
from mi.core.list_waiters import ListWaiters
from mi.policy.auth import Authenticator
from mi.delivery.pull import DueSignals
from mi.core.execution import UnitRunner
from mi.observability.metrics import Metrics
from mi.core.monitor import Monitors
from mi.core.pause import Pause
from mi.observability.latency import LatencyMonitor
from mi.core.pubsub import PubSub
from mi.policy.ratelimit import RateLimits
from mi.settings.namespace_settings import NamespaceSettingsTable
from mi.upkeep.snapshotter import Snapshotter
from mi.core.watches import WatchRegistry
from mi.delivery.webhooks import Webhooks
from storage import Store, shard_index

if TYPE_CHECKING:
    from mi.core.writer import ShardWriter
    from mi.delivery.reaper import Reaper
    from mi.policy.auth import User

__all__ = ["Connection", "ServerState", "wall_clock_ms"]


def wall_clock_ms() -> int:
    """Deadlines are absolute Unix milliseconds, so they mean the same after a restart."""
    return time.time_ns() // 1_000_000


@define(eq=False)
class ServerState:
    config: Config
    store: Store
    writers: list[ShardWriter]
    reaper: Reaper
    namespace_settings: NamespaceSettingsTable
    now_ms: Callable[[], int] = wall_clock_ms
    config_file: str | None = None
    port: int = 0
    metrics_port: int | None = None
    terminating: bool = False
    started_at: float = field(factory=time.time)
    sessions: dict[int, Connection] = field(factory=dict)
    scan_cursors: ScanCursors = field(factory=ScanCursors)
    watches: WatchRegistry = field(factory=WatchRegistry)
    list_waiters: ListWaiters = field(factory=ListWaiters)  # clients blocked in BLPOP and its kin, in order
    units: UnitRunner = field(init=False)
    snapshotter: Snapshotter = field(init=False)
    webhooks: Webhooks = field(init=False)
    auth: Authenticator = field(init=False)
    rate_limits: RateLimits = field(factory=RateLimits)
    metrics: Metrics = field(init=False)
    monitors: Monitors = field(init=False)
    pubsub: PubSub = field(init=False)  # channels and patterns, with their subscribers
    pause: Pause = field(factory=Pause)  # CLIENT PAUSE
    latency: LatencyMonitor = field(factory=LatencyMonitor)  # LATENCY ...
    request_shutdown: Callable[[], None] = lambda: None  # SHUTDOWN: the server stops as on SIGTERM
    connections_received: int = 0
    connections_rejected: int = 0
    blocked_clients: int = 0  # waiting in TAKE ... BLOCK, a blocking list pop (BLPOP...) or a pause
    _last_client_id: int = 0

    def __attrs_post_init__(self) -> None:
        self.units = UnitRunner(self.store, self.writers, self.namespace_settings, self.now_ms)
        self.snapshotter = Snapshotter(self.store, self.writers, self.config.snapshots)
        self.webhooks = Webhooks(self)
        self.auth = Authenticator(self.config.auth)
        slowlog = self.config.slowlog
        self.metrics = Metrics(round(slowlog.threshold * 1_000_000), slowlog.max_len)
        self.monitors = Monitors(self.config.server.monitor_values, self.config.limits.max_monitor_buffer)
        self.pubsub = PubSub(self.config.limits.max_pubsub_buffer)

    @property
    def data_dir(self) -> Path:
        return Path(self.config.storage.data_dir).resolve()

    def shard_index(self, key: bytes) -> int:
        return shard_index(key, len(self.writers))

    @property
    def due_signals(self) -> DueSignals:
        return self.reaper.signals

    def reset_statistics(self) -> None:
        """CONFIG RESETSTAT: the counters INFO shows start again (not the slow log, as in Redis)."""
        self.metrics.reset()
        self.connections_received = self.connections_rejected = 0
        self.reaper.reaped = self.reaper.returned = 0
        self.store.reset_queue_counters()  # INFO queues' and /metrics' counters (not the gauges)
        self.rate_limits.rejected = 0
        self.auth.failures_total = 0

    def next_client_id(self) -> int:
        self._last_client_id += 1
        return self._last_client_id


class Connection(Protocol):
    """One client connection as handlers see it (``mi.core.session.Session`` is the one there is):
    its settings, its transaction and watches, and the few things a command may do to it. Handlers
    take this, not the session, so commands never depend on how a connection is run."""

    server: ServerState
    client_id: int
    peer: str
    local: str  # the server's end: ip:port
    opened_at: float  # time.time()
    resp: int
    typed_resp2: bool  # CLIENT TYPED ON: RESP2 reads of stored values keep their types
    current_namespace: str
    client_name: bytes | None
    library: dict[str, str]
    user: User | None  # None: not authenticated (yet)
    transaction: Any  # a mi.commands.transactions.Transaction between MULTI and EXEC/DISCARD
    watched: dict[tuple[str, bytes], int | None]  # (ns, key) -> revision at WATCH
    watch_broken: bool
    waited_ns: int  # of the command running now: time spent waiting, not working
    subscriber: Any  # a mi.core.pubsub.Subscriber from its first (P)SUBSCRIBE on, else None

    def namespace(self, explicit: str | None) -> str: ...

    def authenticated(self, user: User) -> None: ...

    def subscription(self) -> Any: ...  # the connection's Subscriber, made on first use

    def unwatch(self) -> tuple[dict[tuple[str, bytes], int | None], bool]: ...

    def close_after_reply(self) -> None: ...

    # A blocking command's wait (TAKE ... BLOCK, BLPOP...): CLIENT KILL or a hang-up may end it,
    # and it is left out of the command's latency.
    def blocking(self) -> contextlib.AbstractAsyncContextManager[Any]: ...  # a mi.core.session.BlockedWait

    def unblock(self, with_error: bool) -> bool: ...  # CLIENT UNBLOCK

    def describe(self) -> str: ...

    def reset(self) -> None: ...

    def limits_changed(self) -> None: ...  # CONFIG SET changed a request size limit

    def kill(self) -> None: ...

    def drop(self, reason: str) -> None: ...

    async def send_timed(self, data: bytes | bytearray) -> None: ...

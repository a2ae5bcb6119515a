"""What every session shares: the store, its writers, the reaper, the clock and the client table."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from attrs import define, field

from mi.config import Config
from mi.cursors import ScanCursors
from mi.auth import Authenticator
from mi.delivery import DueSignals
from mi.execution import UnitRunner
from mi.metrics import Metrics
from mi.monitor import Monitors
from mi.ratelimit import RateLimits
from mi.namespace_settings import NamespaceSettingsTable
from mi.snapshotter import Snapshotter
from mi.watches import WatchRegistry
from mi.webhooks import Webhooks
from storage import Store, shard_index

if TYPE_CHECKING:
    from mi.reaper import Reaper
    from mi.session import Session
    from mi.writer import ShardWriter

__all__ = ["ServerState", "wall_clock_ms"]


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
    sessions: dict[int, Session] = field(factory=dict)
    scan_cursors: ScanCursors = field(factory=ScanCursors)
    watches: WatchRegistry = field(factory=WatchRegistry)
    units: UnitRunner = field(init=False)
    snapshotter: Snapshotter = field(init=False)
    webhooks: Webhooks = field(init=False)
    auth: Authenticator = field(init=False)
    rate_limits: RateLimits = field(factory=RateLimits)
    metrics: Metrics = field(init=False)
    monitors: Monitors = field(init=False)
    connections_received: int = 0
    connections_rejected: int = 0
    blocked_clients: int = 0  # waiting in TAKE ... BLOCK
    _last_client_id: int = 0

    def __attrs_post_init__(self) -> None:
        self.units = UnitRunner(self)
        self.snapshotter = Snapshotter(self.store, self.writers, self.config.snapshots)
        self.webhooks = Webhooks(self)
        self.auth = Authenticator(self.config.auth)
        slowlog = self.config.slowlog
        self.metrics = Metrics(round(slowlog.threshold * 1_000_000), slowlog.max_len)
        self.monitors = Monitors(self.config.server.monitor_values)

    @property
    def data_dir(self) -> Path:
        return Path(self.config.storage.data_dir).resolve()

    def shard_index(self, key: bytes) -> int:
        return shard_index(key, len(self.writers))

    @property
    def due_signals(self) -> DueSignals:
        return self.reaper.signals

    def next_client_id(self) -> int:
        self._last_client_id += 1
        return self._last_client_id

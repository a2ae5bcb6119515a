"""Queue metrics per namespace, as NAMESPACE INFO, INFO queues and /metrics show them.

The counts come from ``storage.queue_counts`` (kept by the commits, so a look costs no scan); here
they meet what only the server knows: whether a namespace is paused, and how long its oldest due
message has waited (a few probes of the due queue per shard: one per priority present).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol

from storage.queue_counts import COUNTERS, FIELDS, GAUGES

if TYPE_CHECKING:
    from mi.settings.config import Config
    from mi.settings.namespace_settings import NamespaceSettingsTable
    from storage import Store

__all__ = ["COUNTERS", "GAUGES", "QUEUE_FIELDS", "info_name", "queue_figures", "queues"]

QUEUE_FIELDS = (*GAUGES, "paused", "oldest_due_lag_ms", *COUNTERS)  # in the order INFO shows them


class QueueServer(Protocol):
    """What the queue metrics read of the server (``mi.core.state.ServerState``)."""

    config: Config
    store: Store
    namespace_settings: NamespaceSettingsTable
    now_ms: Callable[[], int]


def _figures(server: QueueServer, ns: str, counts: dict[str, int] | None) -> dict[str, int]:
    counts = counts or dict.fromkeys(FIELDS, 0)
    oldest = server.store.oldest_due(ns) if counts["due"] else None
    lag = 0 if oldest is None else max(server.now_ms() - oldest, 0)
    extra = {"paused": int(server.namespace_settings.is_paused(ns)), "oldest_due_lag_ms": lag}
    return {name: counts[name] if name in counts else extra[name] for name in QUEUE_FIELDS}


def queue_figures(server: QueueServer, ns: str) -> dict[str, int]:
    """One namespace's figures (``QUEUE_FIELDS``), zeros if it has none."""
    return _figures(server, ns, server.store.queue_counts().get(ns))


def _delivering(server: QueueServer) -> Iterable[str]:
    """The namespaces whose settings (the file's, or changed at run time) deliver."""
    settings = server.namespace_settings
    named = {*server.config.namespaces, *settings.overridden_namespaces()}
    return (ns for ns in named if settings.of(ns).on_expire == "deliver")


def queues(server: QueueServer, shown: Callable[[str], bool] = lambda ns: True) -> dict[str, dict[str, int]]:
    """The figures of every delivering namespace and every namespace with a count that is not
    zero (a key with a TTL is enough), those ``shown`` allows, by name."""
    counts = server.store.queue_counts()
    names = {ns for ns, row in counts.items() if any(row.values())} | set(_delivering(server))
    return {ns: _figures(server, ns, counts.get(ns)) for ns in sorted(names) if ns and shown(ns)}


def info_name(ns: str) -> str:
    """A namespace as an INFO field name: ``:`` (allowed in names) would end the field, so it is
    written ``%3A`` (``%`` never is in a name)."""
    return ns.replace(":", "%3A")

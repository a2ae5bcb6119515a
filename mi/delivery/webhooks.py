"""Webhooks: a delivering namespace with a ``webhook`` URL gets its due messages POSTed there.

For each such namespace one task takes due messages (as TAKE does, under the namespace's lease)
and POSTs each as JSON: ``{"ns", "key", "value", "type", "deadline", "priority", "attempt", "id"}``.
A 2xx answer acknowledges it. Anything else (another status, a refused connection, a timeout)
hands it back for a later try: the lease is moved to now + the namespace's retry backoff (as a
NACK's: doubling with each attempt up to ``retry_backoff_max``, with jitter), so the reaper returns
it to the queue then; after ``max_attempts`` it goes to the dead-letter namespace as any failed
delivery does. A paused namespace (NAMESPACE PAUSE) is not posted from until it is resumed.

A namespace with a secret (``[webhooks] secrets``) signs each POST as Stripe-style services do:
``Mi-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>``, so a receiver can tell
the POST came from this server and is recent (docs/webhooks.md shows the check).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import httpx
import trio
from attrs import define, field

from mi.delivery.pull import retry_delay_ms, take_available
from mi.observability.logs import get_logger
from storage.delivery import Delivery

if TYPE_CHECKING:
    from mi.core.writer import ShardWriter
    from mi.delivery.pull import DueSignals
    from mi.delivery.reaper import Reaper
    from mi.settings.config import Config, NamespaceSettings
    from mi.settings.namespace_settings import NamespaceSettingsTable
    from storage import Store

__all__ = ["SIGNATURE_HEADER", "Webhooks", "signature"]

log = get_logger("mi.webhooks")

SIGNATURE_HEADER = "Mi-Signature"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Mi-Signature`` header for ``body`` sent at ``timestamp`` (unix seconds)."""
    digest = hmac.new(secret.encode(), b"%d." % timestamp + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def body_of(shard: int, delivery: Delivery) -> dict[str, Any]:
    """The JSON a webhook receives for one message."""
    value = delivery.record.value
    if isinstance(value, bytes):  # a string message: text if it is UTF-8, else base64
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            value = {"base64": base64.b64encode(value).decode("ascii")}
    return {
        "ns": delivery.namespace,
        "key": delivery.key.decode("utf-8", "backslashreplace"),
        "value": value,
        "type": delivery.record.kind.type_name,
        "deadline": delivery.record.expires_at,
        "priority": delivery.priority,
        "attempt": delivery.attempts,
        "id": f"{shard}-{delivery.id}",
    }


class WebhookServer(Protocol):
    """What webhook delivery uses of the server (``mi.core.state.ServerState``)."""

    config: Config
    store: Store
    writers: list[ShardWriter]
    reaper: Reaper
    namespace_settings: NamespaceSettingsTable
    now_ms: Callable[[], int]

    @property
    def due_signals(self) -> DueSignals: ...


@define(eq=False)
class Webhooks:
    state: WebhookServer
    delivered: int = 0
    failed: int = 0
    looks: Counter[str] = field(factory=Counter)  # passes over each namespace's queue (tests watch them)
    _running: set[str] = field(factory=set)
    _nursery: trio.Nursery | None = None
    _client: httpx.AsyncClient | None = None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with httpx.AsyncClient() as client, trio.open_nursery() as nursery:
            self._client, self._nursery = client, nursery
            for ns in self.state.config.namespaces:
                self.ensure(ns)
            for ns in self.state.namespace_settings.overridden_namespaces():
                self.ensure(ns)
            task_status.started()
            await trio.sleep_forever()

    def ensure(self, ns: str) -> None:
        """Serve ``ns``'s webhook if it has one now (after a NAMESPACE CONFIG change, say)."""
        settings = self.state.namespace_settings.of(ns)
        if settings.webhook and settings.on_expire == "deliver" and ns not in self._running and self._nursery:
            self._running.add(ns)
            self._nursery.start_soon(self._serve, ns)

    async def _serve(self, ns: str) -> None:
        try:
            while True:
                try:
                    await self._deliver(ns)
                    return  # the namespace no longer has a webhook
                except Exception as error:  # noqa: BLE001 - a storage error: log, wait, go on
                    log.error("webhook.error", ns=ns, error=repr(error))
                    await trio.sleep(1.0)
        finally:
            self._running.discard(ns)

    async def _deliver(self, ns: str) -> None:
        """Take due messages and POST them, at most ``webhook_concurrency`` at a time (a setting
        that may change meanwhile), while ``ns`` has a webhook."""
        state = self.state
        slots = trio.CapacityLimiter(1)
        async with trio.open_nursery() as posts:
            while (settings := state.namespace_settings.of(ns)).webhook and settings.on_expire == "deliver":
                slots.total_tokens = settings.webhook_concurrency
                woken = state.due_signals.event(ns)  # RESUME wakes it too
                taken = []
                if slots.available_tokens >= 1 and not state.namespace_settings.is_paused(ns):
                    now = state.now_ms()
                    lease_ms = round(settings.lease * 1000)
                    free = int(slots.available_tokens)
                    taken = await take_available(state.store, state.writers, ns, free, now, lease_ms)
                    if taken:
                        state.reaper.note_deadline(now + lease_ms)
                for shard, delivery in taken:
                    slot = object()  # a borrower per POST (a task may not hold two of the limiter's tokens)
                    await slots.acquire_on_behalf_of(slot)
                    posts.start_soon(self._post, settings, shard, delivery, slots, slot)
                self.looks[ns] += 1
                if not taken:
                    with trio.move_on_after(1.0):  # also notices a changed setting, a free slot
                        await woken.wait()

    async def _post(
        self, settings: NamespaceSettings, shard: int, delivery: Delivery, slots: trio.CapacityLimiter, slot: object
    ) -> None:
        try:
            try:
                assert self._client is not None  # noqa: S101 - set before any task starts
                body = json.dumps(body_of(shard, delivery), separators=(",", ":")).encode()
                headers = {"Content-Type": "application/json"}
                secret = self.state.config.webhooks.secrets.get(delivery.namespace)
                if secret is not None:
                    headers[SIGNATURE_HEADER] = signature(secret, int(time.time()), body)
                response = await self._client.post(
                    settings.webhook, content=body, headers=headers, timeout=settings.webhook_timeout
                )
                ok, why = response.is_success, f"HTTP {response.status_code}"
            except httpx.HTTPError as error:
                ok, why = False, f"{type(error).__name__}: {error}"
            await self._settle(shard, delivery, ok, why)
        finally:
            slots.release_on_behalf_of(slot)

    async def _settle(self, shard: int, delivery: Delivery, ok: bool, why: str) -> None:
        state, ns = self.state, delivery.namespace
        if ok:
            self.delivered += 1
            op = lambda txn: txn.delivery.ack(ns, delivery.id)  # noqa: E731
        else:
            self.failed += 1
            backoff_ms = retry_delay_ms(state.namespace_settings.of(ns), delivery.attempts)
            retry_at = state.now_ms() + backoff_ms
            log.warning("webhook.failed", ns=ns, key=delivery.key.decode("utf-8", "backslashreplace"),
                        attempt=delivery.attempts, error=why, retry_in_s=backoff_ms / 1000)
            op = lambda txn: txn.delivery.extend(ns, delivery.id, retry_at)  # noqa: E731
        outcome = await state.writers[shard].write(op, "WEBHOOK")
        if isinstance(outcome, Exception):
            log.error("webhook.settle_failed", ns=ns, error=repr(outcome))
        elif not ok:
            state.reaper.note_deadline(retry_at)  # once committed: the reaper reads it from disk

"""The Trio server: nurseries for the shard writers, the reaper, the listener and the connections.

Shutdown runs in the reverse order of start-up: stop accepting; let each connection answer what it
already read (up to ``graceful_timeout``); stop the reaper; let the writers commit what is queued;
close the store. Nothing acknowledged is lost and nothing queued is dropped.
"""

from __future__ import annotations

import errno
import time
from collections.abc import Callable
from typing import Any
from functools import partial

import trio
from attrs import define, field

from mi.observability import systemd
from mi.policy.auth import check_listening
from mi.upkeep.checkpointer import Checkpointer
from mi.settings.config import Config
from mi.observability.logs import get_logger
from mi.settings.namespace_settings import NamespaceSettingsTable
from mi.core.plain_socket import PlainSocketStream
from mi.observability.progress import ProgressBar
from mi.observability.prometheus import MetricsEndpoint
from mi.delivery.reaper import Reaper
from mi.upkeep.trimmer import JournalTrimmer
from mi.core.session import Session
from mi.core.state import ServerState, wall_clock_ms
from mi.policy.tls import server_context
from mi.core.writer import ShardWriter
from protocol import errors
from protocol.encoder import encode
from storage import Store

__all__ = ["Server", "serve"]

READER_CHECK_INTERVAL = 60.0  # seconds
FAILED_REPLY_TIMEOUT = 1.0  # seconds a failed connection is given to take its -ERR

log = get_logger("mi.server")


def open_store(config: Config) -> Store:
    storage = config.storage
    bars: dict[int, ProgressBar] = {}

    def replaying(shard: int, done: int, total: int) -> None:  # a bar on a terminal only
        bar = bars.setdefault(shard, ProgressBar(f"shard {shard}: replaying the log", total, unit="records"))
        bar.advance(done - bar.done)
        if done >= total:
            bar.close()

    return Store.open(
        storage.data_dir,
        shards=storage.shards,
        max_db_size=storage.max_db_size,
        durable=storage.durability == "strict",
        max_value_size=storage.max_value_size,
        max_namespaces=storage.max_namespaces,
        max_readers=storage.max_readers,
        progress=replaying,
    )


@define(eq=False)
class Server:
    config: Config
    now_ms: Callable[[], int] = wall_clock_ms
    config_file: str | None = None
    state: ServerState | None = None
    _shutdown: trio.Event = field(factory=trio.Event)

    @property
    def shutdown_requested(self) -> bool:
        return self._shutdown.is_set()

    def request_shutdown(self) -> None:
        self._shutdown.set()

    async def run(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until ``request_shutdown``; ``task_status.started`` gets the bound port."""
        trio.to_thread.current_default_thread_limiter().total_tokens = self.config.server.workers
        store = await trio.to_thread.run_sync(partial(open_store, self.config))
        if store.recovered_intents:
            log.warning("storage.recovered", cross_shard_transactions=store.recovered_intents)
        for index, replayed in enumerate(store.replayed):
            if replayed.records:
                log.warning("storage.log_replayed", shard=index, records=replayed.records, entries=replayed.entries,
                            first_lsn=replayed.first_lsn, last_lsn=replayed.last_lsn,
                            seconds=round(replayed.seconds, 3))  # fmt: skip
        if store.checked_at_open:  # the last shutdown was not clean: every shard was scanned first
            log.warning("storage.checked_after_unclean_shutdown", damaged_records=store.damaged_at_open)
        failed = True  # a failure is logged once, as server.failed, by the caller: not as a stop too
        try:
            async with trio.open_nursery() as storage_nursery:
                writers = [ShardWriter(shard, self.config.storage.write_batch_size) for shard in store.shards]
                for writer in writers:
                    await storage_nursery.start(writer.run)
                try:
                    await self._run_services(store, writers, task_status)
                finally:
                    for writer in writers:  # they commit what is queued, then return
                        writer.close()
            failed = False
        except* trio.Cancelled:  # stopped now (a second signal): a stop, not a failure
            failed = False
            raise
        finally:
            store.close()
            if not failed:
                log.info("server.stopped")

    async def _run_services(
        self, store: Store, writers: list[ShardWriter], task_status: trio.TaskStatus[int]
    ) -> None:
        config = self.config
        settings = NamespaceSettingsTable(config.namespaces, store.shards[0].settings())
        reaper = Reaper(store, writers, self.now_ms, config.reaper.batch_size, settings.of)
        self.state = state = ServerState(
            config, store, writers, reaper, settings, now_ms=self.now_ms, config_file=self.config_file,
            request_shutdown=self.request_shutdown,
        )
        # Keyspace notifications: committed writes and the reaper publish through the server's PubSub.
        state.pubsub.set_keyspace_events(config.server.notify_keyspace_events)
        state.units.pubsub = reaper.pubsub = state.pubsub
        endpoint = self._open_metrics(state)
        try:
            await self._run_tasks(state, store, writers, reaper, task_status)
        finally:
            if endpoint is not None:
                endpoint.close()

    def _open_metrics(self, state: ServerState) -> MetricsEndpoint | None:
        config = self.config.server
        if config.metrics_port is None:
            return None
        endpoint = MetricsEndpoint(state, config.host, config.metrics_port)
        state.metrics_port = endpoint.port
        log.info("metrics.listening", host=config.host, port=endpoint.port, path="/metrics")
        return endpoint

    async def _run_tasks(
        self, state: ServerState, store: Store, writers: list[ShardWriter], reaper: Reaper,
        task_status: trio.TaskStatus[int],
    ) -> None:
        config = self.config
        async with trio.open_nursery() as services:
            await services.start(reaper.run)
            await services.start(JournalTrimmer(writers, config.journal).run)
            checkpointer = Checkpointer(writers, config.storage.checkpoint_interval, config.storage.checkpoint_log_bytes)
            await services.start(checkpointer.run)
            await services.start(state.snapshotter.run_periodically)
            await services.start(state.webhooks.run)
            if config.storage.durability == "relaxed":
                services.start_soon(self._sync_periodically, store)
            services.start_soon(self._check_readers_periodically, store)
            services.start_soon(self._enforce_timeouts, state)
            await self._serve_clients(state, task_status)
            services.cancel_scope.cancel()

    async def _serve_clients(self, state: ServerState, task_status: trio.TaskStatus[int]) -> None:
        config = self.config.server
        check_listening(config.host, self.config.auth)
        tls = server_context(self.config.tls) if self.config.tls.enabled else None
        try:
            sockets = await trio.open_tcp_listeners(config.port, host=config.host)
        except OSError as error:  # say where, not only why
            msg = f"cannot listen on {config.host}:{config.port}: {error.strerror}"
            raise OSError(error.errno, msg) from None
        state.port = sockets[0].socket.getsockname()[1]
        listeners: list[Any] = sockets if tls is None else [trio.SSLListener(s, tls) for s in sockets]
        async with trio.open_nursery() as connections:
            async with trio.open_nursery() as accepting:
                accepting.start_soon(
                    partial(trio.serve_listeners, handler_nursery=connections),
                    partial(self._handle, state),
                    listeners,
                )
                log.info(
                    "server.listening",
                    host=config.host,
                    port=state.port,
                    data_dir=str(state.data_dir),
                    shards=len(state.writers),
                    durability=self.config.storage.durability,
                    tls=tls is not None,
                )
                systemd.ready(config.host, state.port)
                task_status.started(state.port)
                await self._shutdown.wait()
                accepting.cancel_scope.cancel()
            log.info("server.stopping", connections=len(state.sessions))
            systemd.stopping()
            state.terminating = True
            state.due_signals.wake_all()  # consumers blocked in TAKE answer now, empty-handed
            for session in list(state.sessions.values()):
                session.stop_reading()
            # Connections still busy after the grace period are cut.
            connections.cancel_scope.deadline = trio.current_time() + config.graceful_timeout

    async def _handle(self, state: ServerState, stream: trio.abc.Stream) -> None:
        """One connection: its own nursery, so its tasks end with it."""
        state.connections_received += 1
        peer, local = _address(stream, remote=True), _address(stream, remote=False)
        if isinstance(stream, trio.SocketStream):
            stream = PlainSocketStream(stream)
        try:
            if isinstance(stream, trio.SSLStream) and not await self._handshake(stream, peer):
                return
            if state.terminating or len(state.sessions) >= self.config.server.max_clients:
                log.warning("connection.rejected", peer=peer, reason="max clients")
                state.connections_rejected += 1
                await stream.send_all(encode(errors.max_clients_reached(), 2))
                return
            session = Session(state, stream, state.next_client_id(), peer, local)
            state.sessions[session.client_id] = session
            failed = False
            try:
                async with trio.open_nursery() as nursery:
                    session.tasks = nursery  # a subscriber's pusher runs beside the session
                    nursery.start_soon(session.run)
            except Exception as error:  # a MemoryError, a bug: it ends this connection, never the server
                log.error("connection.failed", conn_id=session.client_id, peer=peer, error=_summary(error),
                          exc_info=error)
                failed = True  # (told once the except block has let go of the failed frames' memory)
            finally:
                state.sessions.pop(session.client_id, None)  # CLIENT KILL may have taken it out
            if failed:
                await _tell_failed(stream)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            await stream.aclose()

    async def _handshake(self, stream: trio.SSLStream, peer: str) -> bool:
        """Finish the TLS handshake within the configured time; False if it failed."""
        with trio.move_on_after(self.config.tls.handshake_timeout):
            try:
                await stream.do_handshake()
            except trio.BrokenResourceError as error:
                log.info("connection.tls_failed", peer=peer, error=str(error.__cause__ or error))
                return False
            return True
        log.info("connection.tls_failed", peer=peer, error="handshake timed out")
        return False

    async def _enforce_timeouts(self, state: ServerState) -> None:
        """Close connections idle, or not reading their replies, for too long (limits, which
        CONFIG SET may change: read each round)."""
        limits = self.config.limits
        while True:
            shortest = min(limits.reply_timeout, limits.idle_timeout or limits.reply_timeout)
            await trio.sleep(min(1.0, shortest / 4))  # a timeout is enforced within a quarter of itself
            now = time.monotonic()  # the sessions' clock for idle_since and sending_since
            for session in list(state.sessions.values()):
                session.check_timeouts(now, limits.idle_timeout, limits.reply_timeout)

    async def _sync_periodically(self, store: Store) -> None:
        """Relaxed durability: commits skip fsync; flush them on an interval instead."""
        while True:
            await trio.sleep(self.config.storage.relaxed_sync_interval)
            await trio.to_thread.run_sync(store.sync)


    async def _check_readers_periodically(self, store: Store) -> None:
        """Free LMDB reader slots held by dead processes (a killed ``mi snapshot``, say): a stale
        slot pins old pages, and enough of them would exhaust max_readers."""
        while True:
            await trio.sleep(READER_CHECK_INTERVAL)
            cleared = await trio.to_thread.run_sync(store.reader_check)
            if cleared:
                log.warning("storage.stale_readers_cleared", count=cleared)


def _summary(error: BaseException) -> str:
    """What went wrong, naming the errors inside a nursery's exception group."""
    if isinstance(error, BaseExceptionGroup):
        return "; ".join(_summary(inner) for inner in error.exceptions)
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


async def _tell_failed(stream: trio.abc.Stream) -> None:
    """``-ERR`` to a client whose connection failed, if it takes it within a second."""
    with trio.move_on_after(FAILED_REPLY_TIMEOUT):
        try:
            await stream.send_all(encode(errors.connection_failed(), 2))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass


def _address(stream: trio.SocketStream | trio.SSLStream, *, remote: bool) -> str:
    """The client's ip:port (``remote``), or the server's end of the connection."""
    if isinstance(stream, trio.SSLStream):
        stream = stream.transport_stream
    try:
        host, port, *_ = stream.socket.getpeername() if remote else stream.socket.getsockname()
    except OSError as error:
        if error.errno == errno.ENOTCONN:
            return "disconnected"
        raise
    return f"{host}:{port}"


async def serve(
    config: Config,
    *,
    now_ms: Callable[[], int] = wall_clock_ms,
    task_status: trio.TaskStatus[Server] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run a server until cancelled or shut down; ``task_status.started`` gets the Server."""
    server = Server(config, now_ms)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run)
        task_status.started(server)

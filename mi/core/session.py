"""One client connection: read, parse, execute in order, reply.

A session handles everything one read brought before it reads again (natural backpressure), and
sends the replies to all of it in one write. Writes in the batch are handed to the shard writers
without waiting, so they share commits; a command that reads first waits for the writes queued
before it, so a pipeline always sees its own earlier writes.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import trio
from attrs import define, field

from mi.policy.auth import PRE_AUTH_COMMANDS, PRE_AUTH_LIMITS, User, default_user, denied, is_admin, namespaces_of
from mi.commands import REGISTRY, Kind, as_command_error, reply_of
from mi.commands.pubsub import in_subscribed_mode
from mi.commands.transactions import RUN_IN_MULTI, Transaction
from mi.core.execution import Committing, Unit, shards_of
from mi.core.keyspace import Keyspace
from mi.core.pause import Pause
from mi.core.pubsub import Subscriber
from mi.observability.logs import get_logger
from mi.policy.ratelimit import Limit
from mi.core.watches import touched_by
from protocol import errors
from protocol.commands import Keyed
from protocol.encoder import encode_into
from protocol.errors import CommandError, ProtocolError
from protocol.grammar import declaration_of, parse_command
from protocol.grammar_names import DEFAULT_NAMESPACE
from protocol.parser import NEED_DATA, Limits, RequestParser
from protocol.request import Request
from protocol.values import keyword

if TYPE_CHECKING:
    from mi.core.state import ServerState

__all__ = ["Session"]

log = get_logger("mi.session")

RECEIVE_SIZE = 64 * 1024
# A batch that completed a request this big is parsed on a worker thread: checking a 16 MiB JSON
# value takes long enough to be felt by every other client (json.loads itself holds the GIL).
HEAVY_BATCH = 1024 * 1024
# A read of more keys than this runs on a worker thread (about 10 us a key on the event loop).
LONG_READ_KEYS = 1000
# What a blocked connection may send ahead (pipelined after BLPOP, say) before the server stops
# reading it until the wait is over.
MAX_READ_WHILE_BLOCKED = 1024 * 1024


@define(eq=False)
class BlockedWait:
    """One blocking wait (``Session.blocking``): whether something ended it early."""

    unblockable: bool = True  # CLIENT UNBLOCK may end it (not a CLIENT PAUSE hold)
    interrupted: bool = False  # a hang-up or CLIENT UNBLOCK ended it: the command takes nothing
    with_error: bool = False  # CLIENT UNBLOCK ... ERROR: the command answers UNBLOCKED
    scope: trio.CancelScope | None = None

    def end(self, *, with_error: bool = False) -> None:
        self.interrupted, self.with_error = True, with_error
        if self.scope is not None:
            self.scope.cancel()


@define(eq=False)
class Session:
    server: ServerState
    stream: trio.abc.Stream
    client_id: int
    peer: str
    local: str = ""  # the server's end of the connection (CLIENT LIST laddr)
    resp: int = 2
    typed_resp2: bool = False  # CLIENT TYPED ON: RESP2 reads of stored values keep their types
    current_namespace: str = DEFAULT_NAMESPACE
    client_name: bytes | None = None
    library: dict[str, str] = field(factory=dict)
    commands: int = 0
    last_command: str = "NULL"  # CLIENT LIST cmd (Redis's word before the first)
    opened_at: float = field(factory=time.time)
    transaction: Transaction | None = None  # between MULTI and EXEC/DISCARD
    watched: dict[tuple[str, bytes], int | None] = field(factory=dict)  # (ns, key) -> revision
    watch_broken: bool = False  # a watched key was written since WATCH
    user: User | None = None  # None: not authenticated (yet)
    parser: RequestParser | None = None
    idle_since: float | None = None  # time.monotonic(): waiting for a request since
    sending_since: float | None = None  # time.monotonic(): sending replies since
    # Of the command running now: time spent waiting rather than working (a TAKE ... BLOCK's wait for
    # a message, a MONITOR's stream), left out of its time as Redis leaves a blocked command's wait.
    waited_ns: int = 0
    _waiting_since: int | None = None  # perf_counter_ns: a blocking command is waiting since
    hung_up: bool = False  # the client closed its side while a blocking command waited
    _blocked_wait: BlockedWait | None = None
    _read_ahead: bool = False  # bytes read during such a wait are in the parser, unprocessed
    _dropped_for: str | None = None  # why the server ended the connection (a timeout, a limit)
    _watchdog: trio.CancelScope | None = None
    # The connection's nursery (the server's _handle sets it): a subscriber's pusher runs there.
    tasks: trio.Nursery | None = None
    subscriber: Subscriber | None = None  # from the first (P)SUBSCRIBE on (mi.core.pubsub)
    _pusher: trio.CancelScope | None = None
    _closing: bool = False

    @property
    def blocked(self) -> bool:
        """A blocking command (TAKE ... BLOCK, BLPOP...) or a paused one is waiting and holds
        nothing yet: CLIENT KILL may end the connection now."""
        return self._waiting_since is not None

    @contextlib.asynccontextmanager
    async def blocking(self) -> AsyncIterator[BlockedWait]:
        """A blocking command's wait: counted in INFO's blocked_clients, left out of the command's
        time, and ended early (``interrupted``) if the client hangs up (then ``hung_up`` too: the
        command must take nothing, nobody would receive it) or CLIENT UNBLOCK ends it (its ERROR
        form raises Redis's ``UNBLOCKED`` here). Meanwhile the connection is read, so a hang-up is
        seen at once, as Redis sees it; requests that arrive are kept for after."""
        self.server.blocked_clients += 1
        self._waiting_since = time.perf_counter_ns()
        wait = BlockedWait()
        try:
            async with trio.open_nursery() as watch:
                wait.scope = watch.cancel_scope
                self._blocked_wait = wait
                watch.start_soon(self._watch_for_hang_up, wait)
                yield wait
                watch.cancel_scope.cancel()
        finally:
            self._blocked_wait = None
            self.server.blocked_clients -= 1
            self.waited_ns += time.perf_counter_ns() - self._waiting_since
            self._waiting_since = None
        if wait.with_error:
            raise errors.unblocked()

    def unblock(self, with_error: bool) -> bool:
        """CLIENT UNBLOCK: end this connection's blocking wait, as a timeout or as an error;
        False if it is not waiting in one (a CLIENT PAUSE hold is not unblocked, as in Redis)."""
        wait = self._blocked_wait
        if wait is None or not wait.unblockable:
            return False
        wait.end(with_error=with_error)
        return True

    async def _watch_for_hang_up(self, wait: BlockedWait) -> None:
        while self.parser is not None and self.parser.buffered_bytes < MAX_READ_WHILE_BLOCKED:
            data = await self.stream.receive_some(RECEIVE_SIZE)
            if not data:
                self.hung_up = self._closing = True
                wait.end()
                return
            self.parser.receive_data(data)  # a pipelined request, run once the wait is over
            self._read_ahead = True
        await trio.sleep_forever()  # past the bound, the hang-up shows when the reply is sent

    def namespace(self, explicit: str | None) -> str:
        return explicit if explicit is not None else self.current_namespace

    def unwatch(self) -> tuple[dict[tuple[str, bytes], int | None], bool]:
        """Forget every watched key; returns them, and whether one was written meanwhile."""
        watched, broken = self.watched, self.watch_broken
        if watched:
            self.server.watches.unwatch(self, watched)
            self.watched = {}
        self.watch_broken = False
        return watched, broken

    def subscription(self) -> Subscriber:
        """This connection as a subscriber, made on its first (P)SUBSCRIBE, with the task that
        sends its messages while it waits for requests (one writer at a time: the send lock)."""
        if self.subscriber is None:
            self.subscriber = self.server.pubsub.subscriber(self)
            self._pusher = trio.CancelScope()  # made here, so the session's end cancels it even unstarted
            if self.tasks is not None:
                self.tasks.start_soon(self._push, self.subscriber, self._pusher)
        return self.subscriber

    async def _push(self, subscriber: Subscriber, scope: trio.CancelScope) -> None:
        with scope:
            try:
                await subscriber.push()
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self.drop("connection lost")

    def _user_name(self) -> str | None:
        return None if self.user is None else self.user.name

    def authenticated(self, user: User) -> None:
        """AUTH (or HELLO ... AUTH) succeeded: full-size requests from now on."""
        self.user = user
        self.limits_changed()

    def limits_changed(self) -> None:
        if self.parser is not None:
            self.parser.limits = self._limits()

    def _limits(self) -> Limits:
        if self.user is None:
            return PRE_AUTH_LIMITS
        limits = self.server.config.limits
        return Limits(limits.max_inline_size, limits.max_bulk_len, limits.max_array_len)

    def check_timeouts(self, now: float, idle_timeout: float | None, reply_timeout: float) -> None:
        """Called every so often by the server: end a connection idle, or not reading, too long."""
        if self.sending_since is not None and now - self.sending_since > reply_timeout:
            self.drop(f"not reading its replies for {reply_timeout:g}s")
        elif idle_timeout is not None and self.idle_since is not None and now - self.idle_since > idle_timeout:
            self.drop("idle timeout")

    def drop(self, reason: str) -> None:
        """End the connection now, whatever it is doing (``reason`` is logged): a timeout, or a
        monitor past its buffer limit."""
        if self._watchdog is None or self._dropped_for is not None:
            return
        self._dropped_for = reason
        self._watchdog.cancel()

    async def send_timed(self, data: bytes | bytearray) -> None:
        """Send ``data`` under the reply timeout (``check_timeouts`` drops a client that does
        not take it)."""
        self.sending_since = time.monotonic()
        await self.stream.send_all(data)
        self.sending_since = None

    def close_after_reply(self) -> None:
        self._closing = True

    def stop_reading(self) -> None:
        """Shutdown: end the session once its current batch is answered, at once if it is
        waiting for a request. (Bytes arriving in that same instant may go unanswered, as if they
        had come a moment later; a write among them may still commit, as in a crash. A cancel
        scope per read would close that gap, at a tenth of the throughput.)"""
        self._closing = True
        if self.idle_since is not None and self._watchdog is not None:
            self._watchdog.cancel()

    def kill(self) -> None:
        """CLIENT KILL: as ``stop_reading``, and a blocked command (TAKE ... BLOCK, BLPOP..., a
        pause: it holds nothing yet) ends at once too, without an answer (at shutdown it answers
        empty instead)."""
        self.stop_reading()
        self.server.sessions.pop(self.client_id, None)  # gone from CLIENT LIST at once, as in Redis
        if self.blocked and self._watchdog is not None:
            self._watchdog.cancel()

    def describe(self) -> str:
        name = (self.client_name or b"").decode("utf-8", "replace")
        user = "" if self.user is None else self.user.name
        subscriber = self.subscriber
        channels, patterns = (0, 0) if subscriber is None else (len(subscriber.channels), len(subscriber.patterns))
        multi = -1 if self.transaction is None else len(self.transaction.steps)
        return (
            f"id={self.client_id} addr={self.peer} laddr={self.local} name={name} user={user} "
            f"ns={self.current_namespace} age={int(time.time() - self.opened_at)} cmd={self.last_command} "
            f"cmds={self.commands} sub={channels} psub={patterns} "
            f"multi={multi} watch={len(self.watched)} resp={self.resp} "
            f"lib-name={self.library.get('lib-name', '')} lib-ver={self.library.get('lib-ver', '')}"
        )

    def reset(self) -> None:
        """RESET: the connection as if new, its name and id aside (as Redis keeps them)."""
        self.transaction = None
        self.unwatch()
        if self.subscriber is not None:  # its pusher stays: it may be sending a message now
            self.server.pubsub.forget(self.subscriber)
        self.resp = 2
        self.typed_resp2 = False
        self.current_namespace = DEFAULT_NAMESPACE
        self.user = None if self.server.auth.enabled else default_user(self.server.config.auth)
        self.limits_changed()

    async def run(self) -> None:
        if not self.server.auth.enabled:
            self.user = default_user(self.server.config.auth)
        parser = self.parser = RequestParser(self._limits())
        conn_log = log.bind(conn_id=self.client_id, peer=self.peer)
        conn_log.info("connection.opened")
        reason = "client closed"
        limits = self.server.config.limits
        try:
            # The server's timeout task cancels this scope for a connection idle or not reading
            # its replies for too long (see check_timeouts): marking the times here costs less
            # than moving a deadline twice per request.
            with trio.CancelScope() as self._watchdog:
                while not self._closing:
                    self.idle_since = time.monotonic()
                    if self.subscriber is not None:  # messages held during the batch may go now
                        self.subscriber.session_idle()
                    if self._read_ahead:  # a blocking command's wait read these: run them first
                        self._read_ahead = False
                    else:
                        data = await self._receive()
                        if not data:
                            break
                        parser.receive_data(data)
                    self.idle_since = None
                    requests, framing_error = _drain(parser)
                    heavy = parser.buffered_bytes > HEAVY_BATCH
                    out = await self._execute(requests, limits.max_reply_buffer, heavy)
                    if len(out) > limits.max_reply_buffer:
                        reason = f"reply buffer limit (over {limits.max_reply_buffer} bytes of replies to one read)"
                        break
                    if framing_error is not None:
                        conn_log.info("protocol.error", error=str(framing_error))
                        out += framing_error.wire_text()
                        self._closing = True
                        reason = "protocol error"
                    if self.subscriber is None:
                        await self.send_timed(out)
                    else:  # never inside a message the pusher is sending
                        await self.subscriber.send_reply(out)
            if self._dropped_for is not None:
                reason = self._dropped_for
            elif self._closing and reason == "client closed":
                reason = "server shutdown" if self.server.terminating else "quit"
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            reason = "connection lost"
        except Exception as error:  # the server logs it as connection.failed and closes only this one
            reason = f"failed ({type(error).__name__})"
            raise
        finally:
            self.unwatch()  # the registry must not keep a closed connection
            if self.subscriber is not None:
                self.server.pubsub.forget(self.subscriber)
                if self._pusher is not None:
                    self._pusher.cancel()
            conn_log.info(
                "connection.closed",
                user=self._user_name(),
                reason=reason,
                commands=self.commands,
                duration_s=round(time.time() - self.opened_at, 3),
            )

    async def _receive(self) -> bytes:
        """The next bytes; b"" at the end of the stream or on shutdown (``stop_reading``
        cancels the watchdog scope of a session waiting here: no scope of its own per read)."""
        if self._closing:
            return b""
        return await self.stream.receive_some(RECEIVE_SIZE)

    async def _execute(self, requests: list[Request], limit: int, heavy: bool = False) -> bytearray:
        """Run ``requests`` in order; the encoded replies, in the same order. Once they pass
        ``limit`` bytes the rest is not run (the caller closes the connection), so 300 pipelined
        GETs of 16 MiB hold about ``limit``, not 4.8 GB. Replies are encoded as soon as every
        write before them has committed (reads wait for that anyway), so the check is exact."""
        replies: list[tuple[Any, int, bool, Request, int, int]] = []
        pending: list[Committing] = []
        out = bytearray()
        clock = time.perf_counter_ns
        for request in requests:
            if self._closing:
                break  # after QUIT nothing more runs
            self.commands += 1
            started = clock()
            try:
                reply = await self._run(request, pending, heavy)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                raise  # the client went away (a MONITOR's): the connection closes, nothing failed
            except Exception as error:  # one bad command never ends the connection
                reply = as_command_error(error)
            if self.waited_ns:  # a blocked wait is not the command's time
                started += self.waited_ns
                self.waited_ns = 0
            if not pending:  # no write waits for its commit: what is here can be encoded now
                if replies:
                    replies.append((reply, self.resp, self.typed_resp2, request, started, clock()))
                    await self._encode(replies, out)
                else:  # the common case (a read, nothing deferred before it), without an await
                    usec = (clock() - started) // 1000
                    self._count(request, usec, usec, reply)
                    encode_into(out, reply, self.resp, self.typed_resp2)
                if len(out) > limit:
                    return out
            else:
                replies.append((reply, self.resp, self.typed_resp2, request, started, clock()))
        await self._encode(replies, out)
        return out

    async def _encode(self, replies: list[tuple[Any, int, bool, Request, int, int]], out: bytearray) -> None:
        """Append ``replies`` to ``out`` (waiting for the commits of writes), counting each; empties
        ``replies``."""
        clock = time.perf_counter_ns
        for reply, resp, typed, request, started, ran in replies:
            work_usec = (ran - started) // 1000
            usec = work_usec
            if isinstance(reply, Committing):  # a write's latency ends when its commit does
                reply = reply_of(await reply.outcome(), self.server.reaper)
                usec = (clock() - started) // 1000
                if self.server.latency.threshold_ms:
                    self.server.latency.add("commit", usec - work_usec)
            self._count(request, usec, work_usec, reply)
            encode_into(out, reply, resp, typed)
        replies.clear()

    def _count(self, request: Request, usec: int, work_usec: int, reply: Any) -> None:
        """INFO's command statistics, the slow log, and MONITOR. The slow log judges a command by
        its own work, as Redis does: a write's wait for its group commit (shared with every other
        write of the batch, and mostly the disk's sync) counts in its latency only, and AUTH's
        password hashing (slow on purpose) not at all."""
        if self.server.monitors:
            self.server.monitors.feed(self, request.args)
        if self.server.latency.threshold_ms:
            self.server.latency.add("command", work_usec)
        metrics = self.server.metrics
        self.last_command = name = stat_name(request.args)
        if metrics.record(name, usec, reply, work_usec) and not _checks_password(request.args):
            client_name = (self.client_name or b"").decode("utf-8", "replace")
            metrics.add_slow(work_usec, request.args, self.peer, client_name)
            log.warning("command.slow", conn_id=self.client_id, peer=self.peer, user=self._user_name(),
                        ns=self.current_namespace, command=name, usec=work_usec)

    async def _run(self, request: Request, pending: list[Committing], heavy: bool) -> Any:
        """One command's reply, or for a single-shard write, its ``Committing`` (added to ``pending``).
        ``heavy``: parse on a worker thread (it holds no transaction: the grammar is pure)."""
        transaction = self.transaction
        try:
            command = parse_command(request) if not heavy else await trio.to_thread.run_sync(parse_command, request)
        except CommandError as error:
            return error if transaction is None else transaction.reject(error)
        refusal = self._refusal(command)
        if refusal is not None:
            return refusal if transaction is None else transaction.reject(refusal)
        if self.subscriber is not None and self.resp == 2 and self.subscriber.count:
            instead = in_subscribed_mode(command)  # RESP2 subscribed mode: (un)subscribe, PING, QUIT
            if instead is not None:
                return instead if transaction is None else transaction.reject(instead)
        entry = REGISTRY.lookup(type(command))
        if transaction is not None and type(command) not in RUN_IN_MULTI:
            name = keyword(request.args[0]).upper()
            return transaction.add(name, command, entry, len(self.server.writers))
        pause = self.server.pause
        if pause.until and pause.holds(command, () if transaction is None else (s.command for s in transaction.steps)):
            await self._held(pause, pending)
            if self.hung_up:  # nobody to answer: the held command never runs
                return None
        kind = entry.kind
        units = self.server.units
        unit = self._write_unit(request, command, entry.handler, not heavy) if kind is Kind.WRITE else None
        if unit is not None and len(unit.shards) == 1:
            started = await units.start(unit)
            pending.append(started)  # a single-shard write is queued: the next commands need not wait
            return started
        for write in pending:  # anything else sees the writes queued before it
            await write.outcome()
        pending.clear()
        if kind is Kind.READ:  # the common case, kept short: errors are raised to _execute
            if isinstance(command, Keyed) and len(command.keys) > LONG_READ_KEYS:
                return await units.read_on_thread(lambda keyspace: entry.handler(keyspace, command), self.current_namespace)
            if units.gate.closed:
                await units.gate.wait_open()
            keyspace = Keyspace.reading(self.server.store.shards, self.server.now_ms(), self.current_namespace)
            try:
                return entry.handler(keyspace, command)
            finally:
                keyspace.close()
        if unit is not None:
            return reply_of(await (await units.start(unit)).outcome(), self.server.reaper)
        if kind is Kind.CONNECTION:
            return entry.handler(self, command)
        return await entry.handler(self, command)

    async def _held(self, pause: Pause, pending: list[Committing]) -> None:
        """Wait out a CLIENT PAUSE, as a blocked wait (CLIENT KILL ends it; not the command's
        time). The writes already queued commit first: they were let through before it."""
        for write in pending:
            await write.outcome()
        pending.clear()
        async with self.blocking() as wait:
            wait.unblockable = False
            await pause.wait()

    def _refusal(self, command: Any) -> CommandError | None:
        """NOAUTH before authentication, NOPERM for what the user may not do, a rate limit
        exceeded (the user's, or a namespace's); else None."""
        user = self.user
        if user is None:
            return None if type(command) in PRE_AUTH_COMMANDS else errors.noauth()
        refusal = denied(user, command, self.current_namespace)
        if refusal is not None:
            return refusal
        limits: list[Limit] = [] if user.rate is None else [("user", user.name, user.rate, user.burst)]
        table = self.server.namespace_settings
        if table.any_rate and not is_admin(command):  # operators can lift limits
            for ns in namespaces_of(command, self.current_namespace):
                settings = table.of(ns)
                if settings.rate is not None:
                    limits.append(("ns", ns, settings.rate, settings.burst))
        return self.server.rate_limits.check_all(limits) if limits else None

    def _write_unit(self, request: Request, command: Any, handler: Any, light: bool) -> Unit:
        """A write command as a unit of its own; it breaks the watches on its keys."""
        server = self.server
        ns = self.current_namespace
        if server.watches:
            server.watches.touch(touched_by(command, ns))
        shards = shards_of((command,), len(server.writers))
        label = keyword(request.args[0]).upper()
        return Unit(lambda keyspace: handler(keyspace, command), shards, True, ns, label, light)


def stat_name(args: tuple[bytes, ...]) -> str:
    """The name a command is counted under: ``set``, or for a container ``client|list``."""
    if not args:
        return ""
    declaration = declaration_of(args[0])  # the grammar's dispatch table: one lookup, usually
    if declaration is None:
        return keyword(args[0])
    if declaration.subcommands and len(args) > 1:
        return f"{declaration.name}|{keyword(args[1])}"
    return declaration.name


def _checks_password(args: tuple[bytes, ...]) -> bool:
    """AUTH, or HELLO ... AUTH: its time is mostly scrypt's, slow by design."""
    name = keyword(args[0]) if args else ""
    return name == "auth" or (name == "hello" and any(keyword(arg) == "auth" for arg in args[2:]))


def _drain(parser: RequestParser) -> tuple[list[Request], ProtocolError | None]:
    """Every complete request buffered, and the framing error that stopped the parse, if any."""
    requests = []
    try:
        while (request := parser.next_request()) is not NEED_DATA:
            requests.append(request)
    except ProtocolError as error:
        return requests, error
    return requests, None


"""One run of a script (``ScriptCall``): its KEYS and ARGV, and its ``redis.call``s.

``body`` is a unit's body (``mi.core.execution``): it runs on a worker thread inside the unit's
write transaction (a read one for EVAL_RO), so the script and every command it calls are one
atomic unit, as in EXEC. Each ``redis.call`` goes through the same grammar, the same permission
check and the same handlers as a client's command, in the script's namespace unless it says
``FROM ns``; only data commands (reads and writes) may be called. The command registry is
handed in (``mi.commands.scripting``), so this room does not import the handlers' package.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from attrs import define, field

from mi.core.execution import shards_of
from mi.core.watches import touched_by
from mi.observability.logs import get_logger
from mi.policy.auth import denied
from mi.scripting.convert import from_lua
from protocol import errors
from protocol.commands import Keyed
from protocol.errors import CommandError
from protocol.grammar import parse_command
from protocol.request import Request
from storage import shard_index

if TYPE_CHECKING:
    from mi.commands.base import Entry
    from mi.core.keyspace import Keyspace
    from mi.policy.auth import User
    from mi.scripting.scripts import Scripts

__all__ = ["ScriptCall"]

log = get_logger("mi.scripting")

_LINE = re.compile(r"^user_script:(\d+): ")


@define(eq=False)
class ScriptCall:
    scripts: Scripts
    sha: str
    script: bytes
    keys: tuple[bytes, ...]
    args: tuple[bytes, ...]
    user: User
    ns: str
    readonly: bool
    shard_count: int
    shards: frozenset[int] | None  # those the unit holds; None: every shard (a read)
    time_limit: float
    terminating: Callable[[], bool]  # the server is shutting down: stop, apply nothing
    lookup: Callable[[type], Entry]  # mi.commands.base.REGISTRY.lookup
    error_of: Callable[[Exception], CommandError]  # mi.commands.base.as_command_error
    started_at: float | None = None  # time.monotonic(), once it runs
    wrote: bool = False
    kill_requested: bool = False
    touched: list[Any] = field(factory=list)  # what its writes touched, for WATCH
    _keyspace: Keyspace | None = None
    _slow_logged: bool = False

    @property
    def running(self) -> bool:
        return self.started_at is not None

    @property
    def busy(self) -> bool:
        """Past its time limit: only then may SCRIPT KILL stop it (in Redis the server reads
        SCRIPT KILL only then), so whether it wrote is known when the kill is asked for."""
        started = self.started_at
        return started is not None and time.monotonic() - started >= self.time_limit

    def body(self, keyspace: Keyspace) -> Any:
        """Run the script over ``keyspace``: its reply. A script stopped (SCRIPT KILL, shutdown)
        raises, so its unit applies nothing; any other error is its reply, and what it wrote
        before stays, as in Redis. The group commit may run a body again (a full map is grown
        and the batch retried): each run starts afresh."""
        self._keyspace, self.wrote, self.touched = keyspace, False, []
        with self.scripts.runtime() as runtime:
            self.started_at = time.monotonic()
            try:
                status, value, line = runtime.run(self)
            except CommandError as error:  # it did not compile
                return error
            finally:
                self.started_at = None
                self._keyspace = None
        if status == "stopped":
            raise (errors.script_stopped_by_shutdown if self.terminating() else errors.script_killed)(self._where(1))
        if status == "ok":
            return from_lua(value)
        return self._error_reply(value, line)

    def _where(self, line: int) -> str:
        return f" script: {self.sha}, on @user_script:{line}."

    def _error_reply(self, value: Any, line: int) -> CommandError:
        if isinstance(value, bytes):  # a Lua error: "user_script:3: attempt to call a nil value"
            text = value.decode("utf-8", "replace")
            found = _LINE.match(text)
            return CommandError("ERR", text + self._where(int(found.group(1)) if found else 0))
        reply = from_lua(value)
        if isinstance(reply, CommandError):  # redis.call's error, or error({err=...})
            return CommandError(reply.prefix, reply.message + self._where(line))
        return errors.script_error(f"ERR unknown error{self._where(line)}")

    def command(self, args: tuple[Any, ...]) -> Any:
        """One ``redis.call``/``redis.pcall``: the command's reply, or its error (a value)."""
        try:
            argv = tuple(_argument(arg) for arg in args)
        except CommandError as error:
            return error
        if not argv:
            return errors.script_call_without_arguments()
        try:
            command = parse_command(Request(argv))
        except CommandError as error:
            return error
        entry = self.lookup(type(command))
        if entry.kind.value not in ("read", "write"):  # connection and task commands: refused
            return errors.not_allowed_from_script()
        writes = entry.kind.value == "write"
        if writes and self.readonly:
            return errors.write_from_readonly_script()
        if writes and self.kill_requested:  # killed as one that had not written: it never does
            return errors.script_killed(self._where(1))
        refusal = denied(self.user, command, self.ns) or self._outside_shards(command)
        if refusal is not None:
            return refusal
        assert self._keyspace is not None  # called only while the script runs
        try:
            reply = entry.handler(self._keyspace, command)
        except Exception as error:  # noqa: BLE001 - a command's error is the script's to handle
            return self.error_of(error)
        if writes:
            self.wrote = True
            self.touched.append(touched_by(command, self.ns))
        return reply

    def _outside_shards(self, command: Any) -> CommandError | None:
        """A command on a shard the unit does not hold (a key not in KEYS, on another shard)."""
        if self.shards is None or shards_of((command,), self.shard_count) <= self.shards:
            return None
        if not isinstance(command, Keyed):
            return errors.script_key_not_declared(f"{command.name.upper()} (every shard)".encode())
        outside = next(key for key in command.keys if shard_index(key, self.shard_count) not in self.shards)
        return errors.script_key_not_declared(outside)

    def should_stop(self) -> bool:
        """Asked by the Lua hook every so often (on the script's thread)."""
        if self.terminating():
            return True
        started = self.started_at
        if started is None or time.monotonic() - started < self.time_limit:
            return False
        if not self._slow_logged:
            self._slow_logged = True
            log.warning("script.slow", sha=self.sha, ns=self.ns, limit_s=self.time_limit, wrote=self.wrote)
        return self.kill_requested


def _argument(value: Any) -> bytes:
    """A ``redis.call`` argument as Redis converts it: strings as they are, numbers as Lua
    prints them (``%.14g``)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise errors.script_argument_type()
    if isinstance(value, int) or value.is_integer():
        return b"%d" % value
    return b"%.14g" % value

"""EVAL, EVALSHA (and their _RO forms), SCRIPT LOAD|EXISTS|FLUSH|KILL.

A script runs as one unit (``mi.core.execution``), like an EXEC: a write unit over the shards of
its KEYS (every shard when it declares none), committed through the shard writers, so no one
sees part of it and it is durable as every write. The unit's body always runs on a worker thread
(a script is never a *light* write, and EVAL_RO reads on a thread), so other clients are served
while it runs: their reads see the data as it was before the script, their writes to its shards
wait for it. ``mi.scripting`` holds the runtime.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mi.commands.base import REGISTRY, as_command_error, reply_of
from mi.core.execution import Unit
from mi.scripting import ScriptCall, scripts_of
from protocol import errors
from protocol.errors import CommandError
from protocol.commands import Eval, Evalsha, ScriptExists, ScriptFlush, ScriptKill, ScriptLoad
from protocol.replies import SimpleString
from storage import shard_index

if TYPE_CHECKING:
    from mi.core.keyspace import Keyspace
    from mi.core.state import Connection

__all__: list[str] = []

OK = SimpleString("OK")


def _script_of(session: Connection, command: Eval | Evalsha) -> tuple[str, bytes]:
    """The script's sha and body; EVAL caches its body (as in Redis), EVALSHA's must be cached."""
    scripts = scripts_of(session.server)
    if isinstance(command, Eval):
        return scripts.add(command.script), command.script
    body = scripts.bodies.get(command.sha)
    if body is None:
        raise errors.noscript()
    return command.sha, body


def _call(session: Connection, command: Eval | Evalsha, shards: frozenset[int] | None) -> ScriptCall:
    """One run of the script for ``session`` (its user's rights, its namespace), over ``shards``
    (None: a read over every shard); ``CommandError`` if it may not run."""
    server = session.server
    sha, body = _script_of(session, command)
    ns = session.current_namespace
    user = session.user
    assert user is not None  # the session checked AUTH before running a task
    if command.keys and not (user.may(ns, write=False) or user.may(ns, write=True)):
        raise errors.noperm_namespace(ns)  # its KEYS are in this namespace: some right to it
    return ScriptCall(
        scripts_of(server), sha, body, command.keys, command.args, user, ns, command.readonly,
        len(server.writers), shards, server.config.limits.script_time_limit,
        lambda: server.terminating, REGISTRY.lookup, as_command_error,
    )  # fmt: skip


def _in_multi(session: Connection, command: Eval | Evalsha) -> Callable[[Keyspace, Any], Any]:
    """Inside MULTI the script runs in the EXEC's transaction, over the shards the EXEC holds
    (its KEYS', or all when it declares none: ``Transaction.add``)."""
    count = len(session.server.writers)
    shards = frozenset(shard_index(key, count) for key in command.keys) or frozenset(range(count))
    call = _call(session, command, shards)  # EVAL_RO too: the EXEC holds only these shards
    return lambda keyspace, command: call.body(keyspace)


@REGISTRY.task(Eval, in_multi=_in_multi)
async def eval_(session: Connection, command: Eval) -> Any:
    return await _run(session, command)


@REGISTRY.task(Evalsha, in_multi=_in_multi)
async def evalsha(session: Connection, command: Evalsha) -> Any:
    return await _run(session, command)


async def _run(session: Connection, command: Eval | Evalsha) -> Any:
    server = session.server
    count = len(server.writers)
    shards = frozenset(shard_index(key, count) for key in command.keys) or frozenset(range(count))
    try:
        call = _call(session, command, None if command.readonly else shards)
    except CommandError as error:
        return error
    scripts = scripts_of(server)
    scripts.running.add(call)
    try:
        if command.readonly:
            return await server.units.read_on_thread(call.body, call.ns)
        unit = Unit(call.body, shards, True, call.ns, "EVAL")
        started = await server.units.start(unit)
        reply = reply_of(await started.outcome(), server.reaper)
    finally:
        scripts.running.discard(call)
    for touched in call.touched:
        server.watches.touch(touched)
    return reply


@REGISTRY.connection(ScriptLoad)
def script_load(session: Connection, command: ScriptLoad) -> Any:
    return scripts_of(session.server).load(command.script)


@REGISTRY.connection(ScriptExists)
def script_exists(session: Connection, command: ScriptExists) -> Any:
    bodies = scripts_of(session.server).bodies
    return [int(sha in bodies) for sha in command.shas]


@REGISTRY.connection(ScriptFlush)
def script_flush(session: Connection, command: ScriptFlush) -> Any:
    scripts_of(session.server).flush()
    return OK


@REGISTRY.connection(ScriptKill)
def script_kill(session: Connection, command: ScriptKill) -> Any:
    """Stop every running script that has not written (once past the time limit, as Redis
    handles SCRIPT KILL only then); UNKILLABLE if all of them have written."""
    running = [call for call in scripts_of(session.server).running if call.busy]
    if not running:
        return errors.no_script_running()
    killable = [call for call in running if not call.wrote]
    if not killable:
        return errors.script_unkillable()
    for call in killable:
        call.kill_requested = True
    return OK

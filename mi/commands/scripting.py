"""EVAL, EVALSHA (and their _RO forms), SCRIPT LOAD|EXISTS|FLUSH|KILL.

A script runs as one unit (``mi.core.execution``), like an EXEC: a write unit over the shards of
its KEYS (every shard when it declares none), committed through the shard writers, so no one
sees part of it and it is durable as every write. The unit's body always runs on a worker thread
(a script is never a *light* write, and EVAL_RO reads on a thread), so other clients are served
while it runs: their reads see the data as it was before the script, their writes to its shards
wait for it. ``mi.scripting`` holds the runtime.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mi.commands.base import REGISTRY, as_command_error, reply_of
from mi.core.execution import Unit
from mi.scripting import ScriptCall, scripts_of
from protocol import errors
from protocol.commands import Eval, Evalsha, ScriptExists, ScriptFlush, ScriptKill, ScriptLoad
from protocol.replies import SimpleString
from storage import shard_index

if TYPE_CHECKING:
    from mi.core.state import Connection

__all__: list[str] = []

OK = SimpleString("OK")


@REGISTRY.task(Eval)
async def eval_(session: Connection, command: Eval) -> Any:
    sha = scripts_of(session.server).add(command.script)  # EVAL caches, as in Redis
    return await _run(session, sha, command.script, command)


@REGISTRY.task(Evalsha)
async def evalsha(session: Connection, command: Evalsha) -> Any:
    body = scripts_of(session.server).bodies.get(command.sha)
    if body is None:
        return errors.noscript()
    return await _run(session, command.sha, body, command)


async def _run(session: Connection, sha: str, body: bytes, command: Eval | Evalsha) -> Any:
    server = session.server
    scripts = scripts_of(server)
    ns = session.current_namespace
    user = session.user
    assert user is not None  # the session checked AUTH before running a task
    if command.keys and not (user.may(ns, write=False) or user.may(ns, write=True)):
        return errors.noperm_namespace(ns)  # its KEYS are in this namespace: some right to it
    count = len(server.writers)
    shards = frozenset(shard_index(key, count) for key in command.keys) or frozenset(range(count))
    call = ScriptCall(
        scripts, sha, body, command.keys, command.args, user, ns, command.readonly, count,
        None if command.readonly else shards, server.config.limits.script_time_limit,
        lambda: server.terminating, REGISTRY.lookup, as_command_error,
    )  # fmt: skip
    scripts.running.add(call)
    try:
        if command.readonly:
            return await server.units.read_on_thread(call.body, ns)
        unit = Unit(call.body, shards, True, ns, "EVAL")
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
    running = [call for call in scripts_of(session.server).running if call.running]
    if not running:
        return errors.no_script_running()
    killable = [call for call in running if not call.wrote]
    if not killable:
        return errors.script_unkillable()
    for call in killable:
        call.kill_requested = True
    return OK

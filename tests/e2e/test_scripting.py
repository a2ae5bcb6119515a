"""Lua scripting over TCP with redis-py: EVAL, EVALSHA, SCRIPT, Script objects and redis-py's Lock,
Redis's conversions both ways, errors, rights, the sandbox and SCRIPT KILL."""

from __future__ import annotations

import pytest
import redis
import trio
from attrs import evolve

from mi.policy.auth import hash_password
from mi.settings.config import AuthConfig, UserConfig
from mi.core.server import serve
from storage import Store
from support import RawClient, ThreadedRedis, make_config, resp_command


async def _error(call) -> str:
    with pytest.raises(redis.ResponseError) as caught:
        await call
    return str(caught.value)


# --- EVAL, redis.call and the conversions ---------------------------------------------------------


async def test_eval_runs_commands_on_its_keys_and_args(r2):
    """KEYS and ARGV reach the script; redis.call writes and reads through mi's commands."""
    script = "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('GET', KEYS[1])"
    assert await r2.eval(script, 1, "greeting", "hello") == b"hello"
    assert await r2.get("greeting") == b"hello"


async def test_lua_values_become_redis_replies(r2):
    """Numbers truncate to integers, true is 1, false nil, tables arrays up to their first nil."""
    assert await r2.eval("return 3.99", 0) == 3
    assert await r2.eval("return -2.5", 0) == -2
    assert await r2.eval("return true", 0) == 1
    assert await r2.eval("return false", 0) is None
    assert await r2.eval("return {1, 'two', {3}, nil, 5}", 0) == [1, b"two", [3]]
    assert await r2.eval("return redis.status_reply('FINE')", 0) == b"FINE"
    assert await r2.eval("return {ok='DONE'}", 0) == b"DONE"
    assert "my failure" in await _error(r2.eval("return redis.error_reply('MINE my failure')", 0))


async def test_replies_become_lua_values(r2):
    """A nil is false, a status is {ok=...}, an integer a number, an array a table."""
    await r2.rpush("list", "a", "b")
    script = """
        local missing = redis.call('GET', 'nothing')
        local status = redis.call('SET', 'x', '5')
        local n = redis.call('INCR', 'x')
        local items = redis.call('LRANGE', 'list', 0, -1)
        return {type(missing), tostring(missing), status.ok, n + 1, #items, items[2]}
    """
    assert await r2.eval(script, 0) == [b"boolean", b"false", b"OK", 7, 2, b"b"]


async def test_numbers_passed_to_redis_call_are_strings_as_lua_prints_them(r2):
    """An integral number is sent as digits, a fraction with %.14g."""
    assert await r2.eval("redis.call('SET', 'n', 41); return redis.call('INCRBY', 'n', 1.0)", 0) == 42
    assert await r2.eval("redis.call('SET', 'f', 0.5); return redis.call('GET', 'f')", 0) == b"0.5"


# --- errors ----------------------------------------------------------------------------------------


async def test_redis_call_raises_and_redis_pcall_returns_the_error(r2):
    """call: the script's reply is the command's error; pcall: a table {err=...} to inspect."""
    await r2.set("text", "hello")
    error = await _error(r2.eval("local r = redis.call('INCR', 'text'); return r", 0))
    assert error.startswith("value is not an integer or out of range")
    assert "@user_script:1" in error
    script = "local r = redis.pcall('INCR', 'text'); return {type(r), r.err}"
    assert await r2.eval(script, 0) == [b"table", b"ERR value is not an integer or out of range"]


async def test_a_script_that_errors_keeps_what_it_wrote_before(r2):
    """As Redis: the writes before the error stay (the script is not rolled back)."""
    script = "redis.call('SET', 'before', '1'); redis.call('INCR', 'before_text_' .. nil)"
    assert "attempt to concatenate" in await _error(r2.eval(script, 0))
    assert await r2.get("before") == b"1"


async def test_commands_that_are_not_data_commands_are_refused(r2):
    """A connection or task command (SELECT, MULTI, EVAL) cannot be called from a script."""
    for call in ("'SELECT', '1'", "'MULTI'", "'EVAL', 'return 1', '0'"):
        script = f"return redis.pcall({call})"
        assert "not allowed from script" in await _error(r2.eval(script, 0))


async def test_eval_ro_refuses_writes(r2):
    await r2.set("k", "v")
    assert await r2.eval_ro("return redis.call('GET', KEYS[1])", 1, "k") == b"v"
    assert "not allowed from read-only scripts" in await _error(r2.eval_ro("return redis.call('DEL', 'k')", 0))


async def test_a_key_on_a_shard_not_declared_is_refused(r2):
    """The unit holds only its KEYS' shards: a key elsewhere is named in the error."""
    script = "local n = 0; for i = 1, 40 do redis.call('SET', 'other' .. i, 1) end; return 1"
    error = await _error(r2.eval(script, 1, "mine"))
    assert "Script attempted to access key 'other" in error
    assert await r2.eval(script, 0) == 1  # no KEYS: the unit holds every shard


# --- EVALSHA and the cache -------------------------------------------------------------------------


async def test_evalsha_and_script_load_exists_flush(r2):
    sha = await r2.script_load("return ARGV[1]")
    assert await r2.evalsha(sha, 0, "echoed") == b"echoed"
    assert await r2.script_exists(sha, "0" * 40) == [True, False]
    assert await r2.script_flush() is True
    assert await r2.script_exists(sha) == [False]
    assert await _error(r2.evalsha(sha, 0)) == "No matching script. Please use EVAL."


async def test_eval_caches_its_script(r2):
    await r2.eval("return 1", 0)
    assert await r2.script_exists("e0e1f9fabfc9d4800c877a703b823ac0578ff8db") == [True]


async def test_script_load_answers_a_compile_error(r2):
    assert "Error compiling script" in await _error(r2.script_load("return +"))


async def test_register_script_runs_by_sha_and_reloads_after_a_flush(r2):
    """redis-py's Script tries EVALSHA, and on NOSCRIPT loads it and retries."""
    incr = r2.client.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    assert await trio.to_thread.run_sync(lambda: incr(keys=["c"], args=[5])) == 5
    await r2.script_flush()
    assert await trio.to_thread.run_sync(lambda: incr(keys=["c"], args=[2])) == 7


async def test_redis_py_lock_acquires_extends_and_releases(r2):
    """Lock's release and extend are EVALSHA scripts."""

    def use_lock() -> tuple:
        lock = r2.client.lock("resource", timeout=10)
        acquired = lock.acquire(blocking=False)
        other = r2.client.lock("resource", timeout=10).acquire(blocking=False)
        extended = lock.extend(5)
        owned = lock.owned()
        lock.release()
        return acquired, other, extended, owned, r2.client.exists("resource")

    assert await trio.to_thread.run_sync(use_lock) == (True, False, True, True, 0)


# --- the sandbox -----------------------------------------------------------------------------------


ESCAPES = ["os.execute('true')", "io.open('/etc/passwd')", "require('os')", "loadstring('return 1')",
           "dofile('/etc/passwd')", "debug.getinfo(1)", "getfenv(0)", "python.eval('1')",
           "coroutine.create(print)", "getmetatable('').__index"]  # fmt: skip


async def test_the_sandbox_has_no_way_out(r2):
    """No os (but os.clock), io, require, loadstring, dofile, debug, getfenv, python, coroutine,
    nor the string library behind every string."""
    for escape in ESCAPES:
        error = await _error(r2.eval(f"return {escape}", 0))
        assert "nonexistent global variable" in error or "attempt to" in error, escape


async def test_globals_cannot_be_created_nor_libraries_changed(r2):
    assert "Script attempted to create global variable 'leak'" in await _error(r2.eval("leak = 1", 0))
    assert "readonly table" in await _error(r2.eval("string.rep = nil", 0))
    assert "readonly table" in await _error(r2.eval("rawset(redis, 'call', tostring)", 0))
    assert await r2.eval("return string.rep('ab', 2)", 0) == b"abab"


async def test_sha1hex_and_log(r2):
    assert await r2.eval("redis.log(redis.LOG_WARNING, 'hi'); return redis.sha1hex('')", 0) == (
        b"da39a3ee5e6b4b0d3255bfef95601890afd80709"
    )


async def test_a_script_write_breaks_a_watch(r2, port):
    """A key a script writes counts as written for another client's WATCH."""
    other = ThreadedRedis(port, password="root-pw")

    def watch_then_exec() -> None:
        with r2.client.pipeline() as pipe:
            pipe.watch("watched")
            other.client.eval("return redis.call('SET', KEYS[1], 'changed')", 1, "watched")
            pipe.multi()
            pipe.set("watched", "mine")
            pipe.execute()

    with pytest.raises(redis.WatchError):
        await trio.to_thread.run_sync(watch_then_exec)
    assert await r2.get("watched") == b"changed"
    other.client.close()


# --- in MULTI ----------------------------------------------------------------------------------------


async def test_eval_in_multi_runs_inside_the_exec(r2):
    """A script queued in MULTI runs in the EXEC's transaction, seeing the commands before it."""

    def run() -> list:
        r2.client.set("counter", 1)
        sha = r2.client.script_load("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        pipe = r2.client.pipeline(transaction=True)
        pipe.incr("counter")
        pipe.eval("return redis.call('INCR', KEYS[1])", 1, "counter")
        pipe.evalsha(sha, 1, "counter", 10)
        pipe.get("counter")
        return pipe.execute()

    assert await trio.to_thread.run_sync(run) == [2, 3, 13, b"13"]


async def test_evalsha_of_an_unknown_script_in_multi_aborts_the_exec(r2):
    def run() -> None:
        pipe = r2.client.pipeline(transaction=True)
        pipe.evalsha("0" * 40, 0)
        pipe.execute()

    with pytest.raises(redis.ResponseError, match="No matching script"):  # as it was queued: EXECABORT
        await trio.to_thread.run_sync(run)


async def test_a_script_in_multi_keeps_its_users_rights(port):
    """A restricted user's queued script cannot reach a namespace it may not, inside the EXEC."""
    alice = ThreadedRedis(port, username="alice", password="alice-pw")

    def run() -> list:
        pipe = alice.client.pipeline(transaction=True)
        pipe.eval("return redis.call('SET', 'k', 'ok', 'FROM', 'orders')", 0)
        pipe.eval("return redis.call('SET', 'k', 'no', 'FROM', 'secrets')", 0)
        return pipe.execute(raise_on_error=False)

    ok, refused = await trio.to_thread.run_sync(run)
    assert ok == b"OK"
    assert isinstance(refused, redis.exceptions.NoPermissionError) and "'secrets' namespace" in str(refused)
    alice.client.close()


# --- the time limit and SCRIPT KILL ------------------------------------------------------------------


@pytest.fixture
def config(tmp_path):
    config = make_config(tmp_path / "data")
    users = {"alice": UserConfig(password=hash_password("alice-pw"), read=["orders*"], write=["orders*"])}
    auth = AuthConfig(requirepass="root-pw", users=users)
    return evolve(config, auth=auth, limits=evolve(config.limits, script_time_limit=0.05))


@pytest.fixture
def r2(port):
    client = ThreadedRedis(port, protocol=2, password="root-pw")
    yield client
    client.client.close()


async def test_script_kill_stops_a_busy_script_and_others_are_served_meanwhile(r2, port):
    other = ThreadedRedis(port, password="root-pw")
    assert "No scripts in execution right now." in await _error(other.script_kill())
    outcome = []

    async def spin() -> None:
        outcome.append(await _error(r2.eval("while true do end", 0)))

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(spin)
            while True:  # until the script has started
                try:
                    await other.script_kill()
                    break
                except redis.ResponseError as error:
                    assert "No scripts in execution" in str(error)
                await trio.sleep(0.01)
            assert await other.get("anything") is None  # served while the script ran
    assert outcome[0].startswith("Script killed by user with SCRIPT KILL...")
    other.client.close()


async def test_script_kill_refuses_a_script_that_wrote(r2, port):
    other = ThreadedRedis(port, password="root-pw")
    script = "redis.call('SET', KEYS[1], 'x'); local t = os.clock(); while os.clock() - t < 0.5 do end; return 1"
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(r2.eval, script, 1, "written")
            while True:
                try:
                    await other.script_kill()
                    pytest.fail("killed a script that wrote")
                except redis.ResponseError as error:
                    if "Sorry the script already executed write commands" in str(error):
                        break
                    assert "No scripts in execution" in str(error)
                await trio.sleep(0.01)
    assert await r2.get("written") == b"x"
    other.client.close()


async def _wait_until_running(client: ThreadedRedis, expected: str) -> None:
    """Until SCRIPT KILL answers ``expected`` rather than NOTBUSY: the script has started."""
    with trio.fail_after(20):
        while True:
            try:
                await client.script_kill()
            except redis.ResponseError as error:
                if expected in str(error):
                    return
                assert "No scripts in execution" in str(error)
            await trio.sleep(0.01)


async def test_shutdown_stops_a_running_script_and_applies_nothing(config):
    """A script that wrote and never ends is stopped by a shutdown, its writes rolled back."""
    async with trio.open_nursery() as nursery:
        server = await nursery.start(serve, config)
        raw = await RawClient.connect(server.state.port)
        await raw.command("AUTH", "root-pw")
        script = "redis.call('SET', KEYS[1], 'half'); while true do end"
        await raw.send(resp_command("EVAL", script, "1", "spun"))
        watcher = ThreadedRedis(server.state.port, password="root-pw")
        await _wait_until_running(watcher, "Sorry the script already executed write commands")
        watcher.client.close()
        server.request_shutdown()
        with trio.fail_after(20):
            reply = await raw.read_reply()
        assert reply.message.startswith("Script stopped: the server is shutting down, nothing it wrote was applied")
        await raw.aclose()
    with Store.open(config.storage.data_dir) as store, store.shard_for(b"spun").read() as txn:
        assert txn.get("default", b"spun", 0) is None


# --- rights ------------------------------------------------------------------------------------------


async def test_a_script_cannot_reach_a_namespace_its_user_may_not(port):
    alice = ThreadedRedis(port, username="alice", password="alice-pw")
    assert await alice.eval("return redis.call('SET', 'k', 'ok', 'FROM', 'orders')", 0) == b"OK"
    error = await _error(alice.eval("return redis.call('GET', 'k', 'FROM', 'secrets')", 0))
    assert "no permissions to access the 'secrets' namespace" in error
    assert "the 'default' namespace" in await _error(alice.eval("return 1", 1, "k"))  # its KEYS' namespace
    alice.client.close()

"""A namespace's own rules: default_ttl and max_value_size, from the config file and NAMESPACE CONFIG."""

from __future__ import annotations

import trio
from attrs import evolve

from mi.settings.config import NamespaceSettings
from mi.core.server import serve
from protocol import CommandError
from protocol.replies import SimpleString
from support import RawClient, as_map, make_config

OK = SimpleString("OK")


def with_jobs_settings(config, **settings):
    return evolve(config, namespaces={"jobs": NamespaceSettings(**settings)})


async def start(nursery, config) -> tuple[object, RawClient]:
    server = await nursery.start(serve, config)
    return server, await RawClient.connect(server.state.port)



async def test_default_ttl_from_the_config_file(nursery, tmp_path):
    _, client = await start(nursery, with_jobs_settings(make_config(tmp_path / "data"), default_ttl=600.0))
    await client.command("SET", "a", "x", "FROM", "jobs")
    await client.command("HSET", "b", '{"n": 1}', "FROM", "jobs")
    await client.command("SET", "c", "x", "FROM", "jobs", "TTL", "5s")
    await client.command("SET", "d", "x", "FROM", "other")
    assert 590 <= await client.command("TTL", "a", "FROM", "jobs") <= 600
    assert 590 <= await client.command("TTL", "b", "FROM", "jobs") <= 600
    assert await client.command("TTL", "c", "FROM", "jobs") <= 5, "an explicit TTL wins"
    assert await client.command("TTL", "d", "FROM", "other") == -1, "other namespaces keep no TTL"


async def test_config_set_get_reset_and_it_survives_a_restart(tmp_path):
    config = with_jobs_settings(make_config(tmp_path / "data"), default_ttl=600.0)
    async with trio.open_nursery() as nursery:
        _, client = await start(nursery, config)
        assert as_map(await client.command("NAMESPACE", "CONFIG", "jobs", "GET")) == {
            b"on_expire": b"drop", b"default_ttl": b"600s", b"max_value_size": None,
            b"max_keys": None, b"rate": None, b"burst": None, b"lease": b"30s", b"max_attempts": None, b"dead_letter": None, b"webhook": None,
            b"retry_backoff": b"1s", b"retry_backoff_max": b"300s", b"webhook_concurrency": b"16",
            b"webhook_timeout": b"10s",
        }
        assert await client.command("NAMESPACE", "CONFIG", "jobs", "SET", "default_ttl", "30s") == OK
        assert await client.command("NAMESPACE", "CONFIG", "jobs", "SET", "max_value_size", "1KiB") == OK
        await client.command("SET", "a", "x", "FROM", "jobs")
        assert 25 <= await client.command("TTL", "a", "FROM", "jobs") <= 30
        nursery.cancel_scope.cancel()

    async with trio.open_nursery() as nursery:  # the same data dir: the changes were kept
        _, client = await start(nursery, config)
        settings = as_map(await client.command("NAMESPACE", "CONFIG", "jobs", "GET"))
        assert (settings[b"default_ttl"], settings[b"max_value_size"]) == (b"30s", b"1024")
        assert await client.command("NAMESPACE", "CONFIG", "jobs", "RESET", "default_ttl") == OK
        settings = as_map(await client.command("NAMESPACE", "CONFIG", "jobs", "GET"))
        assert (settings[b"default_ttl"], settings[b"max_value_size"]) == (b"600s", b"1024"), "back to the file's"
        assert await client.command("NAMESPACE", "CONFIG", "jobs", "SET", "default_ttl", "none") == OK
        await client.command("SET", "b", "x", "FROM", "jobs")
        assert await client.command("TTL", "b", "FROM", "jobs") == -1, "none lifts the file's TTL"
        nursery.cancel_scope.cancel()


async def test_max_value_size_refuses_larger_values_in_that_namespace_only(raw):
    assert await raw.command("NAMESPACE", "CONFIG", "small", "SET", "max_value_size", "10") == OK
    assert await raw.command("SET", "k", "x" * 10, "FROM", "small") == OK
    reply = await raw.command("SET", "k", "x" * 11, "FROM", "small")
    assert isinstance(reply, CommandError) and "over max_value_size of 10 bytes" in reply.message
    reply = await raw.command("LSET", "l", '["aaaaa", "bbbbb"]', "FROM", "small")
    assert isinstance(reply, CommandError)
    assert await raw.command("GET", "k", "FROM", "small") == b"x" * 10, "the refused write left nothing"
    assert await raw.command("SET", "k", "x" * 11, "FROM", "other") == OK


async def test_bad_settings_are_clear_errors(raw):
    for args, text in [
        (("SET", "colour", "red"), "unknown namespace option 'colour'"),
        (("SET", "default_ttl", "soon"), "default_ttl: invalid duration 'soon'"),
        (("SET", "max_value_size", "0"), "max_value_size must be greater than 0"),
        (("RESET", "colour"), "unknown namespace option 'colour'"),
        (("SET", "on_expire", "keep"), "on_expire: must be drop or deliver"),
        (("SET", "lease", "none"), "lease cannot be none (RESET lease goes back to the file's value"),
        (("SET", "lease", "soon"), "lease: invalid duration 'soon': use a number with an optional unit ms, s, m, h or d"),
        (("SET", "dead_letter", "a/b"), "dead_letter:"),
        (("SET", "max_attempts", "2.5"), "max_attempts: not a whole number"),
        (("SET", "webhook", "ftp://x"), "webhook: 'ftp://x' is not an http:// or https:// URL"),
        (("FROB",), "syntax error"),
    ]:
        reply = await raw.command("NAMESPACE", "CONFIG", "jobs", *args)
        assert isinstance(reply, CommandError) and text in reply.message, (args, reply)
    reply = await raw.command("NAMESPACE", "CONFIG", "bad/name", "GET")
    assert isinstance(reply, CommandError)
    assert await raw.command("PING") == SimpleString("PONG")


async def test_namespace_info_counts_keys_and_scheduled_messages(raw):
    await raw.command("SET", "a", "1", "FROM", "jobs")
    await raw.command("SET", "b", "1", "FROM", "jobs", "TTL", "1h")
    await raw.command("SET", "c", "1", "FROM", "jobs", "TTL", "2h")
    info = as_map(await raw.command("NAMESPACE", "INFO", "jobs"))
    assert (info[b"keys"], info[b"scheduled"]) == (3, 2)
    assert b"default_ttl" in info


async def test_max_keys_refuses_new_keys_but_not_updates(raw):
    assert await raw.command("NAMESPACE", "CONFIG", "capped", "SET", "max_keys", "3") == OK
    for key in ("a", "b", "c"):  # likely on different shards: the limit is for the namespace
        assert await raw.command("SET", key, "1", "FROM", "capped") == OK
    reply = await raw.command("SET", "d", "1", "FROM", "capped")
    assert isinstance(reply, CommandError) and "namespace 'capped' is full (max_keys 3)" in reply.message
    assert await raw.command("SET", "a", "2", "FROM", "capped") == OK, "an update needs no room"
    assert await raw.command("INCR", "b", "FROM", "capped") == 2
    assert await raw.command("DEL", "c", "FROM", "capped") == 1
    assert await raw.command("SET", "d", "1", "FROM", "capped") == OK, "room again"
    assert await raw.command("DBSIZE", "FROM", "capped") == 3

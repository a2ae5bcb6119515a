"""The operation journal seen from outside: JOURNAL over TCP, reaper entries, retention."""

from __future__ import annotations

import json

import trio
from attrs import evolve

from mi.server import serve
from protocol import CommandError
from storage import shard_index
from support import RawClient, make_config, wait_reaped

SHARDS = 4


async def journal(client, key: bytes | str, since: int = 0) -> list[dict]:
    """The journal of the shard that holds ``key``."""
    key = key.encode() if isinstance(key, str) else key
    replies = await client.command("JOURNAL", shard_index(key, SHARDS), "SINCE", since, "COUNT", 1000)
    return [json.loads(text) for text in replies]


async def test_writes_are_journaled_with_their_values(raw):
    """SET, INCR and DEL each leave an entry naming the command, namespace, key and value."""
    await raw.command("SET", "k", "hello", "FROM", "ns", "TTL", "1h")
    await raw.command("INCR", "k2")  # another key, maybe another shard
    await raw.command("DEL", "k", "FROM", "ns")
    entries = await journal(raw, "k")
    ops = [(e["op"], e["changes"][0]["op"], e["changes"][0]["key"]) for e in entries]
    assert ("SET", "put", "k") in ops and ("DEL", "delete", "k") in ops
    put = next(e["changes"][0] for e in entries if e["op"] == "SET")
    assert (put["ns"], put["type"], put["value"]) == ("ns", "string", "hello")
    assert put["expires_at"] > 0
    incr = (await journal(raw, "k2"))[-1]
    assert (incr["op"], incr["changes"][0]["value"]) == ("INCR", 1)


async def test_exec_is_one_entry(raw):
    """A transaction on one shard is journaled as a single EXEC entry holding all its changes."""
    keys = ["{t}a", "{t}b"]  # a hash tag keeps them on one shard
    await raw.command("MULTI")
    for key in keys:
        await raw.command("SET", key, "v")
    await raw.command("EXEC")
    last = (await journal(raw, "{t}a"))[-1]
    assert last["op"] == "EXEC"
    assert [change["key"] for change in last["changes"]] == keys


async def test_since_pages_through_the_journal(raw):
    for i in range(5):
        await raw.command("SET", "{p}k", i)
    everything = await journal(raw, "{p}k")
    later = await journal(raw, "{p}k", since=everything[1]["seq"])
    assert later == everything[2:]


async def test_reaper_deletions_are_journaled(client, timed_server, clock):
    await client.command("SET", "brief", "v", "TTL", "1s")
    clock.jump(2)
    await wait_reaped(timed_server, 1)
    last = (await journal(client, "brief"))[-1]
    assert last["op"] == "reap"
    assert last["changes"] == [{"op": "delete", "ns": "default", "key": "brief"}]


async def test_journal_of_a_shard_that_does_not_exist(raw):
    reply = await raw.command("JOURNAL", 99)
    assert isinstance(reply, CommandError) and "no shard 99" in reply.message


async def test_retention_trims_the_oldest_entries(nursery, tmp_path):
    """With max_entries = 5, the trimmer keeps each shard's journal at 5 entries."""
    config = make_config(tmp_path / "data")
    config = evolve(config, journal=evolve(config.journal, max_entries=5, trim_interval=0.01))
    server = await nursery.start(serve, config)
    client = await RawClient.connect(server.state.port)
    for i in range(20):
        await client.command("SET", "{same}key", i)
    with trio.fail_after(10):
        while len(entries := await journal(client, "{same}key")) > 5:
            await trio.sleep(0.01)
    assert [entry["changes"][0]["value"] for entry in entries] == [15, 16, 17, 18, 19]
    await client.aclose()

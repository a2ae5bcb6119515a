"""The operation journal seen from outside: JOURNAL over TCP, reaper entries, retention."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio
from attrs import evolve

import storage.wal
from mi.core.server import Server
from protocol import CommandError
from storage import shard_index
from storage.log_format import HEADER_SIZE
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


@asynccontextmanager
async def running(config) -> AsyncIterator[RawClient]:
    """A server on ``config`` and a client of it; stopped gracefully (which checkpoints) on exit."""
    server = Server(config)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(server.run)
        client = await RawClient.connect(port)
        try:
            yield client
        finally:
            await client.aclose()
            server.request_shutdown()


def keeping_five_entries(tmp_path, monkeypatch):
    """max_entries = 5, and every log record in a segment of its own (whole segments are trimmed):
    a segment is rolled once it holds more than its header."""
    monkeypatch.setattr(storage.wal, "SEGMENT_BYTES", HEADER_SIZE + 1)
    config = make_config(tmp_path / "data")
    return evolve(config, journal=evolve(config.journal, max_entries=5, trim_interval=0.01))


async def trimmed_to_five(client) -> list[dict]:
    with trio.fail_after(10):
        while len(entries := await journal(client, "{same}key")) > 5:
            await trio.sleep(0.01)
    return entries


async def test_retention_trims_the_oldest_segments_once_checkpointed(tmp_path, monkeypatch):
    """With max_entries = 5, the trimmer deletes old log segments down to the 5 newest entries, once
    a checkpoint (here: the restart's) holds them; never the log the checkpoint does not."""
    config = keeping_five_entries(tmp_path, monkeypatch)
    async with running(config) as client:
        for i in range(20):
            await client.command("SET", "{same}key", i)
    async with running(config) as client:
        entries = await trimmed_to_five(client)
    assert [entry["changes"][0]["value"] for entry in entries] == [15, 16, 17, 18, 19]


async def test_a_trimmed_journal_numbers_new_entries_after_the_old_ones(tmp_path, monkeypatch):
    """After trimming, the next entry is numbered after the newest, and so after a restart: no
    number is used twice, so a consumer's SINCE stays meaningful."""
    config = keeping_five_entries(tmp_path, monkeypatch)
    async with running(config) as client:
        for i in range(20):
            await client.command("SET", "{same}key", i)
    async with running(config) as client:
        kept = await trimmed_to_five(client)
        await client.command("SET", "{same}key", "after")
        newest = await journal(client, "{same}key", since=kept[-1]["seq"])
    async with running(config) as client:
        await client.command("SET", "{same}key", "after restart")
        later = await journal(client, "{same}key", since=newest[-1]["seq"])
    assert kept[0]["seq"] > 1, "the oldest entries are gone"
    assert [(e["seq"], e["changes"][0]["value"]) for e in newest] == [(kept[-1]["seq"] + 1, "after")]
    assert [(e["seq"], e["changes"][0]["value"]) for e in later] == [(newest[-1]["seq"] + 1, "after restart")]

"""Reads that span every shard see each cross-shard write whole, and no pattern stalls the server.

Issue 15's D4 (a backtracking glob froze everyone) and D15 (KEYS, SCAN, DBSIZE and NAMESPACE INFO
saw half of a cross-shard MSET).
"""

from __future__ import annotations

import trio

from protocol.replies import SimpleString
from storage import shard_index
from support import RawClient, ServerOnPort, ThreadedRedis, as_map, canary

SHARDS = 4  # make_config's count


def batch_on_every_shard(batch: int) -> list[str]:
    """Fresh keys, one on each shard, so one MSET of them is a cross-shard write."""
    found: dict[int, str] = {}
    i = 0
    while len(found) < SHARDS:
        key = f"b{batch}-{i}"
        found.setdefault(shard_index(key.encode(), SHARDS), key)
        i += 1
    return list(found.values())


async def scan_count(client: RawClient) -> int:
    """Keys seen by one SCAN call that covers the whole (small) namespace."""
    cursor, keys = await client.command("SCAN", "0", "COUNT", "100000", "FROM", "split")
    assert cursor == b"0"
    return len(keys)


async def namespace_info_keys(client: RawClient) -> int:
    return as_map(await client.command("NAMESPACE", "INFO", "split"))[b"keys"]


async def info_keyspace_keys(client: RawClient) -> int:
    info = (await client.command("INFO", "keyspace")).decode()
    line = next((line for line in info.splitlines() if line.endswith(",ns=split")), "db1:keys=0,")
    return int(line.split(",")[0].split("keys=")[1])


READS = {
    "KEYS": lambda client: _len(client.command("KEYS", "*", "FROM", "split")),
    "DBSIZE": lambda client: client.command("DBSIZE", "FROM", "split"),
    "SCAN": scan_count,
    "NAMESPACE INFO": namespace_info_keys,
    "INFO keyspace": info_keyspace_keys,
}


async def _len(reply) -> int:
    return len(await reply)


async def test_whole_namespace_reads_never_see_half_of_a_cross_shard_mset(port):
    """While MSETs of four fresh keys (one per shard) commit, every KEYS, SCAN, DBSIZE,
    NAMESPACE INFO and INFO keyspace counts a multiple of four."""
    writer, reader = await RawClient.connect(port), await RawClient.connect(port)
    torn: list[tuple[str, int]] = []
    done = trio.Event()

    async def write() -> None:
        await writer.command("SELECT", "split")  # MSET's arguments are all pairs: it takes no FROM
        for batch in range(150):
            args = [part for key in batch_on_every_shard(batch) for part in (key, "v")]
            assert await writer.command("MSET", *args) == SimpleString("OK")
        done.set()

    async def read() -> None:
        while not done.is_set():
            for name, count_of in READS.items():
                count = await count_of(reader)
                if count % SHARDS:
                    torn.append((name, count))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(write)
        nursery.start_soon(read)
    await writer.aclose()
    await reader.aclose()
    assert sorted({name for name, _ in torn}) == []  # the reads that saw a torn write


async def test_a_backtracking_pattern_neither_stalls_nor_misses(port, raw):
    """KEYS and SCAN MATCH with ``*a*a*a*a*b`` against a 400-byte key answer at once, rightly,
    while another client is served (a regex took minutes here: CVE-2022-36021's class)."""
    await raw.command("SET", "a" * 400, "v", "FROM", "glob")
    await raw.command("SET", "a" * 399 + "b", "v", "FROM", "glob")
    async with canary(port) as watch:
        for _ in range(3):
            assert await raw.command("KEYS", "*a*a*a*a*a*a*a*b", "FROM", "glob") == [b"a" * 399 + b"b"]
            cursor, keys = await raw.command("SCAN", "0", "MATCH", "*a*a*a*a*a*a*a*b", "COUNT", "1000", "FROM", "glob")
            assert (cursor, keys) == (b"0", [b"a" * 399 + b"b"])
    assert watch.worst < 1.0


async def test_an_mget_of_a_hundred_thousand_keys_stalls_no_one(tmp_path):
    """A read of 100k keys runs beside the other clients (it held the event loop for a second).
    The server is a process of its own, so the canary measures its stall, not this test's."""
    server = ServerOnPort(tmp_path / "data")
    try:
        client = ThreadedRedis(server.port)
        keys = [f"k{i}" for i in range(100_000)]
        await client.execute_command("MSET", *[part for key in keys[::2] for part in (key, "v")])
        async with canary(server.port) as watch:
            values = await client.execute_command("MGET", *keys)
        assert values == [b"v", None] * 50_000
        assert watch.worst < 0.5
        client.client.close()
    finally:
        server.stop()

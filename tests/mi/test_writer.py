"""Group commit: writes that arrive together share one LMDB commit."""

import trio

from mi.core.writer import ShardWriter
from storage import Store


async def test_concurrent_writes_share_commits(tmp_path):
    """200 writes submitted at once need far fewer than 200 commits, and all land."""
    store = Store.open(tmp_path / "data", shards=1)
    writer = ShardWriter(store.shards[0], batch_size=1024)
    async with trio.open_nursery() as nursery:
        await nursery.start(writer.run)
        async with trio.open_nursery() as clients:
            for i in range(200):
                clients.start_soon(writer.write, lambda txn, i=i: txn.put("ns", b"k%d" % i, i, 0))
        writer.close()
    assert writer.commits < 20
    with store.shards[0].read() as txn:
        assert txn.count("ns") == 200
    store.close()


async def test_a_failing_write_does_not_fail_its_batch(tmp_path):
    """An op that raises gets its exception back; the others in the commit succeed."""
    store = Store.open(tmp_path / "data", shards=1)
    writer = ShardWriter(store.shards[0])

    def bad(txn):
        raise ValueError("bad op")

    async with trio.open_nursery() as nursery:
        await nursery.start(writer.run)
        first = await writer.submit(lambda txn: txn.put("ns", b"a", b"1", 0))
        failing = await writer.submit(bad)
        last = await writer.submit(lambda txn: txn.put("ns", b"b", b"2", 0))
        outcomes = [await w.wait() for w in (first, failing, last)]
        writer.close()
    assert isinstance(outcomes[1], ValueError)
    with store.shards[0].read() as txn:
        assert txn.count("ns") == 2
    store.close()

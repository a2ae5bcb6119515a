"""The read gate that hides a multi-shard commit in progress, and which shards a command touches."""

from __future__ import annotations

import trio
import trio.testing

from mi.core.execution import ReadGate, shards_of
from protocol.commands import Dbsize, Del, Get
from storage import shard_index


async def test_readers_wait_while_the_gate_is_closed(nursery):
    """A read arriving mid-commit waits for the last shard's commit, then runs."""
    gate = ReadGate()
    gate.close()
    passed = []

    async def reader() -> None:
        await gate.wait_open()
        passed.append(True)

    nursery.start_soon(reader)
    await trio.testing.wait_all_tasks_blocked()
    assert passed == []
    gate.open()
    await trio.testing.wait_all_tasks_blocked()
    assert passed == [True]


async def test_gate_stays_closed_until_every_closer_reopens(nursery):
    """Two multi-shard commits overlapping: readers wait for both."""
    gate = ReadGate()
    gate.close()
    gate.close()
    passed = []

    async def reader() -> None:
        await gate.wait_open()
        passed.append(True)

    nursery.start_soon(reader)
    gate.open()
    await trio.testing.wait_all_tasks_blocked()
    assert passed == []
    gate.open()
    await trio.testing.wait_all_tasks_blocked()
    assert passed == [True]


def test_shards_of_keyed_commands_and_namespace_wide_ones():
    """Keys route to their shards; a command without keys touches every shard."""
    keys = (b"a", b"b", b"c")
    assert shards_of([Del(keys)], 4) == {shard_index(key, 4) for key in keys}
    assert shards_of([Get(b"a"), Get(b"b")], 4) == {shard_index(b"a", 4), shard_index(b"b", 4)}
    assert shards_of([Get(b"a"), Dbsize()], 4) == {0, 1, 2, 3}

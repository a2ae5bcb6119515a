"""Transactions over several shards: all or nothing, even across a crash.

Each shard is its own LMDB environment, so one commit cannot span two of them. ``run_across``
opens a write transaction on every shard involved (on one thread, which LMDB allows: one write
transaction per environment), runs the caller's body against them, and then:

- if the body raised, aborts them all: nothing was written anywhere;
- if at most one shard changed, commits: LMDB makes that atomic by itself;
- otherwise commits the first changed shard (the coordinator) together with an *intent* listing
  the changes of the others, then commits the others, then deletes the intent. A crash after the
  coordinator's commit leaves the intent; ``recover_intents`` (run when the store opens) redoes its
  changes on the other shards. A crash before it leaves nothing.

Redoing writes final states (record bytes, or gone), so it is idempotent as long as nothing else
wrote those shards in between. The caller guarantees that: it holds off every other writer of the
involved shards until ``run_across`` returns (the server's shard writers take a per-shard lock).

Between the coordinator's commit and the last one, a reader could see some shards changed and others
not. ``window`` is told when that span starts and ends, so the caller can hold readers back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, TypeVar

from storage.changes import decode_intent, encode_intent
from storage.errors import DataDirError
from storage.shard import Shard, ShardTxn
from storage.txn import WriteTxn

__all__ = ["CommitWindow", "recover_intents", "run_across"]

T = TypeVar("T")


class CommitWindow(Protocol):
    """Told when shards may disagree: from the first commit of a transaction to its last."""

    def open(self) -> None: ...

    def close(self) -> None: ...


def run_across(
    shards: Sequence[Shard],
    body: Callable[[Mapping[int, WriteTxn]], T],
    window: CommitWindow | None = None,
    label: str = "write",
) -> T:
    """Run ``body`` with a write transaction per shard (by index) and commit all or nothing.

    Each shard changed journals the transaction as one entry named ``label``.

    Whatever ``body`` raises is raised after every transaction is aborted. Call on one thread, with
    no other writer active on these shards until it returns.
    """
    txns: list[ShardTxn] = []
    try:
        for shard in sorted(shards, key=lambda s: s.index):
            txns.append(shard.begin())
        result = body({txn.shard.index: txn.ops for txn in txns})
        for txn in txns:
            if txn.state.failure is not None:  # an LMDB error the body swallowed
                raise txn.state.failure
    except BaseException:
        for txn in txns:
            txn.abort()
        raise
    changed = [txn for txn in txns if txn.state.changes]
    for txn in changed:
        txn.add_entry(label, txn.state.log)
    for txn in txns:
        if not txn.state.changes:
            txn.commit()  # nothing to write: ends the transaction without an abort (see shard.py)
    if len(changed) <= 1:
        _commit_all(changed)
        return result
    _commit_with_intent(changed, window)
    return result


def _commit_all(txns: Sequence[ShardTxn]) -> None:
    for index, txn in enumerate(txns):
        try:
            txn.commit()
        except BaseException:
            for rest in txns[index + 1 :]:
                rest.abort()
            raise


def _commit_with_intent(changed: list[ShardTxn], window: CommitWindow | None) -> None:
    coordinator, others = changed[0], changed[1:]
    intent = encode_intent(
        (txn.shard.index, change) for txn in others for change in txn.state.log
    )
    try:
        key = coordinator.put_intent(intent)
    except BaseException:
        for txn in changed:
            txn.abort()
        raise
    if window is not None:
        window.close()
    try:
        _commit_all(changed)  # the coordinator first: from its commit on, the intent stands
    except BaseException:
        if not coordinator.committed:
            raise
        # A later shard failed to commit (a disk error): redo it from the intent at once; if that
        # fails too, the intent stays and is redone at the next start.
        for txn in others:
            if not txn.committed:
                txn.shard.redo(txn.state.log)
    finally:
        if window is not None:
            window.open()
    coordinator.shard.finish_intent(key)


def recover_intents(shards: Sequence[Shard]) -> int:
    """Finish the cross-shard transactions a crash interrupted; how many there were."""
    recovered = 0
    for shard in shards:
        for key, blob in shard.intents():
            try:
                changes = decode_intent(blob)
            except ValueError as error:
                msg = f"shard {shard.index}: a cross-shard intent is damaged ({error}); restore from a snapshot"
                raise DataDirError(msg) from None
            by_shard: dict[int, list] = {}
            for index, change in changes:
                by_shard.setdefault(index, []).append(change)
            for index, shard_changes in sorted(by_shard.items()):
                if not 0 <= index < len(shards):
                    msg = f"shard {shard.index}: a cross-shard intent names shard {index}, which does not exist"
                    raise DataDirError(msg)
                shards[index].redo(shard_changes)
            shard.finish_intent(key)
            recovered += 1
    return recovered

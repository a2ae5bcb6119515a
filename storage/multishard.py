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
from storage.shard import Shard
from storage.shard_txn import ShardTxn
from storage.txn import WriteTxn

__all__ = ["CommitWindow", "recover_intents", "run_across", "run_batch_across"]

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
    (outcome,) = run_batch_across(shards, [body], window, [label])
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def run_batch_across(
    shards: Sequence[Shard],
    bodies: Sequence[Callable[[Mapping[int, WriteTxn]], T]],
    window: CommitWindow | None = None,
    labels: Sequence[str] | None = None,
) -> list[T | Exception]:
    """Group commit for transactions across shards: run ``bodies`` in order in one write
    transaction per shard, then commit all or nothing, once. Returns each body's result, or the
    exception it raised.

    A body that raises leaves no trace and does not affect the others: if it had written, every
    transaction is aborted and the batch is run again without it (bodies are deterministic
    functions of the data, so the others compute the same effects). If the commit itself fails
    (a full map, a disk error), a batch of several is run again one body at a time, so only the
    bodies that cannot commit fail. Each body's changes are journaled as one entry per shard,
    named by its label. Call on one thread, with no other writer active on these shards.
    """
    labels = list(labels) if labels is not None else ["write"] * len(bodies)
    failed: dict[int, Exception] = {}
    while True:  # terminates: each restart adds a body to ``failed``
        try:
            return _attempt_batch(shards, bodies, window, labels, failed)
        except _Restart:
            continue
        except _CommitFailed as failure:
            if len(bodies) == 1:
                return [failure.error]
            return [
                outcome
                for body, label in zip(bodies, labels, strict=True)
                for outcome in run_batch_across(shards, [body], window, [label])
            ]
        except Exception as error:  # noqa: BLE001 - e.g. a shard that cannot begin: all fail
            return [error] * len(bodies)


class _Restart(Exception):
    """Abort this attempt and run the batch again, without the bodies that failed."""


class _CommitFailed(Exception):
    """Nothing was committed: the batch may be run again, one body at a time."""

    def __init__(self, error: Exception) -> None:
        self.error = error


def _attempt_batch(
    shards: Sequence[Shard],
    bodies: Sequence[Callable[[Mapping[int, WriteTxn]], T]],
    window: CommitWindow | None,
    labels: list[str],
    failed: dict[int, Exception],
) -> list[T | Exception]:
    txns: list[ShardTxn] = []
    outcomes: list[T | Exception] = []
    try:
        for shard in sorted(shards, key=lambda s: s.index):
            txns.append(shard.begin())
        by_index = {txn.shard.index: txn.ops for txn in txns}
        for position, body in enumerate(bodies):
            if position in failed:
                outcomes.append(failed[position])
                continue
            marks = [len(txn.state.log) for txn in txns]
            changes = [txn.state.changes for txn in txns]
            try:
                outcomes.append(body(by_index))
            except Exception as error:  # noqa: BLE001 - a body's failure is its outcome
                failed[position] = error
                if [txn.state.changes for txn in txns] != changes:  # it wrote: roll it back
                    raise _Restart from None
                outcomes.append(error)
            for txn in txns:
                if txn.state.failure is not None:  # an LMDB error the body swallowed
                    failed.setdefault(position, txn.state.failure)
                    raise _Restart
            for txn, mark in zip(txns, marks, strict=True):
                txn.add_entry(labels[position], txn.state.log[mark:])
    except BaseException:
        for txn in txns:
            txn.abort()
        raise
    changed = [txn for txn in txns if txn.state.changes]
    try:
        for txn in txns:
            if not txn.state.changes:
                txn.commit()  # nothing to write: ends the transaction without an abort (see shard.py)
        if len(changed) <= 1:
            _commit_all(changed)
        else:
            _commit_with_intent(changed, window)
    except Exception as error:
        if any(txn.committed for txn in changed):  # it stands (an intent finishes it): never re-run
            return [error] * len(bodies)
        raise _CommitFailed(error) from error
    return outcomes


def _commit_all(txns: Sequence[ShardTxn], then: Callable[[], None] | None = None) -> None:
    """Commit each in order (``then`` called after the first); if one fails, abort the rest."""
    for index, txn in enumerate(txns):
        try:
            txn.commit()
            if index == 0 and then is not None:
                then()
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
        # The coordinator first: from its commit on, the intent stands. In relaxed durability
        # its log is synced before any other shard commits, and theirs before the intent goes,
        # so a power cut can never keep one shard's part without the intent that finishes it.
        _commit_all(changed, then=coordinator.shard.sync)
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
    for txn in others:
        txn.shard.sync()
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

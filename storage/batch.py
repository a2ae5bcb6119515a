"""Group commit on one shard: many ops in one write transaction, committed once.

Each op that changes something gets a journal entry named by its label. Each outcome is the op's
result, or the exception it raised. An op that raises leaves no trace and does not affect the
others: if it had already written, the transaction is aborted and the batch re-run without it
(ops are deterministic functions of the database, so the others compute the same effects). When
the map is full, the ops are re-run one transaction each, so only those that do not fit get
``StorageFull``; a delete on a full map makes room by dropping the oldest journal entries. A
namespace new to the shard is created inside the batch's transaction (the writer thread is the
only one that calls open_db after startup); its handle is published after the commit.

``Shard.write_batch`` is the entry point; everything here runs on its thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import lmdb

from storage.changes import ChangeOp
from storage.errors import StorageError, StorageFull
from storage.txn import TxnState, WriteTxn

if TYPE_CHECKING:
    from storage.shard import Shard, WriteOp

__all__ = ["run_batch"]

JOURNAL_RELIEF_STEPS = (1000, 100, 10)  # oldest journal entries dropped when the map is full


class _Restart(Exception):
    """Abort this attempt and run the batch again (without the ops that failed)."""


class _BatchFull(Exception):
    """The map is full: abort, then run the ops one transaction each.

    ``relievable``: the op was not storing a record when it hit the ceiling (a delete, or the
    journal entry at commit), so dropping old journal entries may let it through.
    """

    def __init__(self, error: StorageFull, *, relievable: bool = True) -> None:
        self.error = error
        self.relievable = relievable


def run_batch(shard: Shard, ops: list[WriteOp], labels: list[str]) -> list[Any]:
    """Run ``ops`` in order in one write transaction of ``shard``, commit once; their outcomes."""
    if not ops:
        return []
    try:
        return _run(shard, ops, labels, {})
    except _BatchFull:
        pass
    outcomes: list[Any] = []
    for op, label in zip(ops, labels, strict=True):
        try:
            outcomes.extend(_run(shard, [op], [label], {}))
        except _BatchFull as full:
            # Deletes must work on a full map (they are how space comes back): the journal
            # gives way for them, its oldest entries dropped. Stores just get StorageFull.
            if not full.relievable or not _drop_oldest_journal_entries(shard):
                outcomes.append(full.error)
                continue
            try:
                outcomes.extend(_run(shard, [op], [label], {}))
            except _BatchFull as again:
                outcomes.append(again.error)
    return outcomes


def _drop_oldest_journal_entries(shard: Shard) -> int:
    """Make room when the map is full; how many entries went (0: none could).

    Deleting needs a few fresh pages too (LMDB copies on write), so smaller steps are tried
    when a big one does not fit.
    """
    for count in JOURNAL_RELIEF_STEPS:
        txn = shard.begin()
        try:
            removed = txn.ops.trim_journal(keep_entries=0, keep_bytes=0, drop_before_ms=0, limit=count)
            if not removed:
                txn.abort()
                return 0
            txn.commit()
        except StorageFull:
            txn.abort()
            continue
        except BaseException:
            txn.abort()
            raise
        return removed
    return 0


def _run(shard: Shard, ops: list[WriteOp], labels: list[str], failed: dict[int, Exception]) -> list[Any]:
    # Terminates: each restart adds an op to ``failed``.
    while True:
        try:
            return _attempt(shard, ops, labels, failed)
        except _Restart:
            continue


def _attempt(shard: Shard, ops: list[WriteOp], labels: list[str], failed: dict[int, Exception]) -> list[Any]:
    """One try at the batch, skipping the ops in ``failed``; commits or raises to restart."""
    txn = shard.begin()
    log = txn.state.log
    try:
        outcomes: list[Any] = []
        for index, op in enumerate(ops):
            if index in failed:
                outcomes.append(failed[index])
                continue
            mark = len(log)
            _apply(index, op, txn.ops, txn.state, failed, outcomes)
            if index not in failed:
                txn.add_entry(labels[index], log[mark:])
    except BaseException:  # _Restart, _BatchFull, or a bug
        txn.abort()
        raise
    try:
        txn.commit()
    except StorageFull as full:
        stores = any(change.op is ChangeOp.PUT for change in log)
        raise _BatchFull(full, relievable=not stores) from None
    return outcomes


def _apply(
    index: int,
    op: WriteOp,
    wtxn: WriteTxn,
    state: TxnState,
    failed: dict[int, Exception],
    outcomes: list[Any],
) -> None:
    changes = state.changes
    try:
        outcome = op(wtxn)
    except Exception as error:  # noqa: BLE001 - an op's failure is its outcome
        outcome = error if not isinstance(error, lmdb.Error) else StorageError(f"LMDB error: {error}")
        raised = True
    else:
        raised = False
    # The flags first: they hold even if the op swallowed the exception that reported them.
    if state.map_full:
        raise _BatchFull(state.failure, relievable=not state.full_while_storing)
    if state.failure is not None:  # an LMDB error: the transaction can only be aborted
        failed[index] = outcome if raised else state.failure
        raise _Restart
    if raised:
        failed[index] = outcome
        if state.changes != changes:  # it wrote before raising: roll it back by re-running
            raise _Restart
    outcomes.append(outcome)

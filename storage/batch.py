"""Group commit on one shard: many ops in one write transaction, committed once.

Each op that changes something gets a journal entry named by its label. Each outcome is the op's
result, or the exception it raised. An op that raises leaves no trace and does not affect the
others: if it had already written, the transaction is aborted and the batch re-run without it
(ops are deterministic functions of the database, so the others compute the same effects). When
the map is full, a checkpoint lets LMDB reuse the pages the previous one kept (see
``storage.checkpoint``) and the batch is tried again; if it is still full, the ops are re-run one
transaction each, so only those that do not fit get ``StorageFull`` (a delete then gets another
checkpoint first: deletes are how space comes back, and stores leave them a reserve, see
``WriteTxn.put``). A
namespace new to the shard is created inside the batch's transaction (the writer thread is the
only one that calls open_db after startup); its handle is published after the commit.

``Shard.write_batch`` is the entry point; everything here runs on its thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import lmdb

from storage.changes import ChangeOp
from storage.errors import DiskFull, StorageError, StorageFull, WouldWait
from storage.txn import TxnState, WriteTxn

if TYPE_CHECKING:
    from storage.shard import Shard, WriteOp

__all__ = ["run_batch"]


class _Restart(Exception):
    """Abort this attempt and run the batch again (without the ops that failed)."""


class _BatchFull(Exception):
    """The map or the disk is full: abort, then run the ops one transaction each.

    ``relievable``: the op was not storing a record when it hit the ceiling (a delete), so
    freeing the pages an old checkpoint kept may let it through.
    """

    def __init__(self, error: StorageFull | DiskFull, *, relievable: bool = True) -> None:
        self.error = error
        self.relievable = relievable


def run_batch(shard: Shard, ops: list[WriteOp], labels: list[str], *, may_wait: bool = True) -> list[Any]:
    """Run ``ops`` in order in one write transaction of ``shard``, commit once; their outcomes.

    ``may_wait=False``: raise ``WouldWait``, with nothing applied, rather than wait for the disk
    (a new log segment, or the checkpoint that makes room in a full map)."""
    if not ops:
        return []
    if not may_wait and shard.log.segment_full():
        raise WouldWait
    try:
        return _run(shard, ops, labels, {})
    except _BatchFull as full:
        if not may_wait:
            raise WouldWait from None
        relieved = _make_room(shard, full, deleting=False)
    if relieved:
        try:
            return _run(shard, ops, labels, {})
        except _BatchFull:
            pass
    outcomes: list[Any] = []
    for op, label in zip(ops, labels, strict=True):
        try:
            outcomes.extend(_run(shard, [op], [label], {}))
        except _BatchFull as full:
            # Deletes must work on a full map or disk (they are how space comes back): room
            # is made for them, the disk's reserve included. Stores just get the error.
            if not full.relievable or not _make_room(shard, full, deleting=True):
                outcomes.append(full.error)
                continue
            try:
                outcomes.extend(_run(shard, [op], [label], {}))
            except _BatchFull as again:
                outcomes.append(again.error)
    return outcomes


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
    except (StorageFull, DiskFull) as full:
        stores = any(change.op is ChangeOp.PUT for change in log)
        raise _BatchFull(full, relievable=not stores) from None
    return outcomes


def _make_room(shard: Shard, full: _BatchFull, *, deleting: bool) -> bool:
    """Free what can be freed after a full map or disk; False if nothing could be.

    A checkpoint lets LMDB reuse the pages the last one kept. On a full disk the log also moves
    to a new file (a file size limit stops one file) and gives up its segments before the
    checkpoint, and a delete (``deleting``) may spend the disk reserve the log holds for it.
    """
    disk = isinstance(full.error, DiskFull)
    log = shard.log
    try:
        if disk and deleting:
            log.release_reserve()
        if disk:
            log.start_new_segment(shard.journal_last + 1)
        shard.checkpoint()
        if disk:
            log.trim(shard.checkpoint_lsn + 1, lambda oldest, following: False)
    except StorageError:  # even that found no room (a checkpoint needs a little disk too)
        return False
    return True


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

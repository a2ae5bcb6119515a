"""Checkpoints: how far a shard's LMDB environment is on disk, and the way back to exactly there.

The environment commits without syncing (``MDB_NOSYNC``); the log (``storage.wal``) makes each
write durable. After a power cut the data file is then a mix of pages of unsynced commits, and
LMDB's meta pages may point at a tree that never fully reached the disk: LMDB's documentation
says ``MDB_NOSYNC`` can then corrupt the environment. A checkpoint keeps one commit reachable and
intact instead (``Shard.begin_checkpoint`` / ``finish_checkpoint``):

1. Between two commits (on the writer's side), a read transaction is begun on the last commit,
   and that commit's meta page is copied from the data file. LMDB never reuses a page that a
   live read transaction can see ("readers ... keep old pages from being reused"; a long reader
   makes the file grow, never overwrite), so from here on no commit writes over that commit's tree.
2. ``mdb_env_sync`` writes every page of it to disk (``fdatasync`` of the data file).
3. The checkpoint file (the commit's log position, txn id and meta page) is written durably:
   a temporary file, fsynced, renamed, the directory fsynced.
4. Only now is the previous checkpoint's read transaction released.

So at every moment the latest durable checkpoint file names a commit whose pages are all on disk
and untouched. An unclean start (``restore``) writes that meta page over both of LMDB's meta pages
before LMDB opens the file: LMDB then opens exactly that commit, and the log's records after it
are replayed. This relies on LMDB's documented copy-on-write and reader rules, and on the layout
of its meta page (format version 1, checked here: a different layout refuses to checkpoint rather
than guess).
"""

from __future__ import annotations

import os
import struct
import threading
import zlib
from pathlib import Path
from typing import Any

import lmdb
from attrs import frozen

from storage.durable_files import sync_dirs
from storage.errors import DiskFull, StorageCorrupted, StorageError

__all__ = [
    "CHECKPOINT_NAME",
    "Checkpoint",
    "CheckpointKeeper",
    "meta_page",
    "read_checkpoint",
    "restore",
    "roll_back",
    "write_checkpoint",
]

CHECKPOINT_NAME = "checkpoint"
DATA_FILE = "data.mdb"
_FILE = struct.Struct(">8sHQQI")  # magic, format, lsn, txnid, page size; then the page, then crc32
_MAGIC = b"MI-CKPT\0"
_FORMAT = 1
_CRC = struct.Struct(">I")

# LMDB 0.9's meta page (mdb.c, MDB_DATA_VERSION 1, 64-bit): the page header's page number and
# flags, then the meta: magic, version, ... last page, txn id.
_PAGE_HEADER = struct.Struct("<QHH")  # pgno, pad, flags
_P_META = 0x08
_META = struct.Struct("<II")  # magic, version
_META_OFFSET = 16
_TXNID_OFFSET = _META_OFFSET + 128
_TXNID = struct.Struct("<Q")
_LMDB_MAGIC = 0xBEEFC0DE
_LMDB_DATA_VERSION = 1


@frozen
class Checkpoint:
    lsn: int  # the last log record the commit holds
    txnid: int  # LMDB's id of the commit
    page: bytes  # its meta page, as LMDB wrote it


class CheckpointKeeper:
    """Steps 1, 2 and 4 above for one shard: the read transactions that keep the last
    checkpoint's commit (and the one being made) intact, and the making of a checkpoint.

    One checkpoint at a time (``begin`` to ``finish`` hold a lock): a full map's relief may meet
    the interval's. ``begin`` must run between commits; ``finish`` may run beside them.
    """

    def __init__(self, env: lmdb.Environment, shard_dir: Path, index: int) -> None:
        self._env = env
        self._dir = shard_dir
        self._index = index
        self._kept: Any = None  # a read transaction on the last checkpoint's commit
        self._pending: Any = None  # ... on the commit being checkpointed
        self._lock = threading.Lock()

    def keep_current(self) -> None:
        """Keep the current commit intact (at open: the state replay starts from)."""
        self._swap(self._env.begin(buffers=True))

    def begin(self, lsn: int) -> Checkpoint:
        """Step 1 for the last commit, which holds the log up to ``lsn``."""
        self._lock.acquire()
        try:
            pin = self._env.begin(buffers=True)
            try:
                page = meta_page(self._dir / DATA_FILE, self._env.stat()["psize"], pin.id())
            except BaseException:
                pin.abort()
                raise
        except BaseException as error:
            self._lock.release()
            if isinstance(error, lmdb.Error):
                msg = f"shard {self._index}: cannot begin a checkpoint: {error}"
                raise StorageError(msg) from error
            raise
        self._pending = pin
        return Checkpoint(lsn, pin.id(), page)

    def finish(self, checkpoint: Checkpoint) -> None:
        """Steps 2 to 4: sync the data file, write the checkpoint, release the previous one."""
        pending, self._pending = self._pending, None
        try:
            try:
                self._env.sync(True)
            except lmdb.Error as error:
                msg = f"shard {self._index}: sync failed: {error}"
                raise StorageError(msg) from error
            write_checkpoint(self._dir, checkpoint)
        except BaseException:
            pending.abort()  # the previous checkpoint stays the one to go back to
            raise
        finally:
            self._lock.release()
        self._swap(pending)

    def release(self) -> None:
        """End the read transactions (the shard is closing)."""
        for pin in (self._kept, self._pending):
            if pin is not None:
                try:
                    pin.abort()
                except lmdb.Error:
                    pass
        self._kept = self._pending = None

    def _swap(self, pin: Any) -> None:
        previous, self._kept = self._kept, pin
        if previous is not None:
            previous.abort()


def meta_page(data_file: Path, page_size: int, txnid: int) -> bytes:
    """The meta page of commit ``txnid`` as it is in ``data_file`` (call before any later commit)."""
    fd = os.open(data_file, os.O_RDONLY | os.O_CLOEXEC)
    try:
        page = os.pread(fd, page_size, (txnid & 1) * page_size)
    finally:
        os.close(fd)
    if _meta_txnid(page) != txnid:
        msg = f"{data_file}: the meta page of commit {txnid} is not where LMDB 0.9 keeps it; cannot checkpoint"
        raise StorageError(msg)
    return page


def restore(data_file: Path, checkpoint: Checkpoint) -> bool:
    """Make LMDB open ``data_file`` at the checkpoint's commit; False if it already would."""
    page_size = len(checkpoint.page)
    fd = os.open(data_file, os.O_RDWR | os.O_CLOEXEC)
    try:
        newest = max(_meta_txnid(os.pread(fd, page_size, slot * page_size)) or 0 for slot in (0, 1))
        if newest == checkpoint.txnid:
            return False
        if newest < checkpoint.txnid:
            problem = f"its commits end ({newest}) before its checkpoint ({checkpoint.txnid})"
            raise StorageCorrupted(str(data_file), problem, data_file.parent.parent)
        for slot in (0, 1):  # both: LMDB opens the meta with the higher txn id
            page = _PAGE_HEADER.pack(slot, 0, _P_META) + checkpoint.page[_PAGE_HEADER.size :]
            os.pwrite(fd, page, slot * page_size)
        os.fdatasync(fd)
    finally:
        os.close(fd)
    return True


def roll_back(shard_dir: Path) -> bool:
    """After an unclean shutdown: make the shard's environment open at its last checkpoint (True),
    or leave it (False: no checkpoint, as in a data dir of an older mi, or already there)."""
    checkpoint = read_checkpoint(shard_dir)
    data_file = shard_dir / DATA_FILE
    if checkpoint is None or not data_file.exists():
        return False
    return restore(data_file, checkpoint)


def write_checkpoint(directory: Path, checkpoint: Checkpoint) -> None:
    """Store ``checkpoint`` in ``directory`` durably (replacing the previous one atomically)."""
    head = _FILE.pack(_MAGIC, _FORMAT, checkpoint.lsn, checkpoint.txnid, len(checkpoint.page)) + checkpoint.page
    body = head + _CRC.pack(zlib.crc32(head))
    temp, final = directory / (CHECKPOINT_NAME + ".tmp"), directory / CHECKPOINT_NAME
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, body)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, final)
        sync_dirs(directory)
    except OSError as error:
        if DiskFull.means(error):
            raise DiskFull(f"the checkpoint {final}", error.strerror or str(error)) from None
        msg = f"cannot write the checkpoint {final}: {error.strerror}"
        raise StorageError(msg) from None


def read_checkpoint(directory: Path) -> Checkpoint | None:
    """The checkpoint stored in ``directory``, or None if there is none (a data dir of an older mi)."""
    path = directory / CHECKPOINT_NAME
    try:
        body = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        magic, version, lsn, txnid, page_size = _FILE.unpack_from(body)
        page = body[_FILE.size : _FILE.size + page_size]
        (crc,) = _CRC.unpack_from(body, _FILE.size + page_size)
    except struct.error:
        crc, magic, version, page = -1, b"", 0, b""
    if magic != _MAGIC or crc != zlib.crc32(body[: _FILE.size + len(page)]) or _meta_txnid(page) != txnid:
        raise StorageCorrupted(str(path), "the checkpoint file is damaged", directory.parent)
    if version != _FORMAT:
        msg = f"{path} has checkpoint format {version}; this mi reads format {_FORMAT}"
        raise StorageError(msg)
    return Checkpoint(lsn, txnid, page)


def _meta_txnid(page: bytes) -> int | None:
    """The txn id of an LMDB meta page, None if the bytes are not one."""
    if len(page) < _TXNID_OFFSET + _TXNID.size:
        return None
    _pgno, _pad, flags = _PAGE_HEADER.unpack_from(page)
    magic, version = _META.unpack_from(page, _META_OFFSET)
    if not flags & _P_META or magic != _LMDB_MAGIC or version != _LMDB_DATA_VERSION:
        return None
    return _TXNID.unpack_from(page, _TXNID_OFFSET)[0]

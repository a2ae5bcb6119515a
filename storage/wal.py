"""The write-ahead log of one shard: segment files ``shard-NNN/log/<first lsn>.log``.

The shard's writer thread appends one record per committed transaction (``storage.log_format``)
and, in strict durability, fdatasyncs it before the transaction commits in LMDB: that one
sequential sync is what makes a write durable. A segment is never rewritten: appends go to the
newest, which is rolled at ``SEGMENT_BYTES``; old segments are deleted whole once the shard's
checkpoint covers them and the journal's retention lets them go (``trim``).

Crash safety: every segment but the newest was synced before the next one was created (so only
the newest can have a torn tail), and a record counts only if its length fits the file and its CRC
matches. Opening for writing cuts a torn tail off the newest segment; anything unreadable before
it is damage (``StorageCorrupted``). Readers in other processes (``mi journal``) read the files as
they are: a record still being written reads as the end of the log.
"""

from __future__ import annotations

import mmap
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from attrs import frozen

from storage.durable_files import sync_dirs
from storage.errors import DiskFull, StorageCorrupted, StorageError
from storage.journal import JournalEntry
from storage.log_format import (
    HEADER_SIZE,
    LogDamaged,
    LogRecord,
    decode_header,
    decode_record,
    encode_header,
    record_at,
    record_last_seq,
    record_lsn,
)

__all__ = [
    "LOG_DIR_NAME",
    "SEGMENT_BYTES",
    "Segment",
    "ShardLog",
    "list_segments",
    "read_entries",
    "read_records",
    "record_bodies",
]

LOG_DIR_NAME = "log"
SEGMENT_BYTES = 16 * 1024**2
RESERVE_NAME = "reserve"  # disk space held back for deletes on a full disk (see release_reserve)
RESERVE_BYTES = 1024**2
SUFFIX = ".log"
FILE_MODE = 0o600


@frozen
class Segment:
    path: Path
    first_lsn: int
    first_seq: int


def list_segments(directory: Path, *, cut_torn: bool = False) -> list[Segment]:
    """The segments in ``directory``, oldest first; ``LogDamaged`` if a header is not intact.

    ``cut_torn``: a newest segment whose header was never written whole (a crash while it was
    being created) is deleted instead.
    """
    try:
        names = sorted(p for p in directory.iterdir() if p.suffix == SUFFIX)
    except FileNotFoundError:
        return []
    segments = []
    for path in names:
        try:
            with path.open("rb") as file:
                header = file.read(HEADER_SIZE)
            _shard, first_lsn, first_seq = decode_header(header)
        except FileNotFoundError:  # trimmed while we listed
            continue
        except LogDamaged as error:
            if cut_torn and path == names[-1] and len(header) <= HEADER_SIZE and path.stat().st_size <= HEADER_SIZE:
                path.unlink()
                break
            raise LogDamaged(f"{path}: {error}") from None
        segments.append(Segment(path, first_lsn, first_seq))
    return segments


def _bodies(path: Path, skip: Callable[[memoryview], bool] | None = None) -> Iterator[tuple[memoryview, int]]:
    """Each intact record body of one segment with the offset after it (``record_bodies``)."""
    try:
        file = path.open("rb")
    except FileNotFoundError:
        return
    with file:
        yield from record_bodies(file.fileno(), HEADER_SIZE, os.fstat(file.fileno()).st_size, skip)


def record_bodies(
    fd: int, start: int, size: int, skip: Callable[[memoryview], bool] | None = None
) -> Iterator[tuple[memoryview, int]]:
    """Each intact record body in the open segment ``fd`` from byte ``start`` to ``size``, with
    the offset after it, until the first that is not (the end, or a torn tail). The views are
    valid until the next one is taken. Records that ``skip`` (given an unchecked body) says to
    skip are passed over without computing their CRC."""
    if size <= start:
        return
    with mmap.mmap(fd, size, prot=mmap.PROT_READ) as mapped:
        view = memoryview(mapped)
        try:
            offset = start
            while (found := record_at(view, offset, check=skip is None)) is not None:
                body, after = found
                if skip is not None:
                    skipped = skip(body)
                    body.release()
                    if skipped:
                        offset = after
                        continue
                    if (found := record_at(view, offset)) is None:  # wanted: now with its CRC
                        return
                    body, after = found
                try:
                    yield body, after
                finally:
                    body.release()
                offset = after
        finally:
            view.release()


def read_records(segments: list[Segment], after_lsn: int = 0) -> Iterator[LogRecord]:
    """The records after ``after_lsn``, in order, until the end or the first gap in the numbers."""
    expected = None
    for index, segment in enumerate(segments):
        following = segments[index + 1].first_lsn if index + 1 < len(segments) else None
        if following is not None and following <= after_lsn + 1:
            continue  # all of this segment is at or before after_lsn
        expected = segment.first_lsn if expected is None else expected
        if segment.first_lsn != expected:
            return
        for body, _end in _bodies(segment.path):
            lsn = record_lsn(body)
            if lsn != expected:
                return
            expected += 1
            if lsn > after_lsn:
                yield decode_record(body)


def read_entries(segments: list[Segment], since: int = 0, limit: int | None = None) -> Iterator[JournalEntry]:
    """Journal entries with a sequence number above ``since``, oldest first, at most ``limit``.
    Records wholly at or before ``since`` are passed over without being checked or decoded."""
    start = 0
    for index, segment in enumerate(segments):
        if segment.first_seq <= since + 1:
            start = index
    count = 0
    for segment in segments[start:]:
        for body, _end in _bodies(segment.path, skip=lambda body: record_last_seq(body) <= since):
            for entry in decode_record(body).entries:
                if entry.seq > since:
                    if limit is not None and count >= limit:
                        return
                    yield entry
                    count += 1


class ShardLog:
    """The log of one shard, open for appending. Create with ``ShardLog.open``.

    ``append``, ``sync`` and ``undo`` come from the writer thread (or one at a time); ``segments`` and
    ``trim`` may be called from any thread.
    """

    def __init__(self, directory: Path, shard: int, durable: bool) -> None:
        self.directory = directory
        self.shard = shard
        self.durable = durable
        self.next_lsn = 1
        self._segments: list[Segment] = []
        self._lock = threading.Lock()  # guards _segments against trim
        self._io = threading.Lock()  # appends, new segments, and the start of a sync
        self._syncing = threading.Lock()  # held by a sync while its fdatasync runs
        self._fd: int | None = None
        self._end = 0  # the size of the newest segment: where the next record goes
        self.unsynced = False  # appended since the last sync (relaxed durability)

    @classmethod
    def open(cls, directory: Path, shard: int, *, durable: bool, applied_lsn: int, next_seq: int) -> ShardLog:
        """Open (creating) the log in ``directory``; cut a torn tail off its newest segment.

        ``applied_lsn``: the last record the shard's LMDB environment holds. The log reaches at
        least that far (the records after it are to be replayed), or is empty, as in a new or
        restored data dir: it then starts after it, its first entry numbered ``next_seq``.
        """
        log = cls(directory, shard, durable)
        try:
            directory.mkdir(mode=0o700, exist_ok=True)
            segments = list_segments(directory, cut_torn=True)
            last = log._check_and_cut(segments)
        except (OSError, LogDamaged) as error:
            raise _corrupted(shard, directory, str(error)) from None
        log._segments = segments
        if last is None:
            log.next_lsn = applied_lsn + 1
            log._start_segment(next_seq)
            log.keep_reserve()
            return log
        if last < applied_lsn:
            raise _corrupted(shard, directory, f"it ends at record {last} but the shard holds records up to {applied_lsn}")
        if segments[0].first_lsn > applied_lsn + 1:
            msg = f"it starts at record {segments[0].first_lsn} but the shard holds records only up to {applied_lsn}"
            raise _corrupted(shard, directory, msg)
        log.next_lsn = last + 1
        log._open_newest()
        log.keep_reserve()
        return log

    def _check_and_cut(self, segments: list[Segment]) -> int | None:
        """The last intact record's lsn (None: no segments). A torn tail of the newest segment is
        cut off; a gap or damage anywhere before it raises."""
        last = None
        for index, segment in enumerate(segments):
            if last is not None and segment.first_lsn != last + 1:
                raise _corrupted(self.shard, segment.path, f"records {last + 1}..{segment.first_lsn - 1} are missing")
            last, end = segment.first_lsn - 1, HEADER_SIZE
            for body, offset in _bodies(segment.path):
                if record_lsn(body) != last + 1:
                    break
                last, end = last + 1, offset
            size = segment.path.stat().st_size
            if end < size:
                if index < len(segments) - 1:
                    raise _corrupted(self.shard, segment.path, f"a damaged record at byte {end} of {size}")
                _cut(segment.path, end)
        return last

    @property
    def segments(self) -> list[Segment]:
        with self._lock:
            return list(self._segments)

    def size(self) -> int:
        """Bytes in all segments."""
        total = 0
        for segment in self.segments:
            try:
                total += segment.path.stat().st_size
            except FileNotFoundError:
                continue
        return total

    def segment_full(self) -> bool:
        """The next append starts a new segment (and syncs the one it ends)."""
        return self._end >= SEGMENT_BYTES and self._end > HEADER_SIZE

    def append(self, record: bytes, first_seq: int) -> None:
        """Write one framed record (numbered ``next_lsn``, its first entry ``first_seq``) at the
        end; synced when durable.

        On failure the segment is cut back to where it was, so a record is there whole or not at all.
        """
        with self._io:
            if self.segment_full():
                self._sync()  # only the newest segment may ever have a torn tail
                self._start_segment(first_seq)
            self._append(record)

    def _append(self, record: bytes) -> None:
        fd = self._fd
        assert fd is not None
        start = self._end
        try:
            written = 0
            while written < len(record):
                written += os.pwrite(fd, memoryview(record)[written:], start + written)
            if self.durable:
                os.fdatasync(fd)
        except OSError as error:
            self._cut_back(start)
            if DiskFull.means(error):
                raise DiskFull(f"shard {self.shard}'s log", error.strerror or str(error)) from None
            msg = f"shard {self.shard}: could not write its log ({error.strerror})"
            raise StorageError(msg) from None
        self._end = start + len(record)
        self.next_lsn += 1
        self.unsynced = not self.durable

    def undo(self, record_size: int) -> None:
        """Take back the last record (its LMDB commit failed): it must never be replayed."""
        with self._io:
            self._cut_back(self._end - record_size)
            self.next_lsn -= 1

    def sync(self) -> None:
        """Make everything appended before this call durable (relaxed durability calls this on an
        interval). The fdatasync runs outside the append lock, on a duplicate of the segment's
        descriptor: appends go on meanwhile (relaxed writers may commit on the server's event
        loop, which must never wait for a sync), and a segment ended meanwhile stays open for it."""
        with self._syncing:  # a second caller waits for the sync under way, then looks again
            with self._io:
                if self._fd is None or not self.unsynced:
                    return
                self.unsynced = False  # an append from now on sets it again
                fd = os.dup(self._fd)
            try:
                os.fdatasync(fd)
            except OSError as error:
                with self._io:
                    self.unsynced = True
                msg = f"shard {self.shard}: could not sync its log ({error.strerror})"
                raise StorageError(msg) from None
            finally:
                os.close(fd)

    def _sync(self) -> None:
        """Sync the newest segment now, whatever ``unsynced`` says (a ``sync`` may be running on
        another thread: its flag is already down). Before a segment is ended, and at close."""
        if self._fd is not None:
            try:
                os.fdatasync(self._fd)
            except OSError as error:
                msg = f"shard {self.shard}: could not sync its log ({error.strerror})"
                raise StorageError(msg) from None
            self.unsynced = False

    def start_new_segment(self, first_seq: int) -> None:
        """End the newest segment here and append to a fresh file from now on (a file size limit
        stops growing one file, not a new one)."""
        with self._io:
            if self._end > HEADER_SIZE:
                self._sync()
                self._start_segment(first_seq)

    def keep_reserve(self) -> None:
        """Hold ``RESERVE_BYTES`` of disk in a file of its own, for ``release_reserve``."""
        path = self.directory / RESERVE_NAME
        if path.exists():
            return
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
            try:
                os.posix_fallocate(fd, 0, RESERVE_BYTES)
                os.fsync(fd)  # its blocks are the disk's, whatever happens next
            finally:
                os.close(fd)
        except OSError:
            path.unlink(missing_ok=True)  # no room for it now: the next checkpoint tries again

    def release_reserve(self) -> bool:
        """Give the reserve's disk space back, so deletes on a full disk can be logged."""
        path = self.directory / RESERVE_NAME
        if not path.exists():
            return False
        path.unlink()
        return True

    def trim(self, keep_from_lsn: int, keep_segment) -> int:
        """Delete the oldest segments whose records are all before ``keep_from_lsn`` and that
        ``keep_segment(segment, next_segment)`` does not keep; how many went. Never the newest."""
        removed = 0
        while True:
            with self._lock:
                if len(self._segments) < 2:
                    break
                oldest, following = self._segments[0], self._segments[1]
                if following.first_lsn > keep_from_lsn or keep_segment(oldest, following):
                    break
                self._segments.pop(0)
            oldest.path.unlink(missing_ok=True)
            removed += 1
        return removed

    def close(self) -> None:
        with self._io:
            if self._fd is not None:
                try:
                    self._sync()
                finally:
                    os.close(self._fd)
                    self._fd = None

    # -- files -------------------------------------------------------------------------------

    def _start_segment(self, first_seq: int) -> None:
        path = self.directory / f"{self.next_lsn:020d}{SUFFIX}"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
            os.write(fd, encode_header(self.shard, self.next_lsn, first_seq))
            os.fdatasync(fd)
            sync_dirs(self.directory)
        except OSError as error:
            msg = f"shard {self.shard}: cannot start a log segment at {path}: {error.strerror}"
            raise StorageError(msg) from None
        if self._fd is not None:
            os.close(self._fd)
        self._fd, self._end = fd, HEADER_SIZE
        with self._lock:
            self._segments.append(Segment(path, self.next_lsn, first_seq))

    def _open_newest(self) -> None:
        path = self._segments[-1].path
        try:
            self._fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
            self._end = os.fstat(self._fd).st_size
        except OSError as error:
            raise _corrupted(self.shard, path, error.strerror or str(error)) from None

    def _cut_back(self, size: int) -> None:
        assert self._fd is not None
        try:
            os.ftruncate(self._fd, size)
            if self.durable:
                os.fdatasync(self._fd)
        except OSError:
            pass  # the torn record fails its CRC at the next open, and is cut then
        self._end = size


def _cut(path: Path, size: int) -> None:
    fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    try:
        os.ftruncate(fd, size)
        os.fdatasync(fd)
    finally:
        os.close(fd)


def _corrupted(shard: int, where: Path, problem: str) -> StorageCorrupted:
    return StorageCorrupted(f"shard {shard}'s log at {where}", problem, where.parent.parent.parent)

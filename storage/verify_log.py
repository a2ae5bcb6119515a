"""What ``mi verify`` checks in one shard's write-ahead log (``storage.wal``), which is its journal.

Every segment's header is intact and names this shard and the first record its file name says;
every record's frame and CRC are intact and it parses; records are numbered consecutively (lsn)
across segments, and so are their journal entries (seq). The end of the newest segment may not
be a whole record: a crash leaves such a torn tail (or the server is writing a record right now),
and the server cuts it at its next start, so it is reported apart, as a torn tail, not as damage;
unless the environment holds records past it (then what is unreadable was written whole once).
The log must reach the shard's ``log/applied`` counter (the last record its LMDB environment
holds) and start no later than the record after it, or startup could not replay it; a shard with
no log at all (a snapshot, a new or restored dir) is fine: the server starts a new one.

A live server appends and trims meanwhile: the counter is read before the segments are listed
for the end check and after they are read for the start check, and a segment that is gone when
its turn comes was trimmed (the oldest go first), so neither reports damage that is not there.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from attrs import define, field

from storage.log_format import HEADER_SIZE, LogDamaged, decode_header, decode_record, record_lsn
from storage.wal import SUFFIX, record_bodies

__all__ = ["LogFindings", "check_log", "count_log_records"]


@define
class LogFindings:
    """What the check of one shard's log found (problems as sentences)."""

    records: int = 0
    entries: int = 0
    damage: list[str] = field(factory=list)
    torn_tails: list[str] = field(factory=list)


@define
class _Walk:
    """Where the walk through the segments is: the next lsn and seq expected (None: unknown)."""

    findings: LogFindings
    tick: Callable[[], None]
    next_lsn: int | None = None
    next_seq: int | None = None
    first_lsn: int | None = None  # the first record of the first segment still there
    last_lsn: int | None = None  # the last record read in order
    torn: tuple[str, int, int] | None = None  # the newest segment's (name, end of records, size)


def check_log(
    log_dir: Path, applied: Callable[[], int], shard: int, tick: Callable[[], None] = lambda: None
) -> LogFindings:
    """Check the log in ``log_dir`` of shard ``shard``; ``applied()`` reads the shard's
    ``log/applied`` counter now; ``tick()`` after each record."""
    walk = _Walk(LogFindings(), tick)
    applied_before = applied()
    paths = _segment_paths(log_dir)
    for index, path in enumerate(paths):
        _check_segment(path, newest=index == len(paths) - 1, shard=shard, walk=walk)
    findings = walk.findings
    if walk.first_lsn is None:
        return findings  # no log: the server starts one after the applied record
    last = walk.first_lsn - 1 if walk.last_lsn is None else walk.last_lsn
    short = f"the shard holds records up to {applied_before}" if last < applied_before else None
    if walk.torn is not None:
        name, end, size = walk.torn
        if short:  # not a crash's torn tail: the environment holds what follows
            findings.damage.append(f"log segment {name}: a damaged record at byte {end} of {size}; the log ends"
                                   f" there, at record {last}, but {short}")  # fmt: skip
        else:
            after = "its header" if end == HEADER_SIZE else f"record {last}"
            findings.torn_tails.append(
                f"log segment {name}: the {size - end} bytes after {after} are not a whole record (a torn"
                " tail: a crash leaves one, or a record was being written); the server cuts it at its next start"
            )
    elif short:
        findings.damage.append(f"the log ends at record {last} but {short}")
    applied_after = applied()
    if walk.first_lsn > applied_after + 1:
        findings.damage.append(
            f"the log starts at record {walk.first_lsn} but the shard holds records only up to {applied_after}"
        )
    return findings


def count_log_records(log_dir: Path) -> int:
    """The intact records in ``log_dir`` (what ``check_log`` ticks for, in an undamaged log)."""
    total = 0
    for path in _segment_paths(log_dir):
        try:
            with path.open("rb") as file:
                size = os.fstat(file.fileno()).st_size
                total += sum(1 for _record in record_bodies(file.fileno(), HEADER_SIZE, size))
        except FileNotFoundError:  # trimmed meanwhile
            continue
    return total


def _segment_paths(log_dir: Path) -> list[Path]:
    try:
        return sorted(path for path in log_dir.iterdir() if path.suffix == SUFFIX)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _check_segment(path: Path, *, newest: bool, shard: int, walk: _Walk) -> None:
    try:
        file = path.open("rb")
    except FileNotFoundError:  # trimmed since we listed it, and so was everything before it
        walk.next_lsn = walk.next_seq = None
        return
    with file:
        _check_open_segment(file.fileno(), path.name, newest=newest, shard=shard, walk=walk)


def _check_open_segment(fd: int, name: str, *, newest: bool, shard: int, walk: _Walk) -> None:
    findings = walk.findings
    size = os.fstat(fd).st_size
    header = os.pread(fd, HEADER_SIZE, 0)
    try:
        owner, first_lsn, first_seq = decode_header(header)
    except LogDamaged as error:
        if newest and size <= HEADER_SIZE:
            findings.torn_tails.append(
                f"log segment {name}: its header was never written whole (a crash while it was being"
                " created); the server deletes it at its next start"
            )
        else:
            findings.damage.append(f"log segment {name}: {error}")
        walk.next_lsn = walk.next_seq = None  # its records cannot be read: no gap is reported after it
        return
    if owner != shard:
        findings.damage.append(f"log segment {name} belongs to shard {owner}")
    if name != f"{first_lsn:020d}{SUFFIX}":
        findings.damage.append(f"log segment {name}: its header says it starts at record {first_lsn}")
    if walk.next_lsn is not None and first_lsn != walk.next_lsn:  # their entries are missing too
        findings.damage.append(f"log records {walk.next_lsn}..{first_lsn - 1} are missing (before segment {name})")
    elif walk.next_seq is not None and first_seq != walk.next_seq:
        problem = f"log segment {name}: its journal entries start at {first_seq}, {walk.next_seq} expected"
        findings.damage.append(problem)
    if walk.first_lsn is None:
        walk.first_lsn = first_lsn
    walk.next_lsn, walk.next_seq = first_lsn, first_seq
    end = _check_records(fd, name, HEADER_SIZE, size, walk)
    if end is not None and end < size and newest:
        # The server may be appending: what was not whole a moment ago may be now.
        grown = os.fstat(fd).st_size
        if grown > size:
            end, size = _check_records(fd, name, end, grown, walk), grown
    if end is None or end == size:
        return
    if newest:
        walk.torn = (name, end, size)  # a torn tail, unless the environment holds more (check_log)
    else:
        findings.damage.append(f"log segment {name}: a damaged record at byte {end} of {size}")
        walk.next_lsn = walk.next_seq = None


def _check_records(fd: int, name: str, start: int, size: int, walk: _Walk) -> int | None:
    """Walk the intact records from byte ``start`` to ``size``; where they end, or None if a
    record was damage (reported)."""
    findings = walk.findings
    end = start
    for body, after in record_bodies(fd, start, size):
        lsn = record_lsn(body)
        if lsn != walk.next_lsn:
            problem = f"log segment {name}: the record at byte {end} is numbered {lsn}, {walk.next_lsn} expected"
            findings.damage.append(problem)
            walk.next_lsn = walk.next_seq = None
            return None
        try:
            record = decode_record(body)
        except LogDamaged as error:
            findings.damage.append(f"log segment {name}, record {lsn}: {error}")
            walk.next_lsn = walk.next_seq = None
            return None
        walk.tick()
        findings.records += 1
        findings.entries += len(record.entries)
        if walk.next_seq is not None and record.first_seq != walk.next_seq:
            findings.damage.append(
                f"log segment {name}, record {lsn}: its journal entries start at {record.first_seq},"
                f" {walk.next_seq} expected"
            )
        walk.next_lsn, walk.next_seq, walk.last_lsn = lsn + 1, record.last_seq + 1, lsn
        end = after
    return end

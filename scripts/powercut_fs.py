"""A FUSE filesystem that loses every write not yet fsynced when the power is "cut".

    python scripts/powercut_fs.py BACKING MOUNT [--keep-fraction F] [--seed N]

A passthrough over the directory BACKING, mounted at MOUNT (pyfuse3 on Trio). A file's writes stay
in memory, per 4 KiB page together with the file's pending size, until an ``fsync`` or
``fdatasync`` of that file (or a write through a handle opened ``O_SYNC``/``O_DSYNC``) moves them
into the backing file; reads, ``mmap`` included, see the pending pages over the backing file.
A truncation is pending in the same way. The kernel's writeback cache stays off and ``direct_io``
is not used, so every write reaches this process at once and mapped reads go through the page cache.

Prints ``mounted MOUNT`` on stdout once mounted. Signals:
- SIGUSR1 cuts the power: every file's pending writes are dropped, or with ``--keep-fraction F`` a
  random fraction F of the pending pages (and, with probability F, a pending truncation) reach the
  backing file, as a kernel writing dirty pages back in any order would leave them. Then it
  unmounts and exits. What the backing directory holds then is the disk after the power came back.
- SIGTERM or SIGINT is a clean shutdown: every pending write reaches the backing file, then it
  unmounts.

Limitations: directory operations (create, mkdir, rename, unlink, rmdir) and chmod, chown and
utimes apply to the backing directory at once, as if the filesystem journalled them synchronously;
only file contents and sizes wait for a sync. "Synced" means written to the backing file: the
backing filesystem's own durability is not in the model (no real fsync is made). Hard links,
symbolic links, device nodes, extended attributes and ``RENAME_EXCHANGE`` are not supported.
File locks are kept by the kernel, as for any FUSE filesystem without lock handlers.
"""

from __future__ import annotations

import argparse
import errno
import functools
import os
import random
import signal
import stat
import sys
import time
from collections.abc import Callable
from typing import Any

import pyfuse3
import trio

PAGE = 4096
ATTR_TIMEOUT = 1.0  # seconds the kernel may cache attributes; only this process changes them


class PendingFile:
    """One file's writes since its last sync: whole pages, the size it has now, the least since."""

    def __init__(self, backing_size: int) -> None:
        self.pages: dict[int, bytearray] = {}
        self.size = backing_size
        self.floor = backing_size  # backing bytes at or past this were truncated away: read as zeros
        self.mtime_ns = time.time_ns()

    def page(self, fd: int, number: int) -> bytearray:
        """The page to write into: the pending one, else a copy of what the file holds there."""
        page = self.pages.get(number)
        if page is None:
            page = bytearray(read_backing(fd, number * PAGE, PAGE, self.floor).ljust(PAGE, b"\0"))
            self.pages[number] = page
        return page

    def write(self, fd: int, offset: int, data: bytes) -> None:
        pos, end = offset, offset + len(data)
        while pos < end:
            number, start = divmod(pos, PAGE)
            n = min(PAGE - start, end - pos)
            self.page(fd, number)[start : start + n] = data[pos - offset : pos - offset + n]
            pos += n
        self.size = max(self.size, end)
        self.mtime_ns = time.time_ns()

    def truncate(self, size: int) -> None:
        for number in [n for n in self.pages if n * PAGE >= size]:
            del self.pages[number]
        last, start = divmod(size, PAGE)
        if last in self.pages:
            self.pages[last][start:] = bytes(PAGE - start)
        self.size = size
        self.floor = min(self.floor, size)
        self.mtime_ns = time.time_ns()

    def read(self, fd: int, offset: int, size: int) -> bytes:
        pos, end = offset, min(offset + size, self.size)
        out = bytearray()
        while pos < end:
            number, start = divmod(pos, PAGE)
            n = min(PAGE - start, end - pos)
            page = self.pages.get(number)
            if page is not None:
                out += page[start : start + n]
            else:  # zeros past the backing file's end: a short read would shrink the file in the kernel
                out += read_backing(fd, pos, n, self.floor).ljust(n, b"\0")
            pos += n
        return bytes(out)

    def write_back(self, fd: int, pages: list[int], *, resize: bool) -> None:
        """Write these pages to the backing file, and with ``resize`` its pending size."""
        if resize and self.floor < os.fstat(fd).st_size:
            os.ftruncate(fd, self.floor)
        for number in sorted(pages):
            os.pwrite(fd, self.pages[number][: self.size - number * PAGE], number * PAGE)
        if resize:
            os.ftruncate(fd, self.size)


def read_backing(fd: int, offset: int, size: int, floor: int) -> bytes:
    """``size`` bytes of the backing file at ``offset``, zeros from ``floor`` on (short at its end)."""
    data = os.pread(fd, size, offset)
    if offset + len(data) > floor:
        keep = max(0, floor - offset)
        data = data[:keep] + bytes(len(data) - keep)
    return data


def fs_errors(method: Callable[..., Any]) -> Callable[..., Any]:
    """An OSError from the backing directory answers the caller with its errno."""

    @functools.wraps(method)
    async def wrapper(self: PowerCutFS, *args: Any) -> Any:
        if self.power_is_off:
            raise pyfuse3.FUSEError(errno.EIO)
        try:
            return method(self, *args)
        except OSError as error:
            raise pyfuse3.FUSEError(error.errno or errno.EIO) from None

    return wrapper


class PowerCutFS(pyfuse3.Operations):
    enable_writeback_cache = False  # every write must reach this process, not wait in the kernel

    def __init__(self, backing: str, keep_fraction: float, rng: random.Random) -> None:
        super().__init__()
        self.keep_fraction = keep_fraction
        self.rng = rng
        self.paths: dict[int, str] = {pyfuse3.ROOT_INODE: os.path.abspath(backing)}
        self.inodes: dict[str, int] = {os.path.abspath(backing): pyfuse3.ROOT_INODE}
        self.next_inode = pyfuse3.ROOT_INODE + 1
        self.pending: dict[int, PendingFile] = {}
        self.handles: dict[int, tuple[int, int, bool]] = {}  # fh: (inode, backing fd, sync writes)
        self.next_handle = 1
        self.power_is_off = False

    # -- inodes and attributes --------------------------------------------------------------
    def _inode(self, path: str) -> int:
        inode = self.inodes.get(path)
        if inode is None:
            inode = self.inodes[path] = self.next_inode
            self.paths[inode] = path
            self.next_inode += 1
        return inode

    def _path(self, inode: int) -> str:
        try:
            return self.paths[inode]
        except KeyError:
            raise pyfuse3.FUSEError(errno.ENOENT) from None

    def _child(self, parent: int, name: bytes) -> str:
        return os.path.join(self._path(parent), os.fsdecode(name))

    def _attrs(self, path: str) -> pyfuse3.EntryAttributes:
        st = os.lstat(path)
        inode = self._inode(path)
        attrs = pyfuse3.EntryAttributes()
        for field in ("st_mode", "st_nlink", "st_uid", "st_gid", "st_rdev", "st_size", "st_blocks",
                      "st_blksize", "st_atime_ns", "st_mtime_ns", "st_ctime_ns"):  # fmt: skip
            setattr(attrs, field, getattr(st, field))
        pending = self.pending.get(inode)
        if pending is not None:
            attrs.st_size = pending.size
            attrs.st_mtime_ns = max(st.st_mtime_ns, pending.mtime_ns)
        attrs.st_ino = inode
        attrs.attr_timeout = attrs.entry_timeout = ATTR_TIMEOUT
        return attrs

    def _forget_path(self, path: str) -> None:
        """``path`` is gone: its inode (and anything under it) keeps only its open handles."""
        for old in [p for p in self.inodes if p == path or p.startswith(path + os.sep)]:
            inode = self.inodes.pop(old)
            del self.paths[inode]
            if not any(h[0] == inode for h in self.handles.values()):
                self.pending.pop(inode, None)

    def _pending(self, inode: int, fd: int) -> PendingFile:
        pending = self.pending.get(inode)
        if pending is None:
            pending = self.pending[inode] = PendingFile(os.fstat(fd).st_size)
        return pending

    @fs_errors
    def lookup(self, parent_inode: int, name: bytes, ctx: Any) -> pyfuse3.EntryAttributes:
        parent = self._path(parent_inode)
        if name == b"..":
            path = os.path.dirname(parent) if parent_inode != pyfuse3.ROOT_INODE else parent
        else:
            path = parent if name == b"." else self._child(parent_inode, name)
        return self._attrs(path)

    @fs_errors
    def getattr(self, inode: int, ctx: Any) -> pyfuse3.EntryAttributes:
        return self._attrs(self._path(inode))

    @fs_errors
    def setattr(self, inode: int, attr: Any, fields: Any, fh: int | None, ctx: Any) -> pyfuse3.EntryAttributes:
        path = self._path(inode)
        if fields.update_mode:
            os.chmod(path, stat.S_IMODE(attr.st_mode))
        if fields.update_uid or fields.update_gid:
            os.chown(path, attr.st_uid if fields.update_uid else -1, attr.st_gid if fields.update_gid else -1)
        if fields.update_atime or fields.update_mtime:
            st = os.lstat(path)
            atime = attr.st_atime_ns if fields.update_atime else st.st_atime_ns
            mtime = attr.st_mtime_ns if fields.update_mtime else st.st_mtime_ns
            os.utime(path, ns=(atime, mtime))
        if fields.update_size:
            self._truncate(inode, path, attr.st_size)
        return self._attrs(path)

    def _truncate(self, inode: int, path: str, size: int) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            self._pending(inode, fd).truncate(size)
        finally:
            os.close(fd)

    # -- directories: applied at once ---------------------------------------------------------
    @fs_errors
    def opendir(self, inode: int, ctx: Any) -> int:
        return inode

    @fs_errors
    def readdir(self, fh: int, start_id: int, token: Any) -> None:
        path = self._path(fh)
        names = sorted(os.listdir(path))
        for index in range(start_id, len(names)):
            child = os.path.join(path, names[index])
            if not pyfuse3.readdir_reply(token, os.fsencode(names[index]), self._attrs(child), index + 1):
                break

    @fs_errors
    def mkdir(self, parent_inode: int, name: bytes, mode: int, ctx: Any) -> pyfuse3.EntryAttributes:
        path = self._child(parent_inode, name)
        os.mkdir(path, stat.S_IMODE(mode))
        return self._attrs(path)

    @fs_errors
    def rmdir(self, parent_inode: int, name: bytes, ctx: Any) -> None:
        path = self._child(parent_inode, name)
        os.rmdir(path)
        self._forget_path(path)

    @fs_errors
    def unlink(self, parent_inode: int, name: bytes, ctx: Any) -> None:
        path = self._child(parent_inode, name)
        os.unlink(path)
        self._forget_path(path)

    @fs_errors
    def rename(self, parent_old: int, name_old: bytes, parent_new: int, name_new: bytes, flags: int, ctx: Any) -> None:
        old, new = self._child(parent_old, name_old), self._child(parent_new, name_new)
        if old == new:
            return
        if flags & pyfuse3.RENAME_EXCHANGE:
            raise pyfuse3.FUSEError(errno.EINVAL)
        if flags & pyfuse3.RENAME_NOREPLACE and os.path.lexists(new):
            raise pyfuse3.FUSEError(errno.EEXIST)
        os.rename(old, new)
        self._forget_path(new)
        for path in [p for p in self.inodes if p == old or p.startswith(old + os.sep)]:
            inode = self.inodes.pop(path)
            moved = new + path[len(old) :]
            self.inodes[moved], self.paths[inode] = inode, moved

    @fs_errors
    def statfs(self, ctx: Any) -> pyfuse3.StatvfsData:
        st = os.statvfs(self.paths[pyfuse3.ROOT_INODE])
        data = pyfuse3.StatvfsData()
        for field in ("f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail", "f_files", "f_ffree",
                      "f_favail", "f_namemax"):  # fmt: skip
            setattr(data, field, getattr(st, field))
        return data

    # -- files: contents wait for a sync --------------------------------------------------------
    def _handle(self, inode: int, fd: int, flags: int) -> pyfuse3.FileInfo:
        fh = self.next_handle
        self.next_handle += 1
        self.handles[fh] = (inode, fd, bool(flags & os.O_DSYNC))
        return pyfuse3.FileInfo(fh=fh, direct_io=False, keep_cache=True)

    @fs_errors
    def open(self, inode: int, flags: int, ctx: Any) -> pyfuse3.FileInfo:
        fd = os.open(self._path(inode), os.O_RDWR)  # read too: a partial page is read before it is written
        if flags & os.O_TRUNC:
            self._pending(inode, fd).truncate(0)
        return self._handle(inode, fd, flags)

    @fs_errors
    def create(self, parent_inode: int, name: bytes, mode: int, flags: int, ctx: Any) -> tuple[Any, Any]:
        path = self._child(parent_inode, name)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | (flags & os.O_EXCL), stat.S_IMODE(mode))
        attrs = self._attrs(path)
        return self._handle(attrs.st_ino, fd, flags), attrs

    @fs_errors
    def read(self, fh: int, off: int, size: int) -> bytes:
        inode, fd, _ = self.handles[fh]
        pending = self.pending.get(inode)
        return pending.read(fd, off, size) if pending is not None else os.pread(fd, size, off)

    @fs_errors
    def write(self, fh: int, off: int, buf: bytes) -> int:
        inode, fd, sync_writes = self.handles[fh]
        self._pending(inode, fd).write(fd, off, buf)
        if sync_writes:
            self._sync(inode, fd)
        return len(buf)

    @fs_errors
    def fsync(self, fh: int, datasync: bool) -> None:
        inode, fd, _ = self.handles[fh]
        self._sync(inode, fd)

    def _sync(self, inode: int, fd: int) -> None:
        pending = self.pending.pop(inode, None)
        if pending is not None:
            pending.write_back(fd, list(pending.pages), resize=True)

    @fs_errors
    def flush(self, fh: int) -> None:
        pass  # close(2) syncs nothing

    async def release(self, fh: int) -> None:
        inode, fd, _ = self.handles.pop(fh)
        os.close(fd)
        if inode not in self.paths and not any(h[0] == inode for h in self.handles.values()):
            self.pending.pop(inode, None)  # unlinked and closed: nothing left to write back

    # -- the end ------------------------------------------------------------------------------
    def power_off(self, keep_fraction: float) -> tuple[int, int, dict[str, int]]:
        """Write back a random ``keep_fraction`` of the pending pages: (kept, lost, pending per file)."""
        self.power_is_off = True
        kept = lost = 0
        files = {}
        root = self.paths[pyfuse3.ROOT_INODE]
        for inode, pending in self.pending.items():
            path = self.paths.get(inode)
            if path is None or not pending.pages and pending.size == os.stat(path).st_size:
                continue
            files[os.path.relpath(path, root)] = len(pending.pages)
            pages = [n for n in pending.pages if self.rng.random() < keep_fraction]
            kept, lost = kept + len(pages), lost + len(pending.pages) - len(pages)
            fd = os.open(path, os.O_RDWR)
            try:
                pending.write_back(fd, pages, resize=keep_fraction >= 1 or self.rng.random() < keep_fraction)
            finally:
                os.close(fd)
        self.pending.clear()
        return kept, lost, files


async def watch_signals(fs: PowerCutFS) -> None:
    with trio.open_signal_receiver(signal.SIGUSR1, signal.SIGTERM, signal.SIGINT) as signals:
        async for signum in signals:
            if signum == signal.SIGUSR1:
                kept, lost, files = fs.power_off(fs.keep_fraction)
                pending = ", ".join(f"{path} {pages}" for path, pages in sorted(files.items())) or "none"
                print(f"power cut: {kept} unsynced pages reached the disk, {lost} lost; pending: {pending}",
                      flush=True)
            else:
                fs.power_off(1.0)  # a clean shutdown writes everything back
            pyfuse3.terminate()
            return


async def serve(fs: PowerCutFS, mount: str) -> None:
    options = set(pyfuse3.default_options) | {"fsname=powercut"}
    pyfuse3.init(fs, mount, options)
    try:
        print(f"mounted {mount}", flush=True)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch_signals, fs)
            await pyfuse3.main()
            nursery.cancel_scope.cancel()
    finally:
        pyfuse3.close(unmount=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("backing", help="the directory that stands for the disk")
    parser.add_argument("mount", help="where to mount it")
    parser.add_argument("--keep-fraction", type=float, default=0.0,
                        help="at a power cut, the fraction of unsynced pages that reach the disk (0-1)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=None, help="seed of the pages kept at a cut")
    args = parser.parse_args(argv)
    if not 0.0 <= args.keep_fraction <= 1.0:
        parser.error("--keep-fraction must be between 0 and 1")
    fs = PowerCutFS(args.backing, args.keep_fraction, random.Random(args.seed))
    trio.run(serve, fs, args.mount)
    return 0


if __name__ == "__main__":
    sys.exit(main())

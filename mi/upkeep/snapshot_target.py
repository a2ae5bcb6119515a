"""Where ``SNAPSHOT TO dir`` may write, and whether the disk has room for it.

Any client may send SNAPSHOT when auth is off, so the server writes only inside its snapshot dir
(``[snapshots] dir``): a relative name is taken inside it, an absolute path must lie inside it.
Refused: ``..`` anywhere, a symbolic link on the way down from the snapshot dir, the data dir or
anything inside it, the snapshot dir itself; and a snapshot the disk (or ``max_bytes``) has no
room for.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path, PurePath

__all__ = ["SnapshotRefused", "check_room", "snapshot_target"]


class SnapshotRefused(ValueError):
    """A snapshot target the server will not write, or one it has no room for."""


def snapshot_target(requested: str, root: Path, data_dir: Path) -> Path:
    """The absolute path ``requested`` names inside ``root``; ``SnapshotRefused`` if it is not
    a new directory there, or lies in ``data_dir``."""
    given = PurePath(requested)
    if ".." in given.parts:
        msg = f"{requested!r} climbs out with '..'; name a directory inside the snapshot dir {root}"
        raise SnapshotRefused(msg)
    configured, root = Path(os.path.abspath(root)), root.resolve()  # the same dir, by two names
    target = Path(os.path.normpath(configured / given))  # an absolute ``given`` stays as it is
    base = next((base for base in (configured, root) if base in target.parents), None)
    if base is None:
        msg = f"{requested!r} is outside the snapshot dir {root} ([snapshots] dir); name a directory inside it"
        raise SnapshotRefused(msg)
    target = root / target.relative_to(base)
    step = root
    for part in target.relative_to(root).parts:  # nothing on the way down may lead elsewhere
        step = step / part
        if step.is_symlink():
            msg = f"{step} is a symbolic link; a snapshot goes into a plain directory"
            raise SnapshotRefused(msg)
    data_dir = data_dir.resolve()
    if target == data_dir or data_dir in target.parents:
        msg = f"{target} is inside the data dir {data_dir}; a snapshot goes beside it, never into it"
        raise SnapshotRefused(msg)
    return target


def check_room(target: Path, needed: int, root: Path, max_bytes: int | None, data_dir: Path) -> None:
    """``SnapshotRefused`` unless the disk under ``target`` has ``needed`` bytes free and the
    snapshot dir stays within ``max_bytes`` (what it holds now, the data dir left out, plus ``needed``)."""
    existing = target
    while not existing.exists():
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    if free < needed:
        msg = f"the disk under {existing} has {free} bytes free and the snapshot needs about {needed}"
        raise SnapshotRefused(msg)
    if max_bytes is not None:
        held = _bytes_under(root.resolve(), data_dir.resolve())
        if held + needed > max_bytes:
            msg = (f"the snapshot dir holds {held} bytes; with about {needed} more it would pass"
                   f" [snapshots] max_bytes ({max_bytes}); delete old snapshots or raise it")
            raise SnapshotRefused(msg)


def _bytes_under(root: Path, skip: Path) -> int:
    total = 0
    for folder, dirs, files in os.walk(root):  # os.walk does not follow symbolic links
        if Path(folder) == skip:
            dirs.clear()
            continue
        dirs[:] = [d for d in dirs if Path(folder, d) != skip]
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:  # gone meanwhile
                continue
    return total

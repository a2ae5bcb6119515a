"""Making a directory's entries durable: after a file is created, renamed or deleted in it, the
entry itself reaches the disk only when the directory is fsynced."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["sync_dirs"]


def sync_dirs(*paths: Path) -> None:
    """fsync each directory in ``paths``."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

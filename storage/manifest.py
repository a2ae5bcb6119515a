"""``manifest.json``: what a data dir is (format version, shard count), written once at creation.

The manifest is written atomically (temp file, fsync, rename, fsync the directory), so after a crash
it is either absent or complete.
"""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path

from attrs import frozen

from storage.errors import DataDirError

__all__ = ["FORMAT_VERSION", "MANIFEST_NAME", "MANIFEST_TEMP_NAME", "Manifest", "read_manifest",
           "write_manifest"]

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
MANIFEST_TEMP_NAME = MANIFEST_NAME + ".tmp"


@frozen
class Manifest:
    format: int
    shards: int
    created: str  # ISO 8601, UTC

    @classmethod
    def new(cls, shards: int) -> Manifest:
        created = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        return cls(FORMAT_VERSION, shards, created)


def read_manifest(data_dir: Path) -> Manifest | None:
    """The data dir's manifest, or None if it has none; ``DataDirError`` if it is unusable."""
    path = data_dir / MANIFEST_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        msg = f"cannot read {path}: {error}; check its permissions or restore it from a snapshot"
        raise DataDirError(msg) from None
    try:
        data = json.loads(text)
    except ValueError as error:
        msg = f"{path} is not valid JSON ({error}); restore it from a snapshot"
        raise DataDirError(msg) from None
    if not isinstance(data, dict):
        msg = f"{path} is not a JSON object; restore it from a snapshot"
        raise DataDirError(msg)
    version = data.get("format")
    if version != FORMAT_VERSION:
        msg = (
            f"{path} has format {version!r}, but this version of mi reads format {FORMAT_VERSION};"
            " use the mi version that wrote this data dir"
        )
        raise DataDirError(msg)
    shards = data.get("shards")
    if type(shards) is not int or shards < 1:
        msg = f"{path} has an invalid shard count {shards!r}; restore it from a snapshot"
        raise DataDirError(msg)
    created = data.get("created")
    return Manifest(version, shards, created if isinstance(created, str) else "")


def write_manifest(data_dir: Path, manifest: Manifest) -> None:
    """Write ``manifest`` into ``data_dir`` atomically and durably."""
    temp = data_dir / MANIFEST_TEMP_NAME
    text = json.dumps(
        {"format": manifest.format, "shards": manifest.shards, "created": manifest.created}, indent=2
    )
    try:
        with temp.open("w", encoding="utf-8") as file:
            file.write(text + "\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, data_dir / MANIFEST_NAME)
        dir_fd = os.open(data_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as error:
        msg = f"cannot write {data_dir / MANIFEST_NAME}: {error}"
        raise DataDirError(msg) from None

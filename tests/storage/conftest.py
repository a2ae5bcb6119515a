"""Fixtures for storage tests: a fresh shard or store on ``tmp_path``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from shard_helpers import open_shard

from storage import Shard, Store


@pytest.fixture
def shard_path(tmp_path: Path) -> Path:
    return tmp_path / "shard-000"


@pytest.fixture
def shard(shard_path: Path) -> Iterator[Shard]:
    shard = open_shard(shard_path)
    yield shard
    shard.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "data", shards=4, max_db_size=64 * 1024**2) as store:
        yield store

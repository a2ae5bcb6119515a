"""Commands for operators: JOURNAL (the change feed over TCP)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from mi.commands.base import REGISTRY
from protocol.commands import Journal
from protocol.errors import CommandError
from storage.journal import JournalDamaged

if TYPE_CHECKING:
    from mi.session import Session


@REGISTRY.connection(Journal)
def journal(session: Session, command: Journal) -> list[str]:
    """Up to ``count`` entries of one shard after ``since``, each a JSON text as ``mi journal`` prints."""
    shards = session.server.store.shards
    if command.shard >= len(shards):
        raise CommandError("ERR", f"no shard {command.shard}: the store has shards 0-{len(shards) - 1}")
    try:
        with shards[command.shard].read() as txn:
            entries = txn.journal(command.since, limit=command.count)
            return [json.dumps(entry.to_json(command.shard), ensure_ascii=False) for entry in entries]
    except JournalDamaged as error:
        raise CommandError("ERR", f"{error}; run mi verify") from None

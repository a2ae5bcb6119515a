"""``mi journal``: the operation journal as JSON lines, a change feed for log pipelines.

It reads each shard's write-ahead log (``storage.wal``), so it runs beside a live server: a record
still being written reads as the end of the log. With ``--follow`` it polls for new entries until
interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from typing import TextIO

from storage import Store, StorageError
from storage.log_format import LogDamaged

__all__ = ["add_parser", "follow_journal", "run"]

POLL_INTERVAL = 0.2  # seconds between looks for new entries with --follow


def add_parser(commands: argparse._SubParsersAction) -> None:
    journal = commands.add_parser("journal", help="print the operation journal as JSON lines")
    journal.add_argument("--data-dir", metavar="DIR", required=True, help="the server's data directory")
    journal.add_argument("--shard", type=int, metavar="N", help="one shard only (default: all)")
    journal.add_argument("--since", type=int, default=0, metavar="SEQ", help="entries after this sequence number")
    journal.add_argument("--follow", action="store_true", help="keep printing new entries")


def follow_journal(store: Store, shards: list[int], since: int, *, follow: bool) -> Iterator[dict]:
    """Entries as dicts, shard by shard, oldest first; with ``follow``, then new ones forever."""
    last = dict.fromkeys(shards, since)
    while True:
        for index in shards:
            found = [entry.to_json(index) for entry in store.shards[index].journal(last[index])]
            for entry in found:
                last[index] = entry["seq"]
                yield entry
        if not follow:
            return
        time.sleep(POLL_INTERVAL)


def run(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    try:
        with Store.open(args.data_dir, readonly=True) as store:
            count = len(store.shards)
            if args.shard is not None and not 0 <= args.shard < count:
                print(f"mi: --shard {args.shard}: the data dir has shards 0-{count - 1}", file=sys.stderr)
                return 2
            shards = [args.shard] if args.shard is not None else list(range(count))
            for entry in follow_journal(store, shards, args.since, follow=args.follow):
                out.write(json.dumps(entry, ensure_ascii=False) + "\n")
                out.flush()
    except LogDamaged as error:
        print(f"mi: {error}; run mi verify", file=sys.stderr)
        return 1
    except StorageError as error:
        print(f"mi: {error}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, BrokenPipeError):
        pass
    return 0

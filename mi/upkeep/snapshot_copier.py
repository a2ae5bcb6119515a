"""The snapshot copier: a child process the server starts to copy its shards (see mi.upkeep.snapshotter).

Why a process and not a thread: in py-lmdb 3.0, aborting a write transaction waits while another
thread of the same process is inside an LMDB call, and a copy is one call that lasts as long as
the copy, so a rolled-back EXEC would stall behind it. A copy in a process of its own holds up
nothing in the server; LMDB's lock file is made for readers in other processes.

The conversation, one JSON object a line on stdout and one word on stdin::

    -> {"event": "ready"}                        the data dir is open (read-only)
    <- begin                                     the server holds off every writer now
    -> {"event": "begun", "bytes_total": N}      an instant pinned across all shards
    -> {"event": "progress", "bytes_done": N}    ... as the copy goes
    -> {"event": "done"}  or  {"event": "error", "error": "..."}
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from storage import StorageError, Store
from storage.snapshot import begin_snapshot, write_snapshot

__all__ = ["main"]


def _say(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    data_dir, out = argv
    try:
        with Store.open(data_dir, readonly=True) as store:
            _say("ready")
            if sys.stdin.readline().strip() != "begin":
                return 1  # the server gave up
            point = begin_snapshot(store)
            _say("begun", bytes_total=point.total_bytes)
            done = 0

            def report(count: int) -> None:
                nonlocal done
                done += count
                _say("progress", bytes_done=done)

            write_snapshot(point, Path(out), report)
    except (StorageError, OSError) as error:
        _say("error", error=str(error))
        return 1
    _say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

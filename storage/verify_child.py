"""One shard's verify scan in a child process, so that an LMDB assertion cannot kill the caller.

LMDB checks parts of its tree with ``assert()``: on some damage (a leaf page where a branch page
should be) it calls ``abort()``, which no ``except`` can catch. ``mi verify`` and the server's
check after an unclean shutdown therefore scan each shard in a child (``python -m
storage.verify_child SHARD_DIR INDEX MAX_DAMAGE``), a fresh process with no environment of its
own open (so LMDB's one-environment-per-process rule holds). The child writes JSON lines: ``{"progress":
n}`` while it scans, then ``{"result": ...}`` (see ``storage.verify.shard_result``). A child that
dies by a signal is reported by the caller as damage to that shard's structure.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from attrs import frozen

__all__ = ["ChildOutcome", "run_shard_scan"]


@frozen
class ChildOutcome:
    """What the child said: its ``result`` (None if it had none), or how it died."""

    result: dict[str, Any] | None
    signal_name: str | None  # e.g. "SIGABRT": killed by a signal
    failure: str | None  # it exited without a result: the end of its stderr


def run_shard_scan(
    shard_dir: Path, index: int, max_damage: int, progress: Callable[[int], None] | None = None
) -> ChildOutcome:
    """Scan the shard at ``shard_dir`` in a child process; progress reported as the child goes."""
    command = [sys.executable, "-m", "storage.verify_child", str(shard_dir), str(index), str(max_damage)]
    result = None
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None and child.stderr is not None
        for line in child.stdout:
            message = json.loads(line)
            if "progress" in message and progress is not None:
                progress(message["progress"])
            result = message.get("result", result)
        stderr = child.stderr.read()
    if child.returncode < 0:
        return ChildOutcome(result, signal.Signals(-child.returncode).name, None)
    if result is None:
        return ChildOutcome(None, None, (stderr.strip().splitlines() or [f"exit status {child.returncode}"])[-1])
    return ChildOutcome(result, None, None)


def main(argv: list[str]) -> int:
    from storage.verify import shard_result  # here: storage.verify runs this module's parent side

    shard_dir, index, max_damage = Path(argv[0]), int(argv[1]), int(argv[2])

    def emit(message: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()  # the parent shows progress as it comes

    emit({"result": shard_result(shard_dir, index, max_damage, lambda n: emit({"progress": n}))})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

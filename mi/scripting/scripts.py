"""A server's scripts: the cache by SHA1, the Lua runtimes that run them, and which are running.

The cache lives as long as the server, as Redis's (not kept across restarts); EVAL adds to it.
Scripts on different shards may run at once, on different worker threads, so runtimes are kept
in a pool: each runs one script at a time and keeps the functions it compiled.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from attrs import define, field

from mi.scripting.runtime import ScriptRuntime, sha1hex

if TYPE_CHECKING:
    from mi.scripting.call import ScriptCall

__all__ = ["Scripts", "scripts_of"]


@define(eq=False)
class Scripts:
    bodies: dict[str, bytes] = field(factory=dict)  # SHA1 (lower-case hex) -> script
    generation: int = 0  # bumped by SCRIPT FLUSH: runtimes drop what they compiled before
    running: set[ScriptCall] = field(factory=set)  # handed to a unit, on the event loop's side
    _idle: list[ScriptRuntime] = field(factory=list)
    _lock: threading.Lock = field(factory=threading.Lock)

    def add(self, body: bytes) -> str:
        sha = sha1hex(body)
        self.bodies[sha] = body
        return sha

    def load(self, body: bytes) -> str:
        """SCRIPT LOAD: compile (raising its error), then cache."""
        sha = sha1hex(body)
        with self.runtime() as runtime:
            runtime.compile(sha, body)
        self.bodies[sha] = body
        return sha

    def flush(self) -> None:
        self.bodies.clear()
        self.generation += 1

    @contextmanager
    def runtime(self) -> Iterator[ScriptRuntime]:
        """A runtime for this thread's use until the block ends (any thread)."""
        with self._lock:
            runtime = self._idle.pop() if self._idle else None
        if runtime is None:
            runtime = ScriptRuntime()
        runtime.forget_scripts(self.generation)
        try:
            yield runtime
        finally:
            with self._lock:
                self._idle.append(runtime)


_SCRIPTS: weakref.WeakKeyDictionary[Any, Scripts] = weakref.WeakKeyDictionary()


def scripts_of(server: Any) -> Scripts:
    """The scripts of ``server`` (a ``mi.core.state.ServerState``), made on first use."""
    scripts = _SCRIPTS.get(server)
    if scripts is None:
        scripts = _SCRIPTS[server] = Scripts()
    return scripts

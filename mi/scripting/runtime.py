"""One Lua interpreter, sandboxed, that runs scripts one at a time (``ScriptRuntime``).

lupa's ``lua51`` module: Redis scripts are Lua 5.1 (``unpack``, ``setfenv``, numbers that are
doubles), and PUC Lua's count hook fires in every loop, where LuaJIT's compiled traces skip it,
so only PUC Lua can stop ``while true do end``. lupa lets other threads run while Lua runs (the
hook calls back into Python every ``HOOK_EVERY`` instructions), so a script on a worker thread
does not hold the event loop. The sandbox itself is ``sandbox.lua``.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from typing import TYPE_CHECKING, Any

from lupa import lua51

from mi.observability.logs import get_logger
from mi.scripting.convert import to_lua
from protocol import errors
from protocol.errors import CommandError

if TYPE_CHECKING:
    from mi.scripting.call import ScriptCall

__all__ = ["HOOK_EVERY", "ScriptRuntime", "sha1hex"]

log = get_logger("mi.scripting")

HOOK_EVERY = 100_000  # Lua instructions between two checks for SCRIPT KILL (as Redis)
_SANDBOX = resources.files("mi.scripting").joinpath("sandbox.lua").read_text()
_LOG_LEVELS = {0: "debug", 1: "info", 2: "info", 3: "warning"}


def sha1hex(body: bytes) -> str:
    return hashlib.sha1(body).hexdigest()  # noqa: S324 - Redis's script names, not security


def _no_attributes(obj: Any, name: Any, setting: bool) -> Any:
    """Lua never reads or sets an attribute of a Python object (no way out of the sandbox)."""
    raise AttributeError(name)


class ScriptRuntime:
    """A Lua state with the sandbox loaded and the scripts it compiled; one thread at a time."""

    def __init__(self) -> None:
        self._lua = lua51.LuaRuntime(
            encoding=None, register_eval=False, register_builtins=False, unpack_returned_tuples=True,
            attribute_filter=_no_attributes,
        )  # fmt: skip
        self._compile, self._run = self._lua.execute(
            _SANDBOX, self._call, self._log, lambda body: sha1hex(body).encode(), self._should_stop, HOOK_EVERY
        )
        self._functions: dict[str, Any] = {}
        self.generation = 0  # of the script cache these functions were compiled for
        self._current: ScriptCall | None = None

    def forget_scripts(self, generation: int) -> None:
        """SCRIPT FLUSH happened: drop the compiled functions."""
        if generation != self.generation:
            self._functions.clear()
            self.generation = generation

    def compile(self, sha: str, body: bytes) -> Any:
        """The script's function; raises the compile error (``CommandError``)."""
        function = self._functions.get(sha)
        if function is None:
            compiled = self._compile(body)  # the function, or (nil, error)
            function, error = compiled if isinstance(compiled, tuple) else (compiled, None)
            if function is None:
                raise errors.script_compile_error(error.decode("utf-8", "replace"))
            self._functions[sha] = function
        return function

    def run(self, call: ScriptCall) -> tuple[str, Any, int]:
        """Run ``call``'s script: ("ok", value, 0), ("error", error value, line of the
        redis.call that raised it or 0) or ("stopped", None, 0)."""
        function = self.compile(call.sha, call.script)
        keys, args = self._lua.table_from(list(call.keys)), self._lua.table_from(list(call.args))
        self._current = call
        try:
            outcome = self._run(function, keys, args)
        finally:
            self._current = None
        if not isinstance(outcome, tuple):
            outcome = (outcome,)
        status, value, line = (*outcome, None, 0)[:3]
        return status.decode(), value, int(line or 0)

    def _call(self, *args: Any) -> tuple[bool, Any]:
        call = self._current
        assert call is not None  # only a running script calls redis.call
        reply = call.command(args)
        return not isinstance(reply, CommandError), to_lua(self._lua, reply)

    def _should_stop(self) -> bool:
        call = self._current
        return call is not None and call.should_stop()

    def _log(self, level: Any, message: bytes) -> None:
        call = self._current
        method = getattr(log, _LOG_LEVELS.get(level if isinstance(level, int) else 2, "info"))
        method("script.log", sha=None if call is None else call.sha, message=message.decode("utf-8", "replace"))

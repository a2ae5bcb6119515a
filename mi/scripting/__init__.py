"""Lua scripting (EVAL, EVALSHA, SCRIPT): a sandboxed Lua 5.1 runtime, Redis's conversions
between replies and Lua values, the script cache, and one script run as one unit.

``runtime`` holds a Lua interpreter and its sandbox (``sandbox.lua``), ``convert`` the
conversions, ``scripts`` a server's cache and runtime pool, ``call`` one run and its
``redis.call``s. The handlers are in ``mi.commands.scripting``; docs/protocol.md, "Scripting",
says what differs from Redis.
"""

from mi.scripting.call import ScriptCall
from mi.scripting.runtime import ScriptRuntime, sha1hex
from mi.scripting.scripts import Scripts, scripts_of

__all__ = ["ScriptCall", "ScriptRuntime", "Scripts", "scripts_of", "sha1hex"]

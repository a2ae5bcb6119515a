"""Redis's conversions between command replies and Lua values, both ways.

Into Lua (what ``redis.call`` returns): a command's reply is encoded as RESP2, exactly as a RESP2
client would read it, then read back: integer -> number, bulk -> string, nil (bulk or array) ->
false, status -> ``{ok=...}``, error -> ``{err=...}``, array -> table (its nils as false).

Out of Lua (what a script returns): number -> integer (truncated toward zero), string -> bulk,
true -> 1, false and nil -> nil, ``{ok=s}`` -> status, ``{err=s}`` -> error, any other table ->
array of its elements from 1 up to the first nil (nested the same way).
"""

from __future__ import annotations

import math
from typing import Any

from lupa import lua51

from protocol import errors
from protocol.encoder import encode_into
from protocol.replies import SimpleString

__all__ = ["from_lua", "to_lua"]

MAX_DEPTH = 64  # nested tables deeper than this are answered as nil (a table may hold itself)


def to_lua(lua: lua51.LuaRuntime, reply: Any) -> Any:
    """``reply`` (what a handler returned) as the Lua value a script gets; an error as a table
    ``{err=...}`` (the caller decides whether to raise it)."""
    out = bytearray()
    encode_into(out, reply, 2, False)
    value, _end = _read(bytes(out), 0)
    return _lua_value(lua, value)


def _read(data: bytes, at: int) -> tuple[Any, int]:
    """One RESP2 value at ``at``: (python value, offset after it). Status and error come back
    as ("ok", text) / ("err", text) pairs."""
    kind, end = data[at : at + 1], data.index(b"\r\n", at)
    line = data[at + 1 : end]
    at = end + 2
    if kind == b":":
        return int(line), at
    if kind == b"+":
        return ("ok", line), at
    if kind == b"-":
        return ("err", line), at
    size = int(line)
    if size < 0:
        return None, at
    if kind == b"$":
        return data[at : at + size], at + size + 2
    items = []
    for _ in range(size):
        item, at = _read(data, at)
        items.append(item)
    return items, at


def _lua_value(lua: lua51.LuaRuntime, value: Any) -> Any:
    if value is None:
        return False
    if isinstance(value, tuple):
        field, text = value
        return lua.table_from({field.encode(): text})
    if isinstance(value, list):
        return lua.table_from([_lua_value(lua, item) for item in value])
    return value


def from_lua(value: Any, depth: int = 0) -> Any:
    """A script's return value as a reply."""
    if value is None or value is False:
        return None
    if value is True:
        return 1
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else 0
    if isinstance(value, bytes):
        return value
    if lua51.lua_type(value) != "table" or depth >= MAX_DEPTH:
        return None  # a function, a userdata: nil, as Redis answers them
    error = value[b"err"]
    if isinstance(error, bytes):
        return errors.script_error(error.decode("utf-8", "replace"))
    status = value[b"ok"]
    if isinstance(status, bytes):
        return SimpleString(status.decode("utf-8", "replace"))
    items = []
    index = 1
    while (item := value[index]) is not None:
        items.append(from_lua(item, depth + 1))
        index += 1
    return items


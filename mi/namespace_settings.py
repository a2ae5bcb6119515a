"""Each namespace's own rules: ``[namespaces.NAME]`` in the config file, overridden at run time.

``NAMESPACE CONFIG ns SET option value`` overrides one option; the overrides are kept in the data
dir (in shard 0, beside the data), so they survive restarts, and win over the file until
``NAMESPACE CONFIG ns RESET option`` drops them. A value ``none`` lifts the option.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs
import trio

from mi.config import NamespaceSettings, parse_seconds, parse_size
from protocol.errors import CommandError

__all__ = ["OPTIONS", "NamespaceSettingsTable", "parse_option", "render"]

SETTING_PREFIX = "ns/"  # the name a namespace's overrides are kept under, before the namespace
OPTIONS = {
    "default_ttl": parse_seconds,
    "max_value_size": parse_size,
}
NO_LIMIT = "none"


def parse_option(option: str, text: str) -> Any:
    """The value of ``option`` written as ``text`` (None for ``none``); ``CommandError`` if bad."""
    if option not in OPTIONS:
        raise CommandError("ERR", f"unknown namespace option '{option}' (known: {', '.join(OPTIONS)})")
    if text.lower() == NO_LIMIT:
        return None
    try:
        value = OPTIONS[option](text)
    except ValueError as error:
        raise CommandError("ERR", f"{option}: {error}") from None
    if value <= 0:
        raise CommandError("ERR", f"{option} must be greater than 0 (or {NO_LIMIT})")
    return value


def render(settings: NamespaceSettings) -> dict[str, str | None]:
    """The options as NAMESPACE CONFIG GET shows them: seconds, bytes, or None for no limit."""
    ttl, size = settings.default_ttl, settings.max_value_size
    return {
        "default_ttl": None if ttl is None else f"{ttl:g}s",
        "max_value_size": None if size is None else str(size),
    }


class NamespaceSettingsTable:
    """The effective settings of every namespace: the file's, then the stored overrides."""

    def __init__(self, from_file: Mapping[str, NamespaceSettings], stored: Mapping[str, bytes]) -> None:
        self._from_file = dict(from_file)
        self._overrides: dict[str, dict[str, Any]] = {
            name.removeprefix(SETTING_PREFIX): json.loads(value)
            for name, value in stored.items()
            if name.startswith(SETTING_PREFIX)
        }
        self._effective: dict[str, NamespaceSettings] = {}
        self._default = NamespaceSettings()
        self.lock = trio.Lock()  # held from computing a change until it is applied

    def of(self, ns: str) -> NamespaceSettings:
        settings = self._effective.get(ns)
        if settings is None:
            base = self._from_file.get(ns, self._default)
            settings = self._effective[ns] = attrs.evolve(base, **self._overrides.get(ns, {}))
        return settings

    def overridden(self, ns: str) -> set[str]:
        return set(self._overrides.get(ns, {}))

    def change(self, ns: str, option: str, value: Any, *, reset: bool = False) -> tuple[str, bytes | None]:
        """The overrides of ``ns`` with ``option`` set (or reset): ``(setting name, value to store)``."""
        overrides = dict(self._overrides.get(ns, {}))
        if reset:
            overrides.pop(option, None)
        else:
            overrides[option] = value
        return SETTING_PREFIX + ns, json.dumps(overrides).encode() if overrides else None

    def apply(self, ns: str, stored: bytes | None) -> None:
        """Take the overrides of ``ns`` as stored (after the commit that stored them)."""
        if stored is None:
            self._overrides.pop(ns, None)
        else:
            self._overrides[ns] = json.loads(stored)
        self._effective.pop(ns, None)

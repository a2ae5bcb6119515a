"""Each namespace's own rules: ``[namespaces.NAME]`` in the config file, overridden at run time.

``NAMESPACE CONFIG ns SET option value`` overrides one option; the overrides are kept in the data
dir (in shard 0, beside the data), so they survive restarts, and win over the file until
``NAMESPACE CONFIG ns RESET option`` drops them (every option can be reset: back to the file's
value, or the default). A value ``none`` lifts the options that can be lifted (limits, a TTL, the
webhook, the dead-letter namespace); ``lease``, ``retry_backoff``, ``retry_backoff_max`` and
``on_expire`` always have one.
Durations are written as everywhere else (``protocol.values.duration_ms``: ``30s``, ``1.5m``, ``2d``).

``NAMESPACE PAUSE ns`` is kept the same way (``paused/NAME``), apart from the options: it is a
state an operator sets, not a rule, so no RESET or file value touches it; RESUME drops it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import trio

from mi.settings.config import NamespaceSettings, is_http_url, is_namespace, parse_seconds, parse_size
from protocol.errors import CommandError

__all__ = ["OPTIONS", "NamespaceSettingsTable", "check_option", "parse_option", "render"]

SETTING_PREFIX = "ns/"  # the name a namespace's overrides are kept under, before the namespace
PAUSED_PREFIX = "paused/"  # the name kept while a namespace is paused, before the namespace
NO_LIMIT = "none"


def _on_expire(text: str) -> str:
    if text not in ("drop", "deliver"):
        msg = f"must be drop or deliver, not {text!r}"
        raise ValueError(msg)
    return text


def _count(text: str) -> int:
    if not text.isdigit():
        msg = f"not a whole number: {text!r}"
        raise ValueError(msg)
    return int(text)


def _url(text: str) -> str:
    if not is_http_url(text):
        msg = f"{text!r} is not an http:// or https:// URL"
        raise ValueError(msg)
    return text


def _rate(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        msg = f"not a number of operations per second: {text!r}"
        raise ValueError(msg) from None


def _namespace(text: str) -> str:
    if not is_namespace(text):
        msg = f"{text!r} is not a valid namespace name (letters, digits and _.:- up to 64)"
        raise ValueError(msg)
    return text


# option -> (parse its text, whether "none" lifts it)
OPTIONS: dict[str, tuple[Callable[[str], Any], bool]] = {
    "on_expire": (_on_expire, False),
    "default_ttl": (parse_seconds, True),
    "max_value_size": (parse_size, True),
    "max_keys": (_count, True),
    "rate": (_rate, True),
    "burst": (_count, True),
    "lease": (parse_seconds, False),
    "max_attempts": (_count, True),
    "dead_letter": (_namespace, True),
    "webhook": (_url, True),
    "retry_backoff": (parse_seconds, False),
    "retry_backoff_max": (parse_seconds, False),
    "webhook_concurrency": (_count, False),
    "webhook_timeout": (parse_seconds, False),
}


def check_option(option: str) -> None:
    """``CommandError`` unless ``option`` is a namespace option (what RESET needs)."""
    if option not in OPTIONS:
        raise CommandError("ERR", f"unknown namespace option '{option}' (known: {', '.join(OPTIONS)})")


def parse_option(option: str, text: str) -> Any:
    """The value of ``option`` written as ``text`` (None for ``none``); ``CommandError`` if bad."""
    check_option(option)
    parse, may_be_none = OPTIONS[option]
    if text.lower() == NO_LIMIT:
        if may_be_none:
            return None
        reset = f"RESET {option} goes back to the file's value or the default"
        raise CommandError("ERR", f"{option} cannot be {NO_LIMIT} ({reset})")
    try:
        value = parse(text)
    except ValueError as error:
        raise CommandError("ERR", f"{option}: {error}") from None
    if isinstance(value, int | float) and value <= 0 and option != "burst":
        lifted = f" (or {NO_LIMIT})" if may_be_none else ""
        raise CommandError("ERR", f"{option} must be greater than 0{lifted}")
    return value


def _seconds(value: float) -> str:
    """A duration as NAMESPACE CONFIG GET shows it: seconds, never in exponent notation."""
    return f"{value:.3f}".rstrip("0").rstrip(".") + "s"


def render(settings: NamespaceSettings) -> dict[str, str | None]:
    """The options as NAMESPACE CONFIG GET shows them: durations in seconds, sizes in bytes, None
    for no limit."""
    shown: dict[str, str | None] = {}
    for option in OPTIONS:
        value = getattr(settings, option)
        if value is None or isinstance(value, str):
            shown[option] = value
        elif isinstance(value, float):
            shown[option] = f"{value:g}" if option == "rate" else _seconds(value)
        else:
            shown[option] = str(value)
    return shown


class NamespaceSettingsTable:
    """The effective settings of every namespace: the file's, then the stored overrides."""

    def __init__(self, from_file: Mapping[str, NamespaceSettings], stored: Mapping[str, bytes]) -> None:
        self._from_file = dict(from_file)
        self._overrides: dict[str, dict[str, Any]] = {
            name.removeprefix(SETTING_PREFIX): json.loads(value)
            for name, value in stored.items()
            if name.startswith(SETTING_PREFIX)
        }
        self._paused = {name.removeprefix(PAUSED_PREFIX) for name in stored if name.startswith(PAUSED_PREFIX)}
        self._effective: dict[str, NamespaceSettings] = {}
        self._default = NamespaceSettings()
        self.lock = trio.Lock()  # held from computing a change until it is applied
        self._update_any_rate()

    def _update_any_rate(self) -> None:
        """Whether some namespace has a rate limit (else no command needs a rate check)."""
        self.any_rate = any(settings.rate is not None for settings in self._from_file.values()) or any(
            overrides.get("rate") is not None for overrides in self._overrides.values()
        )

    def of(self, ns: str) -> NamespaceSettings:
        settings = self._effective.get(ns)
        if settings is None:
            base = self._from_file.get(ns, self._default)
            settings = self._effective[ns] = attrs.evolve(base, **self._overrides.get(ns, {}))
        return settings

    def overridden_namespaces(self) -> list[str]:
        """Namespaces with settings changed at run time."""
        return sorted(self._overrides)

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
        self._update_any_rate()

    def is_paused(self, ns: str) -> bool:
        return ns in self._paused

    def pause_setting(self, ns: str, paused: bool) -> tuple[str, bytes | None]:
        """``(setting name, value to store)`` for pausing (or resuming) ``ns``."""
        return PAUSED_PREFIX + ns, b"1" if paused else None

    def apply_pause(self, ns: str, paused: bool) -> None:
        """Take the pause of ``ns`` as stored (after the commit that stored it)."""
        if paused:
            self._paused.add(ns)
        else:
            self._paused.discard(ns)

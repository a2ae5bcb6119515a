"""The values a configuration is written in: sizes, durations, booleans, namespace names and URLs,
each read from the TOML file's text or the environment's (``mi.settings.config`` builds the whole from them)."""

from __future__ import annotations

import re

from protocol.values import duration_ms
from storage import InvalidNamespace, validate_namespace

__all__ = ["ByteSize", "ConfigError", "Seconds", "is_http_url", "is_namespace", "parse_bool", "parse_seconds",
           "parse_number", "parse_size", "parse_whole"]

# K, M, G, T alone are binary, as in docker, the JVM and systemd (16G = 16GiB); KB, MB... are decimal.
_SIZE_UNITS = {"": 1, "b": 1, "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
               "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4,
               "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4}
_HTTP_URL_RE = re.compile(r"https?://[^\s/]+(/\S*)?")


def is_namespace(name: str) -> bool:
    """A valid namespace name (storage's rule)."""
    try:
        validate_namespace(name)
    except InvalidNamespace:
        return False
    return True


def is_http_url(text: str) -> bool:
    return _HTTP_URL_RE.fullmatch(text) is not None


class ConfigError(ValueError):
    """The configuration cannot be used; the message names the option and the problem."""


class ByteSize(int):
    """A size in bytes, written in config as ``16GiB`` (or ``16G``), ``16GB``, ``64KiB`` or a plain integer."""


class Seconds(float):
    """A duration in seconds, written in config as ``250ms``, ``10s``, ``1m``, ``2d`` or a plain number."""


def parse_size(text: str | int) -> int:
    """``"16MiB"`` and ``"16M"`` -> 16777216, ``"16MB"`` -> 16000000; plain integers are bytes."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(text))
    if not match or match.group(2).lower() not in _SIZE_UNITS:
        msg = (f"invalid size {text!r}: use bytes, or a number with a unit: 16GiB or 16G (2^30 each), "
               "16GB (10^9 each); KiB/K, MiB/M, GiB/G, TiB/T, KB, MB, GB, TB")
        raise ValueError(msg)
    return round(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])


def parse_whole(value: object) -> int:
    """A whole number, from TOML's integer or the environment's text (``"8"``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
        return int(value)
    msg = f"{value!r} is not a whole number"
    raise ValueError(msg)


def parse_number(value: object) -> float:
    """A number, from TOML's integer or float or the environment's text (``"0.5"``)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    msg = f"{value!r} is not a number"
    raise ValueError(msg)


def parse_seconds(text: str | int | float) -> float:
    """``"250ms"`` -> 0.25, ``"1s"`` -> 1.0, ``"2d"`` -> 172800.0; plain numbers are seconds.

    The grammar is the wire's (``protocol.values.duration_ms``): one way to write a duration
    in the file, the environment, NAMESPACE CONFIG and commands alike.
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    ms = duration_ms(str(text).strip())
    if ms is None:
        msg = f"invalid duration {text!r}: use a number with an optional unit ms, s, m, h or d"
        raise ValueError(msg)
    return ms / 1000


_BOOL_WORDS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def parse_bool(value: str | bool) -> bool:
    """``"yes"`` -> True, ``"False"`` -> False; anything but true/false, yes/no, 1/0 is an error."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _BOOL_WORDS:
        return _BOOL_WORDS[value.strip().lower()]
    msg = f"invalid boolean {value!r}: use true or false (or yes/no, 1/0)"
    raise ValueError(msg)

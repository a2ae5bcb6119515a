"""Configuration: attrs classes, loaded from TOML, then environment, then command-line flags.

Precedence is flag > environment variable > ``conf/mi.toml`` > the defaults below, which
``conf/mi.toml`` repeats with comments (a test keeps the two equal). An unknown or ill-typed option
is a startup error that names it.

Every option can come from the environment: ``MI_<SECTION>_<OPTION>`` (``MI_LIMITS_IDLE_TIMEOUT``),
as text parsed like a string in the file (an empty value unsets an option that may be unset); a
table option (``namespaces``, ``auth.users``) takes a JSON object whose entries replace the file's
same-named ones (``MI_NAMESPACES``, ``MI_AUTH_USERS``). The short names of ``OVERRIDES``
(``MI_PORT``, ``MI_DATA_DIR``...) are aliases; with both set, the long name wins. Other ``MI_*``
variables are ignored (``mi cli`` reads ``MI_PASSWORD``, for one).
"""

from __future__ import annotations

import json
import os
import tomllib
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, NamedTuple, Union, get_args, get_origin

import attrs
import cattrs
from attrs import define, field, validators

from protocol.event_classes import parse_flags
from mi.settings.config_values import (
    ByteSize,
    ConfigError,
    Seconds,
    is_http_url,
    is_namespace,
    parse_bool,
    parse_number,
    parse_seconds,
    parse_size,
    parse_whole,
)
from protocol.errors import CommandError

__all__ = [
    "ENVIRONMENT", "Config", "ConfigError", "find_config_file", "is_http_url", "is_namespace",
    "load_config", "parse_bool", "parse_seconds", "parse_size",
]

DEFAULT_CONFIG_FILE = Path("conf/mi.toml")

def _positive(instance: Any, attribute: Any, value: int | float) -> None:
    if value <= 0:
        msg = f"{attribute.name} must be greater than 0, got {value}"
        raise ValueError(msg)


def _not_negative(instance: Any, attribute: Any, value: int | float) -> None:
    if value < 0:
        msg = f"{attribute.name} must not be negative, got {value}"
        raise ValueError(msg)


class KeyspaceEventClasses(str):
    """Redis's notify-keyspace-events letters (``mi.core.notifications``), checked when read."""

    __slots__ = ()

    @classmethod
    def parse(cls, text: Any) -> KeyspaceEventClasses:
        if not isinstance(text, str):
            msg = f"{text!r} is not text"
            raise ValueError(msg)
        try:
            parse_flags(text)
        except CommandError as error:  # Redis's text, which lists the letters there are
            msg = f"{text!r}: {error.message}"
            raise ValueError(msg) from None
        return cls(text)


def _port(instance: Any, attribute: Any, value: int) -> None:
    if not 0 <= value <= 65535:
        msg = f"{attribute.name} must be a TCP port 0-65535, got {value}"
        raise ValueError(msg)


@define
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = field(default=7379, validator=_port)
    max_clients: int = field(default=10000, validator=_positive)
    workers: int = field(default=16, validator=_positive)
    graceful_timeout: Seconds = field(default=Seconds(10.0), validator=_positive)
    # MONITOR shows each command's arguments; false: only the command and its first argument.
    monitor_values: bool = True
    # Serve Prometheus metrics over HTTP on this port (same host as the server). Unset: off.
    metrics_port: int | None = field(default=None, validator=validators.optional(_port))
    # Keyspace notifications at start (Redis's notify-keyspace-events letters; CONFIG SET changes
    # them at run time). Empty: off.
    notify_keyspace_events: KeyspaceEventClasses = KeyspaceEventClasses("")


@define
class StorageConfig:
    data_dir: str = "data"
    # None: 1 (storage.DEFAULT_SHARDS) for a new data dir; an existing one keeps its count.
    shards: int | None = field(default=None, validator=validators.optional(_positive))
    durability: Literal["strict", "relaxed"] = "strict"
    relaxed_sync_interval: Seconds = field(default=Seconds(1.0), validator=_positive)
    # A checkpoint makes each shard's LMDB file durable so its log need not be replayed from
    # further back: every checkpoint_interval, or sooner once checkpoint_log_bytes were logged.
    # Short, because until the next one LMDB cannot reuse the pages a checkpoint keeps.
    checkpoint_interval: Seconds = field(default=Seconds(1.0), validator=_positive)
    checkpoint_log_bytes: ByteSize = field(default=ByteSize(16 * 1024**2), validator=_positive)
    max_db_size: ByteSize = field(default=ByteSize(16 * 1024**3), validator=_positive)
    max_value_size: ByteSize = field(default=ByteSize(16 * 1024**2), validator=_positive)
    max_namespaces: int = field(default=1024, validator=_positive)
    max_readers: int = field(default=256, validator=_positive)
    write_batch_size: int = field(default=1024, validator=_positive)


@define
class LimitsConfig:
    max_inline_size: ByteSize = field(default=ByteSize(64 * 1024), validator=_positive)
    max_bulk_len: ByteSize = field(default=ByteSize(32 * 1024**2), validator=_positive)
    max_array_len: int = field(default=1024 * 1024, validator=_positive)
    max_queued_commands: int = field(default=100_000, validator=_positive)
    # A connection silent this long is closed. Unset: never.
    idle_timeout: Seconds | None = field(default=None, validator=validators.optional(_positive))
    # A client whose replies to one batch of requests exceed this is disconnected (the rest of
    # the batch is not run).
    max_reply_buffer: ByteSize = field(default=ByteSize(256 * 1024**2), validator=_positive)
    # A client that does not take its replies for this long is disconnected.
    reply_timeout: Seconds = field(default=Seconds(60.0), validator=_positive)
    # A MONITOR whose unread lines pass this is disconnected.
    max_monitor_buffer: ByteSize = field(default=ByteSize(32 * 1024**2), validator=_positive)
    # A subscriber whose messages not yet sent pass this is disconnected.
    max_pubsub_buffer: ByteSize = field(default=ByteSize(32 * 1024**2), validator=_positive)
    # A Lua script running longer than this is logged (script.slow) and may be stopped by
    # SCRIPT KILL if it has not written (Redis's lua-time-limit).
    script_time_limit: Seconds = field(default=Seconds(5.0), validator=_positive)


@define
class ReaperConfig:
    batch_size: int = field(default=1000, validator=_positive)


@define
class JournalConfig:
    # The journal (the shards' logs) is trimmed to stay within every bound, give or take one log
    # segment: whole segments go, oldest first (mi.upkeep.trimmer).
    max_entries: int = field(default=1_000_000, validator=_positive)
    max_bytes: ByteSize = field(default=ByteSize(256 * 1024**2), validator=_positive)
    max_age: Seconds = field(default=Seconds(7 * 24 * 3600.0), validator=_positive)
    trim_interval: Seconds = field(default=Seconds(1.0), validator=_positive)
    trim_batch: int = field(default=1000, validator=_positive)  # unused (whole segments go); older files set it


@define
class SnapshotConfig:
    # Where SNAPSHOT without TO, and periodic snapshots, go; SNAPSHOT TO may write only inside it.
    dir: str = "snapshots"
    # The most the snapshots in dir may take together; unset: only the disk's free space bounds it.
    max_bytes: ByteSize | None = field(default=None, validator=validators.optional(_positive))
    interval: Seconds | None = field(default=None, validator=validators.optional(_positive))
    keep: int = field(default=7, validator=_positive)


def _namespace_name(instance: Any, attribute: Any, value: str) -> None:
    if not is_namespace(value):
        msg = f"{attribute.name}: {value!r} is not a valid namespace name (letters, digits and _.:- up to 64)"
        raise ValueError(msg)


def _http_url(instance: Any, attribute: Any, value: str) -> None:
    if not is_http_url(value):
        msg = f"{attribute.name}: {value!r} is not an http:// or https:// URL"
        raise ValueError(msg)


@define(frozen=True)
class NamespaceSettings:
    """``[namespaces.NAME]``: one namespace's own rules (``NAMESPACE CONFIG`` changes them at run time)."""

    # "drop": a message is deleted when its TTL passes. "deliver": it is handed to consumers (TAKE).
    on_expire: Literal["drop", "deliver"] = "drop"
    # SET, HSET and LSET without TTL (or KEEPTTL) give the message this TTL.
    default_ttl: Seconds | None = field(default=None, validator=validators.optional(_positive))
    # Largest value a write to this namespace may store (at most storage.max_value_size).
    max_value_size: ByteSize | None = field(default=None, validator=validators.optional(_positive))
    # Most messages the namespace may hold; a write of a new key past it is refused. Unset: no limit.
    max_keys: int | None = field(default=None, validator=validators.optional(_positive))
    # Commands on this namespace per second, from all clients, and the burst allowed above it
    # (unset: one second's worth). Unset rate: no limit.
    rate: float | None = field(default=None, validator=validators.optional(_positive))
    burst: int | None = field(default=None, validator=validators.optional(_not_negative))
    # How long a consumer holds a message it took before it is delivered again (TAKE ... LEASE).
    lease: Seconds = field(default=Seconds(30.0), validator=_positive)
    # Deliveries before a message goes to dead_letter (or, without one, is dropped). Unset: no limit.
    max_attempts: int | None = field(default=None, validator=validators.optional(_positive))
    # Where a message goes after max_attempts failed deliveries (stored there without a TTL).
    dead_letter: str | None = field(default=None, validator=validators.optional(_namespace_name))
    # POST each due message to this URL; a 2xx answer acknowledges it (see docs/delayed.md).
    webhook: str | None = field(default=None, validator=validators.optional(_http_url))
    # A failed delivery is tried again after this, doubling with each attempt.
    retry_backoff: Seconds = field(default=Seconds(1.0), validator=_positive)
    # The longest wait between two tries of a pulled message (retry_backoff doubles up to it).
    retry_backoff_max: Seconds = field(default=Seconds(300.0), validator=_positive)
    # POSTs to the webhook in flight at once, and how long one may take before it counts as failed.
    webhook_concurrency: int = field(default=16, validator=_positive)
    webhook_timeout: Seconds = field(default=Seconds(10.0), validator=_positive)


def _namespace_names(instance: Any, attribute: Any, value: dict[str, NamespaceSettings]) -> None:
    for name in value:
        if not is_namespace(name):
            msg = f"namespaces.{name}: not a valid namespace name (letters, digits and _.:- up to 64)"
            raise ValueError(msg)


@define
class UserConfig:
    """``[auth.users.NAME]``: a user, its password hash (from ``mi passwd``) and what it may touch."""

    password: str  # "scrypt$..." as mi passwd prints it
    read: list[str] = field(factory=lambda: ["*"])  # namespace globs it may read
    write: list[str] = field(factory=lambda: ["*"])  # namespace globs it may write
    admin: bool = False  # SNAPSHOT, JOURNAL, NAMESPACE CONFIG, CONFIG GET
    enabled: bool = True
    rate: float | None = field(default=None, validator=validators.optional(_positive))  # ops/s
    burst: int | None = field(default=None, validator=validators.optional(_not_negative))  # default: rate


def _password(instance: Any, attribute: Any, value: str) -> None:
    if not value:
        msg = (f"{attribute.name}: an empty password would let anyone in; set a real one, or leave it"
               " unset (MI_REQUIREPASS= also means none) to turn the password off")
        raise ValueError(msg)


@define
class AuthConfig:
    # The password of the "default" user (full access), in clear as with Redis's requirepass.
    # Never empty: that would turn auth on with a password anyone can send.
    requirepass: str | None = field(default=None, validator=validators.optional(_password))
    # The default user's rate limit in ops/s (with auth off, everyone is the default user) and
    # the burst allowed above it (unset: one second's worth). Unset rate: no limit.
    rate: float | None = field(default=None, validator=validators.optional(_positive))
    burst: int | None = field(default=None, validator=validators.optional(_not_negative))
    users: dict[str, UserConfig] = field(factory=dict)
    # Without auth the server listens on loopback only; true lets it listen anywhere anyway.
    unprotected: bool = False
    # Failed AUTHs from one address for one user within failure_window make that address wait
    # lockout before trying that user again; max_user_failures from all addresses together make
    # every address that has not logged in as the user lately wait too (docs/security.md).
    max_failures: int = field(default=10, validator=_positive)
    max_user_failures: int = field(default=100, validator=_positive)
    failure_window: Seconds = field(default=Seconds(60.0), validator=_positive)
    lockout: Seconds = field(default=Seconds(60.0), validator=_positive)

    @property
    def enabled(self) -> bool:
        return self.requirepass is not None or bool(self.users)


@define
class TlsConfig:
    """``[tls]``: with a certificate and key, every connection speaks TLS."""

    cert: str | None = None  # PEM certificate (chain)
    key: str | None = None  # PEM private key
    ca: str | None = None  # PEM CA: clients must present a certificate it signed
    handshake_timeout: Seconds = field(default=Seconds(10.0), validator=_positive)

    @property
    def enabled(self) -> bool:
        return self.cert is not None


@define
class SlowlogConfig:
    # Commands that take longer (a write: until its commit) are kept in SLOWLOG and logged.
    threshold: Seconds = field(default=Seconds(0.01), validator=_not_negative)
    max_len: int = field(default=128, validator=_positive)


@define
class WebhookConfig:
    # A secret per namespace: its POSTs carry Mi-Signature, an HMAC-SHA256 over the time and the
    # body (docs/webhooks.md). Kept out of NAMESPACE CONFIG and the data dir, never logged.
    secrets: dict[str, str] = field(factory=dict, repr=False)


@define
class LogConfig:
    format: Literal["auto", "json", "console"] = "auto"
    level: Literal["debug", "info", "warning", "error"] = "info"


@define
class Config:
    server: ServerConfig = field(factory=ServerConfig)
    storage: StorageConfig = field(factory=StorageConfig)
    limits: LimitsConfig = field(factory=LimitsConfig)
    reaper: ReaperConfig = field(factory=ReaperConfig)
    journal: JournalConfig = field(factory=JournalConfig)
    snapshots: SnapshotConfig = field(factory=SnapshotConfig)
    namespaces: dict[str, NamespaceSettings] = field(factory=dict, validator=_namespace_names)
    auth: AuthConfig = field(factory=AuthConfig)
    tls: TlsConfig = field(factory=TlsConfig)
    slowlog: SlowlogConfig = field(factory=SlowlogConfig)
    webhooks: WebhookConfig = field(factory=WebhookConfig)
    log: LogConfig = field(factory=LogConfig)


# Flags that override one option each: name -> (section, option). ``MI_<NAME>`` is also a short
# environment variable for it, beside the long ``MI_<SECTION>_<OPTION>``.
OVERRIDES: dict[str, tuple[str, str]] = {
    "host": ("server", "host"),
    "port": ("server", "port"),
    "max_clients": ("server", "max_clients"),
    "workers": ("server", "workers"),
    "metrics_port": ("server", "metrics_port"),
    "data_dir": ("storage", "data_dir"),
    "shards": ("storage", "shards"),
    "durability": ("storage", "durability"),
    "max_db_size": ("storage", "max_db_size"),
    "requirepass": ("auth", "requirepass"),
    "log_format": ("log", "format"),
    "log_level": ("log", "level"),
}

_converter = cattrs.Converter(forbid_extra_keys=True)
_converter.register_structure_hook(ByteSize, lambda value, _: ByteSize(parse_size(value)))
_converter.register_structure_hook(Seconds, lambda value, _: Seconds(parse_seconds(value)))
_converter.register_structure_hook(KeyspaceEventClasses, lambda value, _: KeyspaceEventClasses.parse(value))
# cattrs would take bool("false") for True.
_converter.register_structure_hook(bool, lambda value, _: parse_bool(value))
# Errors in the user's words ("'abc' is not a whole number"), not int()'s; and 8.5 shards is refused.
_converter.register_structure_hook(int, lambda value, _: parse_whole(value))
_converter.register_structure_hook(float, lambda value, _: parse_number(value))


class EnvOption(NamedTuple):
    """An option the environment can set: where it goes in the config, and its attrs field."""

    path: tuple[str, ...]  # ("server", "port"), or ("namespaces",) for a top-level table
    attribute: attrs.Attribute
    table: bool  # JSON; a dict is merged entry by entry over the file's


def _without_none(tp: Any) -> tuple[Any, bool]:
    """``X | None`` -> (X, True); other types -> (the type, False)."""
    if get_origin(tp) in (Union, types.UnionType) and type(None) in get_args(tp):
        rest = [arg for arg in get_args(tp) if arg is not type(None)]
        return (rest[0] if len(rest) == 1 else Union[tuple(rest)]), True
    return tp, False


def _is_scalar(tp: Any) -> bool:
    tp, _ = _without_none(tp)
    return get_origin(tp) is Literal or isinstance(tp, type) and issubclass(tp, (str, int, float, bool))


def _environment_options() -> dict[str, EnvOption]:
    """Every option's long variable, derived from the classes so a new option gets one too."""
    options: dict[str, EnvOption] = {}

    def add(path: tuple[str, ...], attribute: attrs.Attribute) -> None:
        name = "MI_" + "_".join(path).upper()
        if name in options:  # e.g. a section "a_b" beside section "a" with option "b"
            msg = f"environment variable {name} would stand for two options"
            raise RuntimeError(msg)
        options[name] = EnvOption(path, attribute, not _is_scalar(attribute.type))

    for section in attrs.fields(attrs.resolve_types(Config)):
        if attrs.has(section.type):
            for option in attrs.fields(attrs.resolve_types(section.type)):
                add((section.name, option.name), option)
        else:
            add((section.name,), section)
    return options


def _with_aliases(options: dict[str, EnvOption]) -> dict[str, EnvOption]:
    """The long names, then the short ``MI_<NAME>`` of each flag in OVERRIDES (MI_PORT...)."""
    by_path = {option.path: option for option in options.values()}
    names = dict(options)
    for alias, path in OVERRIDES.items():
        name = f"MI_{alias.upper()}"
        if names.setdefault(name, by_path[path]).path != path:  # MI_LOG_LEVEL is both, rightly
            msg = f"short environment variable {name} is the long name of another option"
            raise RuntimeError(msg)
    return names


# Every environment variable mi reads for its configuration -> the option it sets.
ENVIRONMENT: dict[str, EnvOption] = _with_aliases(_environment_options())
# Option -> its variables, the long name first.
_ENV_NAMES: dict[tuple[str, ...], list[str]] = {}
for _name, _option in ENVIRONMENT.items():
    _ENV_NAMES.setdefault(_option.path, []).append(_name)


def _describe_one(error: BaseException, expected: Any) -> str:
    if isinstance(error, cattrs.ForbiddenExtraKeysError):
        return f"unknown option(s) {', '.join(sorted(error.extra_fields))}"
    if isinstance(error, KeyError):
        return "missing"
    if get_origin(expected) is Literal:
        return f"must be one of {', '.join(get_args(expected))}"
    expected, _ = _without_none(expected)
    parsed_here = (ByteSize, Seconds, KeyspaceEventClasses, bool, int, float)
    if expected is None or isinstance(error, ValueError) and expected in parsed_here:
        return str(error)  # our parsers' messages say what is wrong and what is accepted
    return f"{error} (expected {_KINDS.get(expected, getattr(expected, '__name__', expected))})"


# What a type is called in an error, for the types a config holds.
_KINDS = {str: "text", int: "a whole number", float: "a number", bool: "true or false", ByteSize: "a size",
          Seconds: "a duration"}


def _describe(error: Exception) -> str:
    return "; ".join(cattrs.transform_error(error, path="config", format_exception=_describe_one))


def _env_value(name: str, text: str, option: EnvOption) -> Any:
    """The variable's value as the file would hold it, checked now so an error names the variable."""
    where = f"environment variable {name} (config.{'.'.join(option.path)})"
    tp, optional = _without_none(option.attribute.type)
    if option.table:
        try:
            value: Any = json.loads(text)
        except json.JSONDecodeError as error:
            msg = f"{where} is not valid JSON: {error}"  # not the text: it may hold password hashes
            raise ConfigError(msg) from None
        if get_origin(tp) is dict and not isinstance(value, dict):
            msg = f'{where} must be a JSON object: {{"name": {{"option": value, ...}}, ...}}'
            raise ConfigError(msg)
    elif optional and not text.strip():
        value = None  # MI_LIMITS_IDLE_TIMEOUT= unsets what the file set
    else:
        value = text
    try:
        structured = _converter.structure(value, option.attribute.type)
    except Exception as error:
        if isinstance(error, ExceptionGroup):  # a table: say which entry, under the variable's name
            detail = "; ".join(cattrs.transform_error(error, path=name, format_exception=_describe_one))
        else:
            detail = _describe_one(error, tp)
        msg = f"{where}: {detail}"
        raise ConfigError(msg) from None
    if option.attribute.validator is not None:
        try:
            option.attribute.validator(None, option.attribute, structured)
        except ValueError as error:
            msg = f"{where}: {error}"
            raise ConfigError(msg) from None
    return value  # unstructured: cattrs builds the whole config from it with the file's values


def _put(raw: dict[str, Any], path: tuple[str, ...], value: Any, *, merge: bool = False) -> None:
    """Set ``raw[path]``, creating sections; ``merge`` lays a dict's entries over the file's."""
    table = raw
    for depth, key in enumerate(path[:-1]):
        table = table.setdefault(key, {})
        if not isinstance(table, dict):
            msg = f"invalid configuration: config.{'.'.join(path[:depth + 1])} must be a table"
            raise ConfigError(msg)
    current = table.get(path[-1])
    if merge and isinstance(value, dict) and isinstance(current, dict):
        value = {**current, **value}
    table[path[-1]] = value


def _apply_environment(raw: dict[str, Any], environ: Mapping[str, str]) -> None:
    for path, names in _ENV_NAMES.items():
        # The long name wins over a short alias: an image may set MI_DATA_DIR as a default that
        # a user's MI_STORAGE_DATA_DIR should override, not clash with.
        name = next((name for name in names if name in environ), None)
        if name is None:
            continue
        option = ENVIRONMENT[name]
        value = _env_value(name, environ[name], option)
        _put(raw, path, value, merge=option.table)


def find_config_file(path: str | Path | None) -> Path | None:
    """The file to read: the one named, else ``conf/mi.toml`` if it exists, else none."""
    if path is not None:
        return Path(path)
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.exists() else None


def load_config(
    path: str | Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> Config:
    """Build the configuration. ``path=None`` uses ``conf/mi.toml`` when it exists."""
    environ = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    file = find_config_file(path)
    if file is not None:
        try:
            raw = tomllib.loads(file.read_text())
        except OSError as error:
            msg = f"cannot read config file {file}: {error.strerror}"
            raise ConfigError(msg) from None
        except tomllib.TOMLDecodeError as error:
            msg = f"config file {file} is not valid TOML: {error}"
            raise ConfigError(msg) from None

    _apply_environment(raw, environ)
    for name, value in (overrides or {}).items():
        if value is not None:
            _put(raw, OVERRIDES[name], value)

    try:
        config = _converter.structure(raw, Config)
    except Exception as error:  # cattrs wraps every problem in an exception group
        msg = f"invalid configuration: {_describe(error)}"
        raise ConfigError(msg) from None
    return config

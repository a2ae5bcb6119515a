"""Configuration: file, environment and flags, and errors that name the option."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import attrs
import pytest

from mi.settings.config import (
    OVERRIDES, ByteSize, Config, ConfigError, KeyspaceEventClasses, Seconds, load_config, parse_seconds, parse_size,
)

CONF = Path(__file__).parents[2] / "conf" / "mi.toml"


def test_conf_file_repeats_the_built_in_defaults():
    """conf/mi.toml and the code's defaults never drift apart."""
    assert load_config(CONF, environ={}) == Config()


def test_environment_overrides_the_file(tmp_path):
    """MI_PORT beats the file's port."""
    file = tmp_path / "mi.toml"
    file.write_text("[server]\nport = 1111\n")
    assert load_config(file, environ={"MI_PORT": "2222"}).server.port == 2222


def test_flag_overrides_the_environment():
    """A flag beats the environment variable."""
    config = load_config(CONF, environ={"MI_PORT": "2222"}, overrides={"port": 3333})
    assert config.server.port == 3333


def test_sizes_and_durations_take_units(tmp_path):
    """Sizes like 2MiB and durations like 250ms are understood."""
    file = tmp_path / "mi.toml"
    file.write_text('[storage]\nmax_value_size = "2MiB"\nrelaxed_sync_interval = "250ms"\n')
    config = load_config(file, environ={})
    assert config.storage.max_value_size == 2 * 1024 * 1024
    assert config.storage.relaxed_sync_interval == 0.25


@pytest.mark.parametrize(
    "toml,named",
    [
        ("[server]\nprot = 1\n", "prot"),
        ("[sever]\n", "sever"),
        ('[server]\nport = "high"\n', "config.server.port"),
        ("[server]\nport = 70000\n", "port must be a TCP port"),
        ('[storage]\ndurability = "maybe"\n', "must be one of strict, relaxed"),
        ('[storage]\nmax_db_size = "lots"\n', "invalid size 'lots'"),
        ("[storage]\nshards = 0\n", "shards must be greater than 0"),
    ],
)
def test_bad_option_is_named(tmp_path, toml, named):
    """Each kind of bad option gives an error that names it."""
    file = tmp_path / "mi.toml"
    file.write_text(toml)
    with pytest.raises(ConfigError, match=named):
        load_config(file, environ={})


def test_bad_environment_value_is_named():
    """A non-numeric MI_PORT is reported against the port option."""
    with pytest.raises(ConfigError, match="config.server.port"):
        load_config(CONF, environ={"MI_PORT": "eighty"})


def test_invalid_toml_is_reported(tmp_path):
    """A syntax error in the file is a ConfigError naming the file."""
    file = tmp_path / "mi.toml"
    file.write_text("[server\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(file, environ={})


def test_missing_named_file_is_reported(tmp_path):
    """--config pointing nowhere is an error, not silently the defaults."""
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "absent.toml", environ={})


@pytest.mark.parametrize("text,size", [("0", 0), ("512", 512), ("64KiB", 65536), ("1GB", 10**9)])
def test_parse_size(text, size):
    """Sizes in bytes with binary and decimal units."""
    assert parse_size(text) == size


@pytest.mark.parametrize("text,seconds", [("250ms", 0.25), ("2", 2.0), ("1.5s", 1.5), ("2m", 120.0)])
def test_parse_seconds(text, seconds):
    """Durations in seconds with units."""
    assert parse_seconds(text) == seconds


# --- the environment: MI_<SECTION>_<OPTION>, short aliases, JSON tables


def _file(tmp_path: Path, text: str = "") -> Path:
    file = tmp_path / "mi.toml"
    file.write_text(text)
    return file


@pytest.mark.parametrize(
    "variable,text,section,option,value",
    [
        ("MI_SERVER_WORKERS", "3", "server", "workers", 3),  # int
        ("MI_LIMITS_IDLE_TIMEOUT", "5m", "limits", "idle_timeout", 300.0),  # optional duration
        ("MI_STORAGE_RELAXED_SYNC_INTERVAL", "250ms", "storage", "relaxed_sync_interval", 0.25),
        ("MI_STORAGE_MAX_DB_SIZE", "1GiB", "storage", "max_db_size", 1024**3),  # size
        ("MI_STORAGE_DATA_DIR", "/var/lib/mi", "storage", "data_dir", "/var/lib/mi"),  # string
        ("MI_TLS_CERT", "/etc/mi/server.crt", "tls", "cert", "/etc/mi/server.crt"),  # optional string
        ("MI_SERVER_METRICS_PORT", "9379", "server", "metrics_port", 9379),  # optional int
        ("MI_STORAGE_DURABILITY", "relaxed", "storage", "durability", "relaxed"),  # one of a list
        ("MI_AUTH_RATE", "2.5", "auth", "rate", 2.5),  # float
        ("MI_SLOWLOG_THRESHOLD", "0", "slowlog", "threshold", 0.0),
        ("MI_SNAPSHOTS_INTERVAL", "1h", "snapshots", "interval", 3600.0),
    ],
)
def test_scalar_from_the_environment(tmp_path, variable, text, section, option, value):
    """MI_<SECTION>_<OPTION> sets the option, its text parsed as the file's would be."""
    config = load_config(_file(tmp_path), environ={variable: text})
    assert getattr(getattr(config, section), option) == value


@pytest.mark.parametrize(
    "text,value",
    [("true", True), ("False", False), ("YES", True), ("no", False), ("1", True), ("0", False), (" yes ", True)],
)
def test_bool_from_the_environment(tmp_path, text, value):
    """Booleans take true/false, yes/no and 1/0 in any case."""
    config = load_config(_file(tmp_path), environ={"MI_AUTH_UNPROTECTED": text})
    assert config.auth.unprotected is value


def test_bool_string_in_the_file_is_parsed_not_truthy(tmp_path):
    """A quoted "no" in the file is false (cattrs alone took any non-empty string for true)."""
    config = load_config(_file(tmp_path, '[server]\nmonitor_values = "no"\n'), environ={})
    assert config.server.monitor_values is False


def test_empty_value_unsets_an_optional_option(tmp_path):
    """MI_LIMITS_IDLE_TIMEOUT= (empty) unsets the file's idle_timeout."""
    file = _file(tmp_path, '[limits]\nidle_timeout = "10m"\n')
    assert load_config(file, environ={"MI_LIMITS_IDLE_TIMEOUT": ""}).limits.idle_timeout is None


def test_short_alias_still_works(tmp_path):
    """MI_DATA_DIR, the short name, sets storage.data_dir like MI_STORAGE_DATA_DIR."""
    config = load_config(_file(tmp_path), environ={"MI_DATA_DIR": "/data"})
    assert config.storage.data_dir == "/data"


@pytest.mark.parametrize("alias", sorted(OVERRIDES))
def test_every_short_alias_sets_its_option(tmp_path, alias):
    """Each key of OVERRIDES is read as MI_<KEY> and lands on its option."""
    section, option = OVERRIDES[alias]
    field = attrs.fields_dict(type(getattr(Config(), section)))[option]
    text, value = _sample(field.type, field.default)
    config = load_config(_file(tmp_path), environ={f"MI_{alias.upper()}": text})
    assert getattr(getattr(config, section), option) == value


def test_long_name_wins_over_its_short_alias(tmp_path):
    """MI_SERVER_PORT beats MI_PORT (an image's default alias must not clash with a user's long name)."""
    config = load_config(_file(tmp_path), environ={"MI_PORT": "2222", "MI_SERVER_PORT": "3333"})
    assert config.server.port == 3333


def test_shadowed_short_alias_is_not_read(tmp_path):
    """With both set, only the long one is read: a bad short alias is then not an error."""
    config = load_config(_file(tmp_path), environ={"MI_PORT": "eighty", "MI_SERVER_PORT": "3333"})
    assert config.server.port == 3333


@pytest.mark.parametrize(
    "in_file,environ,flags,port",
    [
        (True, {"MI_SERVER_PORT": "2222"}, {"port": 3333}, 3333),  # flag > env
        (True, {"MI_SERVER_PORT": "2222"}, {"port": None}, 2222),  # env > file (an unset flag is None)
        (True, {}, {}, 1111),  # file > default
        (False, {}, {}, 7379),  # the default
        (False, {"MI_PORT": "2222"}, {"port": 3333}, 3333),  # flag > short alias too
    ],
)
def test_precedence_flag_env_file_default(tmp_path, in_file, environ, flags, port):
    """Flag beats environment beats file beats default."""
    file = _file(tmp_path, "[server]\nport = 1111\n" if in_file else "")
    assert load_config(file, environ=environ, overrides=flags).server.port == port


def test_env_beats_the_file_for_one_option_only(tmp_path):
    """An environment variable replaces one option; the file's others stay."""
    file = _file(tmp_path, '[limits]\nidle_timeout = "1m"\nreply_timeout = "5s"\n')
    config = load_config(file, environ={"MI_LIMITS_IDLE_TIMEOUT": "2m"})
    assert (config.limits.idle_timeout, config.limits.reply_timeout) == (120.0, 5.0)


def test_namespaces_json_is_merged_over_the_file(tmp_path):
    """MI_NAMESPACES entries replace the file's same-named ones and add new ones; others stay."""
    file = _file(tmp_path, '[namespaces.jobs]\non_expire = "deliver"\n[namespaces.mail]\nmax_keys = 10\n')
    environ = {"MI_NAMESPACES": json.dumps({"jobs": {"default_ttl": "10m"}, "fresh": {"on_expire": "deliver"}})}
    namespaces = load_config(file, environ=environ).namespaces
    assert sorted(namespaces) == ["fresh", "jobs", "mail"]
    assert namespaces["jobs"].on_expire == "drop"  # the whole entry is replaced
    assert namespaces["jobs"].default_ttl == 600.0
    assert namespaces["mail"].max_keys == 10
    assert namespaces["fresh"].on_expire == "deliver"


def test_auth_users_json(tmp_path):
    """MI_AUTH_USERS adds users, turning authentication on."""
    environ = {"MI_AUTH_USERS": json.dumps({"alice": {"password": "scrypt$x", "read": ["jobs"], "admin": "yes"}})}
    auth = load_config(_file(tmp_path), environ=environ).auth
    assert auth.enabled
    assert (auth.users["alice"].read, auth.users["alice"].write, auth.users["alice"].admin) == (["jobs"], ["*"], True)


@pytest.mark.parametrize(
    "variable,text,named",
    [
        ("MI_NAMESPACES", "{jobs: 1}", r"environment variable MI_NAMESPACES \(config.namespaces\) is not valid JSON"),
        ("MI_NAMESPACES", '["jobs"]', "MI_NAMESPACES.*must be a JSON object"),
        ("MI_NAMESPACES", '{"jobs": {"on_expire": "later"}}', r"must be one of drop, deliver @ MI_NAMESPACES\['jobs'\]"),
        ("MI_NAMESPACES", '{"bad name": {}}', "MI_NAMESPACES.*not a valid namespace name"),
        ("MI_NAMESPACES", '{"jobs": {"speed": 1}}', r"unknown option\(s\) speed @ MI_NAMESPACES\['jobs'\]"),
        ("MI_AUTH_USERS", '{"alice": {}}', r"missing @ MI_AUTH_USERS\['alice'\].password"),
        ("MI_SERVER_PORT", "eighty", r"MI_SERVER_PORT \(config.server.port\): 'eighty' is not a whole number"),
        ("MI_SERVER_PORT", "70000", "MI_SERVER_PORT.*port must be a TCP port"),
        ("MI_PORT", "eighty", r"MI_PORT \(config.server.port\)"),
        ("MI_LIMITS_IDLE_TIMEOUT", "soon", "MI_LIMITS_IDLE_TIMEOUT.*invalid duration 'soon'"),
        ("MI_STORAGE_MAX_DB_SIZE", "lots", "MI_STORAGE_MAX_DB_SIZE.*invalid size 'lots'"),
        ("MI_SERVER_MONITOR_VALUES", "maybe", "MI_SERVER_MONITOR_VALUES.*invalid boolean 'maybe'"),
        ("MI_STORAGE_DURABILITY", "maybe", "MI_STORAGE_DURABILITY.*must be one of strict, relaxed"),
        ("MI_STORAGE_SHARDS", "0", "MI_STORAGE_SHARDS.*shards must be greater than 0"),
    ],
)
def test_bad_environment_value_names_the_variable(tmp_path, variable, text, named):
    """A bad value from the environment is a ConfigError naming the variable (and the option)."""
    with pytest.raises(ConfigError, match=named):
        load_config(_file(tmp_path), environ={variable: text})


def test_json_errors_do_not_echo_the_value(tmp_path):
    """Invalid MI_AUTH_USERS does not print its text, which may hold password hashes."""
    with pytest.raises(ConfigError) as error:
        load_config(_file(tmp_path), environ={"MI_AUTH_USERS": '{"alice": "scrypt$secret'})
    assert "secret" not in str(error.value)


def test_unknown_mi_variables_are_ignored(tmp_path):
    """MI_PASSWORD (mi cli's) and misspelled names are not errors: only known names are read."""
    environ = {"MI_PASSWORD": "pw", "MI_SERVER_PROT": "1", "MI_": "", "MI_LIMITS": "x"}
    assert load_config(_file(tmp_path), environ=environ) == Config()


def test_section_that_is_not_a_table_is_reported(tmp_path):
    """`server = 1` in the file with MI_PORT set is a ConfigError, not a crash."""
    with pytest.raises(ConfigError, match="config.server must be a table"):
        load_config(_file(tmp_path, "server = 1\n"), environ={"MI_PORT": "1"})


def _sample(tp: Any, default: Any) -> tuple[str, Any]:
    """Text for an option of type ``tp``, valid and unlike ``default``, and the value it gives."""
    if get_origin(tp) in (Union, type(int | None)):
        (tp,) = [arg for arg in get_args(tp) if arg is not type(None)]
    if get_origin(tp) is Literal:
        choice = next(arg for arg in reversed(get_args(tp)) if arg != default)
        return choice, choice
    if tp is bool:
        return ("no", False) if default else ("yes", True)
    if tp is ByteSize:
        return "3MiB", 3 * 1024**2
    if tp is Seconds:
        return "7s", 7.0
    if tp is KeyspaceEventClasses:
        return "KEA", "KEA"
    if tp is int:
        return "3", 3
    if tp is float:
        return "2.5", 2.5
    if tp is str:
        return "/somewhere/else", "/somewhere/else"
    pytest.fail(f"no sample for an option of type {tp!r}: teach this test (and the environment) the new type")


def _table_sample(tp: Any) -> dict[str, Any]:
    """A JSON object with one entry holding the required fields of the table's entries."""
    assert get_origin(tp) is dict, f"a table option of type {tp!r}: teach this test the new kind"
    entry = get_args(tp)[1]
    if entry is str:  # a table of text (webhooks.secrets)
        return {"entry1": "text"}
    required = {f.name: _sample(f.type, None)[0] for f in attrs.fields(entry) if f.default is attrs.NOTHING}
    return {"entry1": required}


def _options() -> list[tuple[str, ...]]:
    """Every option, walking the attrs classes: (section, option), or (table,) at the top level."""
    paths: list[tuple[str, ...]] = []
    for section in attrs.fields(Config):
        if attrs.has(section.type):
            paths += [(section.name, option.name) for option in attrs.fields(section.type)]
        else:
            paths.append((section.name,))
    return paths


@pytest.mark.parametrize("path", _options(), ids=".".join)
def test_every_option_can_be_set_from_the_environment(tmp_path, path):
    """MI_<SECTION>_<OPTION> exists for each option of each section (a guard for new options)."""
    owner: Any = Config
    for name in path[:-1]:
        owner = attrs.fields_dict(owner)[name].type
    field = attrs.fields_dict(owner)[path[-1]]
    variable = "MI_" + "_".join(path).upper()
    if get_origin(field.type) is dict or attrs.has(field.type):
        table = _table_sample(field.type)
        config = load_config(_file(tmp_path), environ={variable: json.dumps(table)})
        value: Any = config
        for name in path:
            value = getattr(value, name)
        assert set(value) == set(table), variable
        return
    text, expected = _sample(field.type, field.default)
    config = load_config(_file(tmp_path), environ={variable: text})
    value = config
    for name in path:
        value = getattr(value, name)
    assert value == expected, variable


@pytest.mark.parametrize(
    "text,size",
    [("16G", 16 * 1024**3), ("16g", 16 * 1024**3), ("16GiB", 16 * 1024**3), ("16GB", 16 * 1000**3),
     ("512M", 512 * 1024**2), ("64K", 64 * 1024), ("1.5GiB", 3 * 1024**3 // 2), ("1T", 1024**4), ("4096", 4096)],
)
def test_sizes_take_the_units_people_write(tmp_path, text, size):
    """16G (as docker and the JVM read it: GiB), 16GiB, 16GB (10^9 each), 1.5GiB."""
    file = tmp_path / "mi.toml"
    file.write_text(f'[storage]\nmax_db_size = "{text}"\n')
    assert load_config(file, environ={}).storage.max_db_size == size


@pytest.mark.parametrize(
    "toml,message",
    [
        ('[server]\nport = "abc"\n', "'abc' is not a whole number @ config.server.port"),
        ("[storage]\nshards = 2.5\n", "2.5 is not a whole number @ config.storage.shards"),
        ('[limits]\nidle_timeout = "abc"\n', "invalid duration 'abc'"),
        ('[storage]\nmax_db_size = "16X"\n', "invalid size '16X': use bytes, or a number with a unit: 16GiB"),
    ],
)
def test_bad_values_are_said_in_the_users_words(tmp_path, toml, message):
    """No Python internals: not int()'s message, not a type's module path."""
    file = tmp_path / "mi.toml"
    file.write_text(toml)
    with pytest.raises(ConfigError) as caught:
        load_config(file, environ={})
    text = str(caught.value)
    assert message in text
    assert "int()" not in text and "mi.settings.config_values" not in text and "expected" not in text

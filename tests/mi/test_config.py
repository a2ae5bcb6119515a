"""Configuration: file, environment and flags, and errors that name the option."""

from pathlib import Path

import pytest

from mi.config import Config, ConfigError, load_config, parse_seconds, parse_size

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
